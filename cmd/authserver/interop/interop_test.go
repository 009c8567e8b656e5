// Package interop runs relying parties we did not write against the real
// authserver binary over https: openid-client 6 (Node.js, the certified
// library most Node applications use), in testdata/rp. It has no code of its
// own; the dependencies are pinned in testdata/rp/package-lock.json and
// installed by `npm ci` (.ci/run does it).
package interop_test

import (
	"bytes"
	"context"
	"crypto/tls"
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

// rpDir holds the Node relying party and its pinned dependencies.
const rpDir = "testdata/rp"

// The relying party's registration. The redirect URIs are never listened
// on: the script reads the code from the redirect it is sent, as a browser
// would hand it over. The back-channel logout URI is the script's listener.
const (
	clientID     = "interop-rp"
	clientSecret = "interop-rp-secret-0123456789abcdefghij"
	redirectURI  = "http://127.0.0.1:7801/callback"
	postLogout   = "http://127.0.0.1:7801/signed-out"
)

// budget bounds the script; it normally takes a few seconds.
const budget = 60 * time.Second

// TestOpenIDClientInterop drives openid-client through discovery, the code
// flow with PKCE (the login and consent forms posted by the script, cookies
// and redirects handled by hand), userinfo, refresh, a prompt=none silent
// renew, revocation and RP-initiated logout with back-channel logout, whose
// logout token the script receives and verifies with jose.
func TestOpenIDClientInterop(t *testing.T) {
	node := requireNode(t)
	dir := t.TempDir()
	bin := proctest.Build(t)

	addr, backchannel := proctest.FreeAddr(t), proctest.FreeAddr(t)
	cfgFile := filepath.Join(dir, "authserver.yaml")
	cfg := fmt.Sprintf(`listen: %s
issuer: http://%s
storage:
  driver: sqlite
  dsn: %s
signing:
  key_encryption_key_file: %s
passwords: {memory_kib: 64, iterations: 1, parallelism: 1}
observability:
  metrics_listen: "off"
log:
  level: warn
clients:
  - id: %s
    name: openid-client interop
    secret: %s
    redirect_uris: [%s]
    post_logout_redirect_uris: [%s]
    grant_types: [authorization_code, refresh_token]
    scopes: [openid, profile, email, offline_access]
    audience: [https://api.example]
    backchannel_logout_uri: http://%s/backchannel-logout
    backchannel_logout_session_required: true
users:
  - username: alice
    password: alice-password
    email: alice@example.com
    email_verified: true
    name: Alice Example
`, addr, addr, filepath.Join(dir, "authserver.db"), filepath.Join(dir, "kek"),
		clientID, clientSecret, redirectURI, postLogout, backchannel)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	issuer := "https://" + addr
	cert := filepath.Join(dir, tlsserve.DevCertFile) // --dev-tls keeps it next to the key-encryption key
	// --dev-tls makes the certificate at start, so readiness reads it anew
	// each time.
	server := proctest.Start(t, bin, []string{"serve", "--config", cfgFile, "--dev-tls"}, nil, &observetest.Logs{})
	server.Await(t, "ready over https", func() bool { return ready(issuer, cert) })

	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	script := exec.CommandContext(ctx, node, "interop.mjs")
	script.Dir = rpDir
	script.Env = append(os.Environ(),
		"NODE_EXTRA_CA_CERTS="+cert, // trust the development certificate, and nothing else changes
		"ISSUER="+issuer, "CLIENT_ID="+clientID, "CLIENT_SECRET="+clientSecret,
		"REDIRECT_URI="+redirectURI, "POST_LOGOUT_REDIRECT_URI="+postLogout,
		"BACKCHANNEL_LISTEN="+backchannel, "USERNAME=alice", "PASSWORD=alice-password")
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
}

// requireNode returns the node binary, after checking that the script's
// dependencies are installed. Without them the test skips, except in CI
// (CI=true), where a missing relying party is a failure.
func requireNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	missing := ""
	switch {
	case err != nil:
		missing = "node is not installed (Debian: apt-get install nodejs npm)"
	case !exists(filepath.Join(rpDir, "node_modules", "openid-client", "package.json")) ||
		!exists(filepath.Join(rpDir, "node_modules", "jose", "package.json")):
		missing = "the relying party's dependencies are not installed: run `npm ci` in cmd/authserver/interop/testdata/rp"
	}
	if missing == "" {
		return node
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(missing)
	}
	t.Skip(missing)
	return ""
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// ready reports whether /readyz answers 200 over https, trusting only the
// development certificate (it may not be written yet).
func ready(issuer, cert string) bool {
	pool, err := tlsserve.CertPool(cert)
	if err != nil {
		return false
	}
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get(issuer + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
