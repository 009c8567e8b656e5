package clientkeys_test

import (
	"context"
	"testing"

	"github.com/authserver-dev/authserver/authserver/clientkeys"
)

// BenchmarkVerifyAssertion measures VerifyAssertion as the token endpoint
// runs it for a private_key_jwt client with an inline jwks: every check,
// the signature and the in-memory replay cache (the provider's shared
// cache is its store, measured with the endpoint). Each iteration needs a
// fresh assertion (a replay would be refused), so b.N are signed before the
// timer starts.
func BenchmarkVerifyAssertion(b *testing.B) {
	for _, c := range []jwtSpec{
		{key: "P-256", alg: "ES256", kid: "ec"},
		{key: "RSA-2048", alg: "RS256", kid: "rsa"},
		{key: "RSA-2048", alg: "PS256", kid: "rsa"},
		{key: "Ed25519", alg: "EdDSA", kid: "ed"},
	} {
		b.Run(c.alg, func(b *testing.B) {
			clock := newFakeClock()
			v := newVerifier(b, clock, func(cfg *clientkeys.Config) {
				cfg.ReplayCache = clientkeys.NewMemoryReplayCache(b.N+1, clock.Now)
			})
			set := clientSet(b)
			assertions := make([]string, b.N)
			for i := range assertions {
				assertions[i] = sign(b, c, assertionClaims(clock))
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := v.VerifyAssertion(ctx, assertions[i], testClientID, set, testAudiences, clientkeys.AssertionPolicy{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyRequestObject measures a typical request object (claims
// and authorization_details included) signed with ES256.
func BenchmarkVerifyRequestObject(b *testing.B) {
	clock := newFakeClock()
	v := newVerifier(b, clock)
	set := clientSet(b)
	ro := sign(b, jwtSpec{key: "P-256", alg: "ES256", kid: "ec", typ: clientkeys.RequestObjectType}, requestClaims(clock))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.VerifyRequestObject(ctx, ro, testClientID, set, testIssuer, clientkeys.RequestObjectPolicy{}); err != nil {
			b.Fatal(err)
		}
	}
}
