package keys

import (
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

func benchManager(b *testing.B) *Manager {
	b.Helper()
	m := NewManager(&memStore{}, testKEK(1), allAlgs, Options{})
	mustLoad(b, m)
	return m
}

// BenchmarkSign signs a typical 335-byte access-token payload with
// "typ": "at+jwt", as the token endpoint does, with each algorithm and
// with the 3072-bit RSA keys Options.RSABits allows.
func BenchmarkSign(b *testing.B) {
	m := benchManager(b)
	rsa3072 := NewManager(&memStore{}, testKEK(1), []string{RS256}, Options{RSABits: 3072})
	mustLoad(b, rsa3072)
	payload := []byte(samplePayload)
	header := map[jose.HeaderKey]interface{}{"typ": "at+jwt"}
	for _, bc := range []struct {
		name, alg string
		m         *Manager
	}{
		{ES256, ES256, m},
		{RS256, RS256, m},
		{"RS256-3072", RS256, rsa3072},
		{EdDSA, EdDSA, m},
	} {
		alg, m := bc.alg, bc.m
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				if _, err := m.Sign(alg, header, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSignParallel is BenchmarkSign from every core at once.
func BenchmarkSignParallel(b *testing.B) {
	m := benchManager(b)
	payload := []byte(samplePayload)
	header := map[jose.HeaderKey]interface{}{"typ": "at+jwt"}
	for _, alg := range allAlgs {
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := m.Sign(alg, header, payload); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkGoJoseSign is the same work done with a go-jose Signer built per
// call (the extra headers are fixed when a go-jose Signer is built), kept as
// the baseline that Sign's own serialisation is measured against.
func BenchmarkGoJoseSign(b *testing.B) {
	m := benchManager(b)
	payload := []byte(samplePayload)
	s := m.snap.Load()
	for _, alg := range allAlgs {
		k := s.active[alg]
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				opts := (&jose.SignerOptions{}).WithType("at+jwt")
				signer, err := jose.NewSigner(jose.SigningKey{
					Algorithm: jose.SignatureAlgorithm(alg),
					Key:       jose.JSONWebKey{Key: k.signer, KeyID: k.kid},
				}, opts)
				if err != nil {
					b.Fatal(err)
				}
				jws, err := signer.Sign(payload)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := jws.CompactSerialize(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkJWKS(b *testing.B) {
	m := benchManager(b)
	b.ReportAllocs()
	for b.Loop() {
		_ = m.JWKS()
		_ = m.ETag()
	}
}
