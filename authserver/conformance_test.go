package authserver_test

// This file is the OpenID Foundation's conformance plans as tests of our own:
// every module of OIDCCBasicTestPlan (Basic OP, response_type=code,
// client_secret_basic), OIDCCConfigTestPlan (Config OP) and
// OIDCCRpInitiatedLogoutTestPlan (RP-Initiated Logout OP), named by the
// suite's module id, runs its equivalent against the real provider: the
// relying party is go-oidc and x/oauth2, the login and consent pages are
// driven over HTTP as a browser would (cookie jar, form posts). The module
// list and what each module checks come from the public suite
// (github.com/openid-certification/conformance-suite,
// src/main/java/net/openid/conformance/openid/). Where the suite only warns
// (a claim it cannot be sure the user has, the access token of a replayed
// code still working) we check strictly, since we know the user and the
// server. Run one module with
//
//	go test ./authserver/ -run 'TestConformance/oidcc-prompt-none-logged-in$'
//
// The extras at the end are what the issue adds beyond the plans.

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/config"
)

// conformanceModule is one module of a plan and the test that stands for it.
type conformanceModule struct {
	plan string // basic, config, logout, or extra (beyond the plans)
	id   string // the suite's testName
	run  func(t *testing.T, p *authtest.Provider)
}

// conformanceModules lists every module of the three plans in the plans'
// order, then the extras. p is a provider shared by the modules that neither
// move its clock nor need another configuration; the others start their own.
var conformanceModules = []conformanceModule{
	// OIDCCBasicTestPlan, first block (client_secret_basic).
	{"basic", "oidcc-server", confServer},
	{"basic", "oidcc-response-type-missing", confResponseTypeMissing},
	{"basic", "oidcc-idtoken-signature", confIDTokenSignature},
	{"basic", "oidcc-idtoken-unsigned", confIDTokenUnsigned},
	{"basic", "oidcc-userinfo-get", confUserinfo(http.MethodGet, "header")},
	{"basic", "oidcc-userinfo-post-header", confUserinfo(http.MethodPost, "header")},
	{"basic", "oidcc-userinfo-post-body", confUserinfo(http.MethodPost, "body")},
	{"basic", "oidcc-ensure-request-without-nonce-succeeds-for-code-flow", confWithoutNonce},
	{"basic", "oidcc-scope-profile", confScope("openid profile", "profile")},
	{"basic", "oidcc-scope-email", confScope("openid email", "email")},
	{"basic", "oidcc-scope-address", confScope("openid address", "address")},
	{"basic", "oidcc-scope-phone", confScope("openid phone", "phone")},
	{"basic", "oidcc-scope-all", confScope("openid address email phone profile", "address", "email", "phone", "profile")},
	{"basic", "oidcc-ensure-other-scope-order-succeeds", confScope("email openid", "email")},
	{"basic", "oidcc-display-page", confAccepted("display", "page")},
	{"basic", "oidcc-display-popup", confAccepted("display", "popup")},
	{"basic", "oidcc-prompt-login", confPromptLogin},
	{"basic", "oidcc-prompt-none-not-logged-in", confPromptNoneNotLoggedIn},
	{"basic", "oidcc-prompt-none-logged-in", confPromptNoneLoggedIn},
	{"basic", "oidcc-max-age-1", confMaxAge1},
	{"basic", "oidcc-max-age-10000", confMaxAge10000},
	{"basic", "oidcc-ensure-request-with-unknown-parameter-succeeds", confAccepted("extra", "foobar")},
	{"basic", "oidcc-id-token-hint", confIDTokenHint},
	{"basic", "oidcc-login-hint", confLoginHint},
	{"basic", "oidcc-ui-locales", confAccepted("ui_locales", "se")},
	{"basic", "oidcc-claims-locales", confAccepted("claims_locales", "se")},
	{"basic", "oidcc-ensure-request-with-acr-values-succeeds", confAcrValues},
	{"basic", "oidcc-codereuse", confCodeReuse},
	{"basic", "oidcc-codereuse-30seconds", confCodeReuse30s},
	{"basic", "oidcc-ensure-registered-redirect-uri", confRegisteredRedirectURI},
	{"basic", "oidcc-ensure-post-request-succeeds", confPostRequest},
	// Second block: the happy flow with client_secret_post.
	{"basic", "oidcc-server-client-secret-post", confServerClientSecretPost},
	// Third block, client_secret_basic again.
	{"basic", "oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported", confRequestURIUnsupported},
	{"basic", "oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported", confRequestObjectUnsupported},
	{"basic", "oidcc-claims-essential", confClaimsEssential},
	{"basic", "oidcc-ensure-request-object-with-redirect-uri", confRequestObjectRedirectURI},
	{"basic", "oidcc-refresh-token", confRefreshToken},
	{"basic", "oidcc-ensure-request-with-valid-pkce-succeeds", confValidPKCE},

	// OIDCCConfigTestPlan.
	{"config", "oidcc-discovery-endpoint-verification", confDiscovery},

	// OIDCCRpInitiatedLogoutTestPlan.
	{"logout", "oidcc-rp-initiated-logout-discovery-endpoint-verification", confLogoutDiscovery},
	{"logout", "oidcc-rp-initiated-logout", confLogout},
	{"logout", "oidcc-rp-initiated-logout-bad-post-logout-redirect-uri", confLogoutRefused(func(q url.Values) {
		q.Set("post_logout_redirect_uri", "https://evil.example/post_logout_redirect")
	})},
	{"logout", "oidcc-rp-initiated-logout-modified-id-token-hint", confLogoutRefused(func(q url.Values) {
		q.Set("id_token_hint", confAlgNone(q.Get("id_token_hint")))
	})},
	{"logout", "oidcc-rp-initiated-logout-no-id-token-hint", confLogoutRefused(func(q url.Values) { q.Del("id_token_hint") })},
	{"logout", "oidcc-rp-initiated-logout-no-params", confLogoutConfirmed(func(q url.Values) { clear(q) })},
	{"logout", "oidcc-rp-initiated-logout-no-post-logout-redirect-uri", confLogoutNoRedirectURI},
	{"logout", "oidcc-rp-initiated-logout-no-state", confLogoutNoState},
	{"logout", "oidcc-rp-initiated-logout-only-state", confLogoutConfirmed(func(q url.Values) {
		q.Del("id_token_hint")
		q.Del("post_logout_redirect_uri")
	})},
	{"logout", "oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri", confLogoutRefused(func(q url.Values) {
		q.Set("post_logout_redirect_uri", confLogoutRedirect+"?foo=bar")
	})},
	{"logout", "oidcc-rp-initiated-logout-bad-id-token-hint", confLogoutBadIDTokenHint},

	// OIDCCBackchannelRpInitiatedLogoutTestPlan, beyond the three plans.
	{"backchannel", "oidcc-backchannel-rp-initiated-logout", confBackchannelLogout},

	// Beyond the plans: what the issue asks for besides.
	{"extra", "extra-parameter-order", confParameterOrder},
	{"extra", "extra-code-reuse-revokes-refresh-token", confCodeReuseRevokesRefresh},
	{"extra", "extra-form-post", confFormPost},
}

// TestConformance runs every module; each is a subtest named by its id.
func TestConformance(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, confConfig)
	for _, m := range conformanceModules {
		t.Run(m.id, func(t *testing.T) {
			t.Parallel()
			m.run(t, p)
		})
	}
}

// TestConformanceListsEveryModule keeps the table honest: each of the three
// plans' modules exactly once, and nothing the plans do not name outside the
// extras.
func TestConformanceListsEveryModule(t *testing.T) {
	want := map[string]int{"basic": 38, "config": 1, "logout": 11}
	got := map[string]int{}
	seen := map[string]bool{}
	for _, m := range conformanceModules {
		if seen[m.id] {
			t.Errorf("module %s is listed twice", m.id)
		}
		seen[m.id] = true
		got[m.plan]++
		if (m.plan == "extra") != strings.HasPrefix(m.id, "extra-") {
			t.Errorf("module %s is in plan %s", m.id, m.plan)
		}
	}
	for plan, n := range want {
		if got[plan] != n {
			t.Errorf("plan %s has %d modules; the suite's has %d", plan, got[plan], n)
		}
	}
}

// The relying parties the modules use, registered as the suite's static
// clients are: confidential, code flow, every scope the plans ask for.
const (
	confClient         = "conformance-rp"
	confSecret         = "conformance-rp-secret-0123456789abcdef"
	confRedirect       = "http://127.0.0.1:7790/cb"
	confLogoutRedirect = "http://127.0.0.1:7790/post_logout_redirect"
	confClient2        = "conformance-rp2"
	confSecret2        = "conformance-rp2-secret-0123456789abcdef"
	confRedirect2      = "http://127.0.0.1:7791/cb"
)

// confConfig adds the suite's two clients to the test configuration, and
// gives alice the standard claims the scope modules ask for.
func confConfig(c *config.Config) {
	c.Users[0].Claims = config.UserClaims{GivenName: "Alice", FamilyName: "Example", Locale: "en-GB",
		PhoneNumber: "+44 20 7946 0000", PhoneNumberVerified: true,
		Address: config.Address{StreetAddress: "1 Example Street", Locality: "London", PostalCode: "EC1A 1AA", Country: "GB"}}
	for _, cl := range []config.Client{
		{ID: confClient, Name: "Conformance RP", Secret: confSecret, RedirectURIs: []string{confRedirect},
			PostLogoutRedirectURIs: []string{confLogoutRedirect}},
		{ID: confClient2, Name: "Conformance RP 2", Secret: confSecret2, RedirectURIs: []string{confRedirect2}},
	} {
		cl.GrantTypes = []string{"authorization_code", "refresh_token"}
		cl.Scopes = []string{"openid", "profile", "email", "address", "phone", "offline_access"}
		c.Clients = append(c.Clients, cl)
	}
}

// confRP is the relying party of one module: discovery through go-oidc, the
// flow through x/oauth2, and a browser of its own.
type confRP struct {
	t        *testing.T
	p        *authtest.Provider
	op       *oidc.Provider
	oc       *oauth2.Config
	b        *http.Client
	ctx      context.Context
	verifier *oidc.IDTokenVerifier
}

func newConfRP(t *testing.T, p *authtest.Provider) *confRP {
	return newConfRPFor(t, p, confClient, confSecret, confRedirect)
}

func newConfRPFor(t *testing.T, p *authtest.Provider, id, secret, redirect string) *confRP {
	t.Helper()
	ctx := oidc.ClientContext(context.Background(), p.Server.Client())
	op, err := oidc.NewProvider(ctx, p.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	oc := &oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: op.Endpoint(), RedirectURL: redirect}
	oc.Endpoint.AuthStyle = oauth2.AuthStyleInHeader // client_secret_basic, the plans' variant
	return &confRP{t: t, p: p, op: op, oc: oc, b: p.Browser(t), ctx: ctx,
		verifier: op.Verifier(&oidc.Config{ClientID: id, Now: p.Clock.Now})}
}

// request is the suite's default authorization request (scope openid, a
// state and a nonce; no PKCE) with set applied; an empty value removes.
func (rp *confRP) request(set ...string) url.Values {
	q := url.Values{"client_id": {rp.oc.ClientID}, "redirect_uri": {rp.oc.RedirectURL}, "response_type": {"code"},
		"scope": {"openid"}, "state": {confRandom(16)}, "nonce": {confRandom(16)}}
	for i := 0; i+1 < len(set); i += 2 {
		if set[i+1] == "" {
			q.Del(set[i])
		} else {
			q.Set(set[i], set[i+1])
		}
	}
	return q
}

// confAuth is where an authorization request ended.
type confAuth struct {
	req   url.Values
	shown []string       // the pages the user saw: "login", "consent"
	loc   *url.URL       // the redirect back to the client, if any
	page  *authtest.Page // the last page
}

func (a *confAuth) saw(page string) bool { return slices.Contains(a.shown, page) }

// authorize sends the request by GET and plays the user: alice signs in and
// allows, unless interact is false, when any page is where it ends.
func (rp *confRP) authorize(q url.Values, interact bool) *confAuth {
	rp.t.Helper()
	return rp.follow(q, authtest.Get(rp.t, rp.b, rp.op.Endpoint().AuthURL+"?"+q.Encode()), interact)
}

func (rp *confRP) follow(q url.Values, pg *authtest.Page, interact bool) *confAuth {
	rp.t.Helper()
	a := &confAuth{req: q}
	for range 4 {
		a.page = pg
		if pg.Location != nil {
			a.loc = pg.Location
			return a
		}
		switch {
		case strings.Contains(pg.Body, `name="password"`):
			a.shown = append(a.shown, "login")
			if !interact {
				return a
			}
			pg = pg.Submit(rp.t, rp.b, url.Values{"username": {"alice"}, "password": {"alice-password"}})
		case strings.Contains(pg.Body, `name="decision"`):
			a.shown = append(a.shown, "consent")
			if !interact {
				return a
			}
			pg = pg.Submit(rp.t, rp.b, url.Values{"decision": {"allow"}})
		default:
			return a
		}
	}
	return a
}

// code checks a successful authorization response (code, the request's
// state, RFC 9207 iss) and returns the code.
func (rp *confRP) code(a *confAuth) string {
	rp.t.Helper()
	if a.loc == nil {
		rp.t.Fatalf("no redirect to the client after pages %v: status %d at %s\n%s", a.shown, a.page.Status, a.page.URL, a.page.Body)
	}
	q := a.loc.Query()
	if q.Get("error") != "" {
		rp.t.Fatalf("authorization error after pages %v: %s: %s", a.shown, q.Get("error"), q.Get("error_description"))
	}
	if got := a.loc.Scheme + "://" + a.loc.Host + a.loc.Path; got != rp.oc.RedirectURL {
		rp.t.Fatalf("redirected to %s, not the request's redirect_uri %s", got, rp.oc.RedirectURL)
	}
	if q.Get("code") == "" || q.Get("state") != a.req.Get("state") || q.Get("iss") != rp.p.URL {
		rp.t.Fatalf("bad authorization response %s (sent state %q)", a.loc, a.req.Get("state"))
	}
	return q.Get("code")
}

// authError checks an error response redirected to the client and returns
// the error code.
func (rp *confRP) authError(a *confAuth) string {
	rp.t.Helper()
	if a.loc == nil {
		rp.t.Fatalf("no redirect to the client after pages %v: status %d\n%s", a.shown, a.page.Status, a.page.Body)
	}
	q := a.loc.Query()
	if q.Get("error") == "" {
		rp.t.Fatalf("want an error response, got %s", a.loc)
	}
	if q.Get("state") != a.req.Get("state") {
		rp.t.Errorf("state %q came back as %q", a.req.Get("state"), q.Get("state"))
	}
	if q.Get("iss") != rp.p.URL {
		rp.t.Errorf("iss %q in the error response", q.Get("iss"))
	}
	return q.Get("error")
}

// confTokens is a verified token response.
type confTokens struct {
	tok    *oauth2.Token
	raw    string
	idt    *oidc.IDToken
	claims map[string]any
}

// exchange redeems the code with x/oauth2 and verifies the ID token with
// go-oidc: signature, iss, aud, exp, the request's nonce, at_hash.
func (rp *confRP) exchange(a *confAuth, opts ...oauth2.AuthCodeOption) *confTokens {
	rp.t.Helper()
	tok, err := rp.oc.Exchange(rp.ctx, rp.code(a), opts...)
	if err != nil {
		rp.t.Fatalf("token request: %v", err)
	}
	ct := rp.verify(tok)
	if ct.idt.Nonce != a.req.Get("nonce") {
		rp.t.Errorf("nonce %q, sent %q", ct.idt.Nonce, a.req.Get("nonce"))
	}
	return ct
}

func (rp *confRP) verify(tok *oauth2.Token) *confTokens {
	rp.t.Helper()
	if tok.TokenType != "Bearer" || tok.AccessToken == "" || tok.ExpiresIn <= 0 {
		rp.t.Errorf("token response: type %q, expires_in %d", tok.TokenType, tok.ExpiresIn)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rp.verifier.Verify(rp.ctx, raw)
	if err != nil {
		rp.t.Fatalf("ID token: %v", err)
	}
	ct := &confTokens{tok: tok, raw: raw, idt: idt}
	if err := idt.Claims(&ct.claims); err != nil {
		rp.t.Fatal(err)
	}
	if _, ok := ct.claims["at_hash"]; ok {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			rp.t.Errorf("at_hash: %v", err)
		}
	}
	if _, ok := ct.claims["iat"]; !ok {
		rp.t.Error("the ID token has no iat")
	}
	return ct
}

// flow is a whole interactive code flow with the request's extra parameters.
func (rp *confRP) flow(set ...string) (*confAuth, *confTokens) {
	rp.t.Helper()
	a := rp.authorize(rp.request(set...), true)
	return a, rp.exchange(a)
}

// authTime is the ID token's auth_time, failing without one.
func (ct *confTokens) authTime(t *testing.T) int64 {
	t.Helper()
	v, ok := ct.claims["auth_time"].(float64)
	if !ok {
		t.Fatalf("the ID token has no auth_time: %v", ct.claims)
	}
	return int64(v)
}

// userinfo fetches the UserInfo response for the access token.
func (rp *confRP) userinfo(access string) map[string]any {
	rp.t.Helper()
	ui, err := rp.op.UserInfo(rp.ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: access, TokenType: "Bearer"}))
	if err != nil {
		rp.t.Fatalf("userinfo: %v", err)
	}
	var claims map[string]any
	if err := ui.Claims(&claims); err != nil {
		rp.t.Fatal(err)
	}
	return claims
}

// tokenRequest posts form to the token endpoint as client id (Basic) and
// returns the status and the JSON answer.
func (rp *confRP) tokenRequest(form url.Values, id, secret string) (int, map[string]any) {
	rp.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, rp.op.Endpoint().TokenURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return confDo(rp.t, rp.p, req)
}

func confDo(t *testing.T, p *authtest.Provider, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := p.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := map[string]any{}
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 && json.Unmarshal(raw, &body) != nil {
		t.Fatalf("%s %s answered %d with no JSON: %s", req.Method, req.URL.Path, resp.StatusCode, raw)
	}
	return resp.StatusCode, body
}

// discovery is the provider's discovery document.
func (rp *confRP) discovery() map[string]any {
	rp.t.Helper()
	var doc map[string]any
	if err := rp.op.Claims(&doc); err != nil {
		rp.t.Fatal(err)
	}
	return doc
}

func confRandom(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

func confStrings(v any) []string {
	var out []string
	if list, ok := v.([]any); ok {
		for _, s := range list {
			if s, ok := s.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// ---- OIDCCBasicTestPlan ----

// oidcc-server: the happy flow. The code carries at least 128 bits; the ID
// token of scope openid carries no profile claim (OIDC Core §5.4: with an
// access token the claims come from userinfo).
func confServer(t *testing.T, p *authtest.Provider) {
	rp := newConfRP(t, p)
	a, ct := rp.flow()
	if code := a.loc.Query().Get("code"); len(code) < 22 {
		t.Errorf("the code has %d characters: less than 128 bits", len(code))
	}
	if _, ok := ct.claims["name"]; ok {
		t.Errorf("the ID token of scope openid carries name: %v", ct.claims)
	}
	if ct.idt.Issuer != p.URL || !slices.Equal(ct.idt.Audience, []string{confClient}) {
		t.Errorf("iss %q aud %v", ct.idt.Issuer, ct.idt.Audience)
	}
}

// oidcc-response-type-missing: an error, either on a page or as
// invalid_request / unsupported_response_type to the client (RFC 6749 §3.1.1).
func confResponseTypeMissing(t *testing.T, p *authtest.Provider) {
	rp := newConfRP(t, p)
	a := rp.authorize(rp.request("response_type", ""), false)
	if a.loc == nil {
		if a.page.Status != http.StatusBadRequest || !strings.Contains(a.page.Body, "response_type") {
			t.Fatalf("neither a redirect nor an error page naming response_type: %d\n%s", a.page.Status, a.page.Body)
		}
		return
	}
	if e := rp.authError(a); e != "invalid_request" && e != "unsupported_response_type" {
		t.Fatalf("error %s", e)
	}
}

// oidcc-idtoken-signature: without a registered algorithm the ID token is
// RS256 (OIDC Core §3.1.3.7) and names its key by kid, one the JWKS lists.
func confIDTokenSignature(t *testing.T, p *authtest.Provider) {
	rp := newConfRP(t, p)
	_, ct := rp.flow()
	tok, err := jose.ParseSigned(ct.raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("the ID token is not RS256: %v", err)
	}
	h := tok.Signatures[0].Header
	if h.KeyID == "" {
		t.Fatal("the ID token has no kid")
	}
	set := confJWKS(t, p, rp)
	keys := set.Key(h.KeyID)
	if len(keys) != 1 || keys[0].Algorithm != "RS256" {
		t.Fatalf("kid %s names %d keys in the JWKS", h.KeyID, len(keys))
	}
	if _, err := tok.Verify(keys[0].Key); err != nil {
		t.Fatalf("the JWKS key does not verify the ID token: %v", err)
	}
}

func confJWKS(t *testing.T, p *authtest.Provider, rp *confRP) *jose.JSONWebKeySet {
	t.Helper()
	resp, err := p.Server.Client().Get(rp.discovery()["jwks_uri"].(string))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	return &set
}

// oidcc-idtoken-unsigned needs a client registered dynamically with
// id_token_signed_response_alg none, and the suite skips it when discovery
// does not offer none. Ours never offers it, and no configuration can make it
// sign with none.
func confIDTokenUnsigned(t *testing.T, p *authtest.Provider) {
	rp := newConfRP(t, p)
	if algs := confStrings(rp.discovery()["id_token_signing_alg_values_supported"]); slices.Contains(algs, "none") {
		t.Errorf("discovery offers unsigned ID tokens: %v", algs)
	}
	for name, mutate := range map[string]func(*config.Config){
		"signing.algorithms":           func(c *config.Config) { c.Signing.Algorithms = append(c.Signing.Algorithms, "none") },
		"id_token_signed_response_alg": func(c *config.Config) { c.Clients[0].IDTokenSignedResponseAlg = "none" },
	} {
		cfg := authtest.TestConfig(t.TempDir())
		mutate(&cfg)
		cfg.ApplyDefaults()
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("alg none in %s: validation says %v", name, err)
		}
	}
}

// oidcc-userinfo-get, -post-header, -post-body: the UserInfo endpoint by GET
// and POST, the token in the header or (RFC 6750 §2.2) in the body; its sub
// is the ID token's.
func confUserinfo(method, where string) func(*testing.T, *authtest.Provider) {
	return func(t *testing.T, p *authtest.Provider) {
		rp := newConfRP(t, p)
		_, ct := rp.flow("scope", "openid email")
		endpoint := rp.discovery()["userinfo_endpoint"].(string)
		var req *http.Request
		if where == "body" {
			req, _ = http.NewRequest(method, endpoint, strings.NewReader(url.Values{"access_token": {ct.tok.AccessToken}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req, _ = http.NewRequest(method, endpoint, nil)
			req.Header.Set("Authorization", "Bearer "+ct.tok.AccessToken)
		}
		status, body := confDo(t, p, req)
		if status != http.StatusOK || body["sub"] != ct.idt.Subject || body["email"] != "alice@example.com" {
			t.Fatalf("userinfo %s (token in the %s): %d %v", method, where, status, body)
		}
	}
}

// oidcc-ensure-request-without-nonce-succeeds-for-code-flow: nonce is
// optional with response_type=code (OIDC Core §3.1.2.1).
func confWithoutNonce(t *testing.T, p *authtest.Provider) {
	rp := newConfRP(t, p)
	_, ct := rp.flow("nonce", "")
	if _, ok := ct.claims["nonce"]; ok {
		t.Errorf("the ID token has a nonce nobody sent: %v", ct.claims)
	}
}

// confScopeClaims are the claims each scope releases (OIDC Core §5.4) that
// the test user has, with their values.
var confScopeClaims = map[string]map[string]any{
	"profile": {"name": "Alice Example", "given_name": "Alice", "family_name": "Example", "locale": "en-GB", "preferred_username": "alice"},
	"email":   {"email": "alice@example.com", "email_verified": true},
	"address": {"address": nil}, // an object: checked below
	"phone":   {"phone_number": "+44 20 7946 0000", "phone_number_verified": true},
}

// oidcc-scope-*: the scope is advertised (the suite skips the module
// otherwise) and userinfo releases its claims, those of no other scope.
func confScope(scope string, scopes ...string) func(*testing.T, *authtest.Provider) {
	return func(t *testing.T, p *authtest.Provider) {
		rp := newConfRP(t, p)
		supported := confStrings(rp.discovery()["scopes_supported"])
		for _, s := range scopes {
			if !slices.Contains(supported, s) {
				t.Errorf("scopes_supported %v lacks %s", supported, s)
			}
		}
		_, ct := rp.flow("scope", scope)
		ui := rp.userinfo(ct.tok.AccessToken)
		for s, claims := range confScopeClaims {
			for name, want := range claims {
				got, ok := ui[name]
				switch {
				case !slices.Contains(scopes, s) && ok:
					t.Errorf("scope %q released %s, a claim of scope %s", scope, name, s)
				case slices.Contains(scopes, s) && !ok:
					t.Errorf("scope %q did not release %s: %v", scope, name, ui)
				case slices.Contains(scopes, s) && want != nil && got != want:
					t.Errorf("%s = %v; want %v", name, got, want)
				}
			}
		}
		if addr, ok := ui["address"]; ok {
			if obj, isObject := addr.(map[string]any); !isObject || obj["locality"] != "London" || obj["country"] != "GB" {
				t.Errorf("address is not the user's as a JSON object (OIDC Core §5.1.1): %v", addr)
			}
		}
	}
}

// confAccepted is the modules whose parameter must simply not fail the
// request (display, ui_locales, claims_locales, an unknown parameter): the
// user still sees the login page and the flow completes.
func confAccepted(name, value string) func(*testing.T, *authtest.Provider) {
	return func(t *testing.T, p *authtest.Provider) {
		rp := newConfRP(t, p)
		a, _ := rp.flow(name, value)
		if !a.saw("login") {
			t.Errorf("%s=%s: no login page for a browser without a session (pages %v)", name, value, a.shown)
		}
	}
}

// oidcc-prompt-login: signed in, prompt=login shows the login page again,
// and the second auth_time is later.
func confPromptLogin(t *testing.T, _ *authtest.Provider) {
	p := authtest.Start(t, confConfig)
	rp := newConfRP(t, p)
	_, first := rp.flow()
	p.Clock.Advance(2 * time.Second)
	a, second := rp.flow("prompt", "login")
	if !a.saw("login") {
		t.Fatalf("prompt=login did not show the login page (pages %v)", a.shown)
	}
	if first.authTime(t) >= second.authTime(t) {
		t.Errorf("auth_time %d then %d after a new login", first.authTime(t), second.authTime(t))
	}
}

// oidcc-prompt-none-not-logged-in: without a session prompt=none answers an
// error that says an interface is needed, with a long state intact.
func confPromptNoneNotLoggedIn(t *testing.T, p *authtest.Provider) {
	rp := newConfRP(t, p)
	a := rp.authorize(rp.request("prompt", "none", "state", confRandom(128)), false)
	if len(a.shown) > 0 {
		t.Fatalf("prompt=none showed %v", a.shown)
	}
	e := rp.authError(a)
	if !slices.Contains([]string{"login_required", "interaction_required", "account_selection_required", "consent_required"}, e) {
		t.Fatalf("error %s", e)
	}
}

// confSilent is the second authorization of the same-auth-twice modules:
// no page at all, a code, the same sub and auth_time.
func confSilent(t *testing.T, rp *confRP, first *confTokens, set ...string) *confTokens {
	t.Helper()
	a := rp.authorize(rp.request(set...), false)
	if len(a.shown) > 0 {
		t.Fatalf("the second authorization (%v) asked the user: pages %v\n%s", set, a.shown, a.page.Body)
	}
	second := rp.exchange(a)
	if second.idt.Subject != first.idt.Subject {
		t.Errorf("sub %s then %s", first.idt.Subject, second.idt.Subject)
	}
	if at, ok := first.claims["auth_time"]; ok && second.claims["auth_time"] != at {
		t.Errorf("auth_time %v then %v without a new login", at, second.claims["auth_time"])
	}
	return second
}

// oidcc-prompt-none-logged-in: signed in and consented once, prompt=none
// succeeds silently (remembered consent).
func confPromptNoneLoggedIn(t *testing.T, _ *authtest.Provider) {
	p := authtest.Start(t, confConfig) // alice has consented to nothing yet
	rp := newConfRP(t, p)
	a, first := rp.flow()
	if !a.saw("consent") {
		t.Fatalf("the first authorization showed no consent page (pages %v): the module tests nothing", a.shown)
	}
	confSilent(t, rp, first, "prompt", "none")
}

// oidcc-max-age-1: a login older than max_age must be repeated; the second
// ID token has a later, recent auth_time.
func confMaxAge1(t *testing.T, _ *authtest.Provider) {
	p := authtest.Start(t, confConfig)
	rp := newConfRP(t, p)
	_, first := rp.flow()
	p.Clock.Advance(2 * time.Second)
	a, second := rp.flow("max_age", "1")
	if !a.saw("login") {
		t.Fatalf("max_age=1 after 2 s did not ask for a login (pages %v)", a.shown)
	}
	at := second.authTime(t)
	if at <= first.authTime(t) {
		t.Errorf("auth_time %d then %d", first.authTime(t), at)
	}
	if now := p.Clock.Now().Unix(); at > now || now-at > 5 {
		t.Errorf("auth_time %d is not recent (now %d)", at, now)
	}
}

// oidcc-max-age-10000: auth_time is returned whenever max_age is sent, and a
// login younger than max_age is reused without asking.
func confMaxAge10000(t *testing.T, p *authtest.Provider) {
	rp := newConfRP(t, p)
	_, first := rp.flow("max_age", "15000")
	first.authTime(t)
	second := confSilent(t, rp, first, "max_age", "10000")
	second.authTime(t)
}

// oidcc-id-token-hint: prompt=none with the first ID token as hint returns
// at once for the same user.
func confIDTokenHint(t *testing.T, p *authtest.Provider) {
	rp := newConfRP(t, p)
	_, first := rp.flow()
	confSilent(t, rp, first, "prompt", "none", "id_token_hint", first.raw)
}

// oidcc-login-hint: a login_hint for a user who does not exist must not be an
// error: the login page is shown and the flow completes.
func confLoginHint(t *testing.T, p *authtest.Provider) {
	rp := newConfRP(t, p)
	a, _ := rp.flow("login_hint", "buffy@"+strings.TrimPrefix(p.URL, "http://"))
	if !a.saw("login") {
		t.Errorf("no login page (pages %v)", a.shown)
	}
}

// oidcc-ensure-request-with-acr-values-succeeds: acr_values (the advertised
// ones, else "1 2") must not fail; an acr in the ID token is one of them.
func confAcrValues(t *testing.T, p *authtest.Provider) {
	rp := newConfRP(t, p)
	values := confStrings(rp.discovery()["acr_values_supported"])
	if len(values) == 0 {
		values = []string{"1", "2"}
	}
	_, ct := rp.flow("acr_values", strings.Join(values, " "))
	if acr, ok := ct.claims["acr"].(string); ok && !slices.Contains(values, acr) {
		t.Errorf("acr %q is none of the requested %v", acr, values)
	}
}

// oidcc-codereuse: a code is good once; the second redemption is
// invalid_grant (400).
func confCodeReuse(t *testing.T, p *authtest.Provider) {
	rp := newConfRP(t, p)
	a := rp.authorize(rp.request(), true)
	rp.exchange(a)
	rp.redeemAgain(a)
}

func (rp *confRP) redeemAgain(a *confAuth) {
	rp.t.Helper()
	status, body := rp.tokenRequest(url.Values{"grant_type": {"authorization_code"}, "code": {rp.code(a)},
		"redirect_uri": {rp.oc.RedirectURL}}, rp.oc.ClientID, rp.oc.ClientSecret)
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		rp.t.Fatalf("second redemption of a code: %d %v", status, body)
	}
}

// oidcc-codereuse-30seconds: 30 s after the first redemption the replay is
// still invalid_grant, and the access token it issued is revoked (RFC 6749
// §4.1.2; the suite only warns, we require it).
func confCodeReuse30s(t *testing.T, _ *authtest.Provider) {
	p := authtest.Start(t, confConfig)
	rp := newConfRP(t, p)
	a := rp.authorize(rp.request(), true)
	ct := rp.exchange(a)
	p.Clock.Advance(30 * time.Second)
	rp.redeemAgain(a)
	req, _ := http.NewRequest(http.MethodGet, rp.discovery()["userinfo_endpoint"].(string), nil)
	req.Header.Set("Authorization", "Bearer "+ct.tok.AccessToken)
	if status, body := confDo(t, p, req); status != http.StatusUnauthorized {
		t.Fatalf("the replayed code's access token still works at userinfo: %d %v", status, body)
	}
}

// oidcc-ensure-registered-redirect-uri: an unregistered redirect_uri gets an
// error page that says so, never a redirect (RFC 6749 §4.1.2.1).
func confRegisteredRedirectURI(t *testing.T, p *authtest.Provider) {
	rp := newConfRP(t, p)
	bad := "https://127.0.0.1/" + confRandom(10) + "/callback"
	a := rp.authorize(rp.request("redirect_uri", bad), false)
	if a.loc != nil || a.page.Status != http.StatusBadRequest {
		t.Fatalf("unregistered redirect_uri: %d %v", a.page.Status, a.loc)
	}
	if !strings.Contains(a.page.Body, "redirect") || !strings.Contains(a.page.Body, "not registered") {
		t.Errorf("the error page does not say the redirect URI is not registered:\n%s", a.page.Body)
	}
}

// oidcc-ensure-post-request-succeeds: the authorization request as a form
// POST (OIDC Core §3.1.2.1).
func confPostRequest(t *testing.T, p *authtest.Provider) {
	rp := newConfRP(t, p)
	q := rp.request()
	a := rp.follow(q, send(t, rp.b, http.MethodPost, rp.op.Endpoint().AuthURL, q, nil), true)
	rp.exchange(a)
}

// oidcc-server-client-secret-post: the happy flow, the client authenticating
// with client_secret_post.
func confServerClientSecretPost(t *testing.T, p *authtest.Provider) {
	rp := newConfRP(t, p)
	if methods := confStrings(rp.discovery()["token_endpoint_auth_methods_supported"]); !slices.Contains(methods, "client_secret_post") {
		t.Errorf("token_endpoint_auth_methods_supported %v", methods)
	}
	rp.oc.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	rp.flow()
}

// confRequestObject is an unsigned request object (alg none) carrying q.
func confRequestObject(t *testing.T, q url.Values, aud string) string {
	t.Helper()
	claims := map[string]any{"iss": q.Get("client_id"), "aud": aud}
	for k := range q {
		claims[k] = q.Get(k)
	}
	payload, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
}

// oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported:
// request_uri is answered request_uri_not_supported (OIDC Core §3.1.2.6),
// as discovery says.
func confRequestURIUnsupported(t *testing.T, p *authtest.Provider) {
	rp := newConfRP(t, p)
	if v, ok := rp.discovery()["request_uri_parameter_supported"]; !ok || v != false {
		t.Errorf("request_uri_parameter_supported = %v (absent means true)", v)
	}
	a := rp.authorize(rp.request("request_uri", "https://127.0.0.1:1/request.jwt"), false)
	if e := rp.authError(a); e != "request_uri_not_supported" {
		t.Fatalf("error %s", e)
	}
}

// oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported
// is skipped by the suite, because discovery does not list none among the
// request object algorithms: signed request objects are supported (par.go),
// and an unsigned one is refused as invalid_request_object.
func confRequestObjectUnsupported(t *testing.T, p *authtest.Provider) {
	rp := newConfRP(t, p)
	doc := rp.discovery()
	if v := doc["request_parameter_supported"]; v != true {
		t.Errorf("request_parameter_supported = %v", v)
	}
	if algs, _ := doc["request_object_signing_alg_values_supported"].([]any); len(algs) == 0 || slices.Contains(algs, any("none")) {
		t.Errorf("request_object_signing_alg_values_supported = %v", algs)
	}
	q := rp.request()
	q.Set("request", confRequestObject(t, q, p.URL))
	if e := rp.authError(rp.authorize(q, false)); e != "invalid_request_object" {
		t.Fatalf("error %s", e)
	}
}

// oidcc-claims-essential: the claims parameter asks for name in userinfo as
// essential (OIDC Core §5.5); userinfo has it, the ID token does not.
func confClaimsEssential(t *testing.T, p *authtest.Provider) {
	rp := newConfRP(t, p)
	if v := rp.discovery()["claims_parameter_supported"]; v != true {
		t.Errorf("claims_parameter_supported = %v", v)
	}
	_, ct := rp.flow("claims", `{"userinfo":{"name":{"essential":true}}}`)
	if ui := rp.userinfo(ct.tok.AccessToken); ui["name"] != "Alice Example" {
		t.Errorf("userinfo without the essential name: %v", ui)
	}
	if _, ok := ct.claims["name"]; ok {
		t.Errorf("name requested for userinfo is in the ID token: %v", ct.claims)
	}
}

// oidcc-ensure-request-object-with-redirect-uri: a request object names the
// registered redirect_uri, the query an unregistered one. The suite skips the
// module once request_not_supported comes back; what must never happen is a
// redirect to the unregistered URI, which nothing vouches for.
func confRequestObjectRedirectURI(t *testing.T, p *authtest.Provider) {
	rp := newConfRP(t, p)
	inner := rp.request()
	q := rp.request("redirect_uri", confRedirect+"/invalid", "state", inner.Get("state"))
	q.Set("request", confRequestObject(t, inner, p.URL))
	a := rp.authorize(q, false)
	switch {
	case a.loc == nil && a.page.Status == http.StatusBadRequest:
		// an error page
	case a.loc != nil && a.loc.Scheme+"://"+a.loc.Host+a.loc.Path == confRedirect:
		if e := a.loc.Query().Get("error"); e != "request_not_supported" {
			t.Fatalf("error %q at the request object's redirect_uri", e)
		}
	default:
		t.Fatalf("status %d, redirect %v", a.page.Status, a.loc)
	}
}

// oidcc-refresh-token: offline_access with prompt=consent gives a refresh
// token of VSCHARs (RFC 6749 A.17); refreshing gives a working access token
// and an ID token for the same user (OIDC Core §12.2); another client's
// refresh token is refused.
func confRefreshToken(t *testing.T, p *authtest.Provider) {
	rp := newConfRP(t, p)
	_, ct := rp.flow("scope", "openid offline_access", "prompt", "consent")
	rt := ct.tok.RefreshToken
	if rt == "" {
		t.Fatal("no refresh token for offline_access")
	}
	for _, c := range rt {
		if c < 0x20 || c > 0x7e {
			t.Fatalf("the refresh token has character %q", c)
		}
	}
	if grants := confStrings(rp.discovery()["grant_types_supported"]); !slices.Contains(grants, "refresh_token") {
		t.Errorf("grant_types_supported %v", grants)
	}
	fresh, err := rp.oc.TokenSource(rp.ctx, &oauth2.Token{RefreshToken: rt}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if _, ok := fresh.Extra("id_token").(string); ok {
		second := rp.verify(fresh)
		if second.idt.Subject != ct.idt.Subject || second.idt.Issuer != ct.idt.Issuer || second.claims["auth_time"] != ct.claims["auth_time"] {
			t.Errorf("refreshed ID token %v; first %v", second.claims, ct.claims)
		}
	}
	if ui := rp.userinfo(fresh.AccessToken); ui["sub"] != ct.idt.Subject {
		t.Errorf("userinfo with the refreshed token: %v", ui)
	}

	other := newConfRPFor(t, p, confClient2, confSecret2, confRedirect2)
	_, ct2 := other.flow("scope", "openid offline_access", "prompt", "consent")
	if ct2.tok.RefreshToken == "" {
		t.Fatal("no refresh token for the second client")
	}
	status, body := rp.tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ct2.tok.RefreshToken}}, confClient, confSecret)
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("client 2's refresh token used by client 1: %d %v", status, body)
	}
	if _, err := other.oc.TokenSource(other.ctx, &oauth2.Token{RefreshToken: ct2.tok.RefreshToken}).Token(); err != nil {
		t.Errorf("the refused attempt cost client 2 its refresh token: %v", err)
	}
}

// oidcc-ensure-request-with-valid-pkce-succeeds: PKCE from a confidential
// client, which needs none, is honoured.
func confValidPKCE(t *testing.T, p *authtest.Provider) {
	rp := newConfRP(t, p)
	verifier := oauth2.GenerateVerifier()
	a := rp.authorize(rp.request("code_challenge", oauth2.S256ChallengeFromVerifier(verifier), "code_challenge_method", "S256"), true)
	rp.exchange(a, oauth2.VerifierOption(verifier))
}

// ---- OIDCCConfigTestPlan ----

// oidcc-discovery-endpoint-verification, on an https issuer as certification
// requires: what OpenID Connect Discovery §3 and RFC 8414 §2 demand of the
// document and its JWKS.
func confDiscovery(t *testing.T, _ *authtest.Provider) {
	p := authtest.StartTLS(t, confConfig)
	resp, err := p.Server.Client().Get(p.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("discovery: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc["issuer"] != p.URL {
		t.Errorf("issuer %v at %s", doc["issuer"], p.URL)
	}
	if u, err := url.Parse(p.URL); err != nil || u.Scheme != "https" || u.RawQuery != "" || u.Fragment != "" {
		t.Errorf("issuer %s is not an https URL without query and fragment", p.URL)
	}
	mustList := func(field string, want ...string) []string {
		list := confStrings(doc[field])
		if len(list) == 0 {
			t.Errorf("%s is missing or empty", field)
		}
		for _, w := range want {
			if !slices.Contains(list, w) {
				t.Errorf("%s %v lacks %s", field, list, w)
			}
		}
		return list
	}
	mustList("response_types_supported", "code")
	for _, st := range mustList("subject_types_supported") {
		if st != "public" && st != "pairwise" {
			t.Errorf("subject type %s", st)
		}
	}
	if algs := mustList("id_token_signing_alg_values_supported", "RS256"); slices.Contains(algs, "none") {
		t.Errorf("id_token_signing_alg_values_supported offers none")
	}
	mustList("grant_types_supported", "authorization_code")
	for _, s := range mustList("scopes_supported", "openid") {
		if s == "" || strings.ContainsAny(s, " \"\\") {
			t.Errorf("scope %q is not a scope token", s)
		}
	}
	mustList("claims_supported", "sub", "iss")
	for _, field := range []string{"claims_parameter_supported", "request_parameter_supported", "request_uri_parameter_supported"} {
		if v, ok := doc[field]; ok {
			if _, isBool := v.(bool); !isBool {
				t.Errorf("%s = %v is not a boolean", field, v)
			}
		}
	}
	if _, ok := doc["code_challenge_methods_supported"].([]any); !ok {
		t.Errorf("code_challenge_methods_supported is not an array")
	}
	for _, field := range []string{"ui_locales_supported", "claims_locales_supported"} {
		for _, l := range confStrings(doc[field]) {
			if l == "" || strings.ContainsAny(l, " _") {
				t.Errorf("%s has %q, not a BCP 47 tag", field, l)
			}
		}
	}
	for _, field := range []string{"authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"} {
		if _, ok := doc[field].(string); !ok {
			t.Errorf("%s is missing", field)
		}
	}
	for field, v := range doc {
		if s, ok := v.(string); ok && (strings.HasSuffix(field, "_endpoint") || strings.HasSuffix(field, "_uri")) && !strings.HasPrefix(s, "https://") {
			t.Errorf("%s %s is not https", field, s)
		}
	}
	jresp, err := p.Server.Client().Get(doc["jwks_uri"].(string))
	if err != nil {
		t.Fatal(err)
	}
	defer jresp.Body.Close()
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.NewDecoder(jresp.Body).Decode(&raw); err != nil || len(raw.Keys) == 0 {
		t.Fatalf("JWKS: %v, %d keys", err, len(raw.Keys))
	}
	for _, k := range raw.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("JWKS key %v has private member %s", k["kid"], private)
			}
		}
		if k["kty"] == "oct" || k["kid"] == nil || k["kid"] == "" {
			t.Errorf("JWKS key %v", k)
		}
	}
	var set jose.JSONWebKeySet
	b, _ := json.Marshal(raw)
	if err := json.Unmarshal(b, &set); err != nil {
		t.Errorf("JWKS does not parse: %v", err)
	}
}

// ---- OIDCCRpInitiatedLogoutTestPlan ----

// oidcc-rp-initiated-logout-discovery-endpoint-verification: an https
// end_session_endpoint.
func confLogoutDiscovery(t *testing.T, _ *authtest.Provider) {
	p := authtest.StartTLS(t, confConfig)
	rp := newConfRP(t, p)
	if e, _ := rp.discovery()["end_session_endpoint"].(string); !strings.HasPrefix(e, "https://") {
		t.Fatalf("end_session_endpoint %q", e)
	}
}

// confLogoutStart signs a fresh browser in and returns the suite's normal
// end-session request: id_token_hint, post_logout_redirect_uri and state.
func confLogoutStart(t *testing.T, p *authtest.Provider) (*confRP, url.Values) {
	t.Helper()
	rp := newConfRP(t, p)
	_, ct := rp.flow()
	return rp, url.Values{"id_token_hint": {ct.raw}, "post_logout_redirect_uri": {confLogoutRedirect}, "state": {confRandom(16)}}
}

// endSession loads the end_session_endpoint with q in the browser.
func (rp *confRP) endSession(q url.Values) *authtest.Page {
	rp.t.Helper()
	endpoint, _ := rp.discovery()["end_session_endpoint"].(string)
	if len(q) > 0 {
		endpoint += "?" + q.Encode()
	}
	return authtest.Get(rp.t, rp.b, endpoint)
}

// signedOut checks that the session is gone: prompt=none is login_required.
func (rp *confRP) signedOut() {
	rp.t.Helper()
	a := rp.authorize(rp.request("prompt", "none"), false)
	if e := rp.authError(a); e != "login_required" {
		rp.t.Fatalf("after logout prompt=none answered %s", e)
	}
}

// stillSignedIn checks that the session survived: a new authorization
// request shows no login page.
func (rp *confRP) stillSignedIn() {
	rp.t.Helper()
	if a := rp.authorize(rp.request(), false); a.saw("login") {
		rp.t.Fatal("the refused logout request ended the session")
	}
}

// oidcc-rp-initiated-logout: back to the registered post_logout_redirect_uri
// with state and nothing else; then signed out.
func confLogout(t *testing.T, p *authtest.Provider) {
	rp, q := confLogoutStart(t, p)
	pg := rp.endSession(q)
	if pg.Location == nil {
		t.Fatalf("no redirect: %d\n%s", pg.Status, pg.Body)
	}
	want := confLogoutRedirect + "?" + url.Values{"state": {q.Get("state")}}.Encode()
	if pg.Location.String() != want {
		t.Fatalf("redirected to %s; want %s", pg.Location, want)
	}
	rp.signedOut()
}

// The modules whose end-session request the OP must not honour with a
// redirect: an error page, or a question to the user (OIDC RP-Initiated
// Logout §2, §4). The session survives an error page.
func confLogoutRefused(change func(url.Values)) func(*testing.T, *authtest.Provider) {
	return func(t *testing.T, p *authtest.Provider) {
		rp, q := confLogoutStart(t, p)
		change(q)
		rp.refusedLogout(q)
	}
}

func (rp *confRP) refusedLogout(q url.Values) {
	rp.t.Helper()
	pg := rp.endSession(q)
	if pg.Location != nil {
		rp.t.Fatalf("redirected to %s", pg.Location)
	}
	if pg.Status != http.StatusBadRequest && !strings.Contains(pg.Body, `value="logout"`) {
		rp.t.Fatalf("neither an error page nor a confirmation: %d\n%s", pg.Status, pg.Body)
	}
	if pg.Status == http.StatusBadRequest {
		rp.stillSignedIn()
	}
}

// confAlgNone is the ID token with its header changed to alg none and its
// signature dropped, as the suite's ChangeIdTokenToAlgNone does.
func confAlgNone(idToken string) string {
	parts := strings.Split(idToken, ".")
	if len(parts) != 3 {
		return idToken
	}
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "."
}

// oidcc-rp-initiated-logout-bad-id-token-hint: the hint has our claims but is
// signed by a key that is not ours (the suite's SignFakeIdToken).
func confLogoutBadIDTokenHint(t *testing.T, p *authtest.Provider) {
	rp, q := confLogoutStart(t, p)
	var claims map[string]any
	if err := json.Unmarshal(decodeSegment(t, strings.Split(q.Get("id_token_hint"), ".")[1]), &claims); err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kidOf(t, q.Get("id_token_hint"))))
	if err != nil {
		t.Fatal(err)
	}
	fake, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	q.Set("id_token_hint", fake)
	rp.refusedLogout(q)
}

// The modules that end at the "you are signed out" page: the user confirms
// when nothing proves the request came from the session's own client, and
// no redirect follows.
func confLogoutConfirmed(change func(url.Values)) func(*testing.T, *authtest.Provider) {
	return func(t *testing.T, p *authtest.Provider) {
		rp, q := confLogoutStart(t, p)
		change(q)
		pg := rp.endSession(q)
		if strings.Contains(pg.Body, `value="logout"`) {
			pg = pg.Submit(t, rp.b, url.Values{"decision": {"logout"}})
		}
		if pg.Location != nil || pg.Status != http.StatusOK || strings.Contains(pg.Body, `name="decision"`) {
			t.Fatalf("want the signed-out page: %d %v\n%s", pg.Status, pg.Location, pg.Body)
		}
		rp.signedOut()
	}
}

// oidcc-rp-initiated-logout-no-post-logout-redirect-uri: the hint proves the
// session, so it ends at once, on our signed-out page.
func confLogoutNoRedirectURI(t *testing.T, p *authtest.Provider) {
	rp, q := confLogoutStart(t, p)
	q.Del("post_logout_redirect_uri")
	pg := rp.endSession(q)
	if pg.Location != nil || pg.Status != http.StatusOK || strings.Contains(pg.Body, `name="decision"`) {
		t.Fatalf("want the signed-out page at once: %d %v\n%s", pg.Status, pg.Location, pg.Body)
	}
	rp.signedOut()
}

// oidcc-rp-initiated-logout-no-state: back to the URI exactly, without state.
func confLogoutNoState(t *testing.T, p *authtest.Provider) {
	rp, q := confLogoutStart(t, p)
	q.Del("state")
	pg := rp.endSession(q)
	if pg.Location == nil || pg.Location.String() != confLogoutRedirect {
		t.Fatalf("want a redirect to %s: %d %v", confLogoutRedirect, pg.Status, pg.Location)
	}
	rp.signedOut()
}

// ---- OIDCCBackchannelRpInitiatedLogoutTestPlan ----

// oidcc-backchannel-rp-initiated-logout: RP-initiated logout sends the
// client's backchannel_logout_uri a logout token (Back-Channel Logout 1.0
// §2.4, §2.5): a form POST of logout_token, signed by a key of our JWKS,
// typ logout+jwt, iss, aud, iat, jti, the back-channel event, the session's
// sid and sub, and no nonce; the browser still returns to the
// post_logout_redirect_uri, and the session is gone.
func confBackchannelLogout(t *testing.T, _ *authtest.Provider) {
	type delivery struct {
		method, contentType string
		form                url.Values
	}
	got := make(chan delivery, 4)
	listener := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		got <- delivery{r.Method + " " + r.URL.Path, r.Header.Get("Content-Type"), r.PostForm}
		w.Header().Set("Cache-Control", "no-store")
	}))
	defer listener.Close()
	p := authtest.Start(t, func(c *config.Config) {
		confConfig(c)
		for i := range c.Clients {
			if c.Clients[i].ID == confClient {
				c.Clients[i].BackchannelLogoutURI = listener.URL + "/backchannel_logout"
				c.Clients[i].BackchannelLogoutSessionRequired = true
			}
		}
	})
	// The delivery loop, as serve runs it in the background (a second
	// loop, should the fixture run one too, takes nothing twice).
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { p.App.Server.RunBackchannelLogout(ctx); close(stopped) }()
	t.Cleanup(func() { cancel(); <-stopped })
	rp, q := confLogoutStart(t, p)
	doc := rp.discovery()
	if doc["backchannel_logout_supported"] != true || doc["backchannel_logout_session_supported"] != true {
		t.Errorf("backchannel_logout_supported %v, backchannel_logout_session_supported %v",
			doc["backchannel_logout_supported"], doc["backchannel_logout_session_supported"])
	}
	var hint map[string]any
	if err := json.Unmarshal(decodeSegment(t, strings.Split(q.Get("id_token_hint"), ".")[1]), &hint); err != nil {
		t.Fatal(err)
	}
	pg := rp.endSession(q)
	want := confLogoutRedirect + "?" + url.Values{"state": {q.Get("state")}}.Encode()
	if pg.Location == nil || pg.Location.String() != want {
		t.Fatalf("post-logout redirect %v; want %s", pg.Location, want)
	}
	var d delivery
	select {
	case d = <-got:
	case <-time.After(15 * time.Second): // a bound on a background POST, not a measurement
		t.Fatal("no logout token was delivered")
	}
	if d.method != "POST /backchannel_logout" || !strings.HasPrefix(d.contentType, "application/x-www-form-urlencoded") {
		t.Fatalf("logout request %s %s", d.method, d.contentType)
	}
	for k := range d.form {
		if k != "logout_token" {
			t.Errorf("unexpected parameter %s in the logout request", k)
		}
	}
	raw := d.form.Get("logout_token")
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil || len(tok.Headers) != 1 {
		t.Fatalf("logout token: %v", err)
	}
	if typ := tok.Headers[0].ExtraHeaders[jose.HeaderType]; typ != "logout+jwt" {
		t.Errorf("typ %v", typ)
	}
	keys := confJWKS(t, p, rp).Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("the logout token's kid %q is not in the JWKS", tok.Headers[0].KeyID)
	}
	var claims map[string]any
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		t.Fatalf("logout token signature: %v", err)
	}
	if claims["iss"] != p.URL || !slices.Contains(append(confStrings(claims["aud"]), fmt.Sprint(claims["aud"])), confClient) {
		t.Errorf("iss %v aud %v", claims["iss"], claims["aud"])
	}
	if _, ok := claims["iat"].(float64); !ok || claims["jti"] == nil || claims["jti"] == "" {
		t.Errorf("iat %v jti %v", claims["iat"], claims["jti"])
	}
	events, _ := claims["events"].(map[string]any)
	if _, ok := events["http://schemas.openid.net/event/backchannel-logout"]; !ok {
		t.Errorf("events %v", claims["events"])
	}
	if claims["sid"] != hint["sid"] || claims["sub"] != hint["sub"] || claims["sid"] == nil {
		t.Errorf("sid %v sub %v; the ID token's %v %v", claims["sid"], claims["sub"], hint["sid"], hint["sub"])
	}
	if _, ok := claims["nonce"]; ok {
		t.Error("the logout token has a nonce (§2.4 forbids it)")
	}
	rp.signedOut()
}

// ---- Extras ----

// extra-parameter-order: the order of the query's parameters does not
// matter (nor, oidcc-ensure-other-scope-order-succeeds, that of scopes).
func confParameterOrder(t *testing.T, p *authtest.Provider) {
	rp := newConfRP(t, p)
	q := rp.request("scope", "profile email openid")
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	slices.Sort(names)
	slices.Reverse(names)
	var parts []string
	for _, k := range names {
		parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(q.Get(k)))
	}
	a := rp.follow(q, authtest.Get(t, rp.b, rp.op.Endpoint().AuthURL+"?"+strings.Join(parts, "&")), true)
	rp.exchange(a)
}

// extra-code-reuse-revokes-refresh-token: the replay also revokes the refresh
// token the code gave (RFC 6749 §4.1.2, RFC 9700 §4.14).
func confCodeReuseRevokesRefresh(t *testing.T, p *authtest.Provider) {
	rp := newConfRP(t, p)
	a := rp.authorize(rp.request("scope", "openid offline_access", "prompt", "consent"), true)
	ct := rp.exchange(a)
	rp.redeemAgain(a)
	_, err := rp.oc.TokenSource(rp.ctx, &oauth2.Token{RefreshToken: ct.tok.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("refresh token of a replayed code: %v", err)
	}
}

// extra-form-post: response_mode=form_post (OAuth 2.0 Form Post Response
// Mode), which OIDCCFormPostBasicTestPlan runs every Basic module with: a
// page whose form posts code, state and iss to the redirect URI, which its
// CSP alone allows as a form action; discovery advertises it.
func confFormPost(t *testing.T, p *authtest.Provider) {
	rp := newConfRP(t, p)
	if modes := confStrings(rp.discovery()["response_modes_supported"]); !slices.Contains(modes, "form_post") {
		t.Errorf("response_modes_supported %v", modes)
	}
	q := rp.request("response_mode", "form_post")
	authURL := rp.op.Endpoint().AuthURL + "?" + q.Encode()
	pg := authtest.Get(t, rp.b, authURL).Submit(t, rp.b, url.Values{"username": {"alice"}, "password": {"alice-password"}})
	var resp *http.Response
	var err error
	if strings.Contains(pg.Body, `name="decision"`) {
		action, vals := pg.FormFields(t)
		vals.Set("decision", "allow")
		resp, err = rp.b.PostForm(pg.URL.ResolveReference(&url.URL{Path: action}).String(), vals)
	} else { // consent remembered: straight to the form
		resp, err = rp.b.Get(authURL)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("form_post answered %d\n%s", resp.StatusCode, body)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	var formAction []string
	for _, d := range strings.Split(csp, ";") {
		if f := strings.Fields(d); len(f) > 0 && f[0] == "form-action" {
			formAction = f[1:]
		}
	}
	// The redirect URI itself, or its origin (CSP ignores paths after a
	// redirect, and a query never matches).
	if len(formAction) != 1 || !strings.HasPrefix(confRedirect, formAction[0]) || !strings.HasPrefix(formAction[0], "http://127.0.0.1:7790") {
		t.Errorf("Content-Security-Policy %q does not allow only the redirect URI as form action", csp)
	}
	pg = &authtest.Page{Status: resp.StatusCode, URL: resp.Request.URL, Body: string(body)}
	action, fields := pg.FormFields(t)
	if action != confRedirect {
		t.Fatalf("the form posts to %q\n%s", action, pg.Body)
	}
	if fields.Get("state") != q.Get("state") || fields.Get("iss") != p.URL || fields.Get("code") == "" {
		t.Fatalf("form fields %v", fields)
	}
	a := &confAuth{req: q, loc: &url.URL{Scheme: "http", Host: "127.0.0.1:7790", Path: "/cb", RawQuery: fields.Encode()}}
	rp.exchange(a)
}
