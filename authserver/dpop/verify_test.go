package dpop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver-dev/authserver/authserver/dpop"
)

const testToken = "eyJhbGciOiJFUzI1NiJ9.access-token.sig"

func TestVerify(t *testing.T) {
	type env struct {
		clock *fakeClock
		now   time.Time
	}
	// A proof builder gets a fresh clock; req starts as testMethod testURL.
	type tc struct {
		name       string
		proofs     func(t *testing.T, e env) []string
		req        func(r *dpop.Request) // adjusts the request
		wantCode   string                // "" means accepted
		wantReason string                // substring of Error.Reason
		wantIs     error
	}
	signed := func(key, alg string, opts dpop.ProofOptions) func(*testing.T, env) []string {
		return func(t *testing.T, e env) []string {
			p, err := newSigner(t, key, alg, e.clock).Proof(testMethod, testURL, opts)
			if err != nil {
				t.Fatal(err)
			}
			return []string{p}
		}
	}
	// crafted is a P-256 proof with the header and claims changed.
	crafted := func(header, claims map[string]any) func(*testing.T, env) []string {
		return func(t *testing.T, e env) []string {
			return []string{craft(t, testKeys()["P-256"], "ES256", header, with(baseClaims(e.now), claims))}
		}
	}
	withHTU := func(htu string) func(*testing.T, env) []string { return crafted(nil, map[string]any{"htu": htu}) }
	requestURL := func(u string) func(*dpop.Request) { return func(r *dpop.Request) { r.URL = u } }
	at := func(d time.Duration) func(*testing.T, env) []string {
		return func(t *testing.T, e env) []string {
			return []string{craft(t, testKeys()["P-256"], "ES256", nil, with(baseClaims(e.now), map[string]any{"iat": e.now.Add(d).Unix()}))}
		}
	}
	raw := func(s ...string) func(*testing.T, env) []string { return func(*testing.T, env) []string { return s } }
	const bad = dpop.CodeInvalidProof

	cases := []tc{
		// Accepted.
		{name: "ES256", proofs: signed("P-256", "", dpop.ProofOptions{})},
		{name: "EdDSA", proofs: signed("Ed25519", "", dpop.ProofOptions{})},
		{name: "PS256", proofs: signed("RSA-2048", "", dpop.ProofOptions{})},
		{name: "RS256", proofs: signed("RSA-2048", "RS256", dpop.ProofOptions{})},
		{name: "typ application/dpop+jwt", proofs: crafted(map[string]any{"typ": "application/dpop+jwt"}, nil)},
		{name: "ath of the access token", proofs: signed("P-256", "", dpop.ProofOptions{AccessToken: testToken}),
			req: func(r *dpop.Request) { r.AccessToken = testToken }},
		{name: "query of the request ignored", proofs: signed("P-256", "", dpop.ProofOptions{}), req: requestURL(testURL + "?a=b#frag")},
		{name: "query of htu ignored", proofs: withHTU(testURL + "?a=b")},
		{name: "htu scheme and host case, default port", proofs: withHTU("HTTPS://Server.EXAMPLE.com:443/token")},
		{name: "request with default port", proofs: signed("P-256", "", dpop.ProofOptions{}), req: requestURL("https://server.example.com:443/token")},
		{name: "http default port", proofs: withHTU("http://server.example.com/token"), req: requestURL("HTTP://server.example.com:80/token")},
		{name: "other port kept", proofs: withHTU("https://server.example.com:8443/token"), req: requestURL("https://server.example.com:8443/token")},
		{name: "empty path is /", proofs: withHTU("https://server.example.com"), req: requestURL("https://server.example.com/")},
		{name: "percent-encoded unreserved", proofs: withHTU("https://server.example.com/%74oken"), req: requestURL(testURL)},
		{name: "percent-encoding case", proofs: withHTU("https://server.example.com/a%2fb"), req: requestURL("https://server.example.com/a%2Fb")},
		{name: "dot segments", proofs: withHTU("https://server.example.com/a/./b/../../token")},
		{name: "IPv6 host", proofs: withHTU("https://[::1]:443/token"), req: requestURL("https://[::1]/token")},
		{name: "iat 59s ago", proofs: at(-59 * time.Second)},
		{name: "iat within the future leeway", proofs: at(4 * time.Second)},
		{name: "float iat", proofs: crafted(nil, map[string]any{"iat": 1772366400.5})},
		{name: "nonce accepted", proofs: signed("P-256", "", dpop.ProofOptions{Nonce: "n-1"}),
			req: func(r *dpop.Request) { r.CheckNonce = func(n string) bool { return n == "n-1" } }},
		{name: "expected key", proofs: signed("P-256", "", dpop.ProofOptions{}),
			req: func(r *dpop.Request) { r.JKT = newSigner(t, "P-256", "", newFakeClock()).Thumbprint() }},

		// §4.3 check 1: one header value.
		{name: "no proof", proofs: raw(), wantCode: bad, wantReason: "no DPoP proof"},
		{name: "two DPoP headers", proofs: func(t *testing.T, e env) []string {
			return append(signed("P-256", "", dpop.ProofOptions{})(t, e), signed("P-256", "", dpop.ProofOptions{})(t, e)...)
		}, wantCode: bad, wantReason: "more than one DPoP header"},
		{name: "two proofs in one header", proofs: func(t *testing.T, e env) []string {
			a, b := signed("P-256", "", dpop.ProofOptions{})(t, e), signed("P-256", "", dpop.ProofOptions{})(t, e)
			return []string{a[0] + ", " + b[0]}
		}, wantCode: bad, wantReason: "not a compact JWS"},
		// Check 2: a well-formed JWS.
		{name: "garbage", proofs: raw("not-a-jwt"), wantCode: bad, wantReason: "not a compact JWS"},
		{name: "empty", proofs: raw(""), wantCode: bad, wantReason: "not a compact JWS"},
		{name: "JWE shape", proofs: raw("a.b.c.d.e"), wantCode: bad, wantReason: "not a compact JWS"},
		{name: "JSON serialization", proofs: raw(`{"payload":"e30","signatures":[]}`), wantCode: bad, wantReason: "not a compact JWS"},
		{name: "header not JSON", proofs: raw(base64.RawURLEncoding.EncodeToString([]byte("nope")) + ".e30.c2ln"), wantCode: bad, wantReason: "not a JSON object"},
		{name: "oversized", proofs: raw(strings.Repeat("a", dpop.MaxProofSize+1)), wantCode: bad, wantReason: "longer than"},
		// Check 4: typ.
		{name: "typ JWT", proofs: crafted(map[string]any{"typ": "JWT"}, nil), wantCode: bad, wantReason: `typ is not "dpop+jwt"`},
		{name: "typ at+jwt", proofs: crafted(map[string]any{"typ": "at+jwt"}, nil), wantCode: bad, wantReason: `typ is not "dpop+jwt"`},
		{name: "no typ", proofs: crafted(map[string]any{"typ": nil}, nil), wantCode: bad, wantReason: `typ is not "dpop+jwt"`},
		// Check 5: alg.
		{name: "alg none", proofs: func(t *testing.T, e env) []string {
			jwk := jose.JSONWebKey{Key: testKeys()["P-256"].Public()}
			return []string{b64(map[string]any{"alg": "none", "typ": "dpop+jwt", "jwk": jwk}) + "." + b64(baseClaims(e.now)) + "."}
		}, wantCode: bad, wantReason: "alg is not one of"},
		{name: "HS256 with the public key as secret", proofs: func(t *testing.T, e env) []string {
			jwk := jose.JSONWebKey{Key: testKeys()["P-256"].Public()}
			input := b64(map[string]any{"alg": "HS256", "typ": "dpop+jwt", "jwk": jwk}) + "." + b64(baseClaims(e.now))
			pub := testKeys()["P-256"].Public().(*ecdsa.PublicKey)
			mac := hmac.New(sha256.New, pub.X.Bytes())
			mac.Write([]byte(input))
			return []string{input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))}
		}, wantCode: bad, wantReason: "alg is not one of"},
		{name: "alg not in the allow-list", proofs: signed("P-384", "", dpop.ProofOptions{}), wantCode: bad, wantReason: "alg is not one of ES256, EdDSA, PS256, RS256"},
		{name: "crit header", proofs: crafted(map[string]any{"crit": []string{"exp"}, "exp": 1}, nil), wantCode: bad, wantReason: "critical header"},
		// Checks 6 and 7: the jwk and the signature.
		{name: "no jwk", proofs: crafted(map[string]any{"jwk": nil}, nil), wantCode: bad, wantReason: "no jwk header"},
		{name: "jwk as a string", proofs: crafted(map[string]any{"jwk": "key"}, nil), wantCode: bad, wantReason: "no jwk header"},
		{name: "private key in the jwk", proofs: crafted(map[string]any{"jwk": jose.JSONWebKey{Key: testKeys()["P-256"]}}, nil),
			wantCode: bad, wantReason: "private or symmetric key"},
		{name: "symmetric jwk", proofs: crafted(map[string]any{"jwk": map[string]string{"kty": "oct", "k": "c2VjcmV0"}}, nil),
			wantCode: bad, wantReason: "private or symmetric key"},
		{name: "jwk of another key type than alg", proofs: crafted(map[string]any{"jwk": jose.JSONWebKey{Key: testKeys()["Ed25519"].Public()}}, nil),
			wantCode: bad, wantReason: "does not fit its alg"},
		{name: "P-384 key under ES256", proofs: crafted(map[string]any{"jwk": jose.JSONWebKey{Key: testKeys()["P-384"].Public()}}, nil),
			wantCode: bad, wantReason: "does not fit its alg"},
		{name: "RSA key of 1024 bits", proofs: func(t *testing.T, e env) []string {
			return []string{craft(t, testKeys()["RSA-1024"], "PS256", nil, baseClaims(e.now))}
		}, wantCode: bad, wantReason: "at least 2048 bits"},
		{name: "jwk alg other than the proof's", proofs: crafted(map[string]any{"jwk": jose.JSONWebKey{Key: testKeys()["P-256"].Public(), Algorithm: "ES384"}}, nil),
			wantCode: bad, wantReason: "names another alg"},
		{name: "signed by another key than its jwk", proofs: crafted(map[string]any{"jwk": jose.JSONWebKey{Key: testKeys()["P-256b"].Public()}}, nil),
			wantCode: bad, wantReason: "signature does not verify"},
		{name: "tampered payload", proofs: func(t *testing.T, e env) []string {
			parts := strings.Split(signed("P-256", "", dpop.ProofOptions{})(t, e)[0], ".")
			parts[1] = b64(with(baseClaims(e.now), map[string]any{"htu": "https://evil.example.com/token"}))
			return []string{strings.Join(parts, ".")}
		}, wantCode: bad, wantReason: "signature does not verify"},
		// Check 3: required claims.
		{name: "no jti", proofs: crafted(nil, map[string]any{"jti": nil}), wantCode: bad, wantReason: "no jti claim"},
		{name: "empty jti", proofs: crafted(nil, map[string]any{"jti": ""}), wantCode: bad, wantReason: "jti must have"},
		{name: "huge jti", proofs: crafted(nil, map[string]any{"jti": strings.Repeat("j", 257)}), wantCode: bad, wantReason: "jti must have"},
		{name: "no htm", proofs: crafted(nil, map[string]any{"htm": nil}), wantCode: bad, wantReason: "no htm claim"},
		{name: "htm in another case of name", proofs: crafted(nil, map[string]any{"htm": nil, "HTM": testMethod}), wantCode: bad, wantReason: "no htm claim"},
		{name: "htm a number", proofs: crafted(nil, map[string]any{"htm": 1}), wantCode: bad, wantReason: "htm claim is not a string"},
		{name: "no htu", proofs: crafted(nil, map[string]any{"htu": nil}), wantCode: bad, wantReason: "no htu claim"},
		{name: "no iat", proofs: crafted(nil, map[string]any{"iat": nil}), wantCode: bad, wantReason: "no iat claim"},
		{name: "iat a string", proofs: crafted(nil, map[string]any{"iat": "now"}), wantCode: bad, wantReason: "iat claim is not a number"},
		// Check 8: htm.
		{name: "wrong htm", proofs: crafted(nil, map[string]any{"htm": "GET"}), wantCode: bad, wantReason: "htm is not the request method POST"},
		{name: "htm in lower case", proofs: crafted(nil, map[string]any{"htm": "post"}), wantCode: bad, wantReason: "htm is not"},
		// Check 9: htu.
		{name: "other path", proofs: withHTU("https://server.example.com/userinfo"), wantCode: bad, wantReason: "htu is not the request URL https://server.example.com/token"},
		{name: "path case matters", proofs: withHTU("https://server.example.com/Token"), wantCode: bad, wantReason: "htu is not"},
		{name: "other host", proofs: withHTU("https://evil.example.com/token"), wantCode: bad, wantReason: "htu is not"},
		{name: "http instead of https", proofs: withHTU("http://server.example.com/token"), wantCode: bad, wantReason: "htu is not"},
		{name: "other port", proofs: withHTU("https://server.example.com:8443/token"), wantCode: bad, wantReason: "htu is not"},
		{name: "trailing slash", proofs: withHTU(testURL + "/"), wantCode: bad, wantReason: "htu is not"},
		{name: "userinfo", proofs: withHTU("https://user@server.example.com/token"), wantCode: bad, wantReason: "htu is not"},
		{name: "relative htu", proofs: withHTU("/token"), wantCode: bad, wantReason: "htu is not"},
		{name: "other scheme", proofs: withHTU("ftp://server.example.com/token"), wantCode: bad, wantReason: "htu is not"},
		{name: "unusable request URL", proofs: signed("P-256", "", dpop.ProofOptions{}), req: requestURL("/token"), wantCode: bad, wantReason: "request URL cannot be compared"},
		// Check 11: iat.
		{name: "stale iat", proofs: at(-61 * time.Second), wantCode: bad, wantReason: "too old"},
		{name: "future iat", proofs: at(6 * time.Second), wantCode: bad, wantReason: "in the future"},
		// Check 12: ath and the key of the token.
		{name: "no ath", proofs: signed("P-256", "", dpop.ProofOptions{}), req: func(r *dpop.Request) { r.AccessToken = testToken },
			wantCode: bad, wantReason: "no ath claim"},
		{name: "ath of another token", proofs: signed("P-256", "", dpop.ProofOptions{AccessToken: "other"}), req: func(r *dpop.Request) { r.AccessToken = testToken },
			wantCode: bad, wantReason: "ath is not the hash"},
		{name: "another key than the token's", proofs: signed("P-256b", "", dpop.ProofOptions{}),
			req:      func(r *dpop.Request) { r.JKT = newSigner(t, "P-256", "", newFakeClock()).Thumbprint() },
			wantCode: bad, wantReason: "another key than the one the access token is bound to", wantIs: dpop.ErrKeyMismatch},
		// Check 10: nonce.
		{name: "nonce missing", proofs: signed("P-256", "", dpop.ProofOptions{}),
			req:      func(r *dpop.Request) { r.CheckNonce = func(n string) bool { return n == "n-1" } },
			wantCode: dpop.CodeUseNonce, wantReason: "requires a nonce"},
		{name: "nonce wrong", proofs: signed("P-256", "", dpop.ProofOptions{Nonce: "n-0"}),
			req:      func(r *dpop.Request) { r.CheckNonce = func(n string) bool { return n == "n-1" } },
			wantCode: dpop.CodeUseNonce, wantReason: "nonce is not current"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			v := newVerifier(t, clock)
			req := dpop.Request{Proofs: c.proofs(t, env{clock: clock, now: clock.Now()}), Method: testMethod, URL: testURL}
			if c.req != nil {
				c.req(&req)
			}
			p, err := v.Verify(context.Background(), req)
			if c.wantCode == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if p.JKT == "" || p.ID == "" || p.IssuedAt.IsZero() || !p.Key.IsPublic() {
					t.Errorf("proof = %+v", p)
				}
				return
			}
			de, ok := errors.AsType[*dpop.Error](err)
			if !ok {
				t.Fatalf("Verify error = %v (%T), want *dpop.Error", err, err)
			}
			if de.Code != c.wantCode {
				t.Errorf("Code = %q, want %q", de.Code, c.wantCode)
			}
			if !strings.Contains(de.Reason, c.wantReason) {
				t.Errorf("Reason = %q, want it to contain %q", de.Reason, c.wantReason)
			}
			if c.wantIs != nil && !errors.Is(err, c.wantIs) {
				t.Errorf("error %v is not %v", err, c.wantIs)
			}
			if p != nil {
				t.Errorf("proof = %+v on error", p)
			}
		})
	}
}

func TestVerifyReturnsTheKeyThumbprint(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	for _, key := range []string{"P-256", "Ed25519", "RSA-2048"} {
		s := newSigner(t, key, "", clock)
		raw, err := s.Proof(testMethod, testURL, dpop.ProofOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p, err := newVerifier(t, clock).Verify(context.Background(), dpop.Request{Proofs: []string{raw}, Method: testMethod, URL: testURL})
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		pub := jose.JSONWebKey{Key: testKeys()[key].Public()}
		want, err := dpop.Thumbprint(&pub)
		if err != nil {
			t.Fatal(err)
		}
		if p.JKT != want || s.Thumbprint() != want {
			t.Errorf("%s: Verify JKT %q, Signer.Thumbprint %q, want %q", key, p.JKT, s.Thumbprint(), want)
		}
		if p.Algorithm != s.Algorithm() {
			t.Errorf("%s: Algorithm = %q, want %q", key, p.Algorithm, s.Algorithm())
		}
	}
}

func TestReplayedProofIsRefused(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	v := newVerifier(t, clock)
	s := newSigner(t, "P-256", "", clock)
	raw, err := s.Proof(testMethod, testURL, dpop.ProofOptions{})
	if err != nil {
		t.Fatal(err)
	}
	req := dpop.Request{Proofs: []string{raw}, Method: testMethod, URL: testURL}
	if _, err := v.Verify(context.Background(), req); err != nil {
		t.Fatalf("first use: %v", err)
	}
	clock.advance(dpop.DefaultMaxAge - time.Second) // still within the window
	_, err = v.Verify(context.Background(), req)
	if !errors.Is(err, dpop.ErrReplayed) {
		t.Fatalf("replay: err = %v, want ErrReplayed", err)
	}
	if de, _ := errors.AsType[*dpop.Error](err); de == nil || de.Code != dpop.CodeInvalidProof || !strings.Contains(de.Reason, "used before") {
		t.Errorf("replay error = %#v", de)
	}

	// The same jti from another key is another proof.
	other := newSigner(t, "P-256b", "", clock)
	p, err := v.Verify(context.Background(), dpop.Request{Proofs: []string{proofWithID(t, other, "shared")}, Method: testMethod, URL: testURL})
	if err != nil {
		t.Fatalf("first key, jti shared: %v", err)
	}
	if _, err := v.Verify(context.Background(), dpop.Request{Proofs: []string{proofWithID(t, s, "shared")}, Method: testMethod, URL: testURL}); err != nil {
		t.Fatalf("second key, same jti %q: %v", p.ID, err)
	}
	// A new proof with a jti already used by this key is a replay, even
	// though the proof differs.
	if _, err := v.Verify(context.Background(), dpop.Request{Proofs: []string{proofWithID(t, s, "shared")}, Method: testMethod, URL: testURL}); !errors.Is(err, dpop.ErrReplayed) {
		t.Fatalf("same key, same jti: err = %v, want ErrReplayed", err)
	}
}

func proofWithID(t *testing.T, s *dpop.Signer, jti string) string {
	t.Helper()
	raw, err := s.Proof(testMethod, testURL, dpop.ProofOptions{ID: jti})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestProofRefusedBeforeTheReplayCacheIsNotRecorded(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	cache := &countingCache{ReplayCache: dpop.NewMemoryReplayCache(10, clock.Now)}
	v := newVerifier(t, clock, func(c *dpop.Config) { c.ReplayCache = cache })
	s := newSigner(t, "P-256b", "", clock)
	raw, err := s.Proof(testMethod, testURL, dpop.ProofOptions{AccessToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	bound := newSigner(t, "P-256", "", clock).Thumbprint()
	for _, req := range []dpop.Request{
		{Proofs: []string{raw}, Method: "GET", URL: testURL},                                                      // wrong htm
		{Proofs: []string{raw}, Method: testMethod, URL: testURL, AccessToken: "other"},                           // wrong ath
		{Proofs: []string{raw}, Method: testMethod, URL: testURL, JKT: bound},                                     // another key
		{Proofs: []string{raw}, Method: testMethod, URL: testURL, CheckNonce: func(string) bool { return false }}, // nonce
	} {
		if _, err := v.Verify(context.Background(), req); err == nil {
			t.Fatal("accepted")
		}
	}
	if got := cache.calls.Load(); got != 0 {
		t.Fatalf("replay cache called %d times for refused proofs, want 0", got)
	}
	// So the proof still works for the request it was made for.
	if _, err := v.Verify(context.Background(), dpop.Request{Proofs: []string{raw}, Method: testMethod, URL: testURL, AccessToken: testToken}); err != nil {
		t.Fatalf("genuine request after refusals: %v", err)
	}
}

type countingCache struct {
	dpop.ReplayCache
	calls atomic.Int64
}

func (c *countingCache) Seen(ctx context.Context, id string, exp time.Time) (bool, error) {
	c.calls.Add(1)
	return c.ReplayCache.Seen(ctx, id, exp)
}

// failingCache is a replay cache whose backend is down.
type failingCache struct{}

func (failingCache) Seen(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("store unavailable")
}

func TestReplayCacheFailureRefusesWithoutBlamingTheClient(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	v := newVerifier(t, clock, func(c *dpop.Config) { c.ReplayCache = failingCache{} })
	raw, err := newSigner(t, "P-256", "", clock).Proof(testMethod, testURL, dpop.ProofOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(context.Background(), dpop.Request{Proofs: []string{raw}, Method: testMethod, URL: testURL})
	if err == nil || p != nil {
		t.Fatalf("accepted with the replay cache down: %+v", p)
	}
	if _, isProofError := errors.AsType[*dpop.Error](err); isProofError {
		t.Errorf("err = %v is a *dpop.Error; a cache failure is not the client's fault", err)
	}
	if !strings.Contains(err.Error(), "store unavailable") {
		t.Errorf("err = %v does not carry the cause", err)
	}
}

func TestReplayEntryLastsAsLongAsTheWindow(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var exp time.Time
	cache := recordingCache(func(e time.Time) { exp = e })
	v := newVerifier(t, clock, func(c *dpop.Config) { c.ReplayCache = cache; c.MaxAge = 30 * time.Second })
	iat := clock.Now().Add(-10 * time.Second)
	raw, err := newSigner(t, "P-256", "", clock).Proof(testMethod, testURL, dpop.ProofOptions{IssuedAt: iat})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), dpop.Request{Proofs: []string{raw}, Method: testMethod, URL: testURL}); err != nil {
		t.Fatal(err)
	}
	// Past iat + MaxAge the proof is refused as too old; before it, the
	// cache must still hold it.
	if want := iat.Add(30 * time.Second); !exp.Equal(want) {
		t.Errorf("replay entry expires at %v, want %v", exp, want)
	}
}

type recordingCache func(exp time.Time)

func (f recordingCache) Seen(_ context.Context, _ string, exp time.Time) (bool, error) {
	f(exp)
	return false, nil
}

func TestConcurrentUsesOfOneProofAcceptOnlyOne(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	v := newVerifier(t, clock)
	raw, err := newSigner(t, "Ed25519", "", clock).Proof(testMethod, testURL, dpop.ProofOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 32
	var accepted, replayed atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := v.Verify(context.Background(), dpop.Request{Proofs: []string{raw}, Method: testMethod, URL: testURL})
			switch {
			case err == nil:
				accepted.Add(1)
			case errors.Is(err, dpop.ErrReplayed):
				replayed.Add(1)
			default:
				t.Errorf("Verify: %v", err)
			}
		})
	}
	wg.Wait()
	if accepted.Load() != 1 || replayed.Load() != n-1 {
		t.Fatalf("accepted %d, replayed %d; want 1 and %d", accepted.Load(), replayed.Load(), n-1)
	}
}

func TestNewVerifierRefusesSymmetricAlgorithms(t *testing.T) {
	t.Parallel()
	for _, algs := range [][]string{{"HS256"}, {"none"}, {"ES256", "HS512"}, {"RSA-OAEP"}} {
		_, err := dpop.NewVerifier(dpop.Config{Algorithms: algs})
		if !errors.Is(err, dpop.ErrInvalidConfig) {
			t.Errorf("NewVerifier(%v) error = %v, want ErrInvalidConfig", algs, err)
		}
	}
	v, err := dpop.NewVerifier(dpop.Config{Algorithms: []string{"ES384"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Algorithms(); len(got) != 1 || got[0] != "ES384" {
		t.Errorf("Algorithms() = %v", got)
	}
	clock := newFakeClock()
	v = newVerifier(t, clock, func(c *dpop.Config) { c.Algorithms = []string{"ES384"} })
	raw, err := newSigner(t, "P-384", "", clock).Proof(testMethod, testURL, dpop.ProofOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), dpop.Request{Proofs: []string{raw}, Method: testMethod, URL: testURL}); err != nil {
		t.Errorf("ES384 allowed but refused: %v", err)
	}
}

func TestNewSigner(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		key, alg, want string
	}{
		{"P-256", "", "ES256"}, {"P-384", "", "ES384"}, {"Ed25519", "", "EdDSA"}, {"RSA-2048", "", "PS256"}, {"RSA-2048", "RS256", "RS256"},
	} {
		s, err := dpop.NewSigner(testKeys()[c.key], c.alg)
		if err != nil {
			t.Fatalf("NewSigner(%s, %q): %v", c.key, c.alg, err)
		}
		if s.Algorithm() != c.want {
			t.Errorf("NewSigner(%s, %q).Algorithm() = %q, want %q", c.key, c.alg, s.Algorithm(), c.want)
		}
		if pub := s.PublicKey(); !pub.IsPublic() {
			t.Errorf("NewSigner(%s).PublicKey() is not public", c.key)
		}
	}
	for _, c := range []struct{ key, alg string }{
		{"P-256", "HS256"}, {"P-256", "none"}, {"P-256", "ES384"}, {"P-256", "EdDSA"}, {"Ed25519", "ES256"}, {"RSA-2048", "ES256"}, {"RSA-1024", ""},
	} {
		if _, err := dpop.NewSigner(testKeys()[c.key], c.alg); err == nil {
			t.Errorf("NewSigner(%s, %q) succeeded", c.key, c.alg)
		}
	}
}

func TestSignerProofClaims(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := newSigner(t, "P-256", "", clock)
	raw, err := s.Proof("GET", "https://api.example.com/r?q=1#f", dpop.ProofOptions{AccessToken: testToken, Nonce: "n"})
	if err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	h := jws.Signatures[0].Header
	if h.ExtraHeaders["typ"] != "dpop+jwt" || h.JSONWebKey == nil || !h.JSONWebKey.IsPublic() || h.KeyID != "" {
		t.Errorf("header = %+v", h)
	}
	var c struct {
		JTI   string `json:"jti"`
		HTM   string `json:"htm"`
		HTU   string `json:"htu"`
		ATH   string `json:"ath"`
		Nonce string `json:"nonce"`
		IAT   int64  `json:"iat"`
	}
	payload, err := jws.Verify(h.JSONWebKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	// RFC 9449 §4.2: htu without query and fragment; ath base64url SHA-256.
	sum := sha256.Sum256([]byte(testToken))
	if c.HTM != "GET" || c.HTU != "https://api.example.com/r" || c.IAT != clock.Now().Unix() || len(c.JTI) < 22 ||
		c.ATH != base64.RawURLEncoding.EncodeToString(sum[:]) || c.Nonce != "n" {
		t.Errorf("claims = %+v", c)
	}
	again, _ := s.Proof("GET", "https://api.example.com/r", dpop.ProofOptions{})
	if again == raw {
		t.Error("two proofs are identical")
	}
	if _, err := s.Proof("GET", "/relative", dpop.ProofOptions{}); err == nil {
		t.Error("proof for a relative URL")
	}
}

func TestThumbprintRFC7638Example(t *testing.T) {
	t.Parallel()
	// RFC 7638 §3.1.
	const n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAt" +
		"VT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn6" +
		"4tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FD" +
		"W2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n9" +
		"1CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINH" +
		"aQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON([]byte(`{"kty":"RSA","n":"` + n + `","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`)); err != nil {
		t.Fatal(err)
	}
	got, err := dpop.Thumbprint(&jwk)
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Errorf("Thumbprint = %q, want %q", got, want)
	}
	// The same key built from its numbers: kid and alg are not part of it.
	nb, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil {
		t.Fatal(err)
	}
	bare := jose.JSONWebKey{Key: &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: 65537}}
	if got, err := dpop.Thumbprint(&bare); err != nil || got != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Errorf("Thumbprint of the bare key = %q, %v", got, err)
	}
	// A private key has the thumbprint of its public half.
	priv := jose.JSONWebKey{Key: testKeys()["P-256"]}
	pubOnly := jose.JSONWebKey{Key: testKeys()["P-256"].Public()}
	a, errA := dpop.Thumbprint(&priv)
	b, errB := dpop.Thumbprint(&pubOnly)
	if errA != nil || errB != nil || a != b {
		t.Errorf("private %q (%v) != public %q (%v)", a, errA, b, errB)
	}
	if _, err := dpop.Thumbprint(&jose.JSONWebKey{}); err == nil {
		t.Error("thumbprint of an empty JWK")
	}
}

// RFC 9449 §4.1 and §6.1 use one P-256 key throughout.
func TestThumbprintRFC9449Example(t *testing.T) {
	t.Parallel()
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON([]byte(`{"kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA","crv":"P-256"}`)); err != nil {
		t.Fatal(err)
	}
	got, err := dpop.Thumbprint(&jwk)
	if err != nil {
		t.Fatal(err)
	}
	if want := "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"; got != want {
		t.Errorf("Thumbprint = %q, want %q", got, want)
	}
}
