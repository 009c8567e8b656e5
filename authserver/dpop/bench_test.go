package dpop_test

import (
	"context"
	"testing"

	"github.com/authserver-dev/authserver/authserver/dpop"
)

// BenchmarkVerify measures Verify of a proof with an access token, as a
// resource server or userinfo sees it: every check, the thumbprint, and
// the in-memory replay cache. Each iteration needs a fresh proof (a replay
// would be refused early), so b.N proofs are made before the timer starts.
func BenchmarkVerify(b *testing.B) {
	for _, c := range []struct{ name, key, alg string }{
		{"ES256", "P-256", ""},
		{"EdDSA", "Ed25519", ""},
		{"PS256", "RSA-2048", ""},
	} {
		b.Run(c.name, func(b *testing.B) {
			clock := newFakeClock()
			s := newSigner(b, c.key, c.alg, clock)
			v := newVerifier(b, clock, func(cfg *dpop.Config) {
				cfg.ReplayCache = dpop.NewMemoryReplayCache(b.N+1, clock.Now)
			})
			proofs := make([]string, b.N)
			for i := range proofs {
				p, err := s.Proof(testMethod, testURL, dpop.ProofOptions{AccessToken: testToken})
				if err != nil {
					b.Fatal(err)
				}
				proofs[i] = p
			}
			jkt := s.Thumbprint()
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				_, err := v.Verify(ctx, dpop.Request{
					Proofs: proofs[i : i+1], Method: testMethod, URL: testURL, AccessToken: testToken, JKT: jkt,
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkProof measures making one proof, the client's cost per request.
func BenchmarkProof(b *testing.B) {
	for _, c := range []struct{ name, key string }{{"ES256", "P-256"}, {"EdDSA", "Ed25519"}} {
		b.Run(c.name, func(b *testing.B) {
			s := newSigner(b, c.key, "", newFakeClock())
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Proof(testMethod, testURL, dpop.ProofOptions{AccessToken: testToken}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
