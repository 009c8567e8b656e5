package authserver_test

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/config"
)

// Operators replace pages from ui.templates_dir; the form contract stays.
func TestTemplateOverrideFromConfig(t *testing.T) {
	dir := t.TempDir()
	page := `{{template "layout" .}}{{define "title"}}Sign in{{end}}{{define "content"}}<p>ACME corporate sign-in for {{.ClientName}}</p>
<form method="post" action="{{.Action}}"><input type="hidden" name="csrf_token" value="{{.CSRFToken}}">
{{range .Hidden}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">{{end}}
<label for="u">User</label><input id="u" name="username"><label for="p">Password</label><input id="p" type="password" name="password">
<button type="submit">Go</button></form>{{end}}`
	if err := os.WriteFile(filepath.Join(dir, "login.html"), []byte(page), 0o600); err != nil {
		t.Fatal(err)
	}
	p := authtest.Start(t, func(c *config.Config) { c.UI.TemplatesDir = dir })
	b := p.Browser(t)
	pg := authtest.Get(t, b, authorizeURL(p, nil))
	if !strings.Contains(pg.Body, "ACME corporate sign-in for Demo Web App") {
		t.Fatalf("override not used: %d %v\n%s", pg.Status, pg.Location, pg.Body)
	}
	loc := p.SignIn(t, b, authorizeURL(p, nil), "alice", "alice-password", "allow")
	if loc.Query().Get("code") == "" {
		t.Fatalf("sign-in through the overridden page failed: %s", loc)
	}
}

// The login session cookie is HttpOnly and SameSite=Lax, so scripts cannot
// read it and cross-site POSTs do not carry it.
func TestSessionCookieAttributes(t *testing.T) {
	p := authtest.Start(t, nil)
	b := p.Browser(t)
	pg := authtest.Get(t, b, authorizeURL(p, nil))
	action, vals := pg.FormFields(t)
	vals.Set("username", "alice")
	vals.Set("password", "alice-password")
	resp, err := (&httpNoRedirect{b}).post(p.URL+action, vals)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, c := range resp.Cookies() {
		if c.Name == "authserver_session" {
			found = true
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure {
				t.Errorf("session cookie = %+v", c)
			}
		}
	}
	if !found {
		t.Fatal("no session cookie after login")
	}
}

func TestLoginCSRF(t *testing.T) {
	p := authtest.Start(t, nil)
	victim := p.Browser(t)
	pg := authtest.Get(t, victim, authorizeURL(p, nil))
	action, vals := pg.FormFields(t)
	vals.Set("username", "alice")
	vals.Set("password", "alice-password")
	for _, tc := range []struct {
		name  string
		token string
		fresh bool
	}{
		{"no token", "", false},
		{"forged token", "AAAA", false},
		{"token from another browser", vals.Get("csrf_token"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := victim
			if tc.fresh {
				b = p.Browser(t)
			}
			v := cloneForm(vals)
			v.Set("csrf_token", tc.token)
			resp, err := b.PostForm(p.URL+action, v)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 403 {
				t.Fatalf("status %d; want 403", resp.StatusCode)
			}
		})
	}
}

func TestWrongPasswordStaysOnLogin(t *testing.T) {
	p := authtest.Start(t, nil)
	b := p.Browser(t)
	pg := authtest.Get(t, b, authorizeURL(p, nil))
	after := pg.Submit(t, b, map[string][]string{"username": {"alice"}, "password": {"nope"}})
	if after.Location != nil || !strings.Contains(after.Body, "role=\"alert\"") || !strings.Contains(after.Body, `value="alice"`) {
		t.Fatalf("wrong password: %d %v\n%s", after.Status, after.Location, after.Body)
	}
	if strings.Contains(after.Body, "nope") {
		t.Fatal("the page echoes the password")
	}
}

func TestSkipConsentAndPromptNone(t *testing.T) {
	p := authtest.Start(t, nil)
	b := p.Browser(t)
	u := authorizeURL(p, map[string]string{"client_id": "code-only", "redirect_uri": "http://127.0.0.1:7779/cb", "scope": "openid"})
	loc := p.SignIn(t, b, u, "alice", "alice-password", "")
	if loc.Query().Get("code") == "" {
		t.Fatalf("skip_consent client did not get a code: %s", loc)
	}
	// Signed in and consent-free: prompt=none answers at once.
	pg := authtest.Get(t, b, u+"&prompt=none")
	if pg.Location == nil || pg.Location.Query().Get("code") == "" {
		t.Fatalf("prompt=none with a session: %d %v", pg.Status, pg.Location)
	}
	// The demo client needs consent, which prompt=none cannot ask for.
	pg = authtest.Get(t, b, authorizeURL(p, map[string]string{"prompt": "none"}))
	if pg.Location == nil || pg.Location.Query().Get("error") != "consent_required" {
		t.Fatalf("prompt=none without consent: %d %v", pg.Status, pg.Location)
	}
}

type httpNoRedirect struct{ b *http.Client }

func (h *httpNoRedirect) post(u string, v url.Values) (*http.Response, error) {
	c := *h.b
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.PostForm(u, v)
	if err == nil {
		resp.Body.Close()
	}
	return resp, err
}

func cloneForm(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// OIDC Core §3.1.2.1: the authorization endpoint takes POST too.
func TestAuthorizationRequestByPOST(t *testing.T) {
	p := authtest.Start(t, nil)
	b := p.Browser(t)
	u, _ := url.Parse(authorizeURL(p, nil))
	resp, err := b.PostForm(p.URL+"/authorize", u.Query())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `name="password"`) {
		t.Fatalf("POST authorization request: %d\n%s", resp.StatusCode, body)
	}
}

// A cross-site page cannot approve consent for a signed-in user.
func TestConsentCSRF(t *testing.T) {
	p := authtest.Start(t, nil)
	b := p.Browser(t)
	pg := authtest.Get(t, b, authorizeURL(p, nil))
	consent := pg.Submit(t, b, url.Values{"username": {"alice"}, "password": {"alice-password"}})
	action, vals := consent.FormFields(t)
	vals.Set("decision", "allow")
	vals.Del("csrf_token")
	resp, err := b.PostForm(p.URL+action, vals)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("consent without CSRF token: %d; want 403", resp.StatusCode)
	}
}

// Signing in again (prompt=login) replaces the session: the old cookie no
// longer signs anybody in.
func TestSignInAgainReplacesSession(t *testing.T) {
	p := authtest.Start(t, nil)
	b := p.Browser(t)
	p.SignIn(t, b, authorizeURL(p, nil), "alice", "alice-password", "allow")
	u, _ := url.Parse(p.URL)
	var old *http.Cookie
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == "authserver_session" {
			old = c
		}
	}
	if old == nil {
		t.Fatal("no session cookie")
	}
	again := authorizeURL(p, map[string]string{"prompt": "login"})
	if pg := authtest.Get(t, b, again); !strings.Contains(pg.Body, "Signed in as <strong>alice</strong>") {
		t.Fatalf("prompt=login page does not say who is signed in:\n%s", pg.Body)
	}
	p.SignIn(t, b, again, "bob", "bob-password", "allow")

	stale := p.Browser(t)
	stale.Jar.SetCookies(u, []*http.Cookie{old})
	if pg := authtest.Get(t, stale, authorizeURL(p, nil)); !strings.Contains(pg.Body, `name="password"`) {
		t.Fatal("the replaced session still signs in")
	}
}
