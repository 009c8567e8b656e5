package resource_test

import (
	"context"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// realisticClaims is what our provider puts in an access token.
func realisticClaims(f *fakeIssuer, clock *fakeClock) map[string]any {
	c := f.claims(clock.Now())
	c["aud"] = testAudience
	c["scope"] = "openid profile email offline_access api.read api.write"
	c["sub"] = "8c5e3f0a-2b1d-4e6f-9a7c-3d2e1f0a9b8c"
	return c
}

// BenchmarkVerify measures Verify on a cached key (the hot path).
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			clock := newFakeClock()
			f := newFakeIssuer(b)
			v := newVerifier(b, f, clock)
			raw := sign(b, f.key(alg), "at+jwt", realisticClaims(f, clock))
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRawJOSE is the floor: go-jose parsing and verifying the same
// token with the key in hand, decoding the same claims, without our checks.
func BenchmarkRawJOSE(b *testing.B) {
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			clock := newFakeClock()
			f := newFakeIssuer(b)
			k := f.key(alg)
			raw := sign(b, k, "at+jwt", realisticClaims(f, clock))
			algs := []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA}
			pub := k.priv.Public()
			b.ReportAllocs()
			for b.Loop() {
				tok, err := jwt.ParseSigned(raw, algs)
				if err != nil {
					b.Fatal(err)
				}
				var c struct {
					jwt.Claims
					ClientID string `json:"client_id"`
					Scope    string `json:"scope"`
				}
				if err := tok.Claims(pub, &c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
