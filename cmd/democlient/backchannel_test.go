package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/config"
)

// TestBackchannelLogoutAgainstRealProvider signs in through the demo, ends
// the session at the provider (its logout page, as another app's sign-out
// would), and sees the demo end its own session from the provider's
// back-channel logout token: the next visit says "signed out by the
// provider", and the session's pages are gone.
func TestBackchannelLogoutAgainstRealProvider(t *testing.T) {
	demo := httptest.NewUnstartedServer(nil)
	demoURL := "http://" + demo.Listener.Addr().String()
	p := authtest.Start(t, func(c *config.Config) {
		c.Clients[0].RedirectURIs = append(c.Clients[0].RedirectURIs, demoURL+"/callback")
		c.Clients[0].BackchannelLogoutURI = demoURL + "/backchannel-logout"
	})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { p.App.Server.RunBackchannelLogout(ctx); close(stopped) }()
	t.Cleanup(func() { cancel(); <-stopped })
	api := fakeAPI(t)
	a, err := newApp(context.Background(), appConfig{
		Issuer: p.URL, ClientID: "demo-web", ClientSecret: "demo-web-secret-not-for-production", Listen: demo.Listener.Addr().String(),
		APIURL: api.URL, Scopes: []string{"openid", "profile", "email"},
	})
	if err != nil {
		t.Fatal(err)
	}
	demo.Config.Handler = a.Handler()
	demo.Start()
	t.Cleanup(demo.Close)

	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar}
	resp, loginPage := browse(t, b, "GET", demo.URL+"/login", nil)
	pg := &authtest.Page{Status: resp.StatusCode, URL: resp.Request.URL, Body: loginPage}
	consent := pg.Submit(t, b, url.Values{"username": {"alice"}, "password": {"alice-password"}})
	action, vals := consent.FormFields(t)
	vals.Set("decision", "allow")
	if resp, me := browse(t, b, "POST", p.URL+action, vals); resp.Request.URL.Path != "/me" || !strings.Contains(me, "Alice Example") {
		t.Fatalf("sign-in ended at %s", resp.Request.URL)
	}

	// Sign out at the provider directly: the demo's own sign-out would end
	// its session first and prove nothing.
	resp, confirm := browse(t, b, "GET", p.URL+"/logout", nil)
	cpg := &authtest.Page{Status: resp.StatusCode, URL: resp.Request.URL, Body: confirm}
	if out := cpg.Submit(t, b, url.Values{"decision": {"logout"}}); out.Status != http.StatusOK {
		t.Fatalf("provider logout answered %d", out.Status)
	}

	// The token arrives in the background; until it has, /me still shows
	// the session. Bounded so that a token that never comes fails the test.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, body := browse(t, b, "GET", demo.URL+"/me", nil)
		if resp.Request.URL.Path == "/" {
			if !strings.Contains(body, "signed out by the provider") {
				t.Fatalf("the session ended, but the home page does not say why:\n%s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the demo's session outlived the provider's by 30 s: no back-channel logout arrived")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Said once; the session is gone for good.
	if _, home := browse(t, b, "GET", demo.URL+"/", nil); strings.Contains(home, "signed out by the provider") || strings.Contains(home, "signed in as") {
		t.Errorf("second visit after the back-channel logout:\n%s", home)
	}
}

// signLogoutToken makes an RS256 JWT with the fake provider's key and the
// given typ header.
func signLogoutToken(t *testing.T, f *fakeProvider, typ string, claims map[string]any) string {
	t.Helper()
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "k1", "typ": typ})
	payload, _ := json.Marshal(claims)
	input := b64(header) + "." + b64(payload)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, f.key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

// TestBackchannelLogoutRefusesWhatIsNotALogoutToken: every check of §2.6
// refuses with 400 and leaves the session alone; the valid token ends it.
func TestBackchannelLogoutRefusesWhatIsNotALogoutToken(t *testing.T) {
	f := newFakeProvider(t)
	a, err := newApp(context.Background(), appConfig{Issuer: f.srv.URL, ClientID: "demo-web", ClientSecret: "s", Listen: "127.0.0.1:9094", APIURL: "http://127.0.0.1:1/"})
	if err != nil {
		t.Fatal(err)
	}
	s := &session{token: nil, idToken: verifiedIDToken{subject: "alice-id", sid: "sid-1", raw: "id-token"}}
	if _, err := a.sessions.put(s); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	valid := func() map[string]any {
		return map[string]any{"iss": f.srv.URL, "aud": "demo-web", "sub": "alice-id", "sid": "sid-1", "iat": now, "exp": now + 120,
			"jti": "j1", "events": map[string]any{backchannelEvent: map[string]any{}}}
	}
	with := func(k string, v any) map[string]any { c := valid(); c[k] = v; return c }
	without := func(keys ...string) map[string]any {
		c := valid()
		for _, k := range keys {
			delete(c, k)
		}
		return c
	}
	post := func(tok string) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/backchannel-logout", strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		a.Handler().ServeHTTP(rec, req)
		if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q", cc)
		}
		return rec.Code
	}
	for name, tok := range map[string]string{
		"empty":                 "",
		"not a JWT":             "garbage",
		"an ID token (typ JWT)": signLogoutToken(t, f, "JWT", valid()),
		"no typ":                signLogoutToken(t, f, "", valid()),
		"no events":             signLogoutToken(t, f, "logout+jwt", without("events")),
		"another event":         signLogoutToken(t, f, "logout+jwt", with("events", map[string]any{"urn:other": map[string]any{}})),
		"event not an object":   signLogoutToken(t, f, "logout+jwt", with("events", map[string]any{backchannelEvent: "yes"})),
		"a nonce":               signLogoutToken(t, f, "logout+jwt", with("nonce", "n")),
		"neither sid nor sub":   signLogoutToken(t, f, "logout+jwt", without("sub", "sid")),
		"no jti":                signLogoutToken(t, f, "logout+jwt", without("jti")),
		"another audience":      signLogoutToken(t, f, "logout+jwt", with("aud", "other-app")),
		"another issuer":        signLogoutToken(t, f, "logout+jwt", with("iss", "http://evil.test")),
		"expired":               signLogoutToken(t, f, "logout+jwt", with("exp", now-60)),
		"bad signature":         signLogoutToken(t, f, "logout+jwt", valid()) + "x",
	} {
		if code := post(tok); code != http.StatusBadRequest {
			t.Errorf("%s: answered %d, want 400", name, code)
		}
		if s.ended.Load() {
			t.Fatalf("%s ended the session", name)
		}
	}
	// Another session of the provider: valid, 200, but not this one.
	if code := post(signLogoutToken(t, f, "logout+jwt", with("sid", "sid-2"))); code != http.StatusOK || s.ended.Load() {
		t.Fatalf("token for another sid: %d, ended %v", code, s.ended.Load())
	}
	if code := post(signLogoutToken(t, f, "logout+jwt", valid())); code != http.StatusOK || !s.ended.Load() {
		t.Fatalf("valid token: %d, ended %v", code, s.ended.Load())
	}
	if s.idToken.raw != "" || s.token == nil || s.token.RefreshToken != "" {
		t.Error("the ended session still holds its tokens")
	}
}

// A logout token with only sub ends every session of that user.
func TestBackchannelLogoutBySubject(t *testing.T) {
	a := offlineApp(t)
	alice1, alice2, bob := &session{idToken: verifiedIDToken{subject: "alice", sid: "s1"}},
		&session{idToken: verifiedIDToken{subject: "alice", sid: "s2"}}, &session{idToken: verifiedIDToken{subject: "bob", sid: "s3"}}
	for _, s := range []*session{alice1, alice2, bob} {
		if _, err := a.sessions.put(s); err != nil {
			t.Fatal(err)
		}
	}
	if n := a.endSessions(logoutToken{subject: "alice"}); n != 2 || !alice1.ended.Load() || !alice2.ended.Load() || bob.ended.Load() {
		t.Fatalf("ended %d: alice %v %v, bob %v", n, alice1.ended.Load(), alice2.ended.Load(), bob.ended.Load())
	}
}
