package main

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/observe/observetest"
	"github.com/authserver-dev/authserver/authserver/tlsserve"
	"github.com/authserver-dev/authserver/cmd/authserver/internal/proctest"
)

// binaryConfig writes a configuration with a password-grant client on a
// free loopback port, TLS when pair is not nil.
func binaryConfig(t *testing.T, pair *tlsserve.DevCert) (path, addr string) {
	t.Helper()
	dir := t.TempDir()
	addr = proctest.FreeAddr(t)
	scheme, tlsKeys := "http", ""
	if pair != nil {
		scheme = "https"
		tlsKeys = fmt.Sprintf("tls: {cert_file: %s, key_file: %s}\n", pair.CertFile, pair.KeyFile)
	}
	yaml := fmt.Sprintf(`listen: %s
issuer: %s://%s
storage: {dsn: %s}
observability: {metrics_listen: "off"}
passwords: {memory_kib: 64, iterations: 1, parallelism: 1}
tokens: {default_audience: [https://api.example]}
%sclients:
  - id: cli
    secret: cli-secret-cli-secret-cli-secret
    grant_types: [password]
    scopes: [openid, profile]
users:
  - username: carol
    password: carol-password
`, addr, scheme, addr, filepath.Join(dir, "data", "auth.db"), tlsKeys)
	path = filepath.Join(dir, "authserver.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, addr
}

// replaceFile puts src's content at dst by rename, as certificate managers do.
func replaceFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst+".new", b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dst+".new", dst); err != nil {
		t.Fatal(err)
	}
}

// handshakeFingerprint is the certificate a new TLS connection to addr
// presents.
func handshakeFingerprint(t *testing.T, addr string) string {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // reads the certificate, trusts nothing
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return tlsserve.Fingerprint(conn.ConnectionState().PeerCertificates[0].Raw)
}

// The real binary under real signals: SIGHUP reloads the TLS certificate
// (or says there is none) and never stops the process; SIGTERM and SIGINT
// stop it with exit status 0 after the request in flight has been
// answered.
func TestSignals(t *testing.T) {
	t.Parallel()
	bin := proctest.Build(t)

	t.Run("tls", func(t *testing.T) {
		t.Parallel()
		first, err := tlsserve.DevCertificate(t.TempDir(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		second, err := tlsserve.DevCertificate(t.TempDir(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		live := tlsserve.DevCert{CertFile: filepath.Join(t.TempDir(), "cert.pem"), KeyFile: filepath.Join(t.TempDir(), "key.pem")}
		replaceFile(t, first.CertFile, live.CertFile)
		replaceFile(t, first.KeyFile, live.KeyFile)
		path, addr := binaryConfig(t, &live)
		p := proctest.Start(t, bin, []string{"serve", "--config", path}, nil, &observetest.Logs{})
		pool, err := tlsserve.CertPool(first.CertFile)
		if err != nil {
			t.Fatal(err)
		}
		p.AwaitOK(t, &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}, "https://"+addr+"/healthz")
		if got := handshakeFingerprint(t, addr); got != first.SHA256 {
			t.Fatalf("presents %s, want the configured certificate %s", got, first.SHA256)
		}

		// SIGHUP after the files were replaced: the next handshake shows
		// the new certificate, and the process goes on.
		replaceFile(t, second.KeyFile, live.KeyFile)
		replaceFile(t, second.CertFile, live.CertFile)
		p.Signal(t, syscall.SIGHUP)
		p.AwaitLog(t, "reason=SIGHUP")
		if !strings.Contains(p.Log().String(), "reloaded TLS certificate") {
			t.Fatalf("no reload logged:\n%s", p.Log())
		}
		if got := handshakeFingerprint(t, addr); got != second.SHA256 {
			t.Fatalf("after SIGHUP presents %s, want %s", got, second.SHA256)
		}
		pem, _ := os.ReadFile(second.CertFile)
		pool.AppendCertsFromPEM(pem)

		// A token request whose body is still on its way when SIGTERM
		// arrives. "Expect: 100-continue" makes the server say when the
		// handler has started reading it.
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		body := "grant_type=password&username=carol&password=carol-password&scope=openid"
		fmt.Fprintf(conn, "POST /token HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
			addr, base64.StdEncoding.EncodeToString([]byte("cli:cli-secret-cli-secret-cli-secret")), len(body))
		br := bufio.NewReader(conn)
		if cont, err := http.ReadResponse(br, nil); err != nil || cont.StatusCode != http.StatusContinue {
			t.Fatalf("want 100 Continue, got %v, %v", cont, err)
		}
		p.Signal(t, syscall.SIGTERM)
		p.AwaitLog(t, "shutting down")
		refused := false
		for range 1000 {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				refused = true
				break
			}
			c.Close()
			time.Sleep(10 * time.Millisecond)
		}
		if !refused {
			t.Error("new connections still accepted while shutting down")
		}
		if _, err := conn.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("the in-flight request got no response: %v\n%s", err, p.Log())
		}
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		json.NewDecoder(resp.Body).Decode(&tok)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
			t.Errorf("in-flight token request: %d, access token %t", resp.StatusCode, tok.AccessToken != "")
		}
		if err := p.Wait(t); err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, p.Log())
		}
		if !strings.Contains(p.Log().String(), "stopped") {
			t.Errorf("no \"stopped\" after closing the store:\n%s", p.Log())
		}
	})

	t.Run("plain", func(t *testing.T) {
		t.Parallel()
		path, addr := binaryConfig(t, nil)
		p := proctest.Start(t, bin, []string{"serve", "--config", path}, nil, &observetest.Logs{})
		p.AwaitOK(t, http.DefaultClient, "http://"+addr+"/healthz")
		p.Signal(t, syscall.SIGHUP)
		p.AwaitLog(t, "SIGHUP: no TLS configured")
		p.AwaitOK(t, http.DefaultClient, "http://"+addr+"/healthz")
		p.Signal(t, syscall.SIGINT)
		if err := p.Wait(t); err != nil {
			t.Errorf("exit after SIGINT: %v\n%s", err, p.Log())
		}
		if !strings.Contains(p.Log().String(), "shutting down") {
			t.Errorf("no \"shutting down\":\n%s", p.Log())
		}
	})
}
