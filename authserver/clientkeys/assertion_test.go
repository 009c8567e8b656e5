package clientkeys_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver-dev/authserver/authserver/clientkeys"
)

// clientSet is the JWK Set of the test client: one key of each type.
func clientSet(tb testing.TB) *clientkeys.KeySet {
	return keySet(tb, jwk("P-256", "ec"), jwk("RSA-2048", "rsa"), jwk("Ed25519", "ed"))
}

func TestVerifyAssertion(t *testing.T) {
	t.Parallel()
	es256 := jwtSpec{key: "P-256", alg: "ES256", kid: "ec"}
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(testKeys()["RSA-2048"].Public()))})
	type tc struct {
		name   string
		spec   jwtSpec
		edit   func(c map[string]any, now int64)
		raw    func(t *testing.T, c map[string]any) string // overrides spec
		policy clientkeys.AssertionPolicy
		reason string // "" means accepted
		cause  error
	}
	cases := []tc{
		{name: "ES256", spec: es256},
		{name: "RS256", spec: jwtSpec{key: "RSA-2048", alg: "RS256", kid: "rsa"}},
		{name: "PS256", spec: jwtSpec{key: "RSA-2048", alg: "PS256", kid: "rsa"}},
		{name: "EdDSA", spec: jwtSpec{key: "Ed25519", alg: "EdDSA", kid: "ed"}},
		{name: "no kid: every key of the type is tried", spec: jwtSpec{key: "RSA-2048", alg: "PS256"}},
		{name: "typ JWT", spec: jwtSpec{key: "P-256", alg: "ES256", kid: "ec", typ: "JWT"}},
		{name: "typ client-authentication+jwt", spec: jwtSpec{key: "P-256", alg: "ES256", kid: "ec", typ: "client-authentication+jwt"}},
		{name: "aud is the token endpoint", spec: es256, edit: func(c map[string]any, _ int64) { c["aud"] = testTokenURL }},
		{name: "aud is an array containing the issuer", spec: es256, edit: func(c map[string]any, _ int64) { c["aud"] = []string{"https://other.example", testIssuer} }},
		{name: "no iat", spec: es256, edit: func(c map[string]any, _ int64) { delete(c, "iat") }},
		{name: "nbf within the leeway", spec: es256, edit: func(c map[string]any, now int64) { c["nbf"] = now + 30 }},
		{name: "iat within the leeway", spec: es256, edit: func(c map[string]any, now int64) { c["iat"] = now + 30 }},
		{name: "exp at the maximum lifetime", spec: es256, edit: func(c map[string]any, now int64) { c["exp"] = now + 300 }},
		{name: "FAPI 2.0 policy accepts PS256", spec: jwtSpec{key: "RSA-2048", alg: "PS256", kid: "rsa"}, policy: clientkeys.AssertionPolicy{Algorithms: clientkeys.FAPI2Algorithms()}},

		{name: "wrong iss", spec: es256, edit: func(c map[string]any, _ int64) { c["iss"] = "client-2" }, reason: "iss claim other than the client_id"},
		{name: "wrong sub", spec: es256, edit: func(c map[string]any, _ int64) { c["sub"] = "client-2" }, reason: "sub claim other than the client_id"},
		{name: "no iss", spec: es256, edit: func(c map[string]any, _ int64) { delete(c, "iss") }, reason: "has no iss claim"},
		{name: "no sub", spec: es256, edit: func(c map[string]any, _ int64) { delete(c, "sub") }, reason: "has no sub claim"},
		{name: "iss not a string", spec: es256, edit: func(c map[string]any, _ int64) { c["iss"] = 7 }, reason: "iss claim is not a string"},
		{name: "wrong aud", spec: es256, edit: func(c map[string]any, _ int64) { c["aud"] = "https://other.example" }, reason: "aud claim that does not name this server"},
		{name: "aud array without us", spec: es256, edit: func(c map[string]any, _ int64) { c["aud"] = []string{"https://a.example", "https://b.example"} }, reason: "does not name this server"},
		{name: "no aud", spec: es256, edit: func(c map[string]any, _ int64) { delete(c, "aud") }, reason: "aud claim is missing"},
		{name: "expired", spec: es256, edit: func(c map[string]any, now int64) { c["iat"], c["exp"] = now-120, now-1 }, reason: "has expired", cause: clientkeys.ErrExpired},
		{name: "exp now", spec: es256, edit: func(c map[string]any, now int64) { c["exp"] = now }, reason: "has expired", cause: clientkeys.ErrExpired},
		{name: "no exp", spec: es256, edit: func(c map[string]any, _ int64) { delete(c, "exp") }, reason: "has no exp claim"},
		{name: "exp not a number", spec: es256, edit: func(c map[string]any, _ int64) { c["exp"] = "soon" }, reason: "exp claim is not a NumericDate"},
		{name: "lifetime after iat too long", spec: es256, edit: func(c map[string]any, now int64) { c["iat"], c["exp"] = now-60, now+250 }, reason: "at most 5m0s after iat"},
		{name: "exp too far from now", spec: es256, edit: func(c map[string]any, now int64) { delete(c, "iat"); c["exp"] = now + 3600 }, reason: "at most 5m0s from now"},
		{name: "iat in the future", spec: es256, edit: func(c map[string]any, now int64) { c["iat"], c["exp"] = now+120, now+180 }, reason: "issued in the future"},
		{name: "nbf in the future", spec: es256, edit: func(c map[string]any, now int64) { c["nbf"] = now + 120 }, reason: "not valid yet"},
		{name: "nbf far beyond int64 seconds", spec: es256, edit: func(c map[string]any, _ int64) { c["nbf"] = 1e300 }, reason: "nbf claim is not a NumericDate"},
		{name: "no jti", spec: es256, edit: func(c map[string]any, _ int64) { delete(c, "jti") }, reason: "has no jti claim"},
		{name: "empty jti", spec: es256, edit: func(c map[string]any, _ int64) { c["jti"] = "" }, reason: "has no jti claim"},
		{name: "jti too long", spec: es256, edit: func(c map[string]any, _ int64) { c["jti"] = strings.Repeat("j", 257) }, reason: "jti longer than 256"},

		{name: "alg none", raw: func(t *testing.T, c map[string]any) string {
			return unsigned(t, map[string]any{"alg": "none", "kid": "ec"}, c)
		}, reason: "is unsigned (alg none)"},
		{name: "HS256 with the public key as HMAC secret", raw: func(t *testing.T, c map[string]any) string {
			return signWith(t, rsaPEM, jwtSpec{alg: "HS256", kid: "rsa"}, c)
		}, reason: "symmetric algorithm HS256"},
		{name: "HS256 with the JWK as HMAC secret", raw: func(t *testing.T, c map[string]any) string {
			return signWith(t, jwksJSON(t, jwk("RSA-2048", "rsa")), jwtSpec{alg: "HS256"}, c)
		}, reason: "symmetric algorithm HS256"},
		{name: "RS256 under the FAPI 2.0 policy", spec: jwtSpec{key: "RSA-2048", alg: "RS256", kid: "rsa"}, policy: clientkeys.AssertionPolicy{Algorithms: clientkeys.FAPI2Algorithms()}, reason: "signed with RS256, which is not allowed for this client: use one of PS256, ES256, EdDSA"},
		{name: "ES384 is not in the default list", spec: jwtSpec{key: "P-384", alg: "ES384"}, reason: "signed with ES384, which is not allowed"},
		{name: "a policy cannot widen the list", spec: jwtSpec{key: "P-384", alg: "ES384"}, policy: clientkeys.AssertionPolicy{Algorithms: []string{"ES384"}}, reason: "no signing algorithm is allowed"},
		{name: "typ dpop+jwt", spec: jwtSpec{key: "P-256", alg: "ES256", kid: "ec", typ: "dpop+jwt"}, reason: "typ header this server does not accept"},
		{name: "typ of a request object", spec: jwtSpec{key: "P-256", alg: "ES256", kid: "ec", typ: "oauth-authz-req+jwt"}, reason: "typ header"},
		{name: "unknown kid", spec: jwtSpec{key: "P-256", alg: "ES256", kid: "nope"}, reason: `names kid "nope"`, cause: clientkeys.ErrUnknownKey},
		{name: "kid of a key of another type", spec: jwtSpec{key: "P-256", alg: "ES256", kid: "rsa"}, reason: `no ES256 key with that kid`, cause: clientkeys.ErrUnknownKey},
		{name: "signed with a key that is not the client's", spec: jwtSpec{key: "P-256b", alg: "ES256", kid: "ec"}, reason: "signature does not verify", cause: clientkeys.ErrBadSignature},
		{name: "no kid, signed with a foreign key", spec: jwtSpec{key: "P-256b", alg: "ES256"}, reason: "signature does not verify", cause: clientkeys.ErrBadSignature},
		{name: "tampered payload", raw: func(t *testing.T, c map[string]any) string {
			good := sign(t, es256, c)
			c["sub"], c["iss"] = testClientID, testClientID
			c["jti"] = "other"
			forged := sign(t, jwtSpec{key: "P-256b", alg: "ES256", kid: "ec"}, c)
			p := strings.Split(good, ".")
			return p[0] + "." + strings.Split(forged, ".")[1] + "." + p[2]
		}, reason: "signature does not verify", cause: clientkeys.ErrBadSignature},
		{name: "encrypted", raw: func(*testing.T, map[string]any) string { return "a.b.c.d.e" }, reason: "is encrypted (JWE)"},
		{name: "not a JWS", raw: func(*testing.T, map[string]any) string { return "not-a-jwt" }, reason: "is not a compact JWS"},
		{name: "not base64url", raw: func(*testing.T, map[string]any) string { return "a+b.c.d" }, reason: "is not a compact JWS"},
		{name: "too large", raw: func(*testing.T, map[string]any) string { return strings.Repeat("a", clientkeys.MaxAssertionSize+1) }, reason: "longer than"},
		{name: "critical header", raw: func(t *testing.T, c map[string]any) string {
			opts := (&jose.SignerOptions{}).WithHeader("kid", "ec").WithHeader("crit", []string{"exp"}).WithHeader("exp", 1)
			s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: testKeys()["P-256"]}, opts)
			jws, err := s.Sign([]byte(`{"iss":"client-1"}`))
			if err != nil {
				t.Fatal(err)
			}
			out, _ := jws.CompactSerialize()
			return out
		}, reason: "critical header"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			v := newVerifier(t, clock)
			claims := assertionClaims(clock)
			if c.edit != nil {
				c.edit(claims, clock.Now().Unix())
			}
			var assertion string
			if c.raw != nil {
				assertion = c.raw(t, claims)
			} else {
				assertion = sign(t, c.spec, claims)
			}
			a, err := v.VerifyAssertion(context.Background(), assertion, testClientID, clientSet(t), testAudiences, c.policy)
			if c.reason == "" {
				if err != nil {
					t.Fatalf("VerifyAssertion: %v", err)
				}
				if a.ClientID != testClientID || a.ID != claims["jti"] || a.Algorithm != c.spec.alg {
					t.Errorf("Assertion = %+v", a)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			wantRefusal(t, err, clientkeys.CodeInvalidClient, c.reason, c.cause)
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestVerifyAssertionRefusesReplay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newFakeClock()
	v := newVerifier(t, clock)
	set := clientSet(t)
	claims := assertionClaims(clock)
	assertion := sign(t, jwtSpec{key: "P-256", alg: "ES256", kid: "ec"}, claims)
	if _, err := v.VerifyAssertion(ctx, assertion, testClientID, set, testAudiences, clientkeys.AssertionPolicy{}); err != nil {
		t.Fatalf("first use: %v", err)
	}
	_, err := v.VerifyAssertion(ctx, assertion, testClientID, set, testAudiences, clientkeys.AssertionPolicy{})
	wantRefusal(t, err, clientkeys.CodeInvalidClient, "was used before", clientkeys.ErrReplayed)

	// The same jti in a new assertion (new iat, new signature) is a replay
	// too: uniqueness is of the jti, not of the bytes.
	clock.advance(10 * time.Second)
	claims["iat"], claims["exp"] = clock.Now().Unix(), clock.Now().Unix()+60
	again := sign(t, jwtSpec{key: "P-256", alg: "ES256", kid: "ec"}, claims)
	_, err = v.VerifyAssertion(ctx, again, testClientID, set, testAudiences, clientkeys.AssertionPolicy{})
	wantRefusal(t, err, clientkeys.CodeInvalidClient, "was used before", clientkeys.ErrReplayed)

	// Another client may use the same jti.
	other := map[string]any{"iss": "client-2", "sub": "client-2", "aud": testIssuer, "jti": claims["jti"], "exp": clock.Now().Unix() + 60}
	if _, err := v.VerifyAssertion(ctx, sign(t, jwtSpec{key: "P-256", alg: "ES256", kid: "ec"}, other), "client-2", set, testAudiences, clientkeys.AssertionPolicy{}); err != nil {
		t.Fatalf("same jti, other client: %v", err)
	}
}

// A refused assertion must not fill the replay cache: the jti is recorded
// only after every other check passed.
func TestVerifyAssertionRecordsOnlyValidAssertions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newFakeClock()
	cache := clientkeys.NewMemoryReplayCache(10, clock.Now)
	v := newVerifier(t, clock, func(c *clientkeys.Config) { c.ReplayCache = cache })
	claims := assertionClaims(clock)
	forged := sign(t, jwtSpec{key: "P-256b", alg: "ES256", kid: "ec"}, claims)
	if _, err := v.VerifyAssertion(ctx, forged, testClientID, clientSet(t), testAudiences, clientkeys.AssertionPolicy{}); err == nil {
		t.Fatal("forged assertion accepted")
	}
	if cache.Len() != 0 {
		t.Fatalf("a forged assertion was recorded (Len = %d)", cache.Len())
	}
	good := sign(t, jwtSpec{key: "P-256", alg: "ES256", kid: "ec"}, claims)
	if _, err := v.VerifyAssertion(ctx, good, testClientID, clientSet(t), testAudiences, clientkeys.AssertionPolicy{}); err != nil {
		t.Fatalf("the client's own assertion with that jti: %v", err)
	}
}

type failingReplayCache struct{}

func (failingReplayCache) Seen(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("database down")
}

// A replay cache that cannot decide makes the assertion fail as a server
// error, never as accepted and never as the client's fault.
func TestVerifyAssertionReplayCacheFailure(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	v := newVerifier(t, clock, func(c *clientkeys.Config) { c.ReplayCache = failingReplayCache{} })
	assertion := sign(t, jwtSpec{key: "P-256", alg: "ES256", kid: "ec"}, assertionClaims(clock))
	_, err := v.VerifyAssertion(context.Background(), assertion, testClientID, clientSet(t), testAudiences, clientkeys.AssertionPolicy{})
	var e *clientkeys.Error
	if err == nil || errors.As(err, &e) {
		t.Fatalf("err = %v, want a server error that is not a *clientkeys.Error", err)
	}
}

func TestVerifyAssertionKeyPinnedToAlg(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	v := newVerifier(t, clock)
	pinned := jwk("RSA-2048", "rsa")
	pinned.Algorithm = "PS256"
	set := keySet(t, pinned)
	ctx := context.Background()
	ps := sign(t, jwtSpec{key: "RSA-2048", alg: "PS256", kid: "rsa"}, assertionClaims(clock))
	if _, err := v.VerifyAssertion(ctx, ps, testClientID, set, testAudiences, clientkeys.AssertionPolicy{}); err != nil {
		t.Fatalf("PS256 with a PS256 key: %v", err)
	}
	rs := sign(t, jwtSpec{key: "RSA-2048", alg: "RS256", kid: "rsa"}, assertionClaims(clock))
	_, err := v.VerifyAssertion(ctx, rs, testClientID, set, testAudiences, clientkeys.AssertionPolicy{})
	wantRefusal(t, err, clientkeys.CodeInvalidClient, "no RS256 key with that kid", clientkeys.ErrUnknownKey)
}

func TestVerifyAssertionNeedsClientAndAudiences(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	v := newVerifier(t, clock)
	assertion := sign(t, jwtSpec{key: "P-256", alg: "ES256", kid: "ec"}, assertionClaims(clock))
	_, err := v.VerifyAssertion(context.Background(), assertion, "", clientSet(t), testAudiences, clientkeys.AssertionPolicy{})
	wantRefusal(t, err, clientkeys.CodeInvalidClient, "without a client_id", nil)
	if _, err := v.VerifyAssertion(context.Background(), assertion, testClientID, clientSet(t), nil, clientkeys.AssertionPolicy{}); err == nil {
		t.Fatal("accepted without audiences")
	}
}

func TestNewVerifierRefusesSymmetricAlgorithms(t *testing.T) {
	t.Parallel()
	for _, algs := range [][]string{{"HS256"}, {"none"}, {"ES256", "HS512"}, {"RSA-OAEP"}} {
		_, err := clientkeys.NewVerifier(clientkeys.Config{Algorithms: algs})
		if !errors.Is(err, clientkeys.ErrInvalidConfig) {
			t.Errorf("NewVerifier(%v) = %v, want ErrInvalidConfig", algs, err)
		}
	}
	v, err := clientkeys.NewVerifier(clientkeys.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(v.Algorithms(), " "); got != "RS256 PS256 ES256 EdDSA" {
		t.Errorf("default Algorithms = %s", got)
	}
}

func TestUnverifiedClientID(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	claims := assertionClaims(clock)
	got, err := clientkeys.UnverifiedClientID(sign(t, jwtSpec{key: "P-256", alg: "ES256"}, claims))
	if err != nil || got != testClientID {
		t.Fatalf("UnverifiedClientID = %q, %v", got, err)
	}
	claims["iss"] = "someone-else"
	_, err = clientkeys.UnverifiedClientID(sign(t, jwtSpec{key: "P-256", alg: "ES256"}, claims))
	wantRefusal(t, err, clientkeys.CodeInvalidClient, "does not name a client", nil)
	_, err = clientkeys.UnverifiedClientID("garbage")
	wantRefusal(t, err, clientkeys.CodeInvalidClient, "not a compact JWS", nil)
}
