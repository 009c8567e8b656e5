package dpop_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver-dev/authserver/authserver/dpop"
)

const (
	testMethod = "POST"
	testURL    = "https://server.example.com/token"
)

// testKeys are generated once per test binary: RSA generation is slow.
var testKeys = sync.OnceValue(func() map[string]crypto.Signer {
	must := func(k crypto.Signer, err error) crypto.Signer {
		if err != nil {
			panic(err)
		}
		return k
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return map[string]crypto.Signer{
		"P-256":    must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)),
		"P-256b":   must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)),
		"P-384":    must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader)),
		"Ed25519":  ed,
		"RSA-2048": must(rsa.GenerateKey(rand.Reader, 2048)),
		"RSA-1024": must(rsa.GenerateKey(rand.Reader, 1024)),
	}
})

// fakeClock is a settable clock; tests move it instead of sleeping.
type fakeClock struct{ t atomic.Pointer[time.Time] }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.set(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	return c
}
func (c *fakeClock) Now() time.Time          { return *c.t.Load() }
func (c *fakeClock) set(t time.Time)         { c.t.Store(&t) }
func (c *fakeClock) advance(d time.Duration) { c.set(c.Now().Add(d)) }

func newSigner(tb testing.TB, key, alg string, clock *fakeClock) *dpop.Signer {
	tb.Helper()
	s, err := dpop.NewSigner(testKeys()[key], alg)
	if err != nil {
		tb.Fatalf("NewSigner(%s, %q): %v", key, alg, err)
	}
	s.Now = clock.Now
	return s
}

func newVerifier(tb testing.TB, clock *fakeClock, opts ...func(*dpop.Config)) *dpop.Verifier {
	tb.Helper()
	cfg := dpop.Config{Now: clock.Now}
	for _, o := range opts {
		o(&cfg)
	}
	v, err := dpop.NewVerifier(cfg)
	if err != nil {
		tb.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// baseClaims are the claims of a valid proof for testMethod testURL.
func baseClaims(now time.Time) map[string]any {
	return map[string]any{"jti": rand.Text(), "htm": testMethod, "htu": testURL, "iat": now.Unix()}
}

// with returns a copy of m with changes applied; a nil value deletes.
func with(m map[string]any, changes map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for k, v := range changes {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// craft signs claims with key under alg, with a header of typ dpop+jwt and
// the public jwk of key, changed by header (a nil value deletes). It is how
// tests make the proofs a Signer would refuse to make.
func craft(tb testing.TB, key crypto.Signer, alg string, header, claims map[string]any) string {
	tb.Helper()
	h := with(map[string]any{"typ": "dpop+jwt", "jwk": jose.JSONWebKey{Key: key.Public()}}, header)
	opts := &jose.SignerOptions{}
	for k, v := range h {
		opts.WithHeader(jose.HeaderKey(k), v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: key}, opts)
	if err != nil {
		tb.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		tb.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

func b64(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
