package authserver_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/dpop"
	"github.com/authserver-dev/authserver/config"
)

// The clients of the tests of pushed authorization requests (RFC 9126),
// request objects (RFC 9101) and resource indicators (RFC 8707). The keys
// and the private_key_jwt helpers (pkKeys, pkJWKSMap, pkPost, withAssertion,
// dpopSigner) are those of clientassertion_helpers_test.go.
const (
	parWeb         = "par-web" // confidential, keys for request objects, two audiences
	parWebSecret   = "par-web-secret-0123456789abcdefghijkl"
	parWebRedirect = "http://127.0.0.1:7791/cb"
	parOnly        = "par-only" // require_pushed_authorization_requests
	parOnlySecret  = "par-only-secret-0123456789abcdefghijk"
	parOnlyRedir   = "http://127.0.0.1:7792/cb"
	parPublic      = "par-public" // public, PKCE
	parPublicRedir = "http://127.0.0.1:7793/cb"
	parFAPI        = "par-fapi" // profile fapi2, private_key_jwt
	parFAPIRedir   = "https://fapi.example.com/par-cb"

	apiA = "https://api.example.com"
	apiB = "https://reports.example.com"

	requestURIPrefix = "urn:ietf:params:oauth:request_uri:"
)

// startPAR starts a provider with the clients above, client authentication
// failures not throttled, changed by mutate if not nil.
func startPAR(t testing.TB, mutate func(*config.Config)) *authtest.Provider {
	t.Helper()
	return authtest.Start(t, func(c *config.Config) {
		c.Clients = append(c.Clients,
			config.Client{ID: parWeb, Name: "PAR Web", Secret: parWebSecret, JWKS: pkJWKSMap(t, "ec", "rsa", "ed"),
				RedirectURIs: []string{parWebRedirect}, GrantTypes: []string{"authorization_code", "refresh_token"},
				Scopes: []string{"openid", "offline_access", "api.read", "api.write"}, Audience: []string{apiA, apiB}},
			config.Client{ID: parOnly, Name: "PAR Only", Secret: parOnlySecret, RequirePushedAuthorizationRequests: true,
				RedirectURIs: []string{parOnlyRedir}, GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid", "api.read"},
				SkipConsent: true},
			config.Client{ID: parPublic, Name: "PAR Public", RedirectURIs: []string{parPublicRedir},
				GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid", "api.read"}, SkipConsent: true},
			config.Client{ID: parFAPI, Name: "PAR FAPI 2.0", Profile: "fapi2", IDTokenSignedResponseAlg: "ES256",
				TokenEndpointAuthMethod: "private_key_jwt", JWKS: pkJWKSMap(t, "ec", "rsa", "ed"),
				RequirePushedAuthorizationRequests: true, DPoPBoundAccessTokens: true,
				RedirectURIs: []string{parFAPIRedir}, GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid", "api.read"},
				SkipConsent: true},
		)
		c.Security.Throttle.ClientFreeFailures = 1000
		if mutate != nil {
			mutate(c)
		}
	})
}

// authzForm is an authorization request of clientID with PKCE S256, and
// the verifier that goes with it.
func authzForm(clientID, redirect, state string) (url.Values, string) {
	verifier := oauth2.GenerateVerifier()
	return url.Values{
		"client_id": {clientID}, "response_type": {"code"}, "redirect_uri": {redirect}, "scope": {"openid api.read"},
		"state": {state}, "nonce": {"n-" + state},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
	}, verifier
}

// push posts form to the PAR endpoint, with Basic credentials unless user
// is empty, and a DPoP proof by signer when it is not nil.
func push(t testing.TB, p *authtest.Provider, form url.Values, user, secret string, signer *dpop.Signer) pkReply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.URL+"/par", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(secret))
	}
	if signer != nil {
		proof, err := signer.Proof(http.MethodPost, p.URL+"/par", dpop.ProofOptions{})
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("DPoP", proof)
	}
	r := pkDo(t, req)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("PAR answered Content-Type %q", ct)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("PAR answered Cache-Control %q", cc)
	}
	return r
}

// pushed is push that must succeed (RFC 9126 §2.2): it returns the
// request_uri.
func pushed(t testing.TB, p *authtest.Provider, form url.Values, user, secret string, signer *dpop.Signer) string {
	t.Helper()
	r := push(t, p, form, user, secret, signer)
	uri, _ := r.body["request_uri"].(string)
	if r.status != http.StatusCreated || !strings.HasPrefix(uri, requestURIPrefix) || r.body["expires_in"] != float64(60) {
		t.Fatalf("PAR: %d %v; want 201 with a request_uri and expires_in 60", r.status, r.body)
	}
	return uri
}

// wantPARError fails unless r is the JSON error code with status.
func wantPARError(t testing.TB, what string, r pkReply, status int, code string) {
	t.Helper()
	if r.status != status || r.body["error"] != code || r.description() == "" {
		t.Errorf("%s: %d %v; want %d %s with a description", what, r.status, r.body, status, code)
	}
}

// pushedURL is the authorization request that names a pushed request.
func pushedURL(p *authtest.Provider, clientID, requestURI string) string {
	return p.URL + "/authorize?" + url.Values{"client_id": {clientID}, "request_uri": {requestURI}}.Encode()
}

// codeFrom checks an authorization response at redirect (state, iss) and
// returns its code.
func codeFrom(t testing.TB, p *authtest.Provider, loc *url.URL, redirect, state string) string {
	t.Helper()
	q := loc.Query()
	if !strings.HasPrefix(loc.String(), redirect+"?") || q.Get("error") != "" || q.Get("code") == "" ||
		q.Get("state") != state || q.Get("iss") != p.URL {
		t.Fatalf("authorization response %s; want a code at %s with state %s and iss", loc, redirect, state)
	}
	return q.Get("code")
}

// errorFrom checks an error response at redirect (iss, and state when not
// empty) and returns its error code.
func errorFrom(t testing.TB, p *authtest.Provider, pg *authtest.Page, redirect, state string) string {
	t.Helper()
	if pg.Location == nil || !strings.HasPrefix(pg.Location.String(), redirect+"?") {
		t.Fatalf("want an error redirect to %s, got %d %v:\n%s", redirect, pg.Status, pg.Location, pg.Body)
	}
	q := pg.Location.Query()
	if q.Get("iss") != p.URL || q.Get("state") != state || q.Get("error_description") == "" {
		t.Errorf("error response %s: want iss, state %q and a description", pg.Location, state)
	}
	return q.Get("error")
}

// wantErrorPage fails unless pg is an error page (no redirect) saying want.
func wantErrorPage(t testing.TB, what string, pg *authtest.Page, want string) {
	t.Helper()
	if pg.Location != nil || pg.Status != http.StatusBadRequest || !strings.Contains(pg.Body, want) {
		t.Errorf("%s: %d %v; want a 400 error page saying %q:\n%s", what, pg.Status, pg.Location, want, pg.Body)
	}
}

// webOAuth2 is par-web as x/oauth2 sees it.
func webOAuth2(p *authtest.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: parWeb, ClientSecret: parWebSecret, RedirectURL: parWebRedirect,
		Endpoint: oauth2.Endpoint{AuthURL: p.URL + "/authorize", TokenURL: p.URL + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
}

// tokenClaims reads the claims of a JWT without checking it: the tests
// that need a verified token use go-oidc.
func tokenClaims(t testing.TB, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// audOf is the aud of an access token, always as a list.
func audOf(t testing.TB, jwt string) []string {
	t.Helper()
	switch aud := tokenClaims(t, jwt)["aud"].(type) {
	case string:
		return []string{aud}
	case []any:
		out := make([]string, len(aud))
		for i, a := range aud {
			out[i], _ = a.(string)
		}
		return out
	}
	return nil
}

// tokenWithProof posts form to the token endpoint with a DPoP proof by
// signer (none when nil).
func tokenWithProof(t testing.TB, p *authtest.Provider, form url.Values, user, secret string, signer *dpop.Signer) pkReply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.URL+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(secret))
	}
	if signer != nil {
		proof, err := signer.Proof(http.MethodPost, p.URL+"/token", dpop.ProofOptions{})
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("DPoP", proof)
	}
	return pkDo(t, req)
}
