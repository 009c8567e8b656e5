package authserver_test

import (
	"context"
	"crypto/rand"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/dpop"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/config"
)

// The tests of this file cover pushed authorization requests (RFC 9126)
// and the FAPI 2.0 rules that go with them, including the negative cases
// the FAPI 2.0 conformance plan names: a PAR-required client without PAR,
// an expired, a foreign and a spent request_uri, plain PKCE, no PKCE.

// A pushed request is used at the authorization endpoint by its request_uri
// alone, through sign-in and consent, and its code is exchanged with
// x/oauth2; a public client may push too, naming itself by client_id.
func TestPARCodeFlow(t *testing.T) {
	t.Parallel()
	p := startPAR(t, nil)
	ctx := context.Background()

	form, verifier := authzForm(parWeb, parWebRedirect, "st-web")
	form.Set("scope", "openid offline_access api.read")
	uri := pushed(t, p, form, parWeb, parWebSecret, nil)
	loc := p.SignIn(t, p.Browser(t), pushedURL(p, parWeb, uri), "alice", "alice-password", "allow")
	code := codeFrom(t, p, loc, parWebRedirect, "st-web")
	tok, err := webOAuth2(p).Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" || tok.Extra("id_token") == nil || tok.Extra("scope") != "openid offline_access api.read" {
		t.Errorf("token response: refresh %v, id_token %v, scope %v", tok.RefreshToken != "", tok.Extra("id_token") != nil, tok.Extra("scope"))
	}
	if aud := audOf(t, tok.AccessToken); !slices.Equal(aud, []string{apiA, apiB}) {
		t.Errorf("aud %v: without resource, the client's audience list", aud)
	}
	if nonce := tokenClaims(t, tok.Extra("id_token").(string))["nonce"]; nonce != "n-st-web" {
		t.Errorf("ID token nonce %v: the pushed nonce", nonce)
	}

	t.Run("public client", func(t *testing.T) {
		form, verifier := authzForm(parPublic, parPublicRedir, "st-pub")
		uri := pushed(t, p, form, "", "", nil)
		loc := p.SignIn(t, p.Browser(t), pushedURL(p, parPublic, uri), "alice", "alice-password", "allow")
		oc := &oauth2.Config{ClientID: parPublic, RedirectURL: parPublicRedir,
			Endpoint: oauth2.Endpoint{TokenURL: p.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}}
		if _, err := oc.Exchange(ctx, codeFrom(t, p, loc, parPublicRedir, "st-pub"), oauth2.VerifierOption(verifier)); err != nil {
			t.Fatalf("exchange: %v", err)
		}
	})
}

// Every refusal of the PAR endpoint is JSON as at the token endpoint
// (RFC 9126 §2.3): 400 with error and error_description, 401 for client
// authentication, never a redirect, even for what the authorization
// endpoint would show on a page or answer with another status.
func TestPARErrorsAreJSON(t *testing.T) {
	t.Parallel()
	p := startPAR(t, nil)
	for _, tc := range []struct {
		name         string
		change       func(url.Values)
		user, secret string
		status       int
		code         string
	}{
		{"unregistered redirect_uri", func(f url.Values) { f.Set("redirect_uri", "http://127.0.0.1:7791/other") }, parWeb, parWebSecret, 400, "invalid_request"},
		{"no redirect_uri", func(f url.Values) { f.Del("redirect_uri") }, parWeb, parWebSecret, 400, "invalid_request"},
		{"response_type token", func(f url.Values) { f.Set("response_type", "token") }, parWeb, parWebSecret, 400, "unsupported_response_type"},
		{"request_uri pushed", func(f url.Values) { f.Set("request_uri", requestURIPrefix+"abc") }, parWeb, parWebSecret, 400, "invalid_request"},
		{"no scope allowed", func(f url.Values) { f.Set("scope", "admin") }, parWeb, parWebSecret, 400, "invalid_scope"},
		{"essential acr no one can meet", func(f url.Values) {
			f.Set("claims", `{"id_token":{"acr":{"essential":true,"value":"urn:example:mfa"}}}`)
		}, parWeb, parWebSecret, 400, "unmet_authentication_requirements"},
		{"plain PKCE", func(f url.Values) { f.Set("code_challenge_method", "plain") }, parWeb, parWebSecret, 400, "invalid_request"},
		{"malformed dpop_jkt", func(f url.Values) { f.Set("dpop_jkt", "not-a-thumbprint") }, parWeb, parWebSecret, 400, "invalid_request"},
		{"another client's client_id", func(f url.Values) { f.Set("client_id", parOnly) }, parWeb, parWebSecret, 400, "invalid_request"},
		{"wrong secret", nil, parWeb, "wrong-secret-0123456789abcdefghijklmno", 401, "invalid_client"},
		{"unknown client", func(f url.Values) { f.Set("client_id", "nobody") }, "", "", 401, "invalid_client"},
		{"confidential client without its secret", nil, "", "", 401, "invalid_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form, _ := authzForm(parWeb, parWebRedirect, "st")
			if tc.change != nil {
				tc.change(form)
			}
			r := push(t, p, form, tc.user, tc.secret, nil)
			wantPARError(t, tc.name, r, tc.status, tc.code)
			if r.header.Get("Location") != "" {
				t.Errorf("PAR answered with a Location: %s", r.header.Get("Location"))
			}
		})
	}
	t.Run("GET", func(t *testing.T) {
		resp, err := http.Get(p.URL + "/par")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("GET /par: %d, want 405", resp.StatusCode)
		}
	})
}

// A client that must push (require_pushed_authorization_requests, or every
// client under par.required) is refused at the authorization endpoint
// without a pushed request_uri: invalid_request at its redirect URI, which
// is established (RFC 9126 §4, as node-oidc-provider answers). FAPI 2.0
// plan: "request without PAR".
func TestPARRequired(t *testing.T) {
	t.Parallel()
	t.Run("per client", func(t *testing.T) {
		t.Parallel()
		p := startPAR(t, nil)
		form, _ := authzForm(parOnly, parOnlyRedir, "st-1")
		pg := authtest.Get(t, p.Browser(t), p.URL+"/authorize?"+form.Encode())
		if e := errorFrom(t, p, pg, parOnlyRedir, "st-1"); e != "invalid_request" ||
			!strings.Contains(pg.Location.Query().Get("error_description"), "pushed authorization request required") {
			t.Errorf("error %s: %s", e, pg.Location.Query().Get("error_description"))
		}
		// The same request pushed goes through, and another client is not
		// affected.
		uri := pushed(t, p, form, parOnly, parOnlySecret, nil)
		codeFrom(t, p, p.SignIn(t, p.Browser(t), pushedURL(p, parOnly, uri), "alice", "alice-password", "allow"), parOnlyRedir, "st-1")
		form, _ = authzForm(parWeb, parWebRedirect, "st-2")
		codeFrom(t, p, p.SignIn(t, p.Browser(t), p.URL+"/authorize?"+form.Encode(), "alice", "alice-password", "allow"), parWebRedirect, "st-2")
	})
	t.Run("par.required", func(t *testing.T) {
		t.Parallel()
		p := startPAR(t, func(c *config.Config) { c.PAR.Required = true })
		form, _ := authzForm(parWeb, parWebRedirect, "st-3")
		if e := errorFrom(t, p, authtest.Get(t, p.Browser(t), p.URL+"/authorize?"+form.Encode()), parWebRedirect, "st-3"); e != "invalid_request" {
			t.Errorf("error %s", e)
		}
		if doc := discoveryDoc(t, p); doc["require_pushed_authorization_requests"] != true {
			t.Errorf("require_pushed_authorization_requests %v", doc["require_pushed_authorization_requests"])
		}
		uri := pushed(t, p, form, parWeb, parWebSecret, nil)
		codeFrom(t, p, p.SignIn(t, p.Browser(t), pushedURL(p, parWeb, uri), "alice", "alice-password", "allow"), parWebRedirect, "st-3")
	})
}

// A request_uri may be used again until a code is issued from it (the
// login page reloaded), then never; it expires; it is bound to its client;
// an unknown one and one of another client look the same. None of these is
// redirected: the redirect URI is in the request that cannot be used. FAPI
// 2.0 plan: expired, foreign and spent request_uri.
func TestPushedRequestURILifecycle(t *testing.T) {
	t.Parallel()
	p := startPAR(t, nil)
	form, _ := authzForm(parOnly, parOnlyRedir, "st-life")
	uri := pushed(t, p, form, parOnly, parOnlySecret, nil)
	b := p.Browser(t)
	for i := range 2 { // the login page, and its reload
		if pg := authtest.Get(t, b, pushedURL(p, parOnly, uri)); pg.Status != http.StatusOK || !strings.Contains(pg.Body, `name="password"`) {
			t.Fatalf("load %d: want the login page, got %d %v", i+1, pg.Status, pg.Location)
		}
	}
	codeFrom(t, p, p.SignIn(t, b, pushedURL(p, parOnly, uri), "alice", "alice-password", "allow"), parOnlyRedir, "st-life")
	// Spent: even the browser that signed in (whose session would give a
	// code at once) is refused.
	wantErrorPage(t, "spent", authtest.Get(t, b, pushedURL(p, parOnly, uri)), "already used")

	foreign := pushed(t, p, form, parOnly, parOnlySecret, nil)
	wantErrorPage(t, "another client's", authtest.Get(t, b, pushedURL(p, parWeb, foreign)), "invalid_request_uri")
	wantErrorPage(t, "unknown", authtest.Get(t, b, pushedURL(p, parOnly, requestURIPrefix+rand.Text())), "invalid_request_uri")
	// The foreign use did not spend it for its own client.
	codeFrom(t, p, p.SignIn(t, b, pushedURL(p, parOnly, foreign), "alice", "alice-password", "allow"), parOnlyRedir, "st-life")

	expiring := pushed(t, p, form, parOnly, parOnlySecret, nil)
	p.Clock.Advance(61 * time.Second)
	wantErrorPage(t, "expired", authtest.Get(t, p.Browser(t), pushedURL(p, parOnly, expiring)), "expired")

	// A request_uri that is not one of ours is still not supported.
	form, _ = authzForm(parWeb, parWebRedirect, "st-other")
	form.Set("request_uri", "https://client.example.com/request.jwt")
	if e := errorFrom(t, p, authtest.Get(t, b, p.URL+"/authorize?"+form.Encode()), parWebRedirect, "st-other"); e != "request_uri_not_supported" {
		t.Errorf("foreign request_uri: %s", e)
	}
}

// Only the pushed parameters count: what the query adds or changes is
// ignored, except client_id (RFC 9126 §4).
func TestPushedRequestIgnoresOutsideParameters(t *testing.T) {
	t.Parallel()
	p := startPAR(t, nil)
	form, verifier := authzForm(parWeb, parWebRedirect, "st-pushed")
	uri := pushed(t, p, form, parWeb, parWebSecret, nil)
	q := url.Values{"client_id": {parWeb}, "request_uri": {uri}, "state": {"st-outside"}, "scope": {"openid offline_access api.write"},
		"redirect_uri": {"http://evil.example.com/cb"}, "response_mode": {"form_post"}, "prompt": {"none"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "resource": {apiB}}
	loc := p.SignIn(t, p.Browser(t), p.URL+"/authorize?"+q.Encode(), "alice", "alice-password", "allow")
	code := codeFrom(t, p, loc, parWebRedirect, "st-pushed")
	tok, err := webOAuth2(p).Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange with the pushed verifier: %v", err)
	}
	if tok.Extra("scope") != "openid api.read" || !slices.Equal(audOf(t, tok.AccessToken), []string{apiA, apiB}) {
		t.Errorf("scope %v, aud %v: the pushed request's", tok.Extra("scope"), audOf(t, tok.AccessToken))
	}
}

// A sign-in after the push satisfies the pushed prompt=login (the login
// form sends the browser back with the request_uri alone, which must not
// ask again for ever), but a session from before the push does not; and
// the consent page's "Not you?" link asks for a sign-in even then.
func TestPushedRequestPromptLogin(t *testing.T) {
	t.Parallel()
	p := startPAR(t, nil)
	b := p.Browser(t)
	form, _ := authzForm(parWeb, parWebRedirect, "st-first")
	codeFrom(t, p, p.SignIn(t, b, pushedURL(p, parWeb, pushed(t, p, form, parWeb, parWebSecret, nil)), "alice", "alice-password", "allow"),
		parWebRedirect, "st-first")

	form, _ = authzForm(parWeb, parWebRedirect, "st-login")
	form.Set("prompt", "login")
	uri := pushed(t, p, form, parWeb, parWebSecret, nil)
	pg := authtest.Get(t, b, pushedURL(p, parWeb, uri))
	if !strings.Contains(pg.Body, `name="password"`) {
		t.Fatalf("prompt=login with a session from before the push: want the login page, got %d %v", pg.Status, pg.Location)
	}
	pg = pg.Submit(t, b, url.Values{"username": {"alice"}, "password": {"alice-password"}})
	if pg.Location == nil {
		t.Fatalf("after signing in: want the code (consent was given), got %d:\n%s", pg.Status, pg.Body)
	}
	codeFrom(t, p, pg.Location, parWebRedirect, "st-login")

	// Consent asked again (prompt=consent), with a fresh session: "Not you?"
	// must still lead to the login page.
	form, _ = authzForm(parWeb, parWebRedirect, "st-notyou")
	form.Set("prompt", "consent")
	pg = authtest.Get(t, b, pushedURL(p, parWeb, pushed(t, p, form, parWeb, parWebSecret, nil)))
	m := regexp.MustCompile(`<a href="([^"]+)">Not you\?</a>`).FindStringSubmatch(pg.Body)
	if m == nil {
		t.Fatalf("want the consent page with a Not you? link, got %d:\n%s", pg.Status, pg.Body)
	}
	notYou, _ := url.Parse(html.UnescapeString(m[1]))
	if pg = authtest.Get(t, b, pg.URL.ResolveReference(notYou).String()); !strings.Contains(pg.Body, `name="password"`) {
		t.Fatalf("Not you?: want the login page, got %d %v", pg.Status, pg.Location)
	}
	pg = pg.Submit(t, b, url.Values{"username": {"bob"}, "password": {"bob-password"}})
	if pg = pg.Submit(t, b, url.Values{"decision": {"allow"}}); pg.Location == nil {
		t.Fatalf("bob's consent: got %d:\n%s", pg.Status, pg.Body)
	}
	codeFrom(t, p, pg.Location, parWebRedirect, "st-notyou")
}

// A DPoP proof sent to the PAR endpoint binds the code as dpop_jkt would
// (RFC 9449 §10.1): the stored code names the proof's key, and only that
// key redeems it; a dpop_jkt that names another key is refused, and a
// proof for another endpoint is invalid_dpop_proof.
func TestPARDPoPBindsCode(t *testing.T) {
	t.Parallel()
	p := startPAR(t, nil)
	signer := dpopSigner(t)
	signer.Now = p.Clock.Now

	form, verifier := authzForm(parPublic, parPublicRedir, "st-dpop")
	uri := pushed(t, p, form, "", "", signer)
	code := codeFrom(t, p, p.SignIn(t, p.Browser(t), pushedURL(p, parPublic, uri), "alice", "alice-password", "allow"), parPublicRedir, "st-dpop")
	rec, err := p.App.Store.ConsumeAuthCode(context.Background(), storage.Hash(code), storage.CodeRedemption{
		ClientID: parPublic, RedirectURI: parPublicRedir, CodeChallenge: oauth2.S256ChallengeFromVerifier(verifier),
		DPoPJKT: signer.Thumbprint(), FamilyID: "test"},
		p.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if rec.DPoPJKT != signer.Thumbprint() {
		t.Errorf("stored code DPoPJKT %q, want the proof key's %q", rec.DPoPJKT, signer.Thumbprint())
	}

	// End to end: another key cannot redeem a bound code; the key can.
	exchange := func(code, verifier string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "client_id": {parPublic}, "code": {code},
			"redirect_uri": {parPublicRedir}, "code_verifier": {verifier}}
	}
	form, verifier = authzForm(parPublic, parPublicRedir, "st-dpop2")
	form.Set("dpop_jkt", signer.Thumbprint()) // the same key both ways is fine
	uri = pushed(t, p, form, "", "", signer)
	code = codeFrom(t, p, p.SignIn(t, p.Browser(t), pushedURL(p, parPublic, uri), "alice", "alice-password", "allow"), parPublicRedir, "st-dpop2")
	other := dpopSigner(t)
	other.Now = p.Clock.Now
	if r := tokenWithProof(t, p, exchange(code, verifier), "", "", other); r.status != http.StatusBadRequest || r.body["error"] != "invalid_grant" {
		t.Errorf("another key: %d %v", r.status, r.body)
	}
	form, verifier = authzForm(parPublic, parPublicRedir, "st-dpop3")
	uri = pushed(t, p, form, "", "", signer)
	code = codeFrom(t, p, p.SignIn(t, p.Browser(t), pushedURL(p, parPublic, uri), "alice", "alice-password", "allow"), parPublicRedir, "st-dpop3")
	if r := tokenWithProof(t, p, exchange(code, verifier), "", "", signer); r.status != http.StatusOK || r.body["token_type"] != "DPoP" {
		t.Errorf("the bound key: %d %v", r.status, r.body)
	}

	form, _ = authzForm(parPublic, parPublicRedir, "st-mismatch")
	form.Set("dpop_jkt", other.Thumbprint())
	wantPARError(t, "dpop_jkt of another key", push(t, p, form, "", "", signer), 400, "invalid_request")

	req, _ := http.NewRequest(http.MethodPost, p.URL+"/par", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	proof, err := signer.Proof(http.MethodPost, p.URL+"/token", dpop.ProofOptions{})
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("DPoP", proof)
	wantPARError(t, "proof for the token endpoint", pkDo(t, req), 400, "invalid_dpop_proof")
}

// A client with the fapi2 profile must push (FAPI 2.0 Security Profile
// §5.3.2.2), with PKCE S256 even though it is confidential, and its codes
// live at most 60 seconds (§5.3.2.1) whatever tokens.auth_code_ttl says.
// FAPI 2.0 plan: plain PKCE, missing PKCE.
func TestFAPI2AuthorizationRequests(t *testing.T) {
	t.Parallel()
	p := startPAR(t, func(c *config.Config) { c.Tokens.AuthCodeTTL = config.Duration(5 * time.Minute) })
	signer := dpopSigner(t)
	signer.Now = p.Clock.Now
	pushFAPI := func(form url.Values) pkReply {
		return push(t, p, withAssertion(form, pkAssertion(t, p, parFAPI, "ec")), "", "", nil)
	}

	form, verifier := authzForm(parFAPI, parFAPIRedir, "st-fapi")
	pg := authtest.Get(t, p.Browser(t), p.URL+"/authorize?"+form.Encode())
	if e := errorFrom(t, p, pg, parFAPIRedir, "st-fapi"); e != "invalid_request" {
		t.Errorf("without PAR: %s", e)
	}
	noPKCE := cloneForm(form)
	noPKCE.Del("code_challenge")
	noPKCE.Del("code_challenge_method")
	if r := pushFAPI(noPKCE); r.status != 400 || r.body["error"] != "invalid_request" || !strings.Contains(r.description(), "PKCE is required") {
		t.Errorf("missing PKCE: %d %v", r.status, r.body)
	}
	plain := cloneForm(form)
	plain.Set("code_challenge_method", "plain")
	wantPARError(t, "plain PKCE", pushFAPI(plain), 400, "invalid_request")

	r := pushFAPI(form)
	uri, _ := r.body["request_uri"].(string)
	if r.status != http.StatusCreated {
		t.Fatalf("PAR: %d %v", r.status, r.body)
	}
	code := codeFrom(t, p, p.SignIn(t, p.Browser(t), pushedURL(p, parFAPI, uri), "alice", "alice-password", "allow"), parFAPIRedir, "st-fapi")
	// par-only's code, issued at the same time, lives tokens.auth_code_ttl.
	other, otherVerifier := authzForm(parOnly, parOnlyRedir, "st-other")
	otherCode := codeFrom(t, p, p.SignIn(t, p.Browser(t), pushedURL(p, parOnly, pushed(t, p, other, parOnly, parOnlySecret, nil)),
		"alice", "alice-password", "allow"), parOnlyRedir, "st-other")

	p.Clock.Advance(61 * time.Second)
	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {parFAPIRedir}, "code_verifier": {verifier}}
	if r := tokenWithProof(t, p, withAssertion(exchange, pkAssertion(t, p, parFAPI, "ec")), "", "", signer); r.status != 400 || r.body["error"] != "invalid_grant" {
		t.Errorf("fapi2 code after 61s: %d %v; want invalid_grant", r.status, r.body)
	}
	ok := url.Values{"grant_type": {"authorization_code"}, "code": {otherCode}, "redirect_uri": {parOnlyRedir}, "code_verifier": {otherVerifier}}
	wantToken(t, "par-only code after 61s", tokenWithProof(t, p, ok, parOnly, parOnlySecret, nil))

	// Within 60 seconds the fapi2 code works, bound to the DPoP key.
	form, verifier = authzForm(parFAPI, parFAPIRedir, "st-fapi2")
	r = pushFAPI(form)
	uri, _ = r.body["request_uri"].(string)
	code = codeFrom(t, p, p.SignIn(t, p.Browser(t), pushedURL(p, parFAPI, uri), "alice", "alice-password", "allow"), parFAPIRedir, "st-fapi2")
	p.Clock.Advance(50 * time.Second)
	exchange = url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {parFAPIRedir}, "code_verifier": {verifier}}
	if r := tokenWithProof(t, p, withAssertion(exchange, pkAssertion(t, p, parFAPI, "ec")), "", "", signer); r.status != http.StatusOK || r.body["token_type"] != "DPoP" {
		t.Errorf("fapi2 code after 50s: %d %v", r.status, r.body)
	}
}

// Discovery advertises PAR and request objects exactly (RFC 9126 §5,
// RFC 9101 §10.5, RFC 9207).
func TestPARDiscovery(t *testing.T) {
	t.Parallel()
	p := startPAR(t, nil)
	doc := discoveryDoc(t, p)
	for name, want := range map[string]any{
		"pushed_authorization_request_endpoint":          p.URL + "/par",
		"require_pushed_authorization_requests":          false,
		"request_parameter_supported":                    true,
		"request_uri_parameter_supported":                false,
		"authorization_response_iss_parameter_supported": true,
	} {
		if doc[name] != want {
			t.Errorf("%s = %v, want %v", name, doc[name], want)
		}
	}
	algs, _ := doc["request_object_signing_alg_values_supported"].([]any)
	for _, a := range []any{"PS256", "ES256", "EdDSA", "RS256"} {
		if !slices.Contains(algs, a) {
			t.Errorf("request_object_signing_alg_values_supported %v lacks %v", algs, a)
		}
	}
	if slices.Contains(algs, any("none")) || slices.Contains(algs, any("HS256")) {
		t.Errorf("request_object_signing_alg_values_supported %v lists none or HS256", algs)
	}
}

// iss is in every authorization response (RFC 9207), also when posted
// (form_post) and for errors: a pushed form_post request's code, and a
// refusal posted back.
func TestPARFormPostCarriesIss(t *testing.T) {
	t.Parallel()
	p := startPAR(t, nil)
	b := p.Browser(t)
	form, _ := authzForm(parPublic, parPublicRedir, "st-fp")
	form.Set("response_mode", "form_post")
	pg := authtest.Get(t, b, pushedURL(p, parPublic, pushed(t, p, form, "", "", nil)))
	pg = pg.Submit(t, b, url.Values{"username": {"alice"}, "password": {"alice-password"}})
	action, fields := pg.FormFields(t)
	if action != parPublicRedir || fields.Get("code") == "" || fields.Get("iss") != p.URL || fields.Get("state") != "st-fp" {
		t.Errorf("form_post page: action %s, fields %v", action, fields)
	}

	form, _ = authzForm(parWeb, parWebRedirect, "st-fp-err")
	form.Set("response_mode", "form_post")
	form.Set("resource", "https://unknown.example.com")
	action, fields = authtest.Get(t, b, p.URL+"/authorize?"+form.Encode()).FormFields(t)
	if action != parWebRedirect || fields.Get("error") != "invalid_target" || fields.Get("iss") != p.URL || fields.Get("state") != "st-fp-err" {
		t.Errorf("form_post error: action %s, fields %v", action, fields)
	}
}

func discoveryDoc(t testing.TB, p *authtest.Provider) map[string]any {
	t.Helper()
	resp, err := http.Get(p.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	if err := decodeJSON(resp, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}
