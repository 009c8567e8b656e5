package resource_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver-dev/authserver/resource"
)

const testAudience = "https://api.example.test"

// testKeys are generated once per test binary: RSA generation is slow.
var testKeys = sync.OnceValue(func() map[string]crypto.Signer {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return map[string]crypto.Signer{"ES256": ec, "RS256": rs, "EdDSA": ed}
})

// signingKey is one key of the fake issuer.
type signingKey struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

// fakeIssuer serves discovery and a JWKS over httptest and signs tokens
// with go-jose, the way our provider does: the JWKS carries an ETag derived
// from its content, answers 304 to a matching If-None-Match, and carries
// cacheControl on both answers.
type fakeIssuer struct {
	srv          *httptest.Server
	mu           sync.Mutex
	keys         []signingKey // published keys
	cacheControl string       // Cache-Control of JWKS answers; none when empty

	jwksHits        atomic.Int64 // JWKS answered in full (200)
	jwksRequests    atomic.Int64 // every JWKS request, 304s and 503s included
	jwksConditional atomic.Int64 // JWKS requests with If-None-Match
	jwksNotModified atomic.Int64 // JWKS answered 304
	down            atomic.Bool  // answer 503 to everything
}

func newFakeIssuer(tb testing.TB) *fakeIssuer {
	tb.Helper()
	f := &fakeIssuer{}
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		f.keys = append(f.keys, signingKey{kid: "key-" + alg, alg: jose.SignatureAlgorithm(alg), priv: testKeys()[alg]})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"issuer": f.srv.URL, "jwks_uri": f.srv.URL + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		body, etag := f.jwksDocument()
		h := w.Header()
		if cc := f.cacheControlValue(); cc != "" {
			h.Set("Cache-Control", cc)
		}
		h.Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			f.jwksNotModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		f.jwksHits.Add(1)
		h.Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(body)
	})
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/jwks" {
			f.jwksRequests.Add(1)
			if r.Header.Get("If-None-Match") != "" {
				f.jwksConditional.Add(1)
			}
		}
		if f.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	tb.Cleanup(f.srv.Close)
	return f
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeIssuer) jwks() jose.JSONWebKeySet {
	f.mu.Lock()
	defer f.mu.Unlock()
	var set jose.JSONWebKeySet
	for _, k := range f.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"})
	}
	return set
}

// jwksDocument returns the JWKS as served and its ETag, which changes
// whenever the key set does.
func (f *fakeIssuer) jwksDocument() (body []byte, etag string) {
	body, err := json.Marshal(f.jwks())
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(body)
	return body, `"` + hex.EncodeToString(sum[:8]) + `"`
}

// setCacheControl sets the Cache-Control of later JWKS answers; "" sends none.
func (f *fakeIssuer) setCacheControl(v string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cacheControl = v
}

func (f *fakeIssuer) cacheControlValue() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cacheControl
}

// rotate publishes a new ES256 key and returns it.
func (f *fakeIssuer) rotate(tb testing.TB, kid string) signingKey {
	tb.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	k := signingKey{kid: kid, alg: jose.ES256, priv: priv}
	f.mu.Lock()
	f.keys = append(f.keys, k)
	f.mu.Unlock()
	return k
}

func (f *fakeIssuer) key(alg string) signingKey {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.keys {
		if string(k.alg) == alg {
			return k
		}
	}
	panic("no key for " + alg)
}

// claims returns a valid RFC 9068 payload for now.
func (f *fakeIssuer) claims(now time.Time) map[string]any {
	return map[string]any{
		"iss":       f.srv.URL,
		"sub":       "alice",
		"aud":       []string{testAudience, "https://other.example.test"},
		"client_id": "demo-web",
		"scope":     "openid profile api.read",
		"exp":       now.Add(5 * time.Minute).Unix(),
		"iat":       now.Add(-time.Minute).Unix(),
		"nbf":       now.Add(-time.Minute).Unix(),
		"jti":       "5f0c4d3e-8a1b-4c2d-9e7f-0a1b2c3d4e5f",
	}
}

// sign signs claims with k and the given typ header.
func sign(tb testing.TB, k signingKey, typ string, claims map[string]any) string {
	tb.Helper()
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}}, opts)
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

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newVerifier starts a verifier against f with a fake clock; opts adjust
// the Config before it is used.
func newVerifier(tb testing.TB, f *fakeIssuer, clock *fakeClock, opts ...func(*resource.Config)) *resource.Verifier {
	tb.Helper()
	cfg := resource.Config{
		Issuer:     f.srv.URL,
		Audience:   testAudience,
		HTTPClient: f.srv.Client(),
		Now:        clock.Now,
		Logger:     discardLogger(),
	}
	for _, o := range opts {
		o(&cfg)
	}
	v, err := resource.NewVerifier(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("NewVerifier: %v", err)
	}
	return v
}
