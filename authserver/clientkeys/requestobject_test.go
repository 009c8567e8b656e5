package clientkeys_test

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/clientkeys"
)

// requestClaims are the claims of a valid request object at clock's now.
func requestClaims(clock *fakeClock) map[string]any {
	now := clock.Now().Unix()
	return map[string]any{
		"iss":           testClientID,
		"aud":           testIssuer,
		"exp":           now + 300,
		"nbf":           now,
		"iat":           now,
		"jti":           "ro-1",
		"client_id":     testClientID,
		"response_type": "code",
		"redirect_uri":  "https://client.example/cb",
		"scope":         "openid profile",
		"state":         "xyz",
		"max_age":       300,
		"claims":        map[string]any{"userinfo": map[string]any{"email": map[string]any{"essential": true}}},
		"authorization_details": []any{
			map[string]any{"type": "payment_initiation", "instructedAmount": map[string]any{"currency": "EUR", "amount": "123.50"}},
		},
	}
}

func TestVerifyRequestObjectReturnsItsParameters(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	v := newVerifier(t, clock)
	claims := requestClaims(clock)
	claims["prompt"] = nil // null means absent
	ro := sign(t, jwtSpec{key: "P-256", alg: "ES256", kid: "ec", typ: clientkeys.RequestObjectType}, claims)
	params, err := v.VerifyRequestObject(context.Background(), ro, testClientID, clientSet(t), testIssuer, clientkeys.RequestObjectPolicy{})
	if err != nil {
		t.Fatalf("VerifyRequestObject: %v", err)
	}
	want := url.Values{
		"client_id":             {testClientID},
		"response_type":         {"code"},
		"redirect_uri":          {"https://client.example/cb"},
		"scope":                 {"openid profile"},
		"state":                 {"xyz"},
		"max_age":               {"300"},
		"claims":                {`{"userinfo":{"email":{"essential":true}}}`},
		"authorization_details": {`[{"instructedAmount":{"amount":"123.50","currency":"EUR"},"type":"payment_initiation"}]`},
	}
	if got, wantS := params.Encode(), want.Encode(); got != wantS {
		t.Errorf("params =\n%s\nwant\n%s", got, wantS)
	}
	// The claims parameter is JSON the caller can parse as it would the
	// query parameter.
	var c map[string]any
	if err := json.Unmarshal([]byte(params.Get("claims")), &c); err != nil {
		t.Errorf("claims is not JSON: %v", err)
	}
}

func TestVerifyRequestObject(t *testing.T) {
	t.Parallel()
	es256 := jwtSpec{key: "P-256", alg: "ES256", kid: "ec", typ: clientkeys.RequestObjectType}
	fapi := clientkeys.FAPI2RequestObjectPolicy()
	for _, c := range []struct {
		name   string
		spec   jwtSpec
		edit   func(c map[string]any, now int64)
		raw    func(t *testing.T, c map[string]any) string
		policy clientkeys.RequestObjectPolicy
		reason string
		cause  error
	}{
		{name: "good", spec: es256},
		{name: "no typ", spec: jwtSpec{key: "P-256", alg: "ES256", kid: "ec"}},
		{name: "typ with application/", spec: jwtSpec{key: "P-256", alg: "ES256", kid: "ec", typ: "application/oauth-authz-req+jwt"}},
		{name: "aud array with the issuer", spec: es256, edit: func(c map[string]any, _ int64) { c["aud"] = []string{"https://x.example", testIssuer} }},
		{name: "no client_id claim", spec: es256, edit: func(c map[string]any, _ int64) { delete(c, "client_id") }},
		{name: "no exp without a policy", spec: es256, edit: func(c map[string]any, _ int64) { delete(c, "exp") }},
		{name: "FAPI 2.0", spec: jwtSpec{key: "RSA-2048", alg: "PS256", kid: "rsa"}, policy: fapi},
		{name: "FAPI 2.0, nbf 59 minutes ago", spec: es256, policy: fapi, edit: func(c map[string]any, now int64) { c["nbf"], c["exp"] = now-3540, now+60 }},

		{name: "wrong aud", spec: es256, edit: func(c map[string]any, _ int64) { c["aud"] = testTokenURL }, reason: "aud claim that does not name this server"},
		{name: "no aud", spec: es256, edit: func(c map[string]any, _ int64) { delete(c, "aud") }, reason: "aud claim is missing"},
		{name: "wrong iss", spec: es256, edit: func(c map[string]any, _ int64) { c["iss"] = "client-2" }, reason: "iss claim other than the client_id"},
		{name: "no iss", spec: es256, edit: func(c map[string]any, _ int64) { delete(c, "iss") }, reason: "has no iss claim"},
		{name: "client_id mismatch", spec: es256, edit: func(c map[string]any, _ int64) { c["client_id"] = "client-2" }, reason: "client_id claim other than the client_id parameter"},
		{name: "nested request_uri", spec: es256, edit: func(c map[string]any, _ int64) { c["request_uri"] = "https://client.example/ro" }, reason: "contains a request_uri claim"},
		{name: "nested request", spec: es256, edit: func(c map[string]any, _ int64) { c["request"] = "e30.e30." }, reason: "contains a request claim"},
		{name: "alg none", raw: func(t *testing.T, c map[string]any) string {
			return unsigned(t, map[string]any{"alg": "none", "typ": clientkeys.RequestObjectType}, c)
		}, reason: "is unsigned (alg none)"},
		{name: "HS256", raw: func(t *testing.T, c map[string]any) string {
			return signWith(t, jwksJSON(t, jwk("P-256", "ec")), jwtSpec{alg: "HS256", kid: "ec"}, c)
		}, reason: "symmetric algorithm"},
		{name: "typ JWT", spec: jwtSpec{key: "P-256", alg: "ES256", kid: "ec", typ: "JWT"}, reason: `typ header this server does not accept: use "oauth-authz-req+jwt" or no typ`},
		{name: "typ of a DPoP proof", spec: jwtSpec{key: "P-256", alg: "ES256", kid: "ec", typ: "dpop+jwt"}, reason: "typ header"},
		{name: "expired", spec: es256, edit: func(c map[string]any, now int64) { c["exp"] = now - 1 }, reason: "has expired", cause: clientkeys.ErrExpired},
		{name: "nbf in the future", spec: es256, edit: func(c map[string]any, now int64) { c["nbf"] = now + 600 }, reason: "not valid yet"},
		{name: "signed by another key", spec: jwtSpec{key: "P-256b", alg: "ES256", kid: "ec"}, reason: "signature does not verify", cause: clientkeys.ErrBadSignature},
		{name: "encrypted", raw: func(*testing.T, map[string]any) string { return "a.b.c.d.e" }, reason: "encrypted (JWE)"},
		{name: "FAPI 2.0 without exp", spec: es256, policy: fapi, edit: func(c map[string]any, _ int64) { delete(c, "exp") }, reason: "has no exp claim"},
		{name: "FAPI 2.0 without nbf", spec: es256, policy: fapi, edit: func(c map[string]any, _ int64) { delete(c, "nbf") }, reason: "has no nbf claim"},
		{name: "FAPI 2.0, nbf too old", spec: es256, policy: fapi, edit: func(c map[string]any, now int64) { c["nbf"], c["exp"] = now-3601, now+60 }, reason: "is too old"},
		{name: "FAPI 2.0, lives too long", spec: es256, policy: fapi, edit: func(c map[string]any, now int64) { c["exp"] = now + 3601 }, reason: "at most 1h0m0s after nbf"},
		{name: "FAPI 2.0 refuses RS256", spec: jwtSpec{key: "RSA-2048", alg: "RS256", kid: "rsa"}, policy: fapi, reason: "RS256, which is not allowed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			v := newVerifier(t, clock)
			claims := requestClaims(clock)
			if c.edit != nil {
				c.edit(claims, clock.Now().Unix())
			}
			var ro string
			if c.raw != nil {
				ro = c.raw(t, claims)
			} else {
				ro = sign(t, c.spec, claims)
			}
			params, err := v.VerifyRequestObject(context.Background(), ro, testClientID, clientSet(t), testIssuer, c.policy)
			if c.reason == "" {
				if err != nil {
					t.Fatalf("VerifyRequestObject: %v", err)
				}
				if params.Get("response_type") != "code" || params.Has("iss") || params.Has("aud") || params.Has("exp") {
					t.Errorf("params = %v", params)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted: %v", params)
			}
			wantRefusal(t, err, clientkeys.CodeInvalidRequestObject, c.reason, c.cause)
		})
	}
}

// A request object may be presented more than once (a reload of the login
// page re-sends the authorization request): it has no replay check.
func TestVerifyRequestObjectMayBeReused(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	v := newVerifier(t, clock)
	ro := sign(t, jwtSpec{key: "P-256", alg: "ES256", kid: "ec"}, requestClaims(clock))
	for range 2 {
		if _, err := v.VerifyRequestObject(context.Background(), ro, testClientID, clientSet(t), testIssuer, clientkeys.RequestObjectPolicy{}); err != nil {
			t.Fatal(err)
		}
		clock.advance(time.Second)
	}
}
