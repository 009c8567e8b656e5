package clientkeys_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"testing"

	"github.com/authserver-dev/authserver/authserver/clientkeys"
)

// FuzzVerifyAssertion: whatever arrives as client_assertion, VerifyAssertion
// neither panics nor accepts it unless it is the client's own, and every
// refusal is an *Error (a server error needs a failing replay cache or key
// source, which this fuzz has not).
func FuzzVerifyAssertion(f *testing.F) {
	clock := newFakeClock()
	set := clientSet(f)
	f.Add(sign(f, jwtSpec{key: "P-256", alg: "ES256", kid: "ec"}, assertionClaims(clock)))
	f.Add(unsigned(f, map[string]any{"alg": "none"}, assertionClaims(clock)))
	f.Add("e30.e30.")
	f.Add("a.b.c.d.e")
	f.Fuzz(func(t *testing.T, assertion string) {
		v := newVerifier(t, clock)
		a, err := v.VerifyAssertion(context.Background(), assertion, testClientID, set, testAudiences, clientkeys.AssertionPolicy{})
		var e *clientkeys.Error
		switch {
		case err == nil && a.ClientID != testClientID:
			t.Fatalf("accepted for %q", a.ClientID)
		case err != nil && !errors.As(err, &e):
			t.Fatalf("not an *Error: %v", err)
		}
		_, _ = clientkeys.UnverifiedClientID(assertion)
	})
}

// FuzzVerifyRequestObject: no panic, and parameters only with no error.
func FuzzVerifyRequestObject(f *testing.F) {
	clock := newFakeClock()
	set := clientSet(f)
	f.Add(sign(f, jwtSpec{key: "P-256", alg: "ES256", kid: "ec"}, requestClaims(clock)))
	f.Add("e30.e30.")
	f.Fuzz(func(t *testing.T, ro string) {
		v := newVerifier(t, clock)
		params, err := v.VerifyRequestObject(context.Background(), ro, testClientID, set, testIssuer, clientkeys.RequestObjectPolicy{})
		if (err == nil) == (params == nil) {
			t.Fatalf("params = %v with err = %v", params, err)
		}
	})
}

// FuzzParseKeySet: a JWK Set from a registration request or a jwks_uri
// never panics the parser, and an accepted one holds only public keys.
func FuzzParseKeySet(f *testing.F) {
	f.Add(string(jwksJSON(f, jwk("P-256", "a"), jwk("RSA-2048", "b"), jwk("Ed25519", "c"))))
	f.Add(`{"keys":[{"kty":"oct","k":"AAAA"}]}`)
	f.Add(`{"keys":[{"kty":"EC","crv":"P-256","x":"","y":"","d":""}]}`)
	f.Fuzz(func(t *testing.T, doc string) {
		set, err := clientkeys.ParseKeySet([]byte(doc))
		if err != nil {
			return
		}
		for _, k := range set.All() {
			switch k.Public.(type) {
			case *ecdsa.PublicKey, *rsa.PublicKey, ed25519.PublicKey:
			default:
				t.Fatalf("key %q of type %T", k.ID, k.Public)
			}
		}
	})
}
