package interop_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver-dev/authserver/authserver/observe/observetest"
	"github.com/authserver-dev/authserver/authserver/tlsserve"
	"github.com/authserver-dev/authserver/cmd/authserver/internal/proctest"
)

// The FAPI clients' registrations: one with the three switches, one with
// the profile that implies them (and forbids what FAPI 2.0 forbids).
const (
	fapiRedirectURI = "http://127.0.0.1:7821/callback"
	fapiKeyID       = "interop-fapi-key-1"
)

var fapiClients = []struct{ id, settings, idTokenAlg string }{
	{"fapi-flags", "require_pushed_authorization_requests: true\n    dpop_bound_access_tokens: true", ""},
	// FAPI 2.0 §5.4.1 forbids RS256, the default for ID tokens.
	{"fapi-profile", "profile: fapi2\n    id_token_signed_response_alg: ES256", "ES256"},
}

// TestOpenIDClientFAPI drives openid-client 6 (testdata/rp/fapi.mjs) as a
// FAPI 2.0-style client against the built binary over https: client
// authentication with private_key_jwt (a key pair made here, its public
// half in the config's inline jwks, its private half handed to the script
// in a file), a pushed authorization request with a DPoP proof, the code
// flow with PKCE, and DPoP-bound tokens at the token endpoint, userinfo and
// refresh. Then it checks what the script saw: token_type DPoP, cnf.jkt the
// RFC 7638 thumbprint of the script's key (recomputed here from its public
// JWK), and refusals for a request without PAR, the bound token as a bearer
// token at userinfo, a refresh without a proof, the spent request_uri, the
// code bound at PAR redeemed with another key, and a client assertion signed
// by a key the client did not register.
func TestOpenIDClientFAPI(t *testing.T) {
	node := requireNode(t)
	dir := t.TempDir()
	bin := proctest.Build(t)

	public, privateFile := clientKeyPair(t, dir)
	addr := proctest.FreeAddr(t)
	var clients strings.Builder
	for _, c := range fapiClients {
		fmt.Fprintf(&clients, `  - id: %s
    name: openid-client FAPI (%s)
    token_endpoint_auth_method: private_key_jwt
    jwks: %s
    redirect_uris: [%s]
    grant_types: [authorization_code, refresh_token]
    scopes: [openid, profile, email, offline_access]
    audience: [https://api.example]
    %s
`, c.id, c.id, public, fapiRedirectURI, c.settings)
	}
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
%susers:
  - username: alice
    password: alice-password
    email: alice@example.com
    email_verified: true
    name: Alice Example
`, addr, addr, filepath.Join(dir, "authserver.db"), filepath.Join(dir, "kek"), clients.String())
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	issuer := "https://" + addr
	cert := filepath.Join(dir, tlsserve.DevCertFile)
	server := proctest.Start(t, bin, []string{"serve", "--config", cfgFile, "--dev-tls"}, nil, &observetest.Logs{})
	server.Await(t, "ready over https", func() bool { return ready(issuer, cert) })

	for _, c := range fapiClients {
		t.Run(c.id, func(t *testing.T) {
			env := []string{"ISSUER=" + issuer, "NODE_EXTRA_CA_CERTS=" + cert, "CLIENT_ID=" + c.id,
				"CLIENT_KEY_FILE=" + privateFile, "REDIRECT_URI=" + fapiRedirectURI, "USERNAME=alice", "PASSWORD=alice-password"}
			if c.idTokenAlg != "" {
				env = append(env, "ID_TOKEN_ALG="+c.idTokenAlg)
			}
			out, err := runFAPIScript(t, node, env...)
			if err != nil {
				t.Fatalf("the relying party failed: %v (server log: %s)", err, server.Tail(8000))
			}
			checkFAPIResult(t, resultLine(t, out))
		})
	}
}

// fapiResult is what fapi.mjs reports.
type fapiResult struct {
	ClientID           string          `json:"client_id"`
	DPoPJWK            json.RawMessage `json:"dpop_jwk"`
	DPoPJKT            string          `json:"dpop_jkt"`
	TokenType          string          `json:"token_type"`
	AccessCnf          *cnf            `json:"access_cnf"`
	RefreshedTokenType string          `json:"refreshed_token_type"`
	RefreshedCnf       *cnf            `json:"refreshed_cnf"`
	WithoutPAR         *browserStep    `json:"without_par"`
	SpentRequestURI    *browserStep    `json:"spent_request_uri"`
	BearerUserinfo     *refusal        `json:"bearer_userinfo"`
	RefreshNoProof     *refusal        `json:"refresh_without_proof"`
	CodeOtherKey       *refusal        `json:"code_other_key"`
	PARForeignKey      *refusal        `json:"par_foreign_key"`
}

type cnf struct {
	JKT string `json:"jkt"`
}

// browserStep is where an authorization request led: an error redirect to
// the client, or a page of the provider.
type browserStep struct {
	Redirect  bool   `json:"redirect"`
	Error     string `json:"error"`
	Code      bool   `json:"code"`
	Status    int    `json:"status"`
	LoginPage bool   `json:"login_page"`
}

// refused: no code issued and no login page shown, by an error redirect or
// a 4xx page.
func (s *browserStep) refused() bool {
	if s == nil {
		return false
	}
	if s.Redirect {
		return s.Error != "" && !s.Code
	}
	return s.Status >= 400 && s.Status < 500 && !s.LoginPage
}

type refusal struct {
	Refused bool   `json:"refused"`
	Status  int    `json:"status"`
	Error   string `json:"error"`
}

func checkFAPIResult(t *testing.T, line string) {
	t.Helper()
	var r fapiResult
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		t.Fatalf("result line %q: %v", line, err)
	}
	// The thumbprint, recomputed here from the script's public key, must
	// be the one jose computed and the one the provider bound the tokens to.
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(r.DPoPJWK); err != nil || !jwk.IsPublic() {
		t.Fatalf("the script's DPoP key %s: %v (want a public JWK)", r.DPoPJWK, err)
	}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	jkt := base64.RawURLEncoding.EncodeToString(sum)
	if r.DPoPJKT != jkt {
		t.Errorf("jose's thumbprint %q, go-jose's %q", r.DPoPJKT, jkt)
	}
	for _, tok := range []struct {
		what, tokenType string
		cnf             *cnf
	}{{"code exchange", r.TokenType, r.AccessCnf}, {"refresh", r.RefreshedTokenType, r.RefreshedCnf}} {
		if !strings.EqualFold(tok.tokenType, "DPoP") {
			t.Errorf("%s: token_type %q, want DPoP", tok.what, tok.tokenType)
		}
		if tok.cnf == nil || tok.cnf.JKT != jkt {
			t.Errorf("%s: access token cnf %+v, want jkt %q (the script's key)", tok.what, tok.cnf, jkt)
		}
	}
	if !r.WithoutPAR.refused() {
		t.Errorf("an authorization request without PAR for %s: %+v, want it refused", r.ClientID, r.WithoutPAR)
	}
	if !r.SpentRequestURI.refused() {
		t.Errorf("the request_uri after its code was issued: %+v, want it refused", r.SpentRequestURI)
	}
	if b := r.BearerUserinfo; b == nil || !b.Refused || b.Status != 401 || !strings.Contains(b.Error, "invalid_token") {
		t.Errorf("userinfo with the bound token as Bearer: %+v, want 401 invalid_token", b)
	}
	if n := r.RefreshNoProof; n == nil || !n.Refused || n.Status != 400 || n.Error != "invalid_dpop_proof" {
		t.Errorf("refresh without a proof: %+v, want 400 invalid_dpop_proof", n)
	}
	if c := r.CodeOtherKey; c == nil || !c.Refused || c.Status != 400 || c.Error != "invalid_grant" {
		t.Errorf("the code bound at PAR redeemed with another key: %+v, want 400 invalid_grant", c)
	}
	if f := r.PARForeignKey; f == nil || !f.Refused || f.Status != 401 || f.Error != "invalid_client" {
		t.Errorf("PAR with an assertion by an unregistered key: %+v, want 401 invalid_client", f)
	}
}

// clientKeyPair makes the clients' ES256 key: it returns the public JWK Set
// as JSON (YAML flow syntax, for the config) and the file with the private
// JWK for the script.
func clientKeyPair(t *testing.T, dir string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	private := jose.JSONWebKey{Key: key, KeyID: fapiKeyID, Algorithm: "ES256", Use: "sig"}
	public := private.Public()
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{public}})
	if err != nil {
		t.Fatal(err)
	}
	privJSON, err := private.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "client-key.jwk")
	if err := os.WriteFile(file, privJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	return string(set), file
}

// runFAPIScript runs fapi.mjs with env and returns its output.
func runFAPIScript(t *testing.T, node string, env ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	script := exec.CommandContext(ctx, node, "fapi.mjs")
	script.Dir = rpDir
	script.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	script.Stdout, script.Stderr = &out, &out
	script.WaitDelay = 5 * time.Second
	err := script.Run()
	t.Logf("openid-client:\n%s", out.String())
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("the relying party did not finish within %s", budget)
	}
	if err == nil && !strings.Contains(out.String(), "all steps passed") {
		err = errors.New("the script ended without finishing its steps")
	}
	return out.String(), err
}
