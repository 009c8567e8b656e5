package resource_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/resource"
)

func TestMiddleware(t *testing.T) {
	const realm = `Bearer realm="` + testAudience + `"`
	type tc struct {
		name      string
		handler   func(v *resource.Verifier, next http.Handler) http.Handler
		target    string                                      // default "/api"
		header    func(f *fakeIssuer, now time.Time) []string // Authorization values
		wantCode  int
		wantAuthn string // WWW-Authenticate, exact
		wantError string // "error" in the JSON body
	}
	bearer := func(changes map[string]any) func(f *fakeIssuer, now time.Time) []string {
		return func(f *fakeIssuer, now time.Time) []string {
			return []string{"Bearer " + sign(t, f.key("ES256"), "at+jwt", with(f.claims(now), changes))}
		}
	}
	requireRead := func(v *resource.Verifier, next http.Handler) http.Handler { return v.RequireScope("api.read", next) }
	requireWrite := func(v *resource.Verifier, next http.Handler) http.Handler { return v.RequireScope("api.write", next) }
	chained := func(v *resource.Verifier, next http.Handler) http.Handler {
		return v.Authenticate(v.RequireScope("api.read", next))
	}
	cases := []tc{
		{name: "scope present", handler: requireRead, header: bearer(nil), wantCode: 200},
		{name: "authenticate only", handler: (*resource.Verifier).Authenticate, header: bearer(nil), wantCode: 200},
		{name: "authenticate then require scope", handler: chained, header: bearer(nil), wantCode: 200},
		{
			name: "scheme in lower case", handler: requireRead, wantCode: 200,
			header: func(f *fakeIssuer, now time.Time) []string {
				return []string{"bearer " + sign(t, f.key("EdDSA"), "at+jwt", f.claims(now))}
			},
		},
		{
			name: "scope missing", handler: requireWrite, header: bearer(nil), wantCode: 403,
			wantAuthn: realm + `, error="insufficient_scope", error_description="the access token was not granted scope api.write", scope="api.write"`,
			wantError: "insufficient_scope",
		},
		{
			name: "missing header", handler: requireRead, wantCode: 401, wantAuthn: realm,
			header: func(*fakeIssuer, time.Time) []string { return nil },
		},
		{
			name: "wrong scheme", handler: requireRead, wantCode: 401, wantAuthn: realm,
			header: func(*fakeIssuer, time.Time) []string { return []string{"Basic ZGVtbzpzZWNyZXQ="} },
		},
		{
			name: "expired token", handler: requireRead, wantCode: 401, wantError: "invalid_token",
			header:    bearer(map[string]any{"exp": time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC).Unix()}),
			wantAuthn: realm + `, error="invalid_token", error_description="token expired at 2026-03-01T11:00:00Z"`,
		},
		{
			name: "wrong audience", handler: (*resource.Verifier).Authenticate, wantCode: 401, wantError: "invalid_token",
			header:    bearer(map[string]any{"aud": "https://other.example.test"}),
			wantAuthn: realm + `, error="invalid_token", error_description="token audience does not include ` + testAudience + `"`,
		},
		{
			name: "garbage token", handler: requireRead, wantCode: 401, wantError: "invalid_token",
			header:    func(*fakeIssuer, time.Time) []string { return []string{`Bearer "x\y"`} },
			wantAuthn: realm + `, error="invalid_token", error_description="token is not a JWS-signed JWT with an allowed algorithm"`,
		},
		{
			name: "Bearer without token", handler: requireRead, wantCode: 400, wantError: "invalid_request",
			header:    func(*fakeIssuer, time.Time) []string { return []string{"Bearer"} },
			wantAuthn: realm + `, error="invalid_request", error_description="malformed Authorization header; expected: Bearer <token>"`,
		},
		{
			name: "token with a space", handler: requireRead, wantCode: 400, wantError: "invalid_request",
			header:    func(*fakeIssuer, time.Time) []string { return []string{"Bearer a b"} },
			wantAuthn: realm + `, error="invalid_request", error_description="malformed Authorization header; expected: Bearer <token>"`,
		},
		{
			name: "two Authorization headers", handler: requireRead, wantCode: 400, wantError: "invalid_request",
			header: func(f *fakeIssuer, now time.Time) []string {
				tok := "Bearer " + sign(t, f.key("ES256"), "at+jwt", f.claims(now))
				return []string{tok, tok}
			},
			wantAuthn: realm + `, error="invalid_request", error_description="more than one Authorization header"`,
		},
		{
			name: "token in the query string", handler: requireRead, target: "/api?access_token=x", wantCode: 400, wantError: "invalid_request",
			header:    func(*fakeIssuer, time.Time) []string { return nil },
			wantAuthn: realm + `, error="invalid_request", error_description="access tokens are not accepted in the URL query; send them in the Authorization header"`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := newFakeClock()
			f := newFakeIssuer(t)
			v := newVerifier(t, f, clock)
			var seen *resource.Claims
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen, _ = resource.ClaimsFromContext(r.Context())
				w.WriteHeader(http.StatusOK)
			})
			target := c.target
			if target == "" {
				target = "/api"
			}
			req := httptest.NewRequest(http.MethodGet, target, nil)
			for _, h := range c.header(f, clock.Now()) {
				req.Header.Add("Authorization", h)
			}
			rec := httptest.NewRecorder()
			c.handler(v, next).ServeHTTP(rec, req)

			if rec.Code != c.wantCode {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, c.wantCode, rec.Body)
			}
			if c.wantCode == http.StatusOK {
				if seen == nil || seen.Subject != "alice" {
					t.Errorf("claims in context = %+v", seen)
				}
				return
			}
			if seen != nil {
				t.Error("next handler ran")
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != c.wantAuthn {
				t.Errorf("WWW-Authenticate = %s\nwant                %s", got, c.wantAuthn)
			}
			if got := rec.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q", got)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q", got)
			}
			var body struct {
				Error       *string `json:"error"`
				Description string  `json:"error_description"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			switch {
			case c.wantError == "" && body.Error != nil:
				t.Errorf("body has error %q, want none (RFC 6750 §3.1: no error code without credentials)", *body.Error)
			case c.wantError != "" && (body.Error == nil || *body.Error != c.wantError):
				t.Errorf("body error = %v, want %q", body.Error, c.wantError)
			}
			if body.Description == "" {
				t.Error("body has no error_description")
			}
		})
	}
}
