package registration_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/authserver-dev/authserver/authserver/admin"
	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/registration"
	"github.com/authserver-dev/authserver/authserver/setup"
	"github.com/authserver-dev/authserver/config"
)

// The P-256 key of RFC 7515 §A.3 (public half) and of RFC 7517 §A.2 (with
// its private part, which a client must never send).
const (
	publicJWKS  = `{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`
	privateJWKS = `{"keys":[{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","d":"870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE"}]}`
)

// TestMetadataRules: every rule of a registration, each refused with the
// RFC 7591 §3.2.2 error and a description that names the problem, and
// nothing stored.
func TestMetadataRules(t *testing.T) {
	t.Parallel()
	p := startOpen(t, nil)
	const (
		badURI  = "invalid_redirect_uri"
		badMeta = "invalid_client_metadata"
	)
	ok := `"redirect_uris":["https://app.example.com/cb"]`
	for _, tc := range []struct {
		name        string
		contentType string // default application/json
		body        string
		code        string
		mention     string
	}{
		// Redirect URIs: the configuration's rules, and registration's.
		{name: "http on a public host", body: `{"redirect_uris":["http://app.example.com/cb"]}`, code: badURI, mention: "http is allowed only for loopback"},
		{name: "fragment", body: `{"redirect_uris":["https://app.example.com/cb#frag"]}`, code: badURI, mention: "fragment"},
		{name: "wildcard", body: `{"redirect_uris":["https://*.example.com/cb"]}`, code: badURI, mention: "wildcard"},
		{name: "javascript", body: `{"redirect_uris":["javascript:alert(1)"]}`, code: badURI, mention: "javascript"},
		{name: "data", body: `{"redirect_uris":["data:text/html,hi"]}`, code: badURI, mention: "data"},
		{name: "relative", body: `{"redirect_uris":["/cb"]}`, code: badURI, mention: "not absolute"},
		{name: "missing", body: `{"client_name":"x"}`, code: badURI, mention: "redirect_uris: is required"},
		{name: "empty list", body: `{"redirect_uris":[]}`, code: badURI, mention: "redirect_uris: is required"},
		{name: "listed twice", body: `{"redirect_uris":["https://app.example.com/cb","https://app.example.com/cb"]}`, code: badURI, mention: "listed twice"},
		{name: "not a list", body: `{"redirect_uris":"https://app.example.com/cb"}`, code: badURI, mention: "array of strings"},
		{name: "web with a private-use scheme", body: `{"redirect_uris":["com.example.app:/cb"]}`, code: badURI, mention: "application_type native"},
		{name: "native private-use scheme without a dot", body: `{"application_type":"native","redirect_uris":["myapp:/cb"]}`, code: badURI, mention: "reverse domain name"},
		{name: "native http on a public host", body: `{"application_type":"native","redirect_uris":["http://app.example.com/cb"]}`, code: badURI, mention: "loopback"},
		{name: "bad redirect URI among other problems", body: `{"redirect_uris":["http://app.example.com/cb"],"scope":"api.write"}`, code: badURI, mention: "api.write"},
		{name: "post-logout URI with a private-use scheme for web", body: `{` + ok + `,"post_logout_redirect_uris":["com.example.app:/bye"]}`, code: badMeta, mention: "post_logout_redirect_uris[0]"},
		{name: "post-logout URI with a fragment", body: `{` + ok + `,"post_logout_redirect_uris":["https://app.example.com/bye#x"]}`, code: badMeta, mention: "fragment"},
		{name: "unknown application_type", body: `{` + ok + `,"application_type":"desktop"}`, code: badMeta, mention: "web or native"},

		// Grant and response types.
		{name: "unknown grant", body: `{` + ok + `,"grant_types":["authorization_code","urn:ietf:params:oauth:grant-type:jwt-bearer"]}`, code: badMeta, mention: "not allowed for registered clients"},
		{name: "password grant", body: `{` + ok + `,"grant_types":["authorization_code","password"]}`, code: badMeta, mention: "password grant"},
		{name: "implicit grant", body: `{` + ok + `,"grant_types":["implicit"]}`, code: badMeta, mention: "implicit grant is not supported"},
		{name: "client_credentials not allowed", body: `{` + ok + `,"grant_types":["client_credentials"]}`, code: badMeta, mention: "registration.allowed_grant_types"},
		{name: "empty grant_types", body: `{` + ok + `,"grant_types":[]}`, code: badMeta, mention: "grant_types: is empty"},
		{name: "response type token", body: `{` + ok + `,"response_types":["code","token"]}`, code: badMeta, mention: "implicit flow"},
		{name: "hybrid response type", body: `{` + ok + `,"response_types":["code id_token"]}`, code: badMeta, mention: "code only"},
		{name: "response type id_token", body: `{` + ok + `,"response_types":["id_token"]}`, code: badMeta, mention: "code only"},
		{name: "authorization_code without code", body: `{` + ok + `,"response_types":[]}`, code: badMeta, mention: "needs the response type code"},
		{name: "code without authorization_code", body: `{` + ok + `,"grant_types":["refresh_token"],"response_types":["code"]}`, code: badMeta, mention: "needs the authorization_code grant"},

		// Scope.
		{name: "scope outside the allowed ones", body: `{` + ok + `,"scope":"openid api.read"}`, code: badMeta, mention: `"api.read" is not allowed`},
		{name: "admin scope", body: `{` + ok + `,"scope":"openid admin"}`, code: badMeta, mention: "admin is never granted"},
		{name: "empty scope", body: `{` + ok + `,"scope":""}`, code: badMeta, mention: "scope: is empty"},
		{name: "two spaces in scope", body: `{` + ok + `,"scope":"openid  email"}`, code: badMeta, mention: "single spaces"},
		{name: "scope listed twice", body: `{` + ok + `,"scope":"openid email openid"}`, code: badMeta, mention: "listed twice"},
		{name: "scope not a string", body: `{` + ok + `,"scope":["openid"]}`, code: badMeta, mention: "scope: must be a string"},

		// Client authentication and what this server does not implement.
		{name: "software statement", body: `{` + ok + `,"software_statement":"eyJhbGciOiJSUzI1NiJ9.e30.sig"}`, code: "invalid_software_statement", mention: "trusts no issuer"},
		{name: "private_key_jwt without keys", body: `{` + ok + `,"token_endpoint_auth_method":"private_key_jwt"}`, code: badMeta, mention: "jwks: is not set, and neither is jwks_uri"},
		{name: "private_key_jwt with a private key", body: `{` + ok + `,"token_endpoint_auth_method":"private_key_jwt","jwks":` + privateJWKS + `}`, code: badMeta, mention: "jwks.keys[0]: holds a private key"},
		{name: "private_key_jwt with a symmetric key", body: `{` + ok + `,"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}}`, code: badMeta, mention: "symmetric"},
		{name: "jwks and jwks_uri", body: `{` + ok + `,"token_endpoint_auth_method":"private_key_jwt","jwks":` + publicJWKS + `,"jwks_uri":"https://app.example.com/jwks.json"}`, code: badMeta, mention: "jwks_uri: is set and so is jwks"},
		{name: "jwks not an object", body: `{` + ok + `,"token_endpoint_auth_method":"private_key_jwt","jwks":"` + "k1" + `"}`, code: badMeta, mention: "jwks: must be a JSON object"},
		{name: "jwks with an empty keys list", body: `{` + ok + `,"jwks":{"keys":[]}}`, code: badMeta, mention: "keys list"},
		{name: "jwks_uri over http", body: `{` + ok + `,"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"http://app.example.com/jwks.json"}`, code: badMeta, mention: "loopback"},
		{name: "jwks_uri not a string", body: `{` + ok + `,"token_endpoint_auth_method":"private_key_jwt","jwks_uri":["https://app.example.com/jwks.json"]}`, code: badMeta, mention: "jwks_uri: must be a string"},
		{name: "client_secret_jwt", body: `{` + ok + `,"token_endpoint_auth_method":"client_secret_jwt"}`, code: badMeta, mention: "not supported"},
		{name: "tls_client_auth", body: `{` + ok + `,"token_endpoint_auth_method":"tls_client_auth"}`, code: badMeta, mention: "not supported"},
		{name: "self_signed_tls_client_auth", body: `{` + ok + `,"token_endpoint_auth_method":"self_signed_tls_client_auth"}`, code: badMeta, mention: "not supported"},
		{name: "unknown auth method", body: `{` + ok + `,"token_endpoint_auth_method":"magic"}`, code: badMeta, mention: "unknown method"},
		{name: "request objects by reference", body: `{` + ok + `,"request_uris":["https://app.example.com/req.jwt"]}`, code: badMeta, mention: "by reference are not supported"},
		{name: "JARM", body: `{` + ok + `,"authorization_signed_response_alg":"ES256"}`, code: badMeta, mention: "JARM"},
		{name: "encrypted request objects", body: `{` + ok + `,"request_object_encryption_alg":"RSA-OAEP"}`, code: badMeta, mention: "encrypted request objects"},
		{name: "encrypted ID tokens", body: `{` + ok + `,"id_token_encrypted_response_alg":"RSA-OAEP"}`, code: badMeta, mention: "encrypted ID tokens"},
		{name: "signed userinfo", body: `{` + ok + `,"userinfo_signed_response_alg":"RS256"}`, code: badMeta, mention: "signed userinfo"},
		{name: "pairwise subjects", body: `{` + ok + `,"subject_type":"pairwise"}`, code: badMeta, mention: "public subject identifiers"},
		{name: "certificate-bound tokens", body: `{` + ok + `,"tls_client_certificate_bound_access_tokens":true}`, code: badMeta, mention: "use dpop_bound_access_tokens"},
		{name: "DPoP-bound tokens not a boolean", body: `{` + ok + `,"dpop_bound_access_tokens":"yes"}`, code: badMeta, mention: "dpop_bound_access_tokens: must be true or false"},
		{name: "PAR required not a boolean", body: `{` + ok + `,"require_pushed_authorization_requests":1}`, code: badMeta, mention: "require_pushed_authorization_requests: must be true or false"},
		{name: "ID token algorithm none", body: `{` + ok + `,"id_token_signed_response_alg":"none"}`, code: badMeta, mention: "signing.algorithms"},
		{name: "ID token algorithm HS256", body: `{` + ok + `,"id_token_signed_response_alg":"HS256"}`, code: badMeta, mention: "signing.algorithms"},

		// Logout and name.
		{name: "back-channel URI over http to a public host", body: `{` + ok + `,"backchannel_logout_uri":"http://app.example.com/bc"}`, code: badMeta, mention: "backchannel_logout_uri"},
		{name: "back-channel session without a URI", body: `{` + ok + `,"backchannel_logout_session_required":true}`, code: badMeta, mention: "backchannel_logout_uri is not"},
		{name: "client_name too long", body: `{` + ok + `,"client_name":"` + strings.Repeat("n", 129) + `"}`, code: badMeta, mention: "at most 128"},
		{name: "client_name with a control character", body: `{` + ok + `,"client_name":"a\u0007b"}`, code: badMeta, mention: "control characters"},
		{name: "client_name not a string", body: `{` + ok + `,"client_name":5}`, code: badMeta, mention: "client_name: must be a string"},

		// The request itself.
		{name: "not JSON", body: `redirect_uris=https://app.example.com/cb`, code: badMeta, mention: "JSON object"},
		{name: "a JSON array", body: `[` + `{` + ok + `}]`, code: badMeta, mention: "JSON object"},
		{name: "member twice", body: `{` + ok + `,"redirect_uris":["https://evil.example.com/cb"]}`, code: badMeta, mention: `"redirect_uris" is given twice`},
		{name: "trailing data", body: `{` + ok + `}{}`, code: badMeta, mention: "nothing after it"},
		{name: "truncated", body: `{` + ok, code: badMeta, mention: "not valid JSON"},
		{name: "invalid UTF-8", body: "{" + ok + `,"client_name":"` + "\xff" + `"}`, code: badMeta, mention: "UTF-8"},
		{name: "form-encoded", contentType: "application/x-www-form-urlencoded", body: `{` + ok + `}`, code: badMeta, mention: "application/json"},
		{name: "another charset", contentType: "application/json; charset=latin1", body: `{` + ok + `}`, code: badMeta, mention: "UTF-8"},
		{name: "too large", body: `{` + ok + `,"x":"` + strings.Repeat("x", 64<<10) + `"}`, code: badMeta, mention: "larger than 64 KiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := tc.contentType
			if ct == "" {
				ct = "application/json"
			}
			wantError(t, sendAs(t, http.MethodPost, p.URL+"/register", "", ct, tc.body), http.StatusBadRequest, tc.code, tc.mention)
		})
	}
	clients, err := p.App.Admin.ListClients(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		if c.Registered {
			t.Errorf("a refused registration stored client %s", c.ID)
		}
	}
}

// TestEveryProblemAtOnce: one answer lists every broken rule.
func TestEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	p := startOpen(t, nil)
	r := send(t, http.MethodPost, p.URL+"/register", "", `{"redirect_uris":["https://app.example.com/cb#x"],"grant_types":["authorization_code","password"],"scope":"admin","token_endpoint_auth_method":"client_secret_jwt"}`)
	wantError(t, r, http.StatusBadRequest, "invalid_redirect_uri", "")
	for _, field := range []string{"redirect_uris[0]: ", "grant_types[1]: ", "scope: ", "token_endpoint_auth_method: "} {
		if !strings.Contains(r.str("error_description"), field) {
			t.Errorf("error_description %q does not name %s", r.str("error_description"), field)
		}
	}
}

// TestBackchannelURIOnAPublicIssuer: on a server that is not on loopback,
// the server would post logout tokens into its own network for a
// back-channel URI there, so registration refuses http, localhost and
// private addresses (the configuration's rules allow loopback http).
func TestBackchannelURIOnAPublicIssuer(t *testing.T) {
	t.Parallel()
	srv, _ := publicHandler(t)

	for _, tc := range []struct {
		uri     string
		mention string // "" means accepted
	}{
		{"https://rp.example.com/backchannel", ""},
		{"http://127.0.0.1:7799/bc", "must be https"},
		{"http://rp.example.com/bc", "must be https"},
		{"https://localhost/bc", "own machine"},
		{"https://app.localhost/bc", "own machine"},
		{"https://127.0.0.1/bc", "own machine"},
		{"https://10.1.2.3/bc", "private network"},
		{"https://192.168.0.1/bc", "private network"},
		{"https://169.254.169.254/latest/meta-data", "private network"},
		{"https://[fd00::1]/bc", "private network"},
		{"https://[::ffff:10.0.0.1]/bc", "private network"},
		{"https://0.0.0.0/bc", "private network"},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			r := send(t, http.MethodPost, srv.URL+"/register", "", jsonOf(t, map[string]any{
				"redirect_uris": []string{"https://rp.example.com/cb"}, "backchannel_logout_uri": tc.uri,
			}))
			if tc.mention == "" {
				if r.Status != http.StatusCreated || r.str("registration_client_uri") != "https://auth.example.com/register/"+r.str("client_id") {
					t.Fatalf("got %d %s, want 201 with the issuer's registration_client_uri", r.Status, r.Raw)
				}
				return
			}
			wantError(t, r, http.StatusBadRequest, "invalid_client_metadata", tc.mention)
		})
	}
}

// publicHandler serves the registration endpoint of a server at
// https://auth.example.com (registration open by force) on a real SQLite
// store, without the rest of the provider. It returns its test server and
// the admin service.
func publicHandler(t testing.TB) (*httptest.Server, *admin.Service) {
	t.Helper()
	dir := t.TempDir()
	cfg := authtest.TestConfig(dir)
	cfg.Issuer = "https://auth.example.com"
	cfg.Registration.Mode = config.RegistrationOpen
	cfg.Registration.ForceOpen = true
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test configuration: %v", err)
	}
	store, err := setup.OpenStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if filepath.Dir(cfg.Storage.DSN) != dir {
		t.Fatalf("the store is not in the test's directory: %s", cfg.Storage.DSN)
	}
	log := slog.New(slog.DiscardHandler)
	svc := admin.New(admin.Options{Store: store, Config: cfg, Logger: log})
	h, err := registration.New(registration.Options{Service: svc, Clients: store, Config: cfg, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /register", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, svc
}

// FuzzRegistration: whatever the body, the endpoint answers 201 or one of
// the RFC's errors (never 5xx), and a client it registers has only what
// registration allows: the allowed scopes and grant types, no admin scope,
// no password grant, no audience, consent, no introspection.
func FuzzRegistration(f *testing.F) {
	for _, seed := range []string{
		`{"redirect_uris":["https://app.example.com/cb"]}`,
		`{"redirect_uris":["com.example.app:/cb"],"application_type":"native","token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"]}`,
		`{"redirect_uris":["https://app.example.com/cb"],"scope":"openid admin","grant_types":["password"]}`,
		`{"redirect_uris":["https://app.example.com/cb"],"skip_consent":true,"audience":["x"],"allow_introspection":true}`,
		`{"redirect_uris":["https://a/cb"],"redirect_uris":["https://b/cb"]}`,
		`{"redirect_uris":null,"grant_types":["client_credentials"],"response_types":[]}`,
		`{"software_statement":"a.b.c"}`,
		`[1,2]`, `{`, `{"scope":"\u0000"}`,
	} {
		f.Add(seed)
	}
	srv, svc := publicHandler(f)
	allowedScopes := []string{"openid", "profile", "email", "offline_access"}
	f.Fuzz(func(t *testing.T, body string) {
		resp, err := http.Post(srv.URL+"/register", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%d, not JSON: %v", resp.StatusCode, err)
		}
		if resp.StatusCode != http.StatusCreated {
			code, _ := got["error"].(string)
			if resp.StatusCode != http.StatusBadRequest || !slices.Contains([]string{"invalid_redirect_uri", "invalid_client_metadata", "invalid_software_statement"}, code) {
				t.Fatalf("answer %d %v", resp.StatusCode, got)
			}
			return
		}
		id, _ := got["client_id"].(string)
		c, err := svc.GetClient(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if c.SkipConsent || c.AllowIntrospection || len(c.Audience) != 0 || !c.Registered {
			t.Errorf("registered %+v", c)
		}
		for _, s := range c.Scopes {
			if !slices.Contains(allowedScopes, s) {
				t.Errorf("registered scope %q", s)
			}
		}
		for _, g := range c.GrantTypes {
			if g != "authorization_code" && g != "refresh_token" {
				t.Errorf("registered grant %q", g)
			}
		}
	})
}
