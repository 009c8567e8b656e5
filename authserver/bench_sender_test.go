package authserver_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"

	"strings"
	"testing"

	"github.com/authserver-dev/authserver/authserver/dpop"
)

// BenchmarkHTTPClientCredentialsSenderConstrained32 is
// BenchmarkHTTPClientCredentials32 (loopback HTTP, 32 goroutines, at most
// 32 connections) for each way a client can prove itself: a secret, a
// secret and a DPoP proof, a private_key_jwt assertion (ES256), and both.
// Assertions and proofs carry a fresh jti each, so they are signed before
// the clock starts (a client's cost, not the server's); the server checks
// each signature and records each jti in the store's replay cache.
func BenchmarkHTTPClientCredentialsSenderConstrained32(b *testing.B) {
	env := startPK(b, nil)
	p := env.p
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	signer, err := dpop.NewSigner(key, "")
	if err != nil {
		b.Fatal(err)
	}
	signer.Now = p.Clock.Now
	for _, tc := range []struct {
		name             string
		assertion, proof bool
	}{{"secret", false, false}, {"secret+dpop", false, true}, {"private_key_jwt", true, false}, {"private_key_jwt+dpop", true, true}} {
		b.Run(tc.name, func(b *testing.B) {
			type request struct {
				body  string
				proof string
			}
			reqs := make(chan request, b.N)
			for range b.N {
				var r request
				form := clientCredentialsForm()
				if tc.assertion {
					claims := pkClaims(p, pkInline)
					form = withAssertion(form, pkKeys()["ec"].sign(b, claims))
				}
				r.body = form.Encode()
				if tc.proof {
					if r.proof, err = signer.Proof(http.MethodPost, p.URL+"/token", dpop.ProofOptions{}); err != nil {
						b.Fatal(err)
					}
				}
				reqs <- r
			}
			c := httpClient32()
			b.SetParallelism(16)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := <-reqs
					req, _ := http.NewRequest(http.MethodPost, p.URL+"/token", strings.NewReader(r.body))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					if !tc.assertion {
						req.SetBasicAuth("service", "service-secret-0123456789abcdefghij")
					}
					if r.proof != "" {
						req.Header.Set("DPoP", r.proof)
					}
					resp, err := c.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					var m map[string]any
					_ = json.NewDecoder(resp.Body).Decode(&m)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Fatalf("status %d %v", resp.StatusCode, m)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}

}
