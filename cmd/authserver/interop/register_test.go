package interop_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/observe/observetest"
	"github.com/authserver-dev/authserver/authserver/tlsserve"
	"github.com/authserver-dev/authserver/cmd/authserver/internal/proctest"
)

// TestOpenIDClientDynamicRegistration: a relying party we did not write
// registers itself. openid-client's dynamicClientRegistration() (RFC 7591)
// against the built binary (testdata/rp/register.mjs) registers a
// confidential web client and a public native one and runs the code flow
// with PKCE with each (login, consent, ID token verified, userinfo,
// refresh). Then this test manages the confidential registration as RFC
// 7592 says: read it with its registration access token, be refused with a
// wrong one, delete it. Once with registration.mode open on the loopback
// issuer, once with initial_access_token and a token made with
// `authserver registration-token create`.
func TestOpenIDClientDynamicRegistration(t *testing.T) {
	node := requireNode(t)
	bin := proctest.Build(t)
	for _, mode := range []string{"open", "initial_access_token"} {
		t.Run(mode, func(t *testing.T) { dynamicRegistration(t, node, bin, mode) })
	}
}

func dynamicRegistration(t *testing.T, node, bin, mode string) {
	dir := t.TempDir()
	addr := proctest.FreeAddr(t)
	cfgFile := filepath.Join(dir, "authserver.yaml")
	cfg := fmt.Sprintf(`listen: %s
issuer: http://%s
storage:
  driver: sqlite
  dsn: %s
signing:
  key_encryption_key_file: %s
passwords: {memory_kib: 64, iterations: 1, parallelism: 1}
tokens:
  default_audience: [https://api.example]
observability:
  metrics_listen: "off"
log:
  level: warn
registration:
  mode: %s
clients: []
users:
  - username: alice
    password: alice-password
    email: alice@example.com
    name: Alice Example
`, addr, addr, filepath.Join(dir, "authserver.db"), filepath.Join(dir, "kek"), mode)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	issuer := "https://" + addr
	cert := filepath.Join(dir, tlsserve.DevCertFile)
	server := proctest.Start(t, bin, []string{"serve", "--config", cfgFile, "--dev-tls"}, nil, &observetest.Logs{})
	server.Await(t, "ready over https", func() bool { return ready(issuer, cert) })
	var env []string
	token := ""
	if mode == "initial_access_token" {
		token = initialAccessToken(t, bin, cfgFile)
		env = append(env, "INITIAL_ACCESS_TOKEN="+token)
	}

	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	script := exec.CommandContext(ctx, node, "register.mjs")
	script.Dir = rpDir
	script.Env = append(append(os.Environ(), env...),
		"NODE_EXTRA_CA_CERTS="+cert,
		"ISSUER="+issuer, "REDIRECT_URI=http://127.0.0.1:7811/callback", "NATIVE_REDIRECT_URI=http://127.0.0.1:7812/callback",
		"USERNAME=alice", "PASSWORD=alice-password")
	var out bytes.Buffer
	script.Stdout, script.Stderr = &out, &out
	script.WaitDelay = 5 * time.Second
	err := script.Run()
	t.Logf("openid-client:\n%s", out.String())
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("the relying party did not finish within %s", budget)
	}
	if err != nil {
		t.Fatalf("the relying party failed: %v (server log: %s)", err, server.Tail(8000))
	}
	if !strings.Contains(out.String(), "all steps passed") {
		t.Fatal("the script ended without finishing its steps")
	}
	var result struct {
		Sub          string `json:"sub"`
		Confidential struct {
			ClientID                string `json:"client_id"`
			RegistrationClientURI   string `json:"registration_client_uri"`
			RegistrationAccessToken string `json:"registration_access_token"`
		} `json:"confidential"`
		Public struct {
			ClientID string `json:"client_id"`
		} `json:"public"`
	}
	line := resultLine(t, out.String())
	if err := json.Unmarshal([]byte(line), &result); err != nil {
		t.Fatalf("result line %q: %v", line, err)
	}
	conf := result.Confidential
	if result.Sub == "" || conf.ClientID == "" || result.Public.ClientID == "" || conf.ClientID == result.Public.ClientID {
		t.Fatalf("result: %+v", result)
	}
	if conf.RegistrationClientURI != issuer+"/register/"+conf.ClientID {
		t.Errorf("registration_client_uri %q", conf.RegistrationClientURI)
	}

	pool, err := tlsserve.CertPool(cert)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	manage := func(method, token string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, conf.RegistrationClientURI, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, conf.RegistrationClientURI, err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	if status, body := manage(http.MethodGet, conf.RegistrationAccessToken); status != http.StatusOK ||
		body["client_id"] != conf.ClientID || body["token_endpoint_auth_method"] != "client_secret_basic" {
		t.Errorf("RFC 7592 read: %d %v", status, body)
	}
	if status, body := manage(http.MethodGet, "wrong-"+conf.RegistrationAccessToken); status != http.StatusUnauthorized || body["error"] != "invalid_token" {
		t.Errorf("read with a wrong token: %d %v", status, body)
	}
	if status, _ := manage(http.MethodDelete, conf.RegistrationAccessToken); status != http.StatusNoContent {
		t.Errorf("RFC 7592 delete: %d", status)
	}
	if status, _ := manage(http.MethodGet, conf.RegistrationAccessToken); status != http.StatusUnauthorized {
		t.Errorf("read after delete: %d, want 401", status)
	}
	if token != "" { // its two uses are spent
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, issuer+"/register", strings.NewReader(`{"redirect_uris":["http://127.0.0.1:7813/cb"]}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("a third registration with a token of two uses: %d, want 401", resp.StatusCode)
		}
	}
}

// resultLine is the JSON after "result " in the script's output.
func resultLine(t *testing.T, out string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, "result "); ok {
			return rest
		}
	}
	t.Fatal("the script printed no result line")
	return ""
}

// initialAccessToken makes a token for the script's two registrations with
// the CLI, as an operator would, while the server runs.
func initialAccessToken(t *testing.T, bin, cfgFile string) string {
	t.Helper()
	cmd := exec.Command(bin, "registration-token", "create", "--config", cfgFile, "--uses", "2", "--ttl", "10m", "--output", "json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("authserver registration-token create: %v\n%s", err, stderr.String())
	}
	var created struct {
		Token    string `json:"token"`
		UsesLeft int    `json:"uses_left"`
	}
	if err := json.Unmarshal(out, &created); err != nil || created.Token == "" || created.UsesLeft != 2 {
		t.Fatalf("registration-token create printed %q (%v)", out, err)
	}
	return created.Token
}
