package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver-dev/authserver/authserver/admin"
)

// jwksFile writes a JWK Set of one fresh P-256 key (kid k1) to a file, as a
// client publishes its jwks.json, indented; private keeps the private half
// in it, a mistake the server must refuse.
func jwksFile(t *testing.T, private bool) (path string, doc []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: k, KeyID: "k1", Use: "sig", Algorithm: "ES256"}
	if !private {
		jwk = jwk.Public()
	}
	doc, err = json.MarshalIndent(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, doc
}

// A private_key_jwt client from a JWKS file: no secret, its keys as the
// file has them, every new field in show and --output json, and the
// refusals naming the flags.
func TestClientPrivateKeyJWTFromAJWKSFile(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "tokens: {default_audience: [https://api.example.com]}\n")
	path, doc := jwksFile(t, false)
	var compact bytes.Buffer
	if err := json.Compact(&compact, doc); err != nil {
		t.Fatal(err)
	}

	out := c.ok("", "client", "add", "--id", "svc", "--token-endpoint-auth-method", "private_key_jwt", "--jwks", path,
		"--grant", "client_credentials", "--scope", "api.read")
	if !strings.Contains(out, "no secret") || !strings.Contains(out, "private_key_jwt") {
		t.Errorf("client add said:\n%s", out)
	}
	got := decode[admin.Client](t, c.ok("", "client", "show", "--output", "json", "svc"))
	if got.Public || got.TokenEndpointAuthMethod != "private_key_jwt" || compactJSON(t, got.JWKS) != compact.String() || got.JWKSURI != "" {
		t.Errorf("client show --output json = %+v\nwant private_key_jwt with jwks %s", got, compact.Bytes())
	}
	// The store keeps the file's JSON itself, compacted.
	if st, err := c.store().GetClient(t.Context(), "svc"); err != nil || st.JWKS != compact.String() || st.SecretHash != "" {
		t.Errorf("stored jwks %q, secret hash %q, %v", st.JWKS, st.SecretHash, err)
	}
	text := c.ok("", "client", "show", "svc")
	for name, want := range map[string]string{"token_endpoint_auth_method": "private_key_jwt", "jwks": "1 key: k1 (EC ES256)", "jwks_uri": "-",
		"require_pushed_authorization_requests": "false", "dpop_bound_access_tokens": "false", "profile": "-"} {
		if got := showField(text, name); got != want {
			t.Errorf("client show: %s is %q, want %q:\n%s", name, got, want, text)
		}
	}
	// A secret client shows what no recorded method means.
	c.ok("", "client", "add", "--id", "web", "--redirect-uri", "https://web.example/cb")
	if got := showField(c.ok("", "client", "show", "web"), "token_endpoint_auth_method"); got != "client_secret_basic or client_secret_post (not set)" {
		t.Errorf("client show of a secret client: token_endpoint_auth_method %q", got)
	}

	// The flags of sender-constrained tokens and the profile.
	after := decode[admin.Client](t, c.ok("", "client", "update", "--output", "json", "--require-par", "--dpop-bound",
		"--profile", "fapi2", "--id-token-alg", "ES256", "svc"))
	if !after.RequirePushedAuthorizationRequests || !after.DPoPBoundAccessTokens || after.Profile != "fapi2" || compactJSON(t, after.JWKS) != compact.String() {
		t.Errorf("after update: %+v", after)
	}
	if stderr := c.want(exitError, "", "client", "update", "--grant", "client_credentials", "--grant", "password", "svc"); !strings.Contains(stderr, "--grant[1]") ||
		!strings.Contains(stderr, "FAPI 2.0") {
		t.Errorf("fapi2 with the password grant:\n%s", stderr)
	}

	// It has no secret to rotate, and cannot lose its last keys.
	if stderr := c.want(exitError, "", "client", "rotate-secret", "svc"); !strings.Contains(stderr, "private_key_jwt") {
		t.Errorf("rotate-secret:\n%s", stderr)
	}
	if stderr := c.want(exitError, "", "client", "update", "--clear", "jwks", "svc"); !strings.Contains(stderr, "--jwks") {
		t.Errorf("--clear jwks of the only keys:\n%s", stderr)
	}
	moved := decode[admin.Client](t, c.ok("", "client", "update", "--output", "json", "--clear", "jwks", "--jwks-uri", "https://svc.example.com/jwks.json", "svc"))
	if moved.JWKS != nil || moved.JWKSURI != "https://svc.example.com/jwks.json" {
		t.Errorf("after --clear jwks --jwks-uri: %+v", moved)
	}
	if stderr := c.want(exitUsage, "", "client", "update", "--clear", "jwks-uri", "--jwks-uri", "https://x.example/j", "svc"); !strings.Contains(stderr, "exclude each other") {
		t.Errorf("--clear jwks-uri with --jwks-uri:\n%s", stderr)
	}

	// What the service refuses names the flag; what is no JSON at all is a
	// usage mistake.
	leaked, _ := jwksFile(t, true)
	if stderr := c.want(exitError, "", "client", "add", "--id", "leak", "--token-endpoint-auth-method", "private_key_jwt", "--jwks", leaked,
		"--grant", "client_credentials"); !strings.Contains(stderr, "--jwks keys[0]") || !strings.Contains(stderr, "private key") {
		t.Errorf("a private key in the file:\n%s", stderr)
	}
	if stderr := c.want(exitError, "", "client", "add", "--id", "nokeys", "--token-endpoint-auth-method", "private_key_jwt",
		"--grant", "client_credentials"); !strings.Contains(stderr, "--jwks") {
		t.Errorf("private_key_jwt without keys:\n%s", stderr)
	}
	if stderr := c.want(exitUsage, "", "client", "add", "--id", "x", "--jwks", `{"keys": [`); !strings.Contains(stderr, "not valid JSON") {
		t.Errorf("inline JSON cut short:\n%s", stderr)
	}
	if stderr := c.want(exitUsage, "", "client", "add", "--id", "x", "--jwks", filepath.Join(t.TempDir(), "absent.json")); !strings.Contains(stderr, "absent.json") {
		t.Errorf("a missing file:\n%s", stderr)
	}
	// Inline JSON works as a file does.
	inline := decode[clientJSON](t, c.ok("", "client", "add", "--output", "json", "--id", "inline", "--token-endpoint-auth-method", "private_key_jwt",
		"--jwks", string(doc), "--grant", "client_credentials", "--scope", "api.read"))
	if inline.ClientSecret != "" || compactJSON(t, inline.JWKS) != compact.String() {
		t.Errorf("inline --jwks: %+v", inline)
	}
	for _, id := range []string{"leak", "nokeys", "x"} {
		c.want(exitNotFound, "", "client", "show", id)
	}
}

// compactJSON is b without the indentation of --output json.
func compactJSON(t *testing.T, b []byte) string {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return out.String()
}

// showField is the value of one field in the text of client show.
func showField(text, name string) string {
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
