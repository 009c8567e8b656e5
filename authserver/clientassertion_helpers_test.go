package authserver_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/clientkeys"
	"github.com/authserver-dev/authserver/authserver/dpop"
	"github.com/authserver-dev/authserver/config"
)

// The private_key_jwt clients of these tests, and the secret clients
// registered for one method.
const (
	pkInline     = "pk-inline" // jwks in the config: keys ec, rsa, ed
	pkRemote     = "pk-remote" // jwks_uri on a test server: key ec-remote (later ec-rotated)
	pkFAPI2      = "pk-fapi2"  // profile fapi2, jwks in the config: keys ec, rsa, ed
	pkRedirect   = "http://127.0.0.1:7790/cb"
	basicOnly    = "basic-only"
	basicSecret  = "basic-only-secret-0123456789abcdefghij"
	postOnly     = "post-only"
	postSecret   = "post-only-secret-0123456789abcdefghijk"
	legacyID     = "service" // a client from before token_endpoint_auth_method: either secret method
	legacySecret = "service-secret-0123456789abcdefghij"
)

// pkKey is a client's signing key.
type pkKey struct {
	kid  string
	alg  string
	priv crypto.Signer
}

// pkKeys are made once per test binary: RSA key generation is slow.
var pkKeys = sync.OnceValue(func() map[string]pkKey {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecRemote, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecRotated, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	return map[string]pkKey{
		"ec":         {kid: "ec", alg: "ES256", priv: ec},
		"rsa":        {kid: "rsa", alg: "RS256", priv: rsaKey},
		"rsa-ps":     {kid: "rsa", alg: "PS256", priv: rsaKey},
		"ed":         {kid: "ed", alg: "EdDSA", priv: ed},
		"ec-other":   {kid: "ec", alg: "ES256", priv: ec2}, // same kid, key not registered
		"ec-remote":  {kid: "ec-remote", alg: "ES256", priv: ecRemote},
		"ec-rotated": {kid: "ec-rotated", alg: "ES256", priv: ecRotated},
	}
})

// pkJWKS is the public JWK Set of keys (by name in pkKeys).
func pkJWKS(t testing.TB, names ...string) []byte {
	t.Helper()
	var set jose.JSONWebKeySet
	for _, n := range names {
		k := pkKeys()[n]
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pkJWKSMap is pkJWKS as the config file's jwks mapping.
func pkJWKSMap(t testing.TB, names ...string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(pkJWKS(t, names...), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// sign makes a compact JWS of claims with k (typ JWT, k's kid).
func (k pkKey) sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if k.kid != "" {
		opts = opts.WithHeader("kid", k.kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.alg), Key: k.priv}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// pkClaims are valid assertion claims of clientID for p: aud the issuer,
// a fresh jti, 60 seconds of life on the provider's clock.
func pkClaims(p *authtest.Provider, clientID string) map[string]any {
	now := p.Clock.Now().Unix()
	return map[string]any{"iss": clientID, "sub": clientID, "aud": p.Config.Issuer, "jti": rand.Text(), "iat": now, "exp": now + 60}
}

// pkAssertion is a valid assertion of clientID signed with the key named.
func pkAssertion(t testing.TB, p *authtest.Provider, clientID, key string) string {
	t.Helper()
	return pkKeys()[key].sign(t, pkClaims(p, clientID))
}

// withAssertion adds private_key_jwt credentials to form (a copy).
func withAssertion(form url.Values, assertion string) url.Values {
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	f.Set("client_assertion_type", clientkeys.AssertionType)
	f.Set("client_assertion", assertion)
	return f
}

// pkReply is a JSON endpoint's answer.
type pkReply struct {
	status int
	header http.Header
	body   map[string]any
}

func (r pkReply) description() string { s, _ := r.body["error_description"].(string); return s }

// pkPost posts form to the endpoint path of p, with Basic credentials
// unless user is empty, and a DPoP header when dpopProof is not empty.
func pkPost(t testing.TB, p *authtest.Provider, path string, form url.Values, user, secret string) pkReply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(secret))
	}
	return pkDo(t, req)
}

func pkDo(t testing.TB, req *http.Request) pkReply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := pkReply{status: resp.StatusCode, header: resp.Header}
	_ = json.NewDecoder(resp.Body).Decode(&r.body)
	return r
}

// clientCredentials is the form of a client_credentials request.
func clientCredentialsForm() url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "scope": {"api.read"}}
}

// wantRefused fails unless r is a 401 invalid_client whose description
// contains want.
func wantRefused(t testing.TB, what string, r pkReply, want string) {
	t.Helper()
	if r.status != http.StatusUnauthorized || r.body["error"] != "invalid_client" || !strings.Contains(r.description(), want) {
		t.Errorf("%s: %d %v; want 401 invalid_client with a description containing %q", what, r.status, r.body, want)
	}
}

// wantToken fails unless r issued an access token.
func wantToken(t testing.TB, what string, r pkReply) string {
	t.Helper()
	tok, _ := r.body["access_token"].(string)
	if r.status != http.StatusOK || tok == "" {
		t.Fatalf("%s: %d %v; want 200 with an access token", what, r.status, r.body)
	}
	return tok
}

// jwksServer serves a client's jwks_uri and counts its fetches.
type jwksServer struct {
	*httptest.Server
	doc     atomic.Pointer[[]byte]
	fetches atomic.Int32
}

func newJWKSServer(t testing.TB, doc []byte) *jwksServer {
	t.Helper()
	js := &jwksServer{}
	js.doc.Store(&doc)
	js.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		js.fetches.Add(1)
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "max-age=3600")
		_, _ = w.Write(*js.doc.Load())
	}))
	t.Cleanup(js.Close)
	return js
}

func (js *jwksServer) uri() string { return js.URL + "/jwks.json" }

// pkEnv is a provider with the clients above.
type pkEnv struct {
	p    *authtest.Provider
	jwks *jwksServer
}

// pkClients are the clients of these tests; jwksURI is pkRemote's.
func pkClients(t testing.TB, jwksURI string) []config.Client {
	return []config.Client{
		{ID: pkInline, Name: "PK Inline", TokenEndpointAuthMethod: "private_key_jwt", JWKS: pkJWKSMap(t, "ec", "rsa", "ed"),
			RedirectURIs: []string{pkRedirect}, GrantTypes: []string{"authorization_code", "refresh_token", "client_credentials"},
			Scopes: []string{"openid", "offline_access", "api.read"}, AllowIntrospection: true, SkipConsent: true},
		{ID: pkRemote, Name: "PK Remote", TokenEndpointAuthMethod: "private_key_jwt", JWKSURI: jwksURI,
			GrantTypes: []string{"client_credentials"}, Scopes: []string{"api.read"}},
		{ID: pkFAPI2, Name: "PK FAPI 2.0", Profile: "fapi2", IDTokenSignedResponseAlg: "ES256", TokenEndpointAuthMethod: "private_key_jwt", JWKS: pkJWKSMap(t, "ec", "rsa", "ed"),
			RequirePushedAuthorizationRequests: true, DPoPBoundAccessTokens: true,
			RedirectURIs: []string{"https://fapi.example.com/cb"}, GrantTypes: []string{"authorization_code", "client_credentials"}, Scopes: []string{"openid", "api.read"}},
		{ID: basicOnly, Name: "Basic Only", Secret: basicSecret, TokenEndpointAuthMethod: "client_secret_basic",
			GrantTypes: []string{"client_credentials"}, Scopes: []string{"api.read"}},
		{ID: postOnly, Name: "Post Only", Secret: postSecret, TokenEndpointAuthMethod: "client_secret_post",
			GrantTypes: []string{"client_credentials"}, Scopes: []string{"api.read"}},
	}
}

// startPK starts a provider with the clients above, failed client
// authentications not throttled (so that the refusal tests do not block
// each other) unless mutate says otherwise.
func startPK(t testing.TB, mutate func(*config.Config)) *pkEnv {
	t.Helper()
	js := newJWKSServer(t, pkJWKS(t, "ec-remote"))
	p := authtest.Start(t, func(c *config.Config) {
		c.Clients = append(c.Clients, pkClients(t, js.uri())...)
		c.Security.Throttle.ClientFreeFailures = 1000
		if mutate != nil {
			mutate(c)
		}
	})
	return &pkEnv{p: p, jwks: js}
}

// unsignedJWT is a JWT with alg none.
func unsignedJWT(t testing.TB, header, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "."
}

// hmacJWT is a JWT signed with HS256 under secret.
func hmacJWT(t testing.TB, secret []byte, kid string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: secret}, (&jose.SignerOptions{}).WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := jws.CompactSerialize()
	return raw
}

// dpopSigner makes DPoP proofs with a fresh P-256 key, for clients whose
// tokens must be bound (profile fapi2).
func dpopSigner(t testing.TB) *dpop.Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := dpop.NewSigner(key, "ES256")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func decodeJSON(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

// recorded reads a recorded JSON answer.
func recorded(rec *httptest.ResponseRecorder) pkReply {
	r := pkReply{status: rec.Code, header: rec.Header()}
	_ = json.Unmarshal(rec.Body.Bytes(), &r.body)
	return r
}
