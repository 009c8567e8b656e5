package authserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/authtest"
)

// The tests of this file cover signed request objects (RFC 9101) at the PAR
// and authorization endpoints: verified with the client's registered keys,
// an allow-list of algorithms (narrower for fapi2), never alg none; the
// object's parameters are the request, whatever the query or form says.

// roClaims are the claims of a valid request object of clientID for p: the
// authorization request form, iss and aud, and a lifetime.
func roClaims(p *authtest.Provider, clientID string, form url.Values) map[string]any {
	now := p.Clock.Now().Unix()
	c := map[string]any{"iss": clientID, "aud": p.Config.Issuer, "iat": now, "nbf": now, "exp": now + 300}
	for k := range form {
		c[k] = form.Get(k)
	}
	return c
}

// roSign signs claims as a request object (typ oauth-authz-req+jwt) with
// the key named in pkKeys.
func roSign(t testing.TB, key string, claims map[string]any) string {
	t.Helper()
	k := pkKeys()[key]
	opts := (&jose.SignerOptions{}).WithType("oauth-authz-req+jwt").WithHeader("kid", k.kid)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.alg), Key: k.priv}, opts)
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

// At the PAR endpoint a request object carries the whole request (RFC 9126
// §3): its parameters are pushed, the form's others ignored (those it
// repeats, and those it has not: a resource the client may not have would
// be invalid_target); a bad object is 400 invalid_request_object.
func TestRequestObjectAtPAR(t *testing.T) {
	t.Parallel()
	p := startPAR(t, nil)
	ctx := context.Background()

	inner, verifier := authzForm(parWeb, parWebRedirect, "st-object")
	outside := url.Values{"client_id": {parWeb}, "request": {roSign(t, "ec", roClaims(p, parWeb, inner))},
		"state": {"st-form"}, "scope": {"openid offline_access api.write"}, "resource": {"https://evil.example.com"}}
	uri := pushed(t, p, outside, parWeb, parWebSecret, nil)
	code := codeFrom(t, p, p.SignIn(t, p.Browser(t), pushedURL(p, parWeb, uri), "alice", "alice-password", "allow"), parWebRedirect, "st-object")
	tok, err := webOAuth2(p).Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.Extra("scope") != "openid api.read" {
		t.Errorf("scope %v: the object's, not the form's", tok.Extra("scope"))
	}

	// Larger than the 2 KiB of an ordinary parameter: a request object
	// carries the whole request.
	big := cloneForm(inner)
	big.Set("state", strings.Repeat("s", 3000))
	if r := push(t, p, url.Values{"client_id": {parWeb}, "request": {roSign(t, "rsa", roClaims(p, parWeb, big))}}, parWeb, parWebSecret, nil); r.status != http.StatusCreated {
		t.Errorf("a 4 KiB request object: %d %v", r.status, r.body)
	}

	for _, tc := range []struct {
		name    string
		request func() string
	}{
		{"signed by a key the client did not register", func() string { return roSign(t, "ec-other", roClaims(p, parWeb, inner)) }},
		{"alg none", func() string {
			return unsignedJWT(t, map[string]any{"alg": "none", "typ": "oauth-authz-req+jwt"}, roClaims(p, parWeb, inner))
		}},
		{"HS256 with the client secret", func() string { return hmacJWT(t, []byte(parWebSecret), "ec", roClaims(p, parWeb, inner)) }},
		{"aud another server", func() string {
			c := roClaims(p, parWeb, inner)
			c["aud"] = "https://other-as.example.com"
			return roSign(t, "ec", c)
		}},
		{"iss another client", func() string {
			c := roClaims(p, parWeb, inner)
			c["iss"] = parOnly
			return roSign(t, "ec", c)
		}},
		{"expired", func() string {
			c := roClaims(p, parWeb, inner)
			c["exp"] = p.Clock.Now().Unix() - 10
			return roSign(t, "ec", c)
		}},
		{"not a JWT", func() string { return "not-a-jwt" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := push(t, p, url.Values{"client_id": {parWeb}, "request": {tc.request()}}, parWeb, parWebSecret, nil)
			wantPARError(t, tc.name, r, http.StatusBadRequest, "invalid_request_object")
		})
	}

	t.Run("fapi2", func(t *testing.T) {
		form, _ := authzForm(parFAPI, parFAPIRedir, "st-fapi")
		pushFAPI := func(request string) pkReply {
			f := url.Values{"client_id": {parFAPI}, "request": {request}}
			return push(t, p, withAssertion(f, pkAssertion(t, p, parFAPI, "ec")), "", "", nil)
		}
		wantPARError(t, "RS256", pushFAPI(roSign(t, "rsa", roClaims(p, parFAPI, form))), http.StatusBadRequest, "invalid_request_object")
		noExp := roClaims(p, parFAPI, form)
		delete(noExp, "exp")
		wantPARError(t, "without exp", pushFAPI(roSign(t, "ec", noExp)), http.StatusBadRequest, "invalid_request_object")
		for _, key := range []string{"rsa-ps", "ec", "ed"} {
			if r := pushFAPI(roSign(t, key, roClaims(p, parFAPI, form))); r.status != http.StatusCreated {
				t.Errorf("%s: %d %v", pkKeys()[key].alg, r.status, r.body)
			}
		}
	})
}

// At the authorization endpoint a request object's parameters are the
// request (RFC 9101 §6.3), the query's ignored but client_id (its
// prompt=none would make a signed-out request fail); a bad object
// is answered invalid_request_object at the query's redirect_uri when that
// is registered, on a page otherwise; and a client that must push may not
// send one instead.
func TestRequestObjectAtAuthorize(t *testing.T) {
	t.Parallel()
	p := startPAR(t, nil)
	inner, verifier := authzForm(parWeb, parWebRedirect, "st-object")
	q := url.Values{"client_id": {parWeb}, "request": {roSign(t, "ec", roClaims(p, parWeb, inner))},
		"state": {"st-query"}, "scope": {"openid api.write"}, "response_type": {"code"}, "prompt": {"none"}}
	loc := p.SignIn(t, p.Browser(t), p.URL+"/authorize?"+q.Encode(), "alice", "alice-password", "allow")
	tok, err := webOAuth2(p).Exchange(context.Background(), codeFrom(t, p, loc, parWebRedirect, "st-object"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.Extra("scope") != "openid api.read" {
		t.Errorf("scope %v: the object's", tok.Extra("scope"))
	}

	bad := url.Values{"client_id": {parWeb}, "request": {roSign(t, "ec-other", roClaims(p, parWeb, inner))},
		"redirect_uri": {parWebRedirect}, "state": {"st-query"}, "response_type": {"code"}}
	if e := errorFrom(t, p, authtest.Get(t, p.Browser(t), p.URL+"/authorize?"+bad.Encode()), parWebRedirect, "st-query"); e != "invalid_request_object" {
		t.Errorf("wrong key with a registered redirect_uri: %s", e)
	}
	none := url.Values{"client_id": {parWeb}, "request": {unsignedJWT(t, map[string]any{"alg": "none"}, roClaims(p, parWeb, inner))}}
	wantErrorPage(t, "alg none without a redirect_uri", authtest.Get(t, p.Browser(t), p.URL+"/authorize?"+none.Encode()), "unsigned (alg none)")

	// A verified object still obeys PAR-required: par-fapi signs it well,
	// and is sent to push it.
	fapi, _ := authzForm(parFAPI, parFAPIRedir, "st-fapi")
	q = url.Values{"client_id": {parFAPI}, "request": {roSign(t, "ec", roClaims(p, parFAPI, fapi))}}
	if e := errorFrom(t, p, authtest.Get(t, p.Browser(t), p.URL+"/authorize?"+q.Encode()), parFAPIRedir, "st-fapi"); e != "invalid_request" {
		t.Errorf("fapi2 request object without PAR: %s", e)
	}
}
