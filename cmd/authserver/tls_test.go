package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/observe/observetest"
	"github.com/authserver-dev/authserver/authserver/tlsserve"
	"github.com/authserver-dev/authserver/cmd/authserver/internal/proctest"
	"github.com/authserver-dev/authserver/config"
)

// servingConfig is the demo configuration (demo-web with the password grant,
// alice) on a free port with its data under dataDir.
func servingConfig(t *testing.T, dataDir string) config.Config {
	t.Helper()
	cfg := authtest.TestConfig(dataDir)
	cfg.Listen = proctest.FreeAddr(t)
	cfg.Issuer = "http://" + cfg.Listen
	cfg.Observability.MetricsListen = "127.0.0.1:0"
	return cfg
}

// served is a provider run in this process by serve.
type served struct {
	issuer string
	log    *observetest.Logs
	stop   func() error
}

// serveInProcess runs serve(cfg, opts) until stop or the end of the test,
// once https (or http) answers at issuer.
func serveInProcess(t *testing.T, cfg config.Config, opts serveOptions, issuer string, client *http.Client) *served {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	lb := &observetest.Logs{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, opts, slog.New(slog.NewTextHandler(lb, nil))) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { stop() })
	for range 1000 {
		select {
		case err := <-done:
			t.Fatalf("serve returned %v\n%s", err, lb)
		default:
		}
		if client != nil {
			if resp, err := client.Get(issuer + "/healthz"); err == nil {
				resp.Body.Close()
				return &served{issuer: issuer, log: lb, stop: stop}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never answered\n%s", issuer, lb)
	return nil
}

// trustingClient trusts only the certificate in certFile, and speaks
// HTTP/2 when the server offers it.
func trustingClient(t *testing.T, certFile string) *http.Client {
	t.Helper()
	pool, err := tlsserve.CertPool(certFile)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true,
	}}
}

// checkRelyingParty runs what a third-party app does over https: go-oidc
// discovery, the x/oauth2 password grant as demo-web, and ID token
// verification through the JWKS, all with client, which trusts only the
// server's certificate. It also checks that HTTP/2 is negotiated.
func checkRelyingParty(t *testing.T, issuer string, client *http.Client) {
	t.Helper()
	resp, err := client.Get(issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	err = json.NewDecoder(resp.Body).Decode(&meta)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("discovery over %s, want HTTP/2", resp.Proto)
	}
	if meta.Issuer != issuer || !strings.HasPrefix(meta.TokenEndpoint, "https://") {
		t.Errorf("discovery says issuer %q, token endpoint %q; want %q and https", meta.Issuer, meta.TokenEndpoint, issuer)
	}

	ctx := oidc.ClientContext(context.Background(), client)
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatalf("go-oidc discovery over https: %v", err)
	}
	oc := &oauth2.Config{ClientID: "demo-web", ClientSecret: "demo-web-secret-not-for-production", Endpoint: provider.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile"}}
	tok, err := oc.PasswordCredentialsToken(context.WithValue(ctx, oauth2.HTTPClient, client), "alice", "alice-password")
	if err != nil {
		t.Fatalf("x/oauth2 password grant over https: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: "demo-web"}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("go-oidc verifying the ID token: %v", err)
	}
	if idt.Issuer != issuer {
		t.Errorf("ID token issuer %q, want %q", idt.Issuer, issuer)
	}
	if _, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
		t.Errorf("userinfo over https: %v", err)
	}
}

// tls.cert_file and tls.key_file make the provider an https server that
// real relying parties use; discovery says https; plain http is refused.
func TestServeTLSCertFile(t *testing.T) {
	t.Parallel()
	pair, err := tlsserve.DevCertificate(t.TempDir(), time.Now()) // any certificate for 127.0.0.1
	if err != nil {
		t.Fatal(err)
	}
	cfg := servingConfig(t, t.TempDir())
	cfg.TLS = config.TLS{CertFile: pair.CertFile, KeyFile: pair.KeyFile}
	cfg.Issuer = "https://" + cfg.Listen
	client := trustingClient(t, pair.CertFile)
	s := serveInProcess(t, cfg, serveOptions{}, cfg.Issuer, client)
	checkRelyingParty(t, s.issuer, client)

	if resp, err := http.Get("http://" + cfg.Listen + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain http is served too")
		}
	}
	if err := s.stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
}

// --dev-tls makes a self-signed certificate under the data directory, turns
// the loopback http issuer into https on the same port, tells how to trust
// it, and reuses it on the next start.
func TestServeDevTLS(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	cfg := servingConfig(t, dataDir)
	httpsIssuer := "https://" + cfg.Listen
	certFile := filepath.Join(dataDir, tlsserve.DevCertFile)

	// The certificate does not exist before serve makes it, so the
	// readiness probe trusts whatever it sees; the checks below trust only
	// the file.
	probe := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // readiness probe only
	s := serveInProcess(t, cfg, serveOptions{DevTLS: true}, httpsIssuer, probe)
	checkRelyingParty(t, httpsIssuer, trustingClient(t, certFile))

	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(certFile, filepath.Join(dataDir, tlsserve.DevKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	fp := tlsserve.Fingerprint(pair.Leaf.Raw)
	log := s.log.String()
	for _, want := range []string{
		fp,
		"curl --cacert " + certFile + " " + httpsIssuer + "/.well-known/openid-configuration",
		"openssl s_client -connect " + cfg.Listen + " -CAfile " + certFile,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log does not say %q:\n%s", want, log)
		}
	}
	if err := s.stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}

	// The second start serves the same certificate: a client that trusted
	// the file keeps working.
	client := trustingClient(t, certFile)
	s = serveInProcess(t, cfg, serveOptions{DevTLS: true}, httpsIssuer, client)
	if again, _ := os.ReadFile(certFile); !bytes.Equal(again, pemBytes) {
		t.Error("the second start replaced the development certificate")
	}
	checkRelyingParty(t, httpsIssuer, client)
	if err := s.stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
}

// --dev-tls and a configured certificate exclude each other.
func TestServeDevTLSWithCertFileIsRefused(t *testing.T) {
	t.Parallel()
	cfg := servingConfig(t, t.TempDir())
	cfg.TLS = config.TLS{CertFile: "c.pem", KeyFile: "k.pem"}
	cfg.Issuer = "https://" + cfg.Listen
	err := serve(context.Background(), cfg, serveOptions{DevTLS: true}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "--dev-tls") {
		t.Fatalf("got %v, want an error naming --dev-tls", err)
	}
}

// A fresh data directory and every file the server writes in it are
// private to its user, even under a umask that would share them: the
// database (and its -wal and -shm), the key-encryption key and the
// development TLS key. Not parallel: the umask belongs to the process.
func TestServeCreatesPrivateDataFiles(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dataDir := filepath.Join(t.TempDir(), "data")
	cfg := servingConfig(t, dataDir)
	probe := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // readiness probe only
	s := serveInProcess(t, cfg, serveOptions{DevTLS: true}, "https://"+cfg.Listen, probe)
	defer s.stop()
	files := map[string]os.FileMode{
		dataDir:                  0o700,
		cfg.Storage.DSN:          0o600,
		cfg.Storage.DSN + "-wal": 0o600,
		cfg.Storage.DSN + "-shm": 0o600,
		cfg.KEKFile():            0o600,
		filepath.Join(dataDir, tlsserve.DevKeyFile): 0o600,
	}
	for name, want := range files {
		fi, err := os.Stat(name)
		if err != nil {
			t.Error(err)
			continue
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %04o, want %04o", name, got, want)
		}
	}
}

// With tls set the issuer defaults to https, and an explicit http issuer is
// a configuration error: the listener would not speak what discovery says.
func TestTLSConfigIssuer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	load := func(extra string) (config.Config, error) {
		path := filepath.Join(dir, "c.yaml")
		yaml := "listen: 127.0.0.1:9443\ntls: {cert_file: c.pem, key_file: k.pem}\ntokens: {default_audience: [https://api.example]}\n" + extra
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return config.Load(path, nil)
	}
	cfg, err := load("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Issuer != "https://127.0.0.1:9443" {
		t.Errorf("default issuer with tls: %q, want https://127.0.0.1:9443", cfg.Issuer)
	}
	_, err = load("issuer: http://127.0.0.1:9443\n")
	if err == nil || !strings.Contains(err.Error(), "tls.cert_file") {
		t.Errorf("http issuer with tls: %v, want an error naming tls.cert_file", err)
	}
}
