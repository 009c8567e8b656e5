package clientkeys_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver-dev/authserver/authserver/clientkeys"
)

const (
	testIssuer   = "https://as.example.com"
	testTokenURL = "https://as.example.com/token"
	testClientID = "client-1"
)

var testAudiences = []string{testIssuer, testTokenURL}

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
		"P-256":     must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)),
		"P-256b":    must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)),
		"P-384":     must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader)),
		"P-521":     must(ecdsa.GenerateKey(elliptic.P521(), rand.Reader)),
		"Ed25519":   ed,
		"RSA-2048":  must(rsa.GenerateKey(rand.Reader, 2048)),
		"RSA-2048b": must(rsa.GenerateKey(rand.Reader, 2048)),
		"RSA-1024":  must(rsa.GenerateKey(rand.Reader, 1024)),
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

// jwk is the public JWK of one of testKeys.
func jwk(name, kid string) jose.JSONWebKey {
	return jose.JSONWebKey{Key: testKeys()[name].Public(), KeyID: kid}
}

// jwksJSON marshals keys as a JWK Set.
func jwksJSON(tb testing.TB, keys ...jose.JSONWebKey) []byte {
	tb.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// keySet parses a JWK Set of public keys named by testKeys name and kid.
func keySet(tb testing.TB, keys ...jose.JSONWebKey) *clientkeys.KeySet {
	tb.Helper()
	set, err := clientkeys.ParseKeySet(jwksJSON(tb, keys...))
	if err != nil {
		tb.Fatalf("ParseKeySet: %v", err)
	}
	return set
}

// jwtSpec says how to sign a test JWT.
type jwtSpec struct {
	key string // name in testKeys
	alg string
	kid string // "" for no kid header
	typ string // "" for no typ header
}

func sign(tb testing.TB, s jwtSpec, claims map[string]any) string {
	tb.Helper()
	return signWith(tb, testKeys()[s.key], s, claims)
}

func signWith(tb testing.TB, key any, s jwtSpec, claims map[string]any) string {
	tb.Helper()
	opts := &jose.SignerOptions{}
	if s.typ != "" {
		opts = opts.WithType(jose.ContentType(s.typ))
	}
	if s.kid != "" {
		opts = opts.WithHeader("kid", s.kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(s.alg), Key: key}, opts)
	if err != nil {
		tb.Fatalf("NewSigner(%s): %v", s.alg, err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		tb.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// unsigned makes a JWT with alg none by hand: no library makes one.
func unsigned(tb testing.TB, header, claims map[string]any) string {
	tb.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "."
}

var jtiCounter atomic.Int64

// assertionClaims are the claims of a valid client assertion at clock's
// now, with a fresh jti.
func assertionClaims(clock *fakeClock) map[string]any {
	now := clock.Now().Unix()
	return map[string]any{
		"iss": testClientID,
		"sub": testClientID,
		"aud": testIssuer,
		"jti": fmt.Sprintf("jti-%d", jtiCounter.Add(1)),
		"iat": now,
		"exp": now + 60,
	}
}

func newVerifier(tb testing.TB, clock *fakeClock, opts ...func(*clientkeys.Config)) *clientkeys.Verifier {
	tb.Helper()
	cfg := clientkeys.Config{Now: clock.Now}
	for _, o := range opts {
		o(&cfg)
	}
	v, err := clientkeys.NewVerifier(cfg)
	if err != nil {
		tb.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// wantRefusal fails unless err is an *Error with code whose Reason
// contains reason, and (when cause is not nil) wraps cause.
func wantRefusal(tb testing.TB, err error, code, reason string, cause error) {
	tb.Helper()
	var e *clientkeys.Error
	if !errors.As(err, &e) {
		tb.Fatalf("err = %v (%T), want a *clientkeys.Error", err, err)
	}
	if e.Code != code {
		tb.Errorf("Code = %q, want %q (%v)", e.Code, code, err)
	}
	if !strings.Contains(e.Reason, reason) {
		tb.Errorf("Reason = %q, want it to contain %q", e.Reason, reason)
	}
	if cause != nil && !errors.Is(err, cause) {
		tb.Errorf("err = %v, want it to wrap %v", err, cause)
	}
}
