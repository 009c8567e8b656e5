package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// onlineApp discovers the fake provider over loopback HTTP.
func onlineApp(t *testing.T, f *fakeProvider, apiURL string) *app {
	t.Helper()
	a, err := newApp(context.Background(), appConfig{
		Issuer: f.srv.URL, ClientID: "demo-web", ClientSecret: "demo-web-secret-not-for-production",
		Listen: "127.0.0.1:9094", APIURL: apiURL, Scopes: []string{"openid", "profile", "offline_access", "api.read"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// signIn runs /login and /callback as the provider would after consent.
func signIn(t *testing.T, f *fakeProvider, b *browser) *httptest.ResponseRecorder {
	t.Helper()
	login := b.startLogin()
	f.mu.Lock()
	f.challenge, f.nonce = login.Get("code_challenge"), login.Get("nonce")
	f.mu.Unlock()
	return b.do(http.MethodGet, "/callback?code=good-code&state="+url.QueryEscape(login.Get("state"))+"&iss="+url.QueryEscape(f.srv.URL), nil)
}

func TestFlowWithFakeProvider(t *testing.T) {
	f := newFakeProvider(t)
	api := fakeAPI(t)
	b := newBrowser(t, onlineApp(t, f, api.URL).Handler())

	rec := signIn(t, f, b)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/me" {
		t.Fatalf("callback: status %d, Location %q, body:\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	if c := b.cookies[sessionCookie]; c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie = %+v", c)
	}
	me := b.do(http.MethodGet, "/me", nil)
	body := me.Body.String()
	for _, want := range []string{
		"Signed in as Alice Example", "The nonce matches", "at_hash matches the access token",
		"decoded, verified by the API", "api.read", "200 OK", "hello from the API", "issued",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/me lacks %q", want)
		}
	}
	if csp := me.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' "+f.srv.URL) {
		t.Errorf("CSP %q does not let the sign-out form reach the provider", csp)
	}
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token on /me")
	}
	csrf := m[1]

	t.Run("posts without the CSRF token are refused", func(t *testing.T) {
		for _, path := range []string{"/refresh", "/call", "/logout"} {
			if rec := b.do(http.MethodPost, path, url.Values{"csrf_token": {"wrong"}}); rec.Code != http.StatusForbidden {
				t.Errorf("%s: status %d, want 403", path, rec.Code)
			}
		}
	})
	t.Run("refresh", func(t *testing.T) {
		rec := b.do(http.MethodPost, "/refresh", url.Values{"csrf_token": {csrf}})
		if rec.Code != http.StatusSeeOther {
			t.Fatalf("status %d", rec.Code)
		}
		body := b.do(http.MethodGet, "/me", nil).Body.String()
		if !strings.Contains(body, "New tokens issued.") || !strings.Contains(body, "The refresh token was rotated.") {
			t.Errorf("no refresh message on /me:\n%s", body)
		}
		if f.refreshCount != 1 {
			t.Errorf("provider saw %d refreshes, want 1", f.refreshCount)
		}
	})
	t.Run("call again", func(t *testing.T) {
		if rec := b.do(http.MethodPost, "/call", url.Values{"csrf_token": {csrf}}); rec.Code != http.StatusSeeOther {
			t.Fatalf("status %d", rec.Code)
		}
	})
	t.Run("logout goes to the provider's end_session_endpoint", func(t *testing.T) {
		rec := b.do(http.MethodPost, "/logout", url.Values{"csrf_token": {csrf}})
		loc, err := url.Parse(rec.Header().Get("Location"))
		if rec.Code != http.StatusSeeOther || err != nil {
			t.Fatalf("status %d, Location %q", rec.Code, rec.Header().Get("Location"))
		}
		q := loc.Query()
		if loc.Path != "/logout" || q.Get("client_id") != "demo-web" || q.Get("post_logout_redirect_uri") != "http://127.0.0.1:9094/" || strings.Count(q.Get("id_token_hint"), ".") != 2 {
			t.Errorf("logout redirect = %s", loc)
		}
		if rec := b.do(http.MethodGet, "/me", nil); rec.Code != http.StatusSeeOther {
			t.Errorf("/me after logout: status %d, want a redirect home", rec.Code)
		}
	})
}

func TestCallbackRejectsBadIDToken(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fakeProvider)
		want  string
	}{
		{"nonce mismatch", func(f *fakeProvider) { f.idNonceOverride = "someone-elses-nonce" }, "nonce does not match"},
		{"at_hash mismatch", func(f *fakeProvider) { f.badAtHash = true }, "at_hash does not match"},
		{"PKCE verifier the provider does not accept", func(f *fakeProvider) { f.challenge = "" }, "invalid_grant"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeProvider(t)
			b := newBrowser(t, onlineApp(t, f, fakeAPI(t).URL).Handler())
			login := b.startLogin()
			f.challenge, f.nonce = login.Get("code_challenge"), login.Get("nonce")
			tc.setup(f)
			rec := b.do(http.MethodGet, "/callback?code=good-code&state="+url.QueryEscape(login.Get("state")), nil)
			if rec.Code != http.StatusBadGateway || !strings.Contains(rec.Body.String(), tc.want) {
				t.Errorf("status %d, want 502 mentioning %q:\n%s", rec.Code, tc.want, rec.Body)
			}
			if _, ok := b.cookies[sessionCookie]; ok {
				t.Error("a session was opened")
			}
		})
	}
}

func TestPasswordMode(t *testing.T) {
	okAPI := func(t *testing.T) string { return fakeAPI(t).URL }
	refusingAPI := func(t *testing.T) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope"`)
			w.WriteHeader(http.StatusForbidden)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	tests := []struct {
		name      string
		creds     credentials
		api       func(t *testing.T) string
		wantOut   []string
		wantError string
	}{
		{"success", credentials{"alice", "alice-password"}, okAPI,
			[]string{"ID token (verified):", "Alice Example", "Access token claims (decoded, verified by the API):", "200 OK", "hello from the API"}, ""},
		{"wrong password", credentials{"alice", "nope"}, okAPI, nil, "invalid_grant: wrong username or password"},
		{"API refuses", credentials{"alice", "alice-password"}, refusingAPI, []string{"insufficient_scope"}, "403 Forbidden"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeProvider(t)
			var out bytes.Buffer
			err := runPassword(context.Background(), appConfig{
				Issuer: f.srv.URL, ClientID: "demo-web", ClientSecret: "demo-web-secret-not-for-production", APIURL: tc.api(t),
				Scopes: []string{"openid", "profile", "api.read"},
			}, tc.creds, &out)
			if tc.wantError == "" && err != nil {
				t.Fatal(err)
			}
			if tc.wantError != "" && (err == nil || !strings.Contains(err.Error(), tc.wantError)) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.wantError)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if strings.Contains(out.String(), tc.creds.Password) {
				t.Error("the password was printed")
			}
		})
	}
}

func TestDiscoveryWaitsForTheProvider(t *testing.T) {
	f := newFakeProvider(t)
	var calls atomic.Int32
	// A proxy that answers 503 twice, as a provider still starting would.
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		f.srv.Config.Handler.ServeHTTP(w, r)
	}))
	defer flaky.Close()
	_, err := newApp(context.Background(), appConfig{Issuer: flaky.URL, ClientID: "demo-web", Listen: "127.0.0.1:9094", DiscoveryTimeout: time.Minute})
	// The fake provider names itself, not the proxy: after waiting, the app
	// must give up at once on the mismatch instead of retrying.
	if err == nil || !strings.Contains(err.Error(), "check --issuer") {
		t.Fatalf("err = %v, want an issuer mismatch", err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("discovery was tried %d times, want 3", n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := newApp(ctx, appConfig{Issuer: "http://127.0.0.1:1", ClientID: "demo-web", Listen: "127.0.0.1:9094"}); err == nil {
		t.Error("discovery with a cancelled context succeeded")
	}
}
