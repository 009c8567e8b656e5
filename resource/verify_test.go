package resource_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver-dev/authserver/resource"
)

// with returns a copy of claims with changes applied; a nil value deletes.
func with(claims map[string]any, changes map[string]any) map[string]any {
	out := make(map[string]any, len(claims))
	for k, v := range claims {
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

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestVerify(t *testing.T) {
	type tokenFunc func(t *testing.T, f *fakeIssuer, now time.Time) string
	signWith := func(alg, typ string, changes map[string]any) tokenFunc {
		return func(t *testing.T, f *fakeIssuer, now time.Time) string {
			return sign(t, f.key(alg), typ, with(f.claims(now), changes))
		}
	}
	at := func(now time.Time, d time.Duration) int64 { return now.Add(d).Unix() }
	type tc struct {
		name       string
		token      tokenFunc
		wantReason string // substring of TokenError.Reason; empty means valid
		wantIs     error
	}
	now := newFakeClock().Now() // every case's fresh clock starts here
	cases := []tc{
		{name: "valid ES256", token: signWith("ES256", "at+jwt", nil)},
		{name: "valid RS256", token: signWith("RS256", "at+jwt", nil)},
		{name: "valid EdDSA", token: signWith("EdDSA", "at+jwt", nil)},
		{name: "typ application/at+jwt", token: signWith("ES256", "application/at+jwt", nil)},
		{name: "typ in upper case", token: signWith("ES256", "AT+JWT", nil)},
		{name: "aud as a string", token: signWith("ES256", "at+jwt", map[string]any{"aud": testAudience})},
		{name: "expired within leeway", token: signWith("ES256", "at+jwt", map[string]any{"exp": at(now, -2*time.Second)})},
		{name: "nbf within leeway", token: signWith("ES256", "at+jwt", map[string]any{"nbf": at(now, 2*time.Second)})},
		{name: "no nbf", token: signWith("ES256", "at+jwt", map[string]any{"nbf": nil})},

		{name: "expired", token: signWith("ES256", "at+jwt", map[string]any{"exp": at(now, -time.Minute)}), wantReason: "token expired at", wantIs: resource.ErrExpired},
		{name: "exp exactly now minus leeway", token: signWith("ES256", "at+jwt", map[string]any{"exp": at(now, -resource.DefaultLeeway)}), wantReason: "token expired", wantIs: resource.ErrExpired},
		{name: "nbf in the future", token: signWith("ES256", "at+jwt", map[string]any{"nbf": at(now, time.Minute)}), wantReason: "not valid before"},
		{name: "iat in the future", token: signWith("ES256", "at+jwt", map[string]any{"iat": at(now, time.Hour)}), wantReason: "iat is in the future"},
		{name: "wrong iss", token: signWith("ES256", "at+jwt", map[string]any{"iss": "https://evil.example.test"}), wantReason: "was not issued by"},
		{name: "wrong aud", token: signWith("ES256", "at+jwt", map[string]any{"aud": []string{"https://other.example.test"}}), wantReason: "audience does not include"},
		{name: "missing exp", token: signWith("ES256", "at+jwt", map[string]any{"exp": nil}), wantReason: "no exp"},
		{name: "missing iat", token: signWith("ES256", "at+jwt", map[string]any{"iat": nil}), wantReason: "no iat"},
		{name: "missing sub", token: signWith("ES256", "at+jwt", map[string]any{"sub": nil}), wantReason: "no sub"},
		{name: "missing client_id", token: signWith("ES256", "at+jwt", map[string]any{"client_id": nil}), wantReason: "no client_id"},
		{name: "missing jti", token: signWith("ES256", "at+jwt", map[string]any{"jti": nil}), wantReason: "no jti"},
		{name: "scope as an array", token: signWith("ES256", "at+jwt", map[string]any{"scope": []string{"api.read"}}), wantReason: "not a valid JWT claims set"},
		{name: "typ JWT (an ID token)", token: signWith("ES256", "JWT", nil), wantReason: "typ is not"},
		{name: "no typ", token: signWith("ES256", "", nil), wantReason: "typ is not"},
		{
			name: "alg none",
			token: func(t *testing.T, f *fakeIssuer, now time.Time) string {
				return b64(map[string]any{"alg": "none", "typ": "at+jwt", "kid": "key-ES256"}) + "." + b64(f.claims(now)) + "."
			},
			wantReason: "allowed algorithm",
		},
		{
			name: "HS256 with the RSA public key as secret (alg confusion)",
			token: func(t *testing.T, f *fakeIssuer, now time.Time) string {
				der, err := x509.MarshalPKIXPublicKey(f.key("RS256").priv.Public())
				if err != nil {
					t.Fatal(err)
				}
				secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
				signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: jose.JSONWebKey{Key: secret, KeyID: "key-RS256"}},
					(&jose.SignerOptions{}).WithType("at+jwt"))
				if err != nil {
					t.Fatal(err)
				}
				payload, _ := json.Marshal(f.claims(now))
				jws, err := signer.Sign(payload)
				if err != nil {
					t.Fatal(err)
				}
				raw, _ := jws.CompactSerialize()
				return raw
			},
			wantReason: "allowed algorithm",
		},
		{
			name: "signed by an unpublished key under a published kid",
			token: func(t *testing.T, f *fakeIssuer, now time.Time) string {
				other := newFakeIssuer(t).rotate(t, "key-ES256") // fresh key, same kid
				return sign(t, other, "at+jwt", f.claims(now))
			},
			wantReason: "signature is invalid",
		},
		{
			name: "signed by an unknown key with its own kid",
			token: func(t *testing.T, f *fakeIssuer, now time.Time) string {
				other := newFakeIssuer(t).rotate(t, "attacker-key")
				return sign(t, other, "at+jwt", f.claims(now))
			},
			wantReason: "does not publish", wantIs: resource.ErrUnknownKey,
		},
		{
			name: "ES256 signature under the kid of the RSA key",
			token: func(t *testing.T, f *fakeIssuer, now time.Time) string {
				k := f.key("ES256")
				k.kid = "key-RS256"
				return sign(t, k, "at+jwt", f.claims(now))
			},
			wantReason: "does not publish", wantIs: resource.ErrUnknownKey,
		},
		{
			name: "tampered payload",
			token: func(t *testing.T, f *fakeIssuer, now time.Time) string {
				parts := strings.Split(sign(t, f.key("ES256"), "at+jwt", f.claims(now)), ".")
				parts[1] = b64(with(f.claims(now), map[string]any{"scope": "api.read api.write admin"}))
				return strings.Join(parts, ".")
			},
			wantReason: "signature is invalid",
		},
		{
			name: "no kid",
			token: func(t *testing.T, f *fakeIssuer, now time.Time) string {
				k := f.key("ES256")
				k.kid = ""
				return sign(t, k, "at+jwt", f.claims(now))
			},
			wantReason: "no kid",
		},
		{name: "garbage", token: func(*testing.T, *fakeIssuer, time.Time) string { return "not-a-jwt" }, wantReason: "allowed algorithm"},
		{name: "empty", token: func(*testing.T, *fakeIssuer, time.Time) string { return "" }, wantReason: "allowed algorithm"},
		{name: "JWE shape", token: func(*testing.T, *fakeIssuer, time.Time) string { return "a.b.c.d.e" }, wantReason: "allowed algorithm"},
		{
			name:       "oversized",
			token:      func(*testing.T, *fakeIssuer, time.Time) string { return strings.Repeat("a", 17<<10) },
			wantReason: "longer than",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := newFakeClock()
			f := newFakeIssuer(t)
			v := newVerifier(t, f, clock)
			raw := c.token(t, f, clock.Now())

			got, err := v.Verify(context.Background(), raw)
			if c.wantReason == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if got.Subject != "alice" || got.ClientID != "demo-web" || got.Issuer != f.srv.URL || !slices.Contains(got.Audience, testAudience) ||
					got.ID == "" || !got.HasScope("api.read") || got.HasScope("api.write") || got.ExpiresAt.IsZero() || got.IssuedAt.IsZero() {
					t.Errorf("claims = %+v", got)
				}
				return
			}
			var te *resource.TokenError
			if !errors.As(err, &te) {
				t.Fatalf("Verify error = %v (%T), want *TokenError", err, err)
			}
			if !strings.Contains(te.Reason, c.wantReason) {
				t.Errorf("Reason = %q, want it to contain %q", te.Reason, c.wantReason)
			}
			if c.wantIs != nil && !errors.Is(err, c.wantIs) {
				t.Errorf("error %v is not %v", err, c.wantIs)
			}
			if got != nil {
				t.Errorf("claims = %+v on error", got)
			}
		})
	}
}

func TestVerifyRespectsAlgorithmAllowList(t *testing.T) {
	clock := newFakeClock()
	f := newFakeIssuer(t)
	v, err := resource.NewVerifier(context.Background(), resource.Config{
		Issuer: f.srv.URL, Audience: testAudience, Algorithms: []string{"EdDSA"},
		HTTPClient: f.srv.Client(), Now: clock.Now, Logger: discardLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), sign(t, f.key("EdDSA"), "at+jwt", f.claims(clock.Now()))); err != nil {
		t.Errorf("EdDSA refused: %v", err)
	}
	if _, err := v.Verify(context.Background(), sign(t, f.key("ES256"), "at+jwt", f.claims(clock.Now()))); err == nil {
		t.Error("ES256 accepted although only EdDSA is allowed")
	}
}

func TestNewVerifierErrors(t *testing.T) {
	cases := []struct {
		name       string
		cfg        func(f *fakeIssuer) resource.Config
		wantConfig bool // the error wraps ErrInvalidConfig
		wantText   string
	}{
		{
			name:       "missing issuer and audience",
			cfg:        func(f *fakeIssuer) resource.Config { return resource.Config{} },
			wantConfig: true, wantText: "Issuer is required; Audience is required",
		},
		{
			name:       "relative issuer",
			cfg:        func(f *fakeIssuer) resource.Config { return resource.Config{Issuer: "issuer", Audience: "a"} },
			wantConfig: true, wantText: "not an absolute",
		},
		{
			name: "HS256 allowed",
			cfg: func(f *fakeIssuer) resource.Config {
				return resource.Config{Issuer: f.srv.URL, Audience: "a", Algorithms: []string{"ES256", "HS256"}}
			},
			wantConfig: true, wantText: `"HS256" is not allowed`,
		},
		{
			name: "none allowed",
			cfg: func(f *fakeIssuer) resource.Config {
				return resource.Config{Issuer: f.srv.URL, Audience: "a", Algorithms: []string{"none"}}
			},
			wantConfig: true, wantText: `"none" is not allowed`,
		},
		{
			name: "discovery names another issuer",
			cfg: func(f *fakeIssuer) resource.Config {
				return resource.Config{Issuer: f.srv.URL + "/", Audience: "a", HTTPClient: f.srv.Client()}
			},
			wantText: "names issuer",
		},
		{
			name: "issuer unreachable",
			cfg: func(f *fakeIssuer) resource.Config {
				f.down.Store(true)
				return resource.Config{Issuer: f.srv.URL, Audience: "a", HTTPClient: f.srv.Client()}
			},
			wantText: "503",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeIssuer(t)
			cfg := c.cfg(f)
			cfg.Logger = discardLogger()
			_, err := resource.NewVerifier(context.Background(), cfg)
			if err == nil {
				t.Fatal("NewVerifier succeeded")
			}
			if got := errors.Is(err, resource.ErrInvalidConfig); got != c.wantConfig {
				t.Errorf("errors.Is(err, ErrInvalidConfig) = %v, want %v (err: %v)", got, c.wantConfig, err)
			}
			if !strings.Contains(err.Error(), c.wantText) {
				t.Errorf("error %q does not contain %q", err, c.wantText)
			}
		})
	}
}
