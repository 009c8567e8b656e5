package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/tlsserve"
)

// buildAuthserver compiles this command into a directory of t's, so that
// tests can send it real signals.
func buildAuthserver(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "authserver")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is a running authserver binary.
type process struct {
	cmd  *exec.Cmd
	log  *lockedBuffer
	done chan error
}

func startBinary(t *testing.T, bin, configPath string) *process {
	t.Helper()
	p := &process{log: &lockedBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(bin, "serve", "--config", configPath)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AUTHSERVER_") {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *process) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// waitLog waits (a bounded while) until the process has logged want; it
// fails if the process exits first.
func (p *process) waitLog(t *testing.T, want string) {
	t.Helper()
	for range 2000 {
		if strings.Contains(p.log.String(), want) {
			return
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("exited (%v) before logging %q:\n%s", err, want, p.log)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("never logged %q:\n%s", want, p.log)
}

// wait returns the process's exit status, a bounded while after it was
// asked to stop.
func (p *process) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(60 * time.Second):
		t.Fatalf("did not exit:\n%s", p.log)
		return nil
	}
}

// binaryConfig writes a configuration with a password-grant client on a
// free loopback port, TLS when pair is not nil.
func binaryConfig(t *testing.T, pair *tlsserve.DevCert) (path, addr string) {
	t.Helper()
	dir := t.TempDir()
	addr = freeLoopbackAddr(t)
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

func waitProcessHealthy(t *testing.T, p *process, client *http.Client, url string) {
	t.Helper()
	for range 2000 {
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("exited (%v):\n%s", err, p.log)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("%s never answered:\n%s", url, p.log)
}

// The real binary under real signals: SIGHUP reloads the TLS certificate
// (or says there is none) and never stops the process; SIGTERM and SIGINT
// stop it with exit status 0 after the request in flight has been
// answered.
func TestSignals(t *testing.T) {
	t.Parallel()
	bin := buildAuthserver(t)

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
		p := startBinary(t, bin, path)
		pem, _ := os.ReadFile(first.CertFile)
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		waitProcessHealthy(t, p, &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}, "https://"+addr+"/healthz")
		if got := handshakeFingerprint(t, addr); got != first.SHA256 {
			t.Fatalf("presents %s, want the configured certificate %s", got, first.SHA256)
		}

		// SIGHUP after the files were replaced: the next handshake shows
		// the new certificate, and the process goes on.
		replaceFile(t, second.KeyFile, live.KeyFile)
		replaceFile(t, second.CertFile, live.CertFile)
		p.signal(t, syscall.SIGHUP)
		p.waitLog(t, "reason=SIGHUP")
		if !strings.Contains(p.log.String(), "reloaded TLS certificate") {
			t.Fatalf("no reload logged:\n%s", p.log)
		}
		if got := handshakeFingerprint(t, addr); got != second.SHA256 {
			t.Fatalf("after SIGHUP presents %s, want %s", got, second.SHA256)
		}
		pem, _ = os.ReadFile(second.CertFile)
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
		p.signal(t, syscall.SIGTERM)
		p.waitLog(t, "shutting down")
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
			t.Fatalf("the in-flight request got no response: %v\n%s", err, p.log)
		}
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		json.NewDecoder(resp.Body).Decode(&tok)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
			t.Errorf("in-flight token request: %d, access token %t", resp.StatusCode, tok.AccessToken != "")
		}
		if err := p.wait(t); err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, p.log)
		}
		if !strings.Contains(p.log.String(), "stopped") {
			t.Errorf("no \"stopped\" after closing the store:\n%s", p.log)
		}
	})

	t.Run("plain", func(t *testing.T) {
		t.Parallel()
		path, addr := binaryConfig(t, nil)
		p := startBinary(t, bin, path)
		waitProcessHealthy(t, p, http.DefaultClient, "http://"+addr+"/healthz")
		p.signal(t, syscall.SIGHUP)
		p.waitLog(t, "SIGHUP: no TLS configured")
		waitProcessHealthy(t, p, http.DefaultClient, "http://"+addr+"/healthz")
		p.signal(t, syscall.SIGINT)
		if err := p.wait(t); err != nil {
			t.Errorf("exit after SIGINT: %v\n%s", err, p.log)
		}
		if !strings.Contains(p.log.String(), "shutting down") {
			t.Errorf("no \"shutting down\":\n%s", p.log)
		}
	})
}
