package authserver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/dpop"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/config"
	"github.com/authserver-dev/authserver/resource"
)

// The provider side of DPoP (RFC 9449): every grant binds its access token
// to the key of the request's proof, the sample API's verifier (package
// resource) accepts such a token only with a proof by that key, and the
// provider's own endpoints (userinfo, introspection, revocation) treat bound
// tokens right. Proofs are made with dpop.Signer on the provider's clock.

const (
	dpopServiceSecret = "service-secret-0123456789abcdefghij"
	dpopDemoSecret    = "demo-web-secret-not-for-production"
	dpopDemoAudience  = "http://127.0.0.1:9095"
	dpopServiceAud    = "https://api.example.com"
	dpopNativeRedir   = "http://127.0.0.1:7777/cb"
)

// dpopKey is a fresh ES256 key whose proofs carry the provider's time.
func dpopKey(t testing.TB, p *authtest.Provider) *dpop.Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := dpop.NewSigner(key, "")
	if err != nil {
		t.Fatal(err)
	}
	s.Now = p.Clock.Now
	return s
}

// dpopProof is a proof by s for method and u.
func dpopProof(t testing.TB, s *dpop.Signer, method, u string, opts dpop.ProofOptions) string {
	t.Helper()
	proof, err := s.Proof(method, u, opts)
	if err != nil {
		t.Fatal(err)
	}
	return proof
}

// dpopTokenProof is a proof by s for the provider's token endpoint.
func dpopTokenProof(t testing.TB, p *authtest.Provider, s *dpop.Signer) string {
	t.Helper()
	return dpopProof(t, s, http.MethodPost, p.URL+"/token", dpop.ProofOptions{})
}

// dpopPost posts form to the provider's path with a DPoP header for each of
// proofs, authenticated as user with Basic, or, when secret is empty, as a
// public client named in the body.
func dpopPost(t testing.TB, p *authtest.Provider, path string, form url.Values, user, secret string, proofs ...string) (int, http.Header, map[string]any) {
	t.Helper()
	form = maps.Clone(form)
	if form == nil {
		form = url.Values{}
	}
	if secret == "" && user != "" {
		form.Set("client_id", user)
	}
	req, _ := http.NewRequest(http.MethodPost, p.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(secret))
	}
	for _, proof := range proofs {
		req.Header.Add("DPoP", proof)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, resp.Header, body
}

var dpopServiceForm = url.Values{"grant_type": {"client_credentials"}, "scope": {"api.read"}}

// dpopJWTClaims decodes a JWT's payload without checking it: the checks
// are the resource package's, below.
func dpopJWTClaims(t testing.TB, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// dpopCnf is the cnf.jkt of a token or an introspection answer, "" for none.
func dpopCnf(m map[string]any) string {
	cnf, _ := m["cnf"].(map[string]any)
	jkt, _ := cnf["jkt"].(string)
	return jkt
}

// checkBoundResponse checks a successful token response bound to s's key
// and returns its access token.
func checkBoundResponse(t *testing.T, status int, body map[string]any, s *dpop.Signer) string {
	t.Helper()
	if status != http.StatusOK {
		t.Fatalf("token request: %d %v", status, body)
	}
	if body["token_type"] != "DPoP" {
		t.Errorf("token_type = %v, want DPoP (RFC 9449 §5)", body["token_type"])
	}
	at, _ := body["access_token"].(string)
	if got := dpopCnf(dpopJWTClaims(t, at)); got != s.Thumbprint() {
		t.Errorf("cnf.jkt = %q, want the proof key's thumbprint %q", got, s.Thumbprint())
	}
	return at
}

// dpopAPI is the sample API's token check, package resource with its DPoP
// support, on a loopback server: it answers 200 with the token's cnf.jkt.
type dpopAPI struct {
	srv *httptest.Server
}

func newDPoPAPI(t *testing.T, p *authtest.Provider, audience string) *dpopAPI {
	t.Helper()
	v, err := resource.NewVerifier(context.Background(), resource.Config{Issuer: p.URL, Audience: audience})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(v.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := resource.ClaimsFromContext(r.Context())
		_ = json.NewEncoder(w).Encode(map[string]string{"jkt": c.Confirmation.JKT})
	})))
	t.Cleanup(srv.Close)
	return &dpopAPI{srv: srv}
}

func (a *dpopAPI) url() string { return a.srv.URL + "/api/profile" }

// call sends token with scheme, and the proof when not empty.
func (a *dpopAPI) call(t *testing.T, scheme, token, proof string) (int, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.url(), nil)
	req.Header.Set("Authorization", scheme+" "+token)
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// checkAtAPI is the end-to-end check: the API accepts the bound token with
// a proof by s, and refuses it as a bearer token.
func (a *dpopAPI) checkAtAPI(t *testing.T, token string, s *dpop.Signer) {
	t.Helper()
	proof := dpopProof(t, s, http.MethodGet, a.url(), dpop.ProofOptions{AccessToken: token})
	if status, hdr := a.call(t, "DPoP", token, proof); status != http.StatusOK {
		t.Errorf("the API refused the bound token with its proof: %d %v", status, hdr.Values("WWW-Authenticate"))
	}
	status, hdr := a.call(t, "Bearer", token, "")
	if status != http.StatusUnauthorized || !strings.Contains(hdr.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("the API took the bound token as a bearer token: %d %v", status, hdr.Values("WWW-Authenticate"))
	}
}

// dpopCode signs alice in for client (with its redirect URI and scope, and
// opts in the authorization request) and returns the code and the PKCE
// verifier.
func dpopCode(t *testing.T, p *authtest.Provider, client, redirect, scope string, opts ...oauth2.AuthCodeOption) (code, verifier string) {
	t.Helper()
	oc := &oauth2.Config{ClientID: client, RedirectURL: redirect, Scopes: strings.Fields(scope),
		Endpoint: oauth2.Endpoint{AuthURL: p.URL + "/authorize", TokenURL: p.URL + "/token"}}
	verifier = oauth2.GenerateVerifier()
	opts = append(opts, oauth2.S256ChallengeOption(verifier))
	return signIn(t, p, oc.AuthCodeURL("st", opts...), "st"), verifier
}

func dpopCodeForm(code, verifier, redirect string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}}
}

func TestDPoPBindsTheTokensOfEveryGrant(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, nil)
	userAPI, serviceAPI := newDPoPAPI(t, p, dpopDemoAudience), newDPoPAPI(t, p, dpopServiceAud)
	key := dpopKey(t, p)

	var refreshToken string
	t.Run("authorization_code", func(t *testing.T) {
		code, verifier := dpopCode(t, p, "demo-web", authtest.DemoRedirect, "openid offline_access api.read")
		status, _, body := dpopPost(t, p, "/token", dpopCodeForm(code, verifier, authtest.DemoRedirect), "demo-web", dpopDemoSecret, dpopTokenProof(t, p, key))
		at := checkBoundResponse(t, status, body, key)
		userAPI.checkAtAPI(t, at, key)
		refreshToken, _ = body["refresh_token"].(string)
		if body["id_token"] == nil || refreshToken == "" {
			t.Errorf("no ID token or refresh token: %v", body)
		}
	})
	t.Run("refresh_token", func(t *testing.T) {
		if refreshToken == "" {
			t.Skip("no refresh token")
		}
		status, _, body := dpopPost(t, p, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}},
			"demo-web", dpopDemoSecret, dpopTokenProof(t, p, key))
		userAPI.checkAtAPI(t, checkBoundResponse(t, status, body, key), key)
	})
	t.Run("client_credentials", func(t *testing.T) {
		status, _, body := dpopPost(t, p, "/token", dpopServiceForm, "service", dpopServiceSecret, dpopTokenProof(t, p, key))
		serviceAPI.checkAtAPI(t, checkBoundResponse(t, status, body, key), key)
	})
	t.Run("password", func(t *testing.T) {
		status, _, body := dpopPost(t, p, "/token", url.Values{"grant_type": {"password"}, "username": {"alice"},
			"password": {"alice-password"}, "scope": {"openid api.read"}}, "demo-web", dpopDemoSecret, dpopTokenProof(t, p, key))
		userAPI.checkAtAPI(t, checkBoundResponse(t, status, body, key), key)
	})
	t.Run("without a proof, a bearer token as before", func(t *testing.T) {
		status, _, body := dpopPost(t, p, "/token", dpopServiceForm, "service", dpopServiceSecret)
		if status != http.StatusOK || body["token_type"] != "Bearer" {
			t.Fatalf("token request without a proof: %d %v", status, body)
		}
		at := body["access_token"].(string)
		if _, ok := dpopJWTClaims(t, at)["cnf"]; ok {
			t.Errorf("an unbound token has cnf")
		}
		if status, hdr := serviceAPI.call(t, "Bearer", at, ""); status != http.StatusOK {
			t.Errorf("the API refused a bearer token: %d %v", status, hdr.Values("WWW-Authenticate"))
		}
	})
}

// TestDPoPInvalidProofAtTokenEndpoint: each broken proof is 400
// invalid_dpop_proof (RFC 9449 §5) and issues nothing.
func TestDPoPInvalidProofAtTokenEndpoint(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, func(c *config.Config) { c.DPoP.Algorithms = []string{"ES256"} })
	key := dpopKey(t, p)
	tokenURL := p.URL + "/token"
	edKey := func() *dpop.Signer {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		s, err := dpop.NewSigner(priv, "")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	replayed := dpopProof(t, key, http.MethodPost, tokenURL, dpop.ProofOptions{})
	if status, _, body := dpopPost(t, p, "/token", dpopServiceForm, "service", dpopServiceSecret, replayed); status != http.StatusOK {
		t.Fatalf("first use of the proof: %d %v", status, body)
	}
	cases := []struct {
		name   string
		proofs []string
	}{
		{"wrong htm", []string{dpopProof(t, key, http.MethodGet, tokenURL, dpop.ProofOptions{})}},
		{"wrong htu: another endpoint", []string{dpopProof(t, key, http.MethodPost, p.URL+"/userinfo", dpop.ProofOptions{})}},
		{"wrong htu: another host", []string{dpopProof(t, key, http.MethodPost, "https://as.example.com/token", dpop.ProofOptions{})}},
		{"stale iat", []string{dpopProof(t, key, http.MethodPost, tokenURL, dpop.ProofOptions{IssuedAt: p.Clock.Now().Add(-2 * time.Minute)})}},
		{"iat in the future", []string{dpopProof(t, key, http.MethodPost, tokenURL, dpop.ProofOptions{IssuedAt: p.Clock.Now().Add(time.Minute)})}},
		{"replayed jti", []string{replayed}},
		{"algorithm not allowed", []string{dpopProof(t, edKey, http.MethodPost, tokenURL, dpop.ProofOptions{})}},
		{"two proofs", []string{dpopTokenProof(t, p, key), dpopTokenProof(t, p, key)}},
		{"not a JWT", []string{"not-a-proof"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := dpopPost(t, p, "/token", dpopServiceForm, "service", dpopServiceSecret, tc.proofs...)
			if status != http.StatusBadRequest || body["error"] != "invalid_dpop_proof" {
				t.Fatalf("got %d %v, want 400 invalid_dpop_proof", status, body)
			}
			if body["access_token"] != nil {
				t.Errorf("a token was issued")
			}
		})
	}
}

// TestDPoPReplayAcrossReplicas: the replay cache is the store, so a proof
// accepted by one replica is refused by the next, and a server nonce one
// replica issued is good at the other (both derive its key from the KEK).
func TestDPoPReplayAcrossReplicas(t *testing.T) {
	t.Parallel()
	p := authtest.StartReplicas(t, 2, func(c *config.Config) { c.DPoP.RequireNonce = true })
	key := dpopKey(t, p)
	// Replica 1 asks for a nonce; replica 2 takes it.
	status, hdr, body := dpopPost(t, p, "/token", dpopServiceForm, "service", dpopServiceSecret, dpopTokenProof(t, p, key))
	nonce := hdr.Get("DPoP-Nonce")
	if status != http.StatusBadRequest || body["error"] != "use_dpop_nonce" || nonce == "" {
		t.Fatalf("without a nonce: %d %v nonce %q", status, body, nonce)
	}
	proof := dpopProof(t, key, http.MethodPost, p.URL+"/token", dpop.ProofOptions{Nonce: nonce})
	if status, _, body := dpopPost(t, p, "/token", dpopServiceForm, "service", dpopServiceSecret, proof); status != http.StatusOK {
		t.Fatalf("with the other replica's nonce: %d %v", status, body)
	}
	// Replica 1 again, with the proof replica 2 accepted.
	if status, _, body := dpopPost(t, p, "/token", dpopServiceForm, "service", dpopServiceSecret, proof); status != http.StatusBadRequest || body["error"] != "invalid_dpop_proof" {
		t.Fatalf("proof replayed to the other replica: %d %v, want 400 invalid_dpop_proof", status, body)
	}
}

// TestDPoPRefreshTokenOfPublicClientIsBound: RFC 9449 §5 binds a public
// client's refresh token to the proof key; another key or no proof is
// refused without spending it, and rotation keeps the binding.
func TestDPoPRefreshTokenOfPublicClientIsBound(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, nil)
	key, other := dpopKey(t, p), dpopKey(t, p)
	code, verifier := dpopCode(t, p, "native-app", dpopNativeRedir, "openid offline_access api.read")
	status, _, body := dpopPost(t, p, "/token", dpopCodeForm(code, verifier, dpopNativeRedir), "native-app", "", dpopTokenProof(t, p, key))
	checkBoundResponse(t, status, body, key)
	rt, _ := body["refresh_token"].(string)
	if got := dpopCnf(introspect(t, p, rt)); got != key.Thumbprint() {
		t.Fatalf("the public client's refresh token is bound to %q, want %q", got, key.Thumbprint())
	}
	refreshForm := func(rt string) url.Values {
		return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	}
	if status, _, body := dpopPost(t, p, "/token", refreshForm(rt), "native-app", "", dpopTokenProof(t, p, other)); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("refresh with another key: %d %v, want 400 invalid_grant", status, body)
	}
	if status, _, body := dpopPost(t, p, "/token", refreshForm(rt), "native-app", ""); status != http.StatusBadRequest || body["error"] != "invalid_dpop_proof" {
		t.Errorf("refresh without a proof: %d %v, want 400 invalid_dpop_proof", status, body)
	}
	// The refusals spent nothing: the key's holder refreshes.
	status, _, body = dpopPost(t, p, "/token", refreshForm(rt), "native-app", "", dpopTokenProof(t, p, key))
	checkBoundResponse(t, status, body, key)
	next, _ := body["refresh_token"].(string)
	if next == "" || next == rt {
		t.Fatalf("no rotation: %v", body)
	}
	if got := dpopCnf(introspect(t, p, next)); got != key.Thumbprint() {
		t.Errorf("the rotated refresh token is bound to %q, want %q", got, key.Thumbprint())
	}
	if status, _, body := dpopPost(t, p, "/token", refreshForm(next), "native-app", "", dpopTokenProof(t, p, other)); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("rotated token with another key: %d %v, want 400 invalid_grant", status, body)
	}
	status, _, body = dpopPost(t, p, "/token", refreshForm(next), "native-app", "", dpopTokenProof(t, p, key))
	checkBoundResponse(t, status, body, key)
}

// TestDPoPRefreshTokenOfConfidentialClientIsNotBound: RFC 9449 §5 leaves a
// confidential client's refresh token bound to its credentials only; each
// refresh's access token is bound to that request's proof, if any.
func TestDPoPRefreshTokenOfConfidentialClientIsNotBound(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, nil)
	key, other := dpopKey(t, p), dpopKey(t, p)
	code, verifier := dpopCode(t, p, "demo-web", authtest.DemoRedirect, "openid offline_access api.read")
	status, _, body := dpopPost(t, p, "/token", dpopCodeForm(code, verifier, authtest.DemoRedirect), "demo-web", dpopDemoSecret, dpopTokenProof(t, p, key))
	checkBoundResponse(t, status, body, key)
	rt := body["refresh_token"].(string)
	if got := dpopCnf(introspect(t, p, rt)); got != "" {
		t.Fatalf("a confidential client's refresh token is bound to %q", got)
	}
	status, body = refresh(t, p, rt, "", "demo-web", dpopDemoSecret)
	if status != http.StatusOK || body["token_type"] != "Bearer" {
		t.Fatalf("refresh without a proof: %d %v", status, body)
	}
	status, _, body = dpopPost(t, p, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}},
		"demo-web", dpopDemoSecret, dpopTokenProof(t, p, other))
	checkBoundResponse(t, status, body, other)
}

// dpopBoundClient stores a confidential client-credentials client with
// dpop_bound_access_tokens (RFC 9449 §5.2).
func dpopBoundClient(t *testing.T, p *authtest.Provider, id, secret string) {
	t.Helper()
	err := p.App.Store.CreateClient(context.Background(), storage.Client{ID: id, Name: "DPoP-bound service",
		SecretHash: storage.Hash(secret), GrantTypes: []string{"client_credentials"}, Scopes: []string{"api.read"},
		Audience: []string{dpopServiceAud}, DPoPBound: true, CreatedAt: p.Clock.Now(), UpdatedAt: p.Clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDPoPRequiredForDPoPBoundClient(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, nil)
	const id, secret = "dpop-bound", "dpop-bound-secret-0123456789abcdef"
	dpopBoundClient(t, p, id, secret)
	if status, _, body := dpopPost(t, p, "/token", dpopServiceForm, id, secret); status != http.StatusBadRequest || body["error"] != "invalid_dpop_proof" {
		t.Errorf("without a proof: %d %v, want 400 invalid_dpop_proof", status, body)
	}
	key := dpopKey(t, p)
	status, _, body := dpopPost(t, p, "/token", dpopServiceForm, id, secret, dpopTokenProof(t, p, key))
	checkBoundResponse(t, status, body, key)
}

// TestDPoPCodeBoundByDPoPJKT: a code bound to a key (dpop_jkt at the
// authorization endpoint, RFC 9449 §10) is redeemed only with a proof by
// that key: first through the flow, then with codes stored as the
// authorization endpoint stores them, one per case.
func TestDPoPCodeBoundByDPoPJKT(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, nil)
	ctx := context.Background()
	key, other := dpopKey(t, p), dpopKey(t, p)
	bound := oauth2.SetAuthURLParam("dpop_jkt", key.Thumbprint())

	code, flowVerifier := dpopCode(t, p, "native-app", dpopNativeRedir, "openid api.read", bound)
	if status, _, body := dpopPost(t, p, "/token", dpopCodeForm(code, flowVerifier, dpopNativeRedir), "native-app", "",
		dpopTokenProof(t, p, other)); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("code of dpop_jkt redeemed with another key: %d %v, want 400 invalid_grant", status, body)
	}
	code, flowVerifier = dpopCode(t, p, "native-app", dpopNativeRedir, "openid api.read", bound)
	status, _, body := dpopPost(t, p, "/token", dpopCodeForm(code, flowVerifier, dpopNativeRedir), "native-app", "", dpopTokenProof(t, p, key))
	checkBoundResponse(t, status, body, key)

	alice, err := p.App.Store.GetUserByUsername(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	verifier := oauth2.GenerateVerifier()
	newCode := func() string {
		code, now := rand.Text(), p.Clock.Now()
		err := p.App.Store.CreateAuthCode(ctx, storage.AuthCode{CodeHash: storage.Hash(code), ClientID: "demo-web", UserID: alice.ID,
			RedirectURI: authtest.DemoRedirect, Scope: "openid api.read", CodeChallenge: oauth2.S256ChallengeFromVerifier(verifier),
			CodeChallengeMethod: "S256", AuthTime: now, DPoPJKT: key.Thumbprint(), CreatedAt: now, ExpiresAt: now.Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		return code
	}
	// One code: neither another key nor no proof can redeem it, or burn it
	// (storage.CodeRedemption.DPoPJKT), so its holder of the key still can.
	code = newCode()
	exchange := func(proofs ...string) (int, map[string]any) {
		status, _, body := dpopPost(t, p, "/token", dpopCodeForm(code, verifier, authtest.DemoRedirect), "demo-web", dpopDemoSecret, proofs...)
		return status, body
	}
	if status, body := exchange(dpopTokenProof(t, p, other)); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("with another key: %d %v, want 400 invalid_grant", status, body)
	}
	if status, body := exchange(); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("without a proof: %d %v, want 400 invalid_grant", status, body)
	}
	status, body = exchange(dpopTokenProof(t, p, key))
	checkBoundResponse(t, status, body, key)
}

// TestDPoPServerNonce: with dpop.require_nonce, a proof without the current
// nonce is 400 use_dpop_nonce with a DPoP-Nonce header (RFC 9449 §8); with
// it, the request succeeds and gets a fresh one; a nonce from minutes ago is
// refused again. Userinfo asks the same way (401, §9).
func TestDPoPServerNonce(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, func(c *config.Config) { c.DPoP.RequireNonce = true })
	key := dpopKey(t, p)
	tokenURL := p.URL + "/token"
	status, hdr, body := dpopPost(t, p, "/token", dpopServiceForm, "service", dpopServiceSecret, dpopTokenProof(t, p, key))
	nonce := hdr.Get("DPoP-Nonce")
	if status != http.StatusBadRequest || body["error"] != "use_dpop_nonce" || nonce == "" {
		t.Fatalf("without a nonce: %d %v, DPoP-Nonce %q; want 400 use_dpop_nonce and a nonce", status, body, nonce)
	}
	status, hdr, body = dpopPost(t, p, "/token", dpopServiceForm, "service", dpopServiceSecret,
		dpopProof(t, key, http.MethodPost, tokenURL, dpop.ProofOptions{Nonce: nonce}))
	checkBoundResponse(t, status, body, key)
	if hdr.Get("DPoP-Nonce") == "" {
		t.Errorf("a successful token response carries no DPoP-Nonce")
	}
	if status, _, body := dpopPost(t, p, "/token", dpopServiceForm, "service", dpopServiceSecret,
		dpopProof(t, key, http.MethodPost, tokenURL, dpop.ProofOptions{Nonce: "made-up"})); status != http.StatusBadRequest || body["error"] != "use_dpop_nonce" {
		t.Errorf("with a made-up nonce: %d %v", status, body)
	}

	p.Clock.Advance(3 * time.Minute)
	status, hdr, body = dpopPost(t, p, "/token", dpopServiceForm, "service", dpopServiceSecret,
		dpopProof(t, key, http.MethodPost, tokenURL, dpop.ProofOptions{Nonce: nonce}))
	fresh := hdr.Get("DPoP-Nonce")
	if status != http.StatusBadRequest || body["error"] != "use_dpop_nonce" || fresh == "" || fresh == nonce {
		t.Fatalf("with a nonce 3 minutes old: %d %v, DPoP-Nonce %q (old %q)", status, body, fresh, nonce)
	}

	// Userinfo, with a token bound and issued with the fresh nonce.
	status, _, body = dpopPost(t, p, "/token", url.Values{"grant_type": {"password"}, "username": {"alice"},
		"password": {"alice-password"}, "scope": {"openid"}}, "demo-web", dpopDemoSecret,
		dpopProof(t, key, http.MethodPost, tokenURL, dpop.ProofOptions{Nonce: fresh}))
	at := checkBoundResponse(t, status, body, key)
	status, hdr, _ = dpopUserinfo(t, p, "DPoP", at, dpopProof(t, key, http.MethodGet, p.URL+"/userinfo", dpop.ProofOptions{AccessToken: at}))
	nonce = hdr.Get("DPoP-Nonce")
	if status != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), `DPoP error="use_dpop_nonce"`) || nonce == "" {
		t.Fatalf("userinfo without a nonce: %d %v, DPoP-Nonce %q", status, hdr.Values("WWW-Authenticate"), nonce)
	}
	status, hdr, _ = dpopUserinfo(t, p, "DPoP", at, dpopProof(t, key, http.MethodGet, p.URL+"/userinfo", dpop.ProofOptions{AccessToken: at, Nonce: nonce}))
	if status != http.StatusOK || hdr.Get("DPoP-Nonce") == "" {
		t.Fatalf("userinfo with the nonce: %d %v", status, hdr.Values("WWW-Authenticate"))
	}
}

// dpopUserinfo calls userinfo with GET, the token as scheme, and the proof
// when not empty.
func dpopUserinfo(t *testing.T, p *authtest.Provider, scheme, token, proof string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.URL+"/userinfo", nil)
	req.Header.Set("Authorization", scheme+" "+token)
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, resp.Header, body
}

// TestDPoPUserinfo: a bound token is accepted with the DPoP scheme and a
// proof for this request by its key (RFC 9449 §7), and refused otherwise.
func TestDPoPUserinfo(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, nil)
	key, other := dpopKey(t, p), dpopKey(t, p)
	passwordForm := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"}, "scope": {"openid email"}}
	status, _, body := dpopPost(t, p, "/token", passwordForm, "demo-web", dpopDemoSecret, dpopTokenProof(t, p, key))
	at := checkBoundResponse(t, status, body, key)
	status, _, body = dpopPost(t, p, "/token", passwordForm, "demo-web", dpopDemoSecret)
	if status != http.StatusOK {
		t.Fatalf("unbound token: %d %v", status, body)
	}
	unbound := body["access_token"].(string)
	userinfoURL := p.URL + "/userinfo"
	proof := func(s *dpop.Signer, method, u, token string) string {
		return dpopProof(t, s, method, u, dpop.ProofOptions{AccessToken: token})
	}

	status, _, body = dpopUserinfo(t, p, "DPoP", at, proof(key, http.MethodGet, userinfoURL, at))
	if status != http.StatusOK || body["email"] != "alice@example.com" {
		t.Fatalf("bound token with its proof: %d %v", status, body)
	}
	if status, _, body := dpopUserinfo(t, p, "Bearer", unbound, ""); status != http.StatusOK {
		t.Fatalf("an unbound bearer token: %d %v", status, body)
	}

	cases := []struct {
		name, scheme, token, proof string
		code                       string // the error on the challenge of scheme
	}{
		{"bound token as Bearer", "Bearer", at, "", "invalid_token"},
		{"bound token as Bearer, with a proof", "Bearer", at, proof(key, http.MethodGet, userinfoURL, at), "invalid_token"},
		{"no proof", "DPoP", at, "", "invalid_dpop_proof"},
		{"ath of another token", "DPoP", at, proof(key, http.MethodGet, userinfoURL, unbound), "invalid_dpop_proof"},
		{"no ath", "DPoP", at, proof(key, http.MethodGet, userinfoURL, ""), "invalid_dpop_proof"},
		{"wrong htm", "DPoP", at, proof(key, http.MethodPost, userinfoURL, at), "invalid_dpop_proof"},
		{"wrong htu", "DPoP", at, proof(key, http.MethodGet, p.URL+"/token", at), "invalid_dpop_proof"},
		{"another key", "DPoP", at, proof(other, http.MethodGet, userinfoURL, at), "invalid_token"},
		{"unbound token as DPoP", "DPoP", unbound, proof(key, http.MethodGet, userinfoURL, unbound), "invalid_token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := dpopUserinfo(t, p, tc.scheme, tc.token, tc.proof)
			challenges := hdr.Values("WWW-Authenticate")
			if status != http.StatusUnauthorized || body["error"] != tc.code {
				t.Fatalf("got %d %v, want 401 %s", status, body, tc.code)
			}
			if len(challenges) != 2 || !strings.HasPrefix(challenges[0], tc.scheme+` error="`+tc.code+`"`) {
				t.Errorf("WWW-Authenticate %q: want the %s challenge first, with error %s", challenges, tc.scheme, tc.code)
			}
			if !slices.ContainsFunc(challenges, func(c string) bool {
				return strings.HasPrefix(c, "DPoP ") && strings.Contains(c, `algs="ES256 EdDSA PS256 RS256"`)
			}) {
				t.Errorf("WWW-Authenticate %q has no DPoP challenge with algs", challenges)
			}
		})
	}
	// A replayed proof: the one that succeeded above is spent.
	replayed := proof(key, http.MethodGet, userinfoURL, at)
	if status, _, _ := dpopUserinfo(t, p, "DPoP", at, replayed); status != http.StatusOK {
		t.Fatalf("fresh proof: %d", status)
	}
	if status, _, body := dpopUserinfo(t, p, "DPoP", at, replayed); status != http.StatusUnauthorized || body["error"] != "invalid_dpop_proof" {
		t.Errorf("replayed proof: %d %v", status, body)
	}
}

// TestDPoPIntrospectionAndRevocation: introspection reports the binding
// (cnf.jkt, RFC 9449 §6.2; token_type DPoP, as the token response said,
// RFC 7662 §2.2), and revocation takes bound tokens without a proof.
func TestDPoPIntrospectionAndRevocation(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, nil)
	key := dpopKey(t, p)
	status, _, body := dpopPost(t, p, "/token", dpopServiceForm, "service", dpopServiceSecret, dpopTokenProof(t, p, key))
	at := checkBoundResponse(t, status, body, key)
	info := introspect(t, p, at)
	if info["active"] != true || info["token_type"] != "DPoP" || dpopCnf(info) != key.Thumbprint() {
		t.Fatalf("introspection of a bound token: %v", info)
	}
	if status, _, body := dpopPost(t, p, "/revoke", url.Values{"token": {at}}, "service", dpopServiceSecret); status != http.StatusOK {
		t.Fatalf("revocation of a bound access token: %d %v", status, body)
	}
	if info := introspect(t, p, at); info["active"] != false {
		t.Errorf("revoked bound token still active: %v", info)
	}

	// A public client's bound refresh token.
	code, verifier := dpopCode(t, p, "native-app", dpopNativeRedir, "openid offline_access")
	status, _, body = dpopPost(t, p, "/token", dpopCodeForm(code, verifier, dpopNativeRedir), "native-app", "", dpopTokenProof(t, p, key))
	checkBoundResponse(t, status, body, key)
	rt := body["refresh_token"].(string)
	if status, _, body := dpopPost(t, p, "/revoke", url.Values{"token": {rt}}, "native-app", ""); status != http.StatusOK {
		t.Fatalf("revocation of a bound refresh token: %d %v", status, body)
	}
	if status, _, body := dpopPost(t, p, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "native-app", "",
		dpopTokenProof(t, p, key)); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("refresh after revocation: %d %v", status, body)
	}
}

func TestDPoPDiscovery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		algs []string
		want []any
	}{
		{nil, []any{"ES256", "EdDSA", "PS256", "RS256"}},
		{[]string{"ES256", "EdDSA"}, []any{"ES256", "EdDSA"}},
	} {
		p := authtest.Start(t, func(c *config.Config) { c.DPoP.Algorithms = tc.algs })
		resp, err := http.Get(p.URL + "/.well-known/oauth-authorization-server")
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		got, _ := doc["dpop_signing_alg_values_supported"].([]any)
		if !slices.Equal(got, tc.want) {
			t.Errorf("dpop.algorithms %v: dpop_signing_alg_values_supported = %v, want %v", tc.algs, doc["dpop_signing_alg_values_supported"], tc.want)
		}
	}
}
