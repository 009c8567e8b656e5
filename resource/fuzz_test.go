package resource_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authserver-dev/authserver/resource"
)

// FuzzVerify feeds arbitrary strings to Verify: it must never panic, and
// must refuse everything but a validly signed token with a *TokenError.
func FuzzVerify(f *testing.F) {
	clock := newFakeClock()
	iss := newFakeIssuer(f)
	v := newVerifier(f, iss, clock)
	valid := sign(f, iss.key("ES256"), "at+jwt", iss.claims(clock.Now()))
	parts := strings.Split(valid, ".")
	for _, seed := range []string{
		valid,
		sign(f, iss.key("EdDSA"), "at+jwt", iss.claims(clock.Now())),
		parts[0] + "." + parts[1] + ".",
		parts[0] + ".." + parts[2],
		b64(map[string]any{"alg": "none", "typ": "at+jwt"}) + "." + parts[1] + ".",
		b64(map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "key-ES256", "crit": []string{"exp"}}) + "." + parts[1] + "." + parts[2],
		b64(map[string]any{"alg": "ES256", "typ": 7, "kid": []int{1}}) + "." + b64(map[string]any{"aud": 1, "exp": "x"}) + "." + parts[2],
		"", ".", "..", "a.b.c", "a.b.c.d.e", "eyJ.eyJ.", strings.Repeat("A", 1000),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(context.Background(), raw)
		if err != nil {
			if _, ok := errors.AsType[*resource.TokenError](err); !ok {
				t.Fatalf("error %v is %T, want *TokenError", err, err)
			}
			if c != nil {
				t.Fatal("claims returned with an error")
			}
			return
		}
		if c.Subject == "" || c.ExpiresAt.IsZero() {
			t.Fatalf("accepted token with claims %+v", c)
		}
	})
}

// FuzzAuthorizationHeader feeds arbitrary Authorization headers to the
// middleware: it must never panic and only answer 200, 400 or 401.
func FuzzAuthorizationHeader(f *testing.F) {
	clock := newFakeClock()
	iss := newFakeIssuer(f)
	v := newVerifier(f, iss, clock)
	for _, seed := range []string{
		"Bearer " + sign(f, iss.key("ES256"), "at+jwt", iss.claims(clock.Now())),
		"", "Bearer", "Bearer ", "bearer x", "Basic abc", "Bearer a b", "Bearer\tx", " Bearer x",
		"DPoP", "DPoP ", "dpop x", "DPoP a b", "DPoP " + sign(f, iss.key("ES256"), "at+jwt", iss.claims(clock.Now())),
	} {
		f.Add(seed)
	}
	h := v.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	f.Fuzz(func(t *testing.T, header string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", header)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized:
		default:
			t.Fatalf("status %d", rec.Code)
		}
		if rec.Code != http.StatusOK && strings.ContainsAny(rec.Header().Get("WWW-Authenticate"), "\r\n") {
			t.Fatal("WWW-Authenticate contains a line break")
		}
	})
}
