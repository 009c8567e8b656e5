package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// offlineApp builds the app on a hand-made provider whose endpoints are never
// contacted, so the test needs no network.
func offlineApp(t *testing.T) *app {
	t.Helper()
	ctx := context.Background()
	provider := (&oidc.ProviderConfig{
		IssuerURL: "http://issuer.test",
		AuthURL:   "http://issuer.test/authorize",
		TokenURL:  "http://issuer.test/token",
		JWKSURL:   "http://issuer.test/jwks",
	}).NewProvider(ctx)
	a, err := newApp(ctx, appConfig{
		Issuer: "http://issuer.test", ClientID: "demo-web", ClientSecret: "demo-web-secret-not-for-production",
		Listen: "127.0.0.1:9094", APIURL: "http://127.0.0.1:1/api/profile",
		Scopes: []string{"openid", "profile"}, Provider: provider,
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// browser is a tiny cookie-keeping client that does not follow redirects,
// so tests see each hop.
type browser struct {
	t       *testing.T
	h       http.Handler
	cookies map[string]*http.Cookie
}

func newBrowser(t *testing.T, h http.Handler) *browser {
	return &browser{t: t, h: h, cookies: map[string]*http.Cookie{}}
}

func (b *browser) do(method, target string, form url.Values) *httptest.ResponseRecorder {
	b.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req := httptest.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	return rec
}

// startLogin visits /login and returns the authorize URL's parameters.
func (b *browser) startLogin() url.Values { return b.startLoginAt("/login") }

// startLoginAt visits a sign-in button's path and returns the authorize
// URL's parameters.
func (b *browser) startLoginAt(path string) url.Values {
	b.t.Helper()
	rec := b.do(http.MethodGet, path, nil)
	if rec.Code != http.StatusFound {
		b.t.Fatalf("%s: status %d", path, rec.Code)
	}
	u, err := url.Parse(rec.Header().Get("Location"))
	if err != nil {
		b.t.Fatal(err)
	}
	return u.Query()
}

func TestHome(t *testing.T) {
	a := offlineApp(t)
	rec := newBrowser(t, a.Handler()).do(http.MethodGet, "/", nil)
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	for _, want := range []string{`<a class="button" href="/login">Sign in</a>`, "Sign in at the provider", "Approve access", "call the API", `lang="en"`, "<main"} {
		if !strings.Contains(body, want) {
			t.Errorf("home page lacks %q", want)
		}
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP = %q", csp)
	}
	css := newBrowser(t, a.Handler()).do(http.MethodGet, a.pages.cssPath, nil)
	if css.Code != http.StatusOK || !strings.Contains(css.Header().Get("Cache-Control"), "immutable") {
		t.Errorf("stylesheet: status %d, Cache-Control %q", css.Code, css.Header().Get("Cache-Control"))
	}
}

func TestLoginRedirect(t *testing.T) {
	b := newBrowser(t, offlineApp(t).Handler())
	q := b.startLogin()
	want := map[string]string{
		"client_id":             "demo-web",
		"redirect_uri":          "http://127.0.0.1:9094/callback",
		"response_type":         "code",
		"scope":                 "openid profile",
		"code_challenge_method": "S256",
	}
	for k, v := range want {
		if got := q.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if len(q.Get(k)) < 43 {
			t.Errorf("%s = %q, want a random value of at least 256 bits", k, q.Get(k))
		}
	}
	c := b.cookies[loginCookie]
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Value == q.Get("state") {
		t.Errorf("login cookie = %+v, want an HttpOnly SameSite=Lax random ID distinct from state", c)
	}
}

func TestCallbackRefusesUnknownState(t *testing.T) {
	tests := []struct {
		name  string
		query func(login url.Values) string
		setup func(b *browser, login url.Values)
	}{
		{"no login cookie", func(l url.Values) string { return "state=" + l.Get("state") + "&code=c" },
			func(b *browser, _ url.Values) { delete(b.cookies, loginCookie) }},
		{"unknown login cookie", func(l url.Values) string { return "state=" + l.Get("state") + "&code=c" },
			func(b *browser, _ url.Values) {
				b.cookies[loginCookie] = &http.Cookie{Name: loginCookie, Value: "forged"}
			}},
		{"wrong state", func(url.Values) string { return "state=other&code=c" }, nil},
		{"missing state", func(url.Values) string { return "code=c" }, nil},
		{"wrong state with an error", func(url.Values) string { return "state=other&error=access_denied" }, nil},
		{"state used twice", func(l url.Values) string { return "state=" + l.Get("state") + "&error=access_denied" },
			func(b *browser, l url.Values) {
				c := b.cookies[loginCookie]
				b.do(http.MethodGet, "/callback?state="+l.Get("state")+"&error=access_denied", nil)
				b.cookies[loginCookie] = c // a replaying attacker keeps the old cookie
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, offlineApp(t).Handler())
			login := b.startLogin()
			if tc.setup != nil {
				tc.setup(b, login)
			}
			rec := b.do(http.MethodGet, "/callback?"+tc.query(login), nil)
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "Unknown sign-in attempt") {
				t.Errorf("status %d, body:\n%s", rec.Code, rec.Body)
			}
			if _, ok := b.cookies[sessionCookie]; ok {
				t.Error("a session cookie was set")
			}
		})
	}
}

func TestCallbackShowsProviderError(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		want  []string
	}{
		{"access denied", "&error=access_denied&error_description=The+user+denied+access", []string{"access_denied", "The user denied access", `href="/"`}},
		{"hostile description is escaped", "&error=access_denied&error_description=%3Cscript%3E", []string{"access_denied", "&lt;script&gt;"}},
		{"issuer mismatch (RFC 9207)", "&iss=http://evil.test&code=c", []string{"Wrong provider", "http://evil.test"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, offlineApp(t).Handler())
			login := b.startLogin()
			rec := b.do(http.MethodGet, "/callback?state="+url.QueryEscape(login.Get("state"))+tc.extra, nil)
			body := rec.Body.String()
			if rec.Code != http.StatusBadRequest {
				t.Errorf("status %d", rec.Code)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("body lacks %q:\n%s", w, body)
				}
			}
			if strings.Contains(body, "<script>") {
				t.Error("unescaped script in the page")
			}
		})
	}
}

func TestWithoutSessionRedirectsHome(t *testing.T) {
	tests := []struct{ method, path string }{
		{http.MethodGet, "/me"},
		{http.MethodPost, "/refresh"},
		{http.MethodPost, "/call"},
		{http.MethodPost, "/logout"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			b := newBrowser(t, offlineApp(t).Handler())
			b.cookies[sessionCookie] = &http.Cookie{Name: sessionCookie, Value: "unknown"}
			rec := b.do(tc.method, tc.path, url.Values{})
			if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/" {
				t.Errorf("status %d, Location %q; want 303 to /", rec.Code, rec.Header().Get("Location"))
			}
		})
	}
}

func TestJWTPayloadClaims(t *testing.T) {
	tests := []struct {
		name    string
		token   string
		want    []claim
		wantErr bool
	}{
		{"claims sorted, numbers exact, dates shown", "h." + b64([]byte(`{"sub":"alice","exp":1700000000,"aud":["a","b"],"big":12345678901234567890}`)) + ".s",
			[]claim{{"aud", `["a","b"]`}, {"big", "12345678901234567890"}, {"exp", "1700000000 (Tue, 14 Nov 2023 22:13:20 UTC)"}, {"sub", "alice"}}, false},
		{"opaque token", "abcdef", nil, true},
		{"payload not base64", "h.!!!.s", nil, true},
		{"payload not an object", "h." + b64([]byte(`[1]`)) + ".s", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := jwtPayloadClaims(tc.token)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %t", err, tc.wantErr)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("claim %d = %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name      string
		mode      string
		args      []string
		check     func(t *testing.T, c appConfig, cr credentials)
		wantError bool
	}{
		{"defaults", "serve", nil, func(t *testing.T, c appConfig, _ credentials) {
			if c.Issuer != "http://localhost:9096" || c.ClientID != "demo-web" || c.ClientSecret != "demo-web-secret-not-for-production" ||
				c.Listen != "127.0.0.1:9094" || c.APIURL != "http://127.0.0.1:9095/api/profile" ||
				strings.Join(c.Scopes, " ") != "openid profile email offline_access api.read" {
				t.Errorf("defaults = %+v", c)
			}
		}, false},
		{"scopes with commas", "serve", []string{"--scopes", "openid,api.write  email"}, func(t *testing.T, c appConfig, _ credentials) {
			if strings.Join(c.Scopes, "|") != "openid|api.write|email" {
				t.Errorf("scopes = %q", c.Scopes)
			}
		}, false},
		{"password mode", "password", []string{"--username", "bob", "--password", "pw", "--issuer", "http://x"}, func(t *testing.T, c appConfig, cr credentials) {
			if cr.Username != "bob" || cr.Password != "pw" || c.Issuer != "http://x" {
				t.Errorf("got %+v %+v", c, cr)
			}
		}, false},
		{"password flag only in password mode", "serve", []string{"--password", "pw"}, nil, true},
		{"stray argument", "serve", []string{"extra"}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, cr, err := parseFlags(tc.mode, tc.args, func(string) string { return "" })
			if (err != nil) != tc.wantError {
				t.Fatalf("err = %v, wantError %t", err, tc.wantError)
			}
			if tc.check != nil {
				tc.check(t, c, cr)
			}
		})
	}
}

func TestBaseURL(t *testing.T) {
	tests := []struct{ listen, want string }{
		{"127.0.0.1:9094", "http://127.0.0.1:9094"},
		{":9094", "http://127.0.0.1:9094"},
		{"0.0.0.0:80", "http://127.0.0.1:80"},
		{"[::1]:9094", "http://[::1]:9094"},
		{"localhost:1", "http://localhost:1"},
	}
	for _, tc := range tests {
		t.Run(tc.listen, func(t *testing.T) {
			got, err := baseURL(tc.listen)
			if err != nil || got != tc.want {
				t.Errorf("baseURL(%q) = %q, %v; want %q", tc.listen, got, err, tc.want)
			}
		})
	}
	if _, err := baseURL("no-port"); err == nil {
		t.Error("baseURL without a port succeeded")
	}
}

func TestAuthStyle(t *testing.T) {
	tests := []struct {
		name       string
		discovered bool
		methods    []string
		secret     string
		want       oauth2.AuthStyle
	}{
		{"public client", true, []string{"client_secret_basic"}, "", oauth2.AuthStyleInParams},
		{"no discovery document", false, nil, "s", oauth2.AuthStyleAutoDetect},
		{"absent means basic", true, nil, "s", oauth2.AuthStyleInHeader},
		{"basic and post", true, []string{"client_secret_post", "client_secret_basic"}, "s", oauth2.AuthStyleInHeader},
		{"post only", true, []string{"client_secret_post"}, "s", oauth2.AuthStyleInParams},
		{"neither", true, []string{"private_key_jwt"}, "s", oauth2.AuthStyleAutoDetect},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := authStyle(tc.discovered, tc.methods, tc.secret); got != tc.want {
				t.Errorf("authStyle = %v, want %v", got, tc.want)
			}
		})
	}
}
