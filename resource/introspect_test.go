package resource_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authserver-dev/authserver/resource"
)

const (
	// opaqueToken is what the tests present; errors must never contain it.
	opaqueToken        = "zq8Xv.0paque-t0ken"
	introspectClientID = "api client"
	// The secret has characters that RFC 6749 §2.3.1 form-urlencodes before
	// Basic auth, so the test fails if the encoding is skipped.
	introspectSecret = "s3cr+t/=&%"
)

// fakeIntrospection is a provider with discovery and an RFC 7662 endpoint
// that answers what the test registered, as-is: the provider's judgement is
// the test's to choose, so the Introspector's own checks can be tested.
type fakeIntrospection struct {
	issuer string
	client *http.Client
	clock  *fakeClock
	calls  atomic.Int64 // requests to the introspection endpoint
	status atomic.Int64 // non-zero: the introspection endpoint answers this
	gate   chan struct{}

	mu     sync.Mutex
	tokens map[string]map[string]any // token → active answer
	raw    string                    // non-empty: the introspection body, verbatim
}

// newFakeIntrospection serves the fake over httptest.
func newFakeIntrospection(t *testing.T, clock *fakeClock) *fakeIntrospection {
	t.Helper()
	f := &fakeIntrospection{clock: clock, tokens: make(map[string]map[string]any)}
	srv := httptest.NewServer(f.handler(t))
	t.Cleanup(srv.Close)
	f.issuer, f.client = srv.URL, srv.Client()
	return f
}

// newInMemoryIntrospection serves the fake through an in-memory transport,
// for synctest bubbles (network I/O does not count as durably blocked).
// gate, when not nil, holds every introspection request until it is closed.
func newInMemoryIntrospection(t *testing.T, clock *fakeClock, gate chan struct{}) *fakeIntrospection {
	f := &fakeIntrospection{clock: clock, tokens: make(map[string]map[string]any), gate: gate, issuer: "http://issuer.test"}
	f.client = &http.Client{Transport: handlerTransport{f.handler(t)}}
	return f
}

type handlerTransport struct{ h http.Handler }

func (tr handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	tr.h.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

func (f *fakeIntrospection) handler(t *testing.T) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"issuer": f.issuer, "jwks_uri": f.issuer + "/jwks", "introspection_endpoint": f.issuer + "/introspect"})
	})
	mux.HandleFunc("POST /introspect", func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		if f.gate != nil {
			<-f.gate
		}
		if s := f.status.Load(); s != 0 {
			http.Error(w, "provider trouble", int(s))
			return
		}
		id, secret, _ := r.BasicAuth()
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		if id != introspectClientID || secret != introspectSecret {
			w.WriteHeader(http.StatusUnauthorized)
			writeJSON(w, map[string]string{"error": "invalid_client"})
			return
		}
		if err := r.ParseForm(); err != nil || r.Form.Get("token") == "" {
			t.Errorf("introspection request without a token: %v", err)
		}
		f.mu.Lock()
		answer, raw := f.tokens[r.PostForm.Get("token")], f.raw
		f.mu.Unlock()
		switch {
		case raw != "":
			_, _ = w.Write([]byte(raw))
		case answer == nil:
			writeJSON(w, map[string]any{"active": false})
		default:
			writeJSON(w, answer)
		}
	})
	return mux
}

// issue makes token active with the usual answer, changed by changes (a nil
// value deletes the field).
func (f *fakeIntrospection) issue(token string, changes map[string]any) {
	now := f.clock.Now()
	answer := with(map[string]any{
		"active":     true,
		"iss":        f.issuer,
		"aud":        []string{testAudience, "https://other.example.test"},
		"sub":        "alice",
		"client_id":  "demo-web",
		"scope":      "openid api.read",
		"exp":        now.Add(5 * time.Minute).Unix(),
		"iat":        now.Add(-time.Minute).Unix(),
		"token_type": "Bearer",
		"jti":        "jti-1",
	}, changes)
	f.mu.Lock()
	f.tokens[token] = answer
	f.mu.Unlock()
}

// revoke makes token inactive.
func (f *fakeIntrospection) revoke(token string) {
	f.mu.Lock()
	delete(f.tokens, token)
	f.mu.Unlock()
}

func newIntrospector(t *testing.T, f *fakeIntrospection, clock *fakeClock, ttl time.Duration) *resource.Introspector {
	t.Helper()
	in, err := resource.NewIntrospector(context.Background(), resource.IntrospectionConfig{
		Issuer: f.issuer, Audience: testAudience, ClientID: introspectClientID, ClientSecret: introspectSecret,
		CacheTTL: ttl, HTTPClient: f.client, Now: clock.Now, Logger: discardLogger(),
	})
	if err != nil {
		t.Fatalf("NewIntrospector: %v", err)
	}
	return in
}

func TestIntrospectorVerify(t *testing.T) {
	now := newFakeClock().Now() // every case's fresh clock starts here
	cases := []struct {
		name       string
		changes    map[string]any // applied to the usual active answer
		unknown    bool           // the provider does not know the token
		token      string         // default opaqueToken
		wantReason string         // substring of TokenError.Reason; empty means valid
		wantIs     error
	}{
		{name: "active"},
		{name: "aud as a string", changes: map[string]any{"aud": testAudience}},
		{name: "no token_type", changes: map[string]any{"token_type": nil}},
		{name: "no iat", changes: map[string]any{"iat": nil}},

		{name: "unknown token", unknown: true, wantReason: "not active"},
		{name: "inactive", changes: map[string]any{"active": false}, wantReason: "not active"},
		{name: "wrong iss", changes: map[string]any{"iss": "https://evil.example.test"}, wantReason: "was not issued by"},
		{name: "wrong aud", changes: map[string]any{"aud": []string{"https://other.example.test"}}, wantReason: "audience does not include"},
		{name: "no aud", changes: map[string]any{"aud": nil}, wantReason: "audience does not include"},
		{name: "expired", changes: map[string]any{"exp": now.Add(-time.Second).Unix()}, wantReason: "token expired at", wantIs: resource.ErrExpired},
		{name: "exp exactly now", changes: map[string]any{"exp": now.Unix()}, wantReason: "token expired", wantIs: resource.ErrExpired},
		{name: "no exp", changes: map[string]any{"exp": nil}, wantReason: "no exp"},
		{name: "nbf in the future", changes: map[string]any{"nbf": now.Add(time.Minute).Unix()}, wantReason: "not valid before"},
		{name: "refresh token", changes: map[string]any{"token_type": "refresh_token"}, wantReason: "refresh token"},
		{name: "refresh token in other case", changes: map[string]any{"token_type": "Refresh_Token"}, wantReason: "refresh token"},
		{name: "no sub", changes: map[string]any{"sub": nil}, wantReason: "no sub"},
		{name: "no client_id", changes: map[string]any{"client_id": nil}, wantReason: "no client_id"},
		{name: "no jti", changes: map[string]any{"jti": nil}, wantReason: "no jti"},
		{name: "empty token", token: " ", wantReason: "empty"},
		{name: "oversized token", token: strings.Repeat("a", 16<<10+1), wantReason: "longer than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := newFakeClock()
			f := newFakeIntrospection(t, clock)
			in := newIntrospector(t, f, clock, 0)
			token := opaqueToken
			switch c.token {
			case "":
			case " ":
				token = ""
			default:
				token = c.token
			}
			if !c.unknown {
				f.issue(token, c.changes)
			}

			claims, err := in.Verify(context.Background(), token)
			if c.wantReason == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if claims.Subject != "alice" || claims.ClientID != "demo-web" || claims.ID != "jti-1" || claims.Issuer != f.issuer ||
					!slices.Contains(claims.Audience, testAudience) || !claims.HasScope("api.read") ||
					!claims.ExpiresAt.Equal(now.Add(5*time.Minute)) {
					t.Errorf("claims = %+v", claims)
				}
				return
			}
			te, ok := errors.AsType[*resource.TokenError](err)
			if !ok {
				t.Fatalf("err = %v (%T), want *TokenError", err, err)
			}
			if !strings.Contains(te.Reason, c.wantReason) {
				t.Errorf("reason = %q, want it to contain %q", te.Reason, c.wantReason)
			}
			if c.wantIs != nil && !errors.Is(err, c.wantIs) {
				t.Errorf("err = %v, want errors.Is %v", err, c.wantIs)
			}
			if strings.Contains(err.Error(), opaqueToken) && token != "" {
				t.Errorf("error %q contains the token", err)
			}
		})
	}
}

func TestIntrospectorProviderFailures(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(t *testing.T, f *fakeIntrospection) // makes the provider fail
		ttl    time.Duration
		wantIs error
	}{
		{name: "500", wantIs: resource.ErrProviderUnavailable,
			break_: func(t *testing.T, f *fakeIntrospection) { f.status.Store(http.StatusInternalServerError) }},
		{name: "503", wantIs: resource.ErrProviderUnavailable,
			break_: func(t *testing.T, f *fakeIntrospection) { f.status.Store(http.StatusServiceUnavailable) }},
		{name: "429", wantIs: resource.ErrProviderUnavailable,
			break_: func(t *testing.T, f *fakeIntrospection) { f.status.Store(http.StatusTooManyRequests) }},
		{name: "malformed answer", wantIs: resource.ErrProviderUnavailable,
			break_: func(t *testing.T, f *fakeIntrospection) { f.mu.Lock(); f.raw = `{"active":"yes"}`; f.mu.Unlock() }},
		{name: "unreachable", wantIs: resource.ErrProviderUnavailable,
			break_: func(t *testing.T, f *fakeIntrospection) {
				f.client.Transport = roundTripFunc(func(*http.Request) (*http.Response, error) {
					return nil, errors.New("connection refused")
				})
			}},
		{name: "client credentials refused", wantIs: resource.ErrInvalidConfig,
			break_: func(t *testing.T, f *fakeIntrospection) { f.status.Store(http.StatusUnauthorized) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := newFakeClock()
			f := newFakeIntrospection(t, clock)
			in := newIntrospector(t, f, clock, 0)
			f.issue(opaqueToken, nil)
			c.break_(t, f)

			_, err := in.Verify(context.Background(), opaqueToken)
			if !errors.Is(err, c.wantIs) {
				t.Fatalf("err = %v, want errors.Is %v", err, c.wantIs)
			}
			if _, ok := errors.AsType[*resource.TokenError](err); ok {
				t.Errorf("err is a *TokenError; a provider failure says nothing about the token")
			}
			if strings.Contains(err.Error(), opaqueToken) || strings.Contains(err.Error(), introspectSecret) {
				t.Errorf("error %q contains the token or the secret", err)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestNewIntrospectorErrors(t *testing.T) {
	clock := newFakeClock()
	cases := []struct {
		name    string
		cfg     func(issuer string) resource.IntrospectionConfig
		discov  map[string]any // discovery document served, default the fake's
		wantErr string
		wantIs  error // ErrInvalidConfig or nil
	}{
		{name: "no client id", wantIs: resource.ErrInvalidConfig, wantErr: "ClientID is required",
			cfg: func(issuer string) resource.IntrospectionConfig {
				return resource.IntrospectionConfig{Issuer: issuer, Audience: testAudience, ClientSecret: "x"}
			}},
		{name: "no secret, audience or issuer", wantIs: resource.ErrInvalidConfig, wantErr: "Issuer is required; Audience is required; ClientSecret is required",
			cfg: func(string) resource.IntrospectionConfig {
				return resource.IntrospectionConfig{ClientID: "x"}
			}},
		{name: "issuer mismatch", wantErr: "names issuer",
			discov: map[string]any{"issuer": "https://evil.example.test", "introspection_endpoint": "https://evil.example.test/introspect"}},
		{name: "no introspection endpoint", wantErr: "no valid introspection_endpoint",
			discov: map[string]any{"issuer": "ISSUER", "jwks_uri": "ISSUER/jwks"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var srv *httptest.Server
			srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				doc := map[string]any{}
				for k, v := range c.discov {
					if s, ok := v.(string); ok {
						v = strings.ReplaceAll(s, "ISSUER", srv.URL)
					}
					doc[k] = v
				}
				writeJSON(w, doc)
			}))
			defer srv.Close()
			cfg := resource.IntrospectionConfig{Issuer: srv.URL, Audience: testAudience, ClientID: "id", ClientSecret: "secret", Now: clock.Now}
			if c.cfg != nil {
				cfg = c.cfg(srv.URL)
			}
			_, err := resource.NewIntrospector(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, c.wantErr)
			}
			if got, want := errors.Is(err, resource.ErrInvalidConfig), c.wantIs != nil; got != want {
				t.Errorf("errors.Is(err, ErrInvalidConfig) = %v, want %v", got, want)
			}
		})
	}
}

func TestIntrospectionMiddleware(t *testing.T) {
	const realm = `Bearer realm="` + testAudience + `"`
	cases := []struct {
		name       string
		setup      func(f *fakeIntrospection) // before the request
		handler    func(in *resource.Introspector, next http.Handler) http.Handler
		wantCode   int
		wantAuthn  string // WWW-Authenticate, exact
		wantError  string // "error" in the JSON body
		wantClaims bool
	}{
		{name: "active token with the scope", wantCode: 200, wantClaims: true,
			setup: func(f *fakeIntrospection) { f.issue(opaqueToken, nil) }},
		{name: "authenticate method", wantCode: 200, wantClaims: true,
			setup:   func(f *fakeIntrospection) { f.issue(opaqueToken, nil) },
			handler: (*resource.Introspector).Authenticate},
		{name: "scope missing", wantCode: 403, wantError: "insufficient_scope",
			setup:     func(f *fakeIntrospection) { f.issue(opaqueToken, map[string]any{"scope": "api.write"}) },
			wantAuthn: realm + `, error="insufficient_scope", error_description="the access token was not granted scope api.read", scope="api.read"`},
		{name: "inactive token", wantCode: 401, wantError: "invalid_token",
			setup:     func(f *fakeIntrospection) {},
			wantAuthn: realm + `, error="invalid_token", error_description="token is not active (revoked, expired or unknown to the issuer)"`},
		{name: "refresh token", wantCode: 401, wantError: "invalid_token",
			setup:     func(f *fakeIntrospection) { f.issue(opaqueToken, map[string]any{"token_type": "refresh_token"}) },
			wantAuthn: realm + `, error="invalid_token", error_description="token is a refresh token, not an access token"`},
		{name: "provider 500 is 503, not 401", wantCode: 503, wantError: "temporarily_unavailable",
			setup: func(f *fakeIntrospection) { f.issue(opaqueToken, nil); f.status.Store(500) }},
		{name: "client credentials refused is 503, not 401", wantCode: 503, wantError: "temporarily_unavailable",
			setup: func(f *fakeIntrospection) { f.issue(opaqueToken, nil); f.status.Store(401) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := newFakeClock()
			f := newFakeIntrospection(t, clock)
			in := newIntrospector(t, f, clock, 0)
			c.setup(f)
			var seen *resource.Claims
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen, _ = resource.ClaimsFromContext(r.Context())
			})
			h := resource.RequireScope(in, "api.read", next)
			if c.handler != nil {
				h = c.handler(in, next)
			}
			req := httptest.NewRequest(http.MethodGet, "/api", nil)
			req.Header.Set("Authorization", "Bearer "+opaqueToken)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if rec.Code != c.wantCode {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, c.wantCode, rec.Body)
			}
			if c.wantClaims != (seen != nil) || (seen != nil && seen.Subject != "alice") {
				t.Errorf("claims in context = %+v", seen)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != c.wantAuthn {
				t.Errorf("WWW-Authenticate = %q\nwant                %q", got, c.wantAuthn)
			}
			if c.wantError != "" {
				var body struct{ Error string }
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error != c.wantError {
					t.Errorf("body %s (%v), want error %q", rec.Body, err, c.wantError)
				}
				if got := rec.Header().Get("Cache-Control"); got != "no-store" {
					t.Errorf("Cache-Control = %q", got)
				}
			}
		})
	}
}

// verifierFunc is a TokenVerifier of another package: no realm, no logger.
type verifierFunc func(ctx context.Context, raw string) (*resource.Claims, error)

func (f verifierFunc) Verify(ctx context.Context, raw string) (*resource.Claims, error) {
	return f(ctx, raw)
}

func TestMiddlewareWithAnyTokenVerifier(t *testing.T) {
	cases := []struct {
		name      string
		auth      string
		err       error
		wantCode  int
		wantAuthn string
	}{
		{name: "valid", auth: "Bearer " + opaqueToken, wantCode: 200},
		{name: "no token: challenge without realm", wantCode: 401, wantAuthn: "Bearer"},
		{name: "refused token", auth: "Bearer " + opaqueToken, err: &resource.TokenError{Reason: "nope"}, wantCode: 401,
			wantAuthn: `Bearer error="invalid_token", error_description="nope"`},
		{name: "any other error is 503", auth: "Bearer " + opaqueToken, err: errors.New("database down"), wantCode: 503},
		{name: "wrapped TokenError is still 401", auth: "Bearer " + opaqueToken, err: fmt.Errorf("wrapped: %w", &resource.TokenError{Reason: "nope"}),
			wantCode: 401, wantAuthn: `Bearer error="invalid_token", error_description="nope"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := verifierFunc(func(context.Context, string) (*resource.Claims, error) {
				if c.err != nil {
					return nil, c.err
				}
				return &resource.Claims{Subject: "alice", Scopes: []string{"api.read"}}, nil
			})
			req := httptest.NewRequest(http.MethodGet, "/api", nil)
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			rec := httptest.NewRecorder()
			resource.Authenticate(v, resource.RequireScope(v, "api.read", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))).ServeHTTP(rec, req)
			if rec.Code != c.wantCode {
				t.Fatalf("status = %d, want %d", rec.Code, c.wantCode)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != c.wantAuthn {
				t.Errorf("WWW-Authenticate = %q, want %q", got, c.wantAuthn)
			}
		})
	}
}

func TestIntrospectionCache(t *testing.T) {
	ctx := context.Background()
	type env struct {
		f     *fakeIntrospection
		in    *resource.Introspector
		clock *fakeClock
	}
	ok := func(t *testing.T, e env, token string) {
		t.Helper()
		if _, err := e.in.Verify(ctx, token); err != nil {
			t.Fatalf("Verify(%s): %v", token, err)
		}
	}
	refused := func(t *testing.T, e env, token string, wantIs error) {
		t.Helper()
		_, err := e.in.Verify(ctx, token)
		if _, isTokenErr := errors.AsType[*resource.TokenError](err); !isTokenErr || (wantIs != nil && !errors.Is(err, wantIs)) {
			t.Fatalf("Verify(%s) = %v, want a *TokenError (errors.Is %v)", token, err, wantIs)
		}
	}
	cases := []struct {
		name      string
		ttl       time.Duration
		run       func(t *testing.T, e env)
		wantCalls int64
	}{
		{name: "active answer is reused", ttl: 10 * time.Second, wantCalls: 1,
			run: func(t *testing.T, e env) { e.f.issue("a", nil); ok(t, e, "a"); ok(t, e, "a"); ok(t, e, "a") }},
		{name: "inactive answer is reused", ttl: 10 * time.Second, wantCalls: 1,
			run: func(t *testing.T, e env) { refused(t, e, "a", nil); refused(t, e, "a", nil) }},
		{name: "tokens are cached separately", ttl: 10 * time.Second, wantCalls: 2,
			run: func(t *testing.T, e env) {
				e.f.issue("a", nil)
				ok(t, e, "a")
				refused(t, e, "b", nil)
				ok(t, e, "a")
				refused(t, e, "b", nil)
			}},
		{name: "answer expires after CacheTTL", ttl: 10 * time.Second, wantCalls: 2,
			run: func(t *testing.T, e env) {
				e.f.issue("a", nil)
				ok(t, e, "a")
				e.clock.advance(10*time.Second - time.Nanosecond)
				ok(t, e, "a") // still cached
				e.clock.advance(time.Nanosecond)
				ok(t, e, "a") // asked again
			}},
		{name: "zero CacheTTL means the 10s default", ttl: 0, wantCalls: 2,
			run: func(t *testing.T, e env) {
				e.f.issue("a", nil)
				ok(t, e, "a")
				e.clock.advance(resource.DefaultCacheTTL - time.Second)
				ok(t, e, "a")
				e.clock.advance(time.Second)
				ok(t, e, "a")
			}},
		{name: "negative answer expires after CacheTTL", ttl: 10 * time.Second, wantCalls: 2,
			run: func(t *testing.T, e env) {
				refused(t, e, "a", nil)
				e.f.issue("a", nil) // cannot happen with a real provider; shows the entry expired
				e.clock.advance(10 * time.Second)
				ok(t, e, "a")
			}},
		{name: "revocation is seen at most CacheTTL later", ttl: 10 * time.Second, wantCalls: 2,
			run: func(t *testing.T, e env) {
				e.f.issue("a", nil)
				ok(t, e, "a")
				e.f.revoke("a")
				e.clock.advance(5 * time.Second)
				ok(t, e, "a") // the documented window
				e.clock.advance(5 * time.Second)
				refused(t, e, "a", nil)
			}},
		{name: "cache never outlives exp", ttl: 10 * time.Second, wantCalls: 2,
			run: func(t *testing.T, e env) {
				e.f.issue("a", map[string]any{"exp": e.clock.Now().Add(3 * time.Second).Unix()})
				ok(t, e, "a")
				e.clock.advance(3 * time.Second)
				refused(t, e, "a", resource.ErrExpired) // asked again, and judged expired
			}},
		{name: "provider errors are not cached", ttl: 10 * time.Second, wantCalls: 2,
			run: func(t *testing.T, e env) {
				e.f.issue("a", nil)
				e.f.status.Store(500)
				if _, err := e.in.Verify(ctx, "a"); !errors.Is(err, resource.ErrProviderUnavailable) {
					t.Fatalf("err = %v", err)
				}
				e.f.status.Store(0)
				ok(t, e, "a")
			}},
		{name: "negative CacheTTL disables the cache", ttl: -1, wantCalls: 3,
			run: func(t *testing.T, e env) {
				e.f.issue("a", nil)
				ok(t, e, "a")
				ok(t, e, "a")
				e.f.revoke("a")
				refused(t, e, "a", nil)
			}},
		{name: "callers get their own copy of cached claims", ttl: 10 * time.Second, wantCalls: 1,
			run: func(t *testing.T, e env) {
				e.f.issue("a", nil)
				c, _ := e.in.Verify(ctx, "a")
				c.Scopes[0], c.Subject = "admin", "mallory"
				c, _ = e.in.Verify(ctx, "a")
				if c.Scopes[0] == "admin" || c.Subject != "alice" {
					t.Errorf("cached claims were changed through a returned copy: %+v", c)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := newFakeClock()
			f := newFakeIntrospection(t, clock)
			e := env{f: f, in: newIntrospector(t, f, clock, c.ttl), clock: clock}
			c.run(t, e)
			if got := f.calls.Load(); got != c.wantCalls {
				t.Errorf("introspection calls = %d, want %d", got, c.wantCalls)
			}
		})
	}
}

// TestIntrospectionSingleflight runs in a synctest bubble so that "all 50
// callers are waiting" is a fact (synctest.Wait), not a sleep. The cache is
// off, so only call sharing can explain a single request.
func TestIntrospectionSingleflight(t *testing.T) {
	t.Run("50 concurrent identical requests make one call", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			clock := newFakeClock()
			gate := make(chan struct{})
			f := newInMemoryIntrospection(t, clock, gate)
			in := newIntrospector(t, f, clock, -1)
			f.issue(opaqueToken, nil)

			var wg sync.WaitGroup
			var failures atomic.Int64
			for range 50 {
				wg.Go(func() {
					if c, err := in.Verify(context.Background(), opaqueToken); err != nil || c.Subject != "alice" {
						failures.Add(1)
					}
				})
			}
			synctest.Wait() // one caller is in the provider, 49 wait for it
			close(gate)
			wg.Wait()
			if got := f.calls.Load(); got != 1 {
				t.Errorf("introspection calls = %d, want 1", got)
			}
			if n := failures.Load(); n != 0 {
				t.Errorf("%d callers failed", n)
			}
		})
	})
	t.Run("a caller giving up does not cancel the shared call", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			clock := newFakeClock()
			gate := make(chan struct{})
			f := newInMemoryIntrospection(t, clock, gate)
			in := newIntrospector(t, f, clock, -1)
			f.issue(opaqueToken, nil)

			first, cancel := context.WithCancel(context.Background())
			var firstErr, secondErr error
			var wg sync.WaitGroup
			wg.Go(func() { _, firstErr = in.Verify(first, opaqueToken) })
			synctest.Wait() // the first caller started the call
			wg.Go(func() { _, secondErr = in.Verify(context.Background(), opaqueToken) })
			synctest.Wait()
			cancel()
			synctest.Wait()
			close(gate)
			wg.Wait()
			if !errors.Is(firstErr, context.Canceled) || secondErr != nil {
				t.Errorf("first err = %v (want context.Canceled), second err = %v (want nil)", firstErr, secondErr)
			}
			if got := f.calls.Load(); got != 1 {
				t.Errorf("introspection calls = %d, want 1", got)
			}
		})
	})
}
