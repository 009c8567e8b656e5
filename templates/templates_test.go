package templates

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tagRE and attrRE are enough to find the form controls in our own output;
// the pages are generated, so a full HTML parser would buy little here.
var (
	tagRE  = regexp.MustCompile(`<(input|button|form|a|label|main|html|link)\b([^>]*)>`)
	attrRE = regexp.MustCompile(`([a-zA-Z][\w-]*)(?:="([^"]*)")?`)
)

type element struct {
	tag   string
	attrs map[string]string
}

func elements(body string) []element {
	var out []element
	for _, m := range tagRE.FindAllStringSubmatch(body, -1) {
		e := element{tag: m[1], attrs: map[string]string{}}
		for _, a := range attrRE.FindAllStringSubmatch(m[2], -1) {
			e.attrs[a[1]] = a[2]
		}
		out = append(out, e)
	}
	return out
}

// hasElement reports whether body has a tag carrying all of want's attributes.
func hasElement(body, tag string, want map[string]string) bool {
	for _, e := range elements(body) {
		if e.tag != tag {
			continue
		}
		match := true
		for k, v := range want {
			if got, ok := e.attrs[k]; !ok || got != v {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

func load(t *testing.T, dir string) *Pages {
	t.Helper()
	p, err := Load(dir)
	if err != nil {
		t.Fatalf("Load(%q): %v", dir, err)
	}
	return p
}

func render(t *testing.T, p *Pages, status int, data any) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := p.Render(rec, status, data); err != nil {
		t.Fatalf("Render(%T): %v", data, err)
	}
	return rec
}

type want struct {
	tag   string
	attrs map[string]string
}

func TestRenderPages(t *testing.T) {
	hidden := []Field{{"client_id", "demo-web"}, {"state", "xyz"}}
	tests := []struct {
		name     string
		status   int
		data     any
		elements []want
		texts    []string
	}{
		{
			name:   "login",
			status: http.StatusOK,
			data:   Login{ClientName: "Demo App", CSRFToken: "tok123", Action: "/authorize/login", Hidden: hidden},
			elements: []want{
				{"form", map[string]string{"method": "post", "action": "/authorize/login"}},
				{"input", map[string]string{"name": "username", "id": "username", "autocomplete": "username"}},
				{"input", map[string]string{"name": "password", "id": "password", "type": "password", "autocomplete": "current-password"}},
				{"label", map[string]string{"for": "username"}},
				{"label", map[string]string{"for": "password"}},
				{"input", map[string]string{"type": "hidden", "name": "csrf_token", "value": "tok123"}},
				{"input", map[string]string{"type": "hidden", "name": "client_id", "value": "demo-web"}},
				{"input", map[string]string{"type": "hidden", "name": "state", "value": "xyz"}},
				{"button", map[string]string{"type": "submit"}},
			},
			texts: []string{"Sign in to continue to <strong>Demo App</strong>", ">Sign in</button>"},
		},
		{
			name:   "login with error keeps the username",
			status: http.StatusUnauthorized,
			data:   Login{ClientName: "Demo App", Username: "alice", Error: "Wrong username or password.", CSRFToken: "t", Action: "/login"},
			elements: []want{
				{"input", map[string]string{"name": "username", "value": "alice", "aria-invalid": "true"}},
				{"input", map[string]string{"name": "password", "autofocus": ""}},
			},
			texts: []string{`role="alert"`, "Wrong username or password."},
		},
		{
			name:   "consent",
			status: http.StatusOK,
			data: Consent{ClientName: "Demo App", Username: "alice", NotYouURL: "/logout?switch=1", CSRFToken: "tok123",
				Action: "/authorize/consent", Hidden: hidden,
				Scopes: []Scope{{"openid", ScopeDescription("openid")}, {"address", ""}, {"custom.scope", "custom.scope"}}},
			elements: []want{
				{"form", map[string]string{"method": "post", "action": "/authorize/consent"}},
				{"input", map[string]string{"type": "hidden", "name": "csrf_token", "value": "tok123"}},
				{"input", map[string]string{"type": "hidden", "name": "client_id", "value": "demo-web"}},
				{"button", map[string]string{"type": "submit", "name": "decision", "value": "allow"}},
				{"button", map[string]string{"type": "submit", "name": "decision", "value": "deny"}},
				{"a", map[string]string{"href": "/logout?switch=1"}},
			},
			texts: []string{
				"<strong>Demo App</strong>", "Confirm your identity", `<code class="scope-name">openid</code>`,
				"Your postal address", // empty description falls back to ScopeDescription
				// A scope without words is shown by its name, once.
				`<li><code class="scope-name">custom.scope</code></li>`,
				"Signed in as <strong>alice</strong> · <a", "Not you?", ">Allow</button>", ">Deny</button>",
			},
		},
		{
			name:   "consent without NotYouURL has no link",
			status: http.StatusOK,
			data:   Consent{ClientName: "Demo App", Username: "alice", CSRFToken: "t", Action: "/c"},
			texts:  []string{"Signed in as <strong>alice</strong></p>"},
		},
		{
			name:   "error",
			status: http.StatusBadRequest,
			data:   Error{Title: "Unknown application", Message: "client_id nope is not registered.", Hint: "Ask the application's developer."},
			texts:  []string{"<h1>Unknown application</h1>", `role="alert">client_id nope is not registered.`, "Ask the application&#39;s developer."},
		},
		{
			name:   "logout confirm",
			status: http.StatusOK,
			data:   LogoutConfirm{ClientName: "Demo App", CSRFToken: "tok123", Action: "/logout", Hidden: hidden},
			elements: []want{
				{"form", map[string]string{"method": "post", "action": "/logout"}},
				{"input", map[string]string{"type": "hidden", "name": "csrf_token", "value": "tok123"}},
				{"input", map[string]string{"type": "hidden", "name": "state", "value": "xyz"}},
				{"button", map[string]string{"name": "decision", "value": "logout"}},
				{"button", map[string]string{"name": "decision", "value": "cancel"}},
			},
			texts: []string{"<strong>Demo App</strong>", ">Sign out</button>"},
		},
		{
			name:     "logged out with link",
			status:   http.StatusOK,
			data:     &LoggedOut{ReturnURL: "http://127.0.0.1:9094/"},
			elements: []want{{"a", map[string]string{"href": "http://127.0.0.1:9094/"}}},
			texts:    []string{"You are signed out"},
		},
		{
			name:   "account",
			status: http.StatusOK,
			data: Account{Username: "alice", Name: "Alice Example", Email: "alice@example.com", Subject: "sub-1",
				CSRFToken: "tok123", Action: "/account", LogoutURL: "/logout", Notice: "Every other session has ended.",
				Sessions: []AccountSession{
					{ID: "sid-here", SignedIn: time.Date(2025, 3, 4, 5, 6, 0, 0, time.UTC), UserAgent: "Firefox/140", IP: "192.0.2.7", Current: true},
					{ID: "sid-there", SignedIn: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)},
				},
				Grants: []AccountGrant{{ClientID: "demo-web", ClientName: "Demo App", Granted: time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC),
					Scopes: []Scope{{"openid", ScopeDescription("openid")}, {"api.read", "Read your notes"}, {"custom", ""}}}},
			},
			elements: []want{
				{"form", map[string]string{"method": "post", "action": "/account"}},
				{"input", map[string]string{"type": "hidden", "name": "csrf_token", "value": "tok123"}},
				{"input", map[string]string{"type": "hidden", "name": "session", "value": "sid-there"}},
				{"button", map[string]string{"name": "op", "value": "end_session"}},
				{"button", map[string]string{"name": "op", "value": "end_other_sessions"}},
				{"input", map[string]string{"type": "hidden", "name": "client_id", "value": "demo-web"}},
				{"button", map[string]string{"name": "op", "value": "revoke_grant"}},
				{"input", map[string]string{"name": "current_password", "type": "password", "autocomplete": "current-password"}},
				{"input", map[string]string{"name": "new_password", "type": "password", "autocomplete": "new-password", "minlength": "8"}},
				{"input", map[string]string{"name": "new_password_again", "type": "password", "autocomplete": "new-password"}},
				{"label", map[string]string{"for": "current_password"}},
				{"button", map[string]string{"name": "op", "value": "change_password"}},
				{"a", map[string]string{"href": "/logout"}},
			},
			texts: []string{
				"<dd>alice</dd>", "<dd>Alice Example</dd>", "<dd>alice@example.com</dd>", "<code>sub-1</code>",
				"Firefox/140", "This browser", "4 Mar 2025, 05:06 UTC", "from 192.0.2.7", "Unknown browser",
				"<strong>Demo App</strong>", "Allowed <time", "Confirm your identity", "Read your notes",
				`<li><code class="scope-name">custom</code></li>`, `role="status">Every other session has ended.`,
			},
		},
		{
			name:   "account with a password the configuration owns, nothing allowed, one session",
			status: http.StatusBadRequest,
			data: Account{Username: "alice", Subject: "s", CSRFToken: "t", Action: "/account", PasswordManaged: true,
				Error: "That session has already ended.", Sessions: []AccountSession{{ID: "sid", Current: true}}},
			texts: []string{"managed by the server's configuration", "You have not allowed any application",
				`role="alert" id="account-error">That session has already ended.`},
		},
		{
			name:   "logged out without link",
			status: http.StatusOK,
			data:   LoggedOut{},
			texts:  []string{"You are signed out"},
		},
	}
	p := load(t, "")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := render(t, p, tc.status, tc.data)
			body := rec.Body.String()
			if rec.Code != tc.status {
				t.Errorf("status = %d, want %d", rec.Code, tc.status)
			}
			headers := map[string]string{
				"Content-Type":           "text/html; charset=utf-8",
				"Cache-Control":          "no-store",
				"X-Frame-Options":        "DENY",
				"Referrer-Policy":        "no-referrer",
				"X-Content-Type-Options": "nosniff",
			}
			for k, v := range headers {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			csp := rec.Header().Get("Content-Security-Policy")
			for _, d := range []string{"default-src 'none'", "style-src 'self'", "img-src 'self' data:", "form-action 'self'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, d) {
					t.Errorf("CSP %q lacks %q", csp, d)
				}
			}
			// Every page: a language, a main landmark and our own stylesheet.
			common := []want{
				{"html", map[string]string{"lang": "en"}},
				{"main", nil},
				{"link", map[string]string{"rel": "stylesheet", "href": p.StylesheetURL()}},
			}
			for _, w := range append(common, tc.elements...) {
				if !hasElement(body, w.tag, w.attrs) {
					t.Errorf("no <%s> with %v in:\n%s", w.tag, w.attrs, body)
				}
			}
			for _, s := range tc.texts {
				if !strings.Contains(body, s) {
					t.Errorf("body lacks %q:\n%s", s, body)
				}
			}
			if strings.Contains(body, "<script") {
				t.Errorf("page contains a script element")
			}
		})
	}
}

func TestRenderEscapesHostileInput(t *testing.T) {
	const evil = `<script>alert(1)</script>`
	const evilAttr = `"><script>alert(2)</script>`
	tests := []struct {
		name string
		data any
	}{
		{"login client name", Login{ClientName: evil, Username: evilAttr, Error: evil, Action: "/l", Hidden: []Field{{evilAttr, evilAttr}}}},
		{"consent client name", Consent{ClientName: evil, Username: evil, Action: "/c", Scopes: []Scope{{evil, evil}}}},
		{"logout client name", LogoutConfirm{ClientName: evil, Action: "/l", CSRFToken: evilAttr}},
		{"error texts", Error{Title: evil, Message: evil, Hint: evil}},
		{"javascript url", LoggedOut{ReturnURL: "javascript:alert(1)"}},
		{"account", Account{Username: evil, Name: evil, Email: evil, Subject: evilAttr, CSRFToken: evilAttr, Action: "/a", Error: evil, Notice: evil,
			Sessions: []AccountSession{{ID: evilAttr, UserAgent: evil, IP: evil}},
			Grants:   []AccountGrant{{ClientID: evilAttr, ClientName: evil, Scopes: []Scope{{evil, evil}}}}}},
	}
	p := load(t, "")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := render(t, p, http.StatusOK, tc.data).Body.String()
			if strings.Contains(body, "<script") || strings.Contains(body, "javascript:") {
				t.Fatalf("hostile input was not escaped:\n%s", body)
			}
		})
	}
	body := render(t, p, http.StatusOK, Login{ClientName: evil, Action: "/l"}).Body.String()
	if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("client name not shown escaped:\n%s", body)
	}
}

func TestRenderRejectsUnknownData(t *testing.T) {
	tests := []struct {
		name string
		data any
	}{
		{"nil", nil},
		{"unrelated struct", struct{ Title string }{"x"}},
		{"string", "login"},
		{"nil pointer to a page", (*Login)(nil)},
		{"pointer to pointer", func() any { l := &Login{}; return &l }()},
	}
	p := load(t, "")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if err := p.Render(rec, http.StatusTeapot, tc.data); err == nil {
				t.Fatal("Render succeeded, want an error")
			}
			if rec.Body.Len() != 0 || len(rec.Header()) != 0 || rec.Code == http.StatusTeapot {
				t.Errorf("Render wrote something: code %d, headers %v, body %q", rec.Code, rec.Header(), rec.Body)
			}
		})
	}
}

func TestFormActionAllowsRedirectTargets(t *testing.T) {
	tests := []struct {
		name    string
		data    any
		extra   []string
		want    string
		notWant []string
	}{
		{
			name: "redirect_uri among hidden fields",
			data: Consent{Action: "/consent", Hidden: []Field{{"redirect_uri", "http://127.0.0.1:9094/callback"}}},
			want: "form-action 'self' http://127.0.0.1:9094;",
		},
		{
			name: "post_logout_redirect_uri among hidden fields",
			data: LogoutConfirm{Action: "/logout", Hidden: []Field{{"post_logout_redirect_uri", "https://App.example/bye?x=1"}}},
			want: "form-action 'self' https://app.example;",
		},
		{
			name:  "explicit redirect URI, duplicates once",
			data:  Login{Action: "/login"},
			extra: []string{"https://client.example/cb", "https://client.example/other"},
			want:  "form-action 'self' https://client.example;",
		},
		{
			name:    "hostile or non-http values are ignored",
			data:    Consent{Action: "/consent", Hidden: []Field{{"redirect_uri", "https://a.example;script-src *"}, {"redirect_uri", "javascript:alert(1)"}, {"redirect_uri", "/relative"}}},
			extra:   []string{"https://b.example'unsafe-inline'/x"},
			want:    "form-action 'self';",
			notWant: []string{"script-src", "javascript", "unsafe-inline"},
		},
		{
			name: "error page has only self",
			data: Error{Title: "x"},
			want: "form-action 'self';",
		},
	}
	p := load(t, "")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if err := p.RenderAllowingRedirects(rec, http.StatusOK, tc.data, tc.extra...); err != nil {
				t.Fatal(err)
			}
			csp := rec.Header().Get("Content-Security-Policy")
			if !strings.Contains(csp, tc.want) {
				t.Errorf("CSP = %q, want it to contain %q", csp, tc.want)
			}
			for _, s := range tc.notWant {
				if strings.Contains(csp, s) {
					t.Errorf("CSP = %q contains %q", csp, s)
				}
			}
		})
	}
}

func TestAssetHandler(t *testing.T) {
	p := load(t, "")
	mux := http.NewServeMux()
	mux.Handle(StaticPrefix, p.AssetHandler())
	css, err := embedded.ReadFile("static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^/static/style\.[0-9a-f]{16}\.css$`).MatchString(p.StylesheetURL()) {
		t.Fatalf("StylesheetURL = %q, want a hashed name", p.StylesheetURL())
	}
	tests := []struct {
		name        string
		method      string
		path        string
		status      int
		contentType string
		body        string
	}{
		{"stylesheet", http.MethodGet, p.StylesheetURL(), http.StatusOK, "text/css; charset=utf-8", string(css)},
		{"logo", http.MethodGet, p.LogoURL(), http.StatusOK, "image/svg+xml", ""},
		{"head", http.MethodHead, p.StylesheetURL(), http.StatusOK, "text/css; charset=utf-8", ""},
		{"unhashed name", http.MethodGet, "/static/style.css", http.StatusNotFound, "", ""},
		{"stale hash", http.MethodGet, "/static/style.0000000000000000.css", http.StatusNotFound, "", ""},
		{"embedded source path", http.MethodGet, "/static/pages/login.html", http.StatusNotFound, "", ""},
		{"post", http.MethodPost, p.StylesheetURL(), http.StatusMethodNotAllowed, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d", rec.Code, tc.status)
			}
			if tc.status != http.StatusOK {
				return
			}
			if got := rec.Header().Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tc.contentType)
			}
			if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=31536000") {
				t.Errorf("Cache-Control = %q, want long-lived immutable", cc)
			}
			if tc.body != "" && rec.Body.String() != tc.body {
				t.Errorf("body differs from the embedded file")
			}
		})
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadOverrides(t *testing.T) {
	const logo = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><rect width="1" height="1"/></svg>`
	tests := []struct {
		name      string
		files     map[string]string
		data      any
		wantBody  []string
		wantNot   []string
		wantLogo  string
		wantError string
	}{
		{
			name:     "standalone login page",
			files:    map[string]string{"login.html": `<!DOCTYPE html><html lang="en"><main>ACME LOGIN for {{.ClientName}}</main></html>`},
			data:     Login{ClientName: "<Demo>"},
			wantBody: []string{"ACME LOGIN for &lt;Demo&gt;"},
			wantNot:  []string{"Sign in to continue"},
		},
		{
			name: "error page reusing the layout",
			files: map[string]string{"error.html": `{{template "layout" .}}{{define "title"}}Oops{{end}}` +
				`{{define "content"}}<h1>ACME: {{.Title}}</h1>{{end}}`},
			data:     Error{Title: "Broken"},
			wantBody: []string{"<h1>ACME: Broken</h1>", "<title>Oops</title>", `<main class="card">`},
		},
		{
			name:     "pages not overridden stay embedded",
			files:    map[string]string{"login.html": `custom`},
			data:     Consent{ClientName: "Demo", Action: "/c"},
			wantBody: []string{`value="allow"`},
		},
		{
			name:     "logo",
			files:    map[string]string{"logo.svg": logo},
			data:     LoggedOut{},
			wantLogo: logo,
		},
		{
			name:      "syntax error names the file",
			files:     map[string]string{"consent.html": `{{if .ClientName}}`},
			wantError: "consent.html",
		},
		{
			name:      "unknown field is caught at load",
			files:     map[string]string{"logout.html": `{{.NoSuchField}}`},
			wantError: "logout.html",
		},
		{
			name:      "empty logo",
			files:     map[string]string{"logo.svg": " \n"},
			wantError: "logo.svg",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, tc.files)
			p, err := Load(dir)
			if tc.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) {
					t.Fatalf("Load error = %v, want one naming %q", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			body := render(t, p, http.StatusOK, tc.data).Body.String()
			for _, s := range tc.wantBody {
				if !strings.Contains(body, s) {
					t.Errorf("body lacks %q:\n%s", s, body)
				}
			}
			for _, s := range tc.wantNot {
				if strings.Contains(body, s) {
					t.Errorf("body contains %q:\n%s", s, body)
				}
			}
			if tc.wantLogo != "" {
				rec := httptest.NewRecorder()
				p.AssetHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p.LogoURL(), nil))
				if rec.Code != http.StatusOK || rec.Body.String() != tc.wantLogo {
					t.Errorf("logo: status %d body %q, want the override", rec.Code, rec.Body)
				}
				if p.LogoURL() == load(t, "").LogoURL() {
					t.Errorf("override logo kept the default URL %s", p.LogoURL())
				}
			}
		})
	}
}

func TestLoadMissingOverrideDir(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Fatal("Load with a missing override directory succeeded")
	}
}

func TestScopeDescription(t *testing.T) {
	tests := []struct{ scope, want string }{
		{"openid", "Confirm your identity"},
		{"profile", "Your name"},
		{"email", "Your email address"},
		{"offline_access", "Stay signed in (keep access when you are away)"},
		{"address", "Your postal address"},
		{"phone", "Your phone number"},
		// The sample API's scopes are the demo configuration's (scopes[]).
		{"api.read", "api.read"},
		{"custom:thing", "custom:thing"},
		{"", ""},
	}
	for _, tc := range tests {
		t.Run(tc.scope, func(t *testing.T) {
			if got := ScopeDescription(tc.scope); got != tc.want {
				t.Errorf("ScopeDescription(%q) = %q, want %q", tc.scope, got, tc.want)
			}
		})
	}
}

// assetRE finds every URL a page makes the browser load or follow.
var assetRE = regexp.MustCompile(`\b(?:href|src|action)="([^"]*)"`)

func TestWithBasePath(t *testing.T) {
	const logo = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><circle r="1"/></svg>`
	dir := writeFiles(t, map[string]string{
		"logo.svg":        logo,
		"logged_out.html": `{{template "layout" .}}{{define "title"}}Bye{{end}}{{define "content"}}<a href="{{base}}/logout">again</a>{{end}}`,
	})
	tests := []struct {
		name, dir, base string
		wantBase        string
		wantLogo        string
	}{
		{name: "root", base: "", wantBase: ""},
		{name: "slash is the root", base: "/", wantBase: ""},
		{name: "one segment", base: "/auth", wantBase: "/auth"},
		{name: "two segments", base: "/tenants/acme", wantBase: "/tenants/acme"},
		{name: "overrides are kept", dir: dir, base: "/auth", wantBase: "/auth", wantLogo: logo},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := load(t, tc.dir)
			p, err := root.WithBasePath(tc.base)
			if err != nil {
				t.Fatal(err)
			}
			if p.BasePath() != tc.wantBase {
				t.Errorf("BasePath = %q, want %q", p.BasePath(), tc.wantBase)
			}
			if want := tc.wantBase + root.StylesheetURL(); p.StylesheetURL() != want {
				t.Errorf("StylesheetURL = %q, want %q", p.StylesheetURL(), want)
			}
			if want := tc.wantBase + root.LogoURL(); p.LogoURL() != want {
				t.Errorf("LogoURL = %q, want %q", p.LogoURL(), want)
			}
			if !strings.HasPrefix(root.StylesheetURL(), StaticPrefix) {
				t.Errorf("WithBasePath changed the receiver: StylesheetURL = %q", root.StylesheetURL())
			}

			// Every page links only to assets under the base path.
			for _, data := range []any{Login{Action: tc.wantBase + "/login"}, Consent{Action: tc.wantBase + "/authorize"},
				Error{Title: "x"}, LogoutConfirm{Action: tc.wantBase + "/logout"}, LoggedOut{}, Unavailable{},
				Account{Action: tc.wantBase + "/account", LogoutURL: tc.wantBase + "/logout"}} {
				body := render(t, p, http.StatusOK, data).Body.String()
				urls := assetRE.FindAllStringSubmatch(body, -1)
				if len(urls) < 2 {
					t.Fatalf("%T: found %d URLs, want the stylesheet and the logo at least:\n%s", data, len(urls), body)
				}
				for _, m := range urls {
					if !strings.HasPrefix(m[1], tc.wantBase+"/") {
						t.Errorf("%T links to %q, outside base %q", data, m[1], tc.wantBase)
					}
				}
			}
			if tc.dir != "" {
				body := render(t, p, http.StatusOK, LoggedOut{}).Body.String()
				if !strings.Contains(body, `href="`+tc.wantBase+`/logout"`) {
					t.Errorf("an override page's {{base}} did not give the base path:\n%s", body)
				}
			}

			// The handler mounted at the base path serves exactly the URLs the
			// pages link to.
			mux := http.NewServeMux()
			mux.Handle(tc.wantBase+StaticPrefix, p.AssetHandler())
			for _, u := range []string{p.StylesheetURL(), p.LogoURL()} {
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, u, nil))
				if rec.Code != http.StatusOK {
					t.Errorf("GET %s = %d, want 200", u, rec.Code)
				}
				if u == p.LogoURL() && tc.wantLogo != "" && rec.Body.String() != tc.wantLogo {
					t.Errorf("logo under the base path is not the override: %q", rec.Body)
				}
			}
			if tc.wantBase != "" {
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, root.StylesheetURL(), nil))
				if rec.Code != http.StatusNotFound {
					t.Errorf("GET %s without the base path = %d, want 404", root.StylesheetURL(), rec.Code)
				}
			}
		})
	}
}

func TestWithBasePathRejectsMalformed(t *testing.T) {
	p := load(t, "")
	for _, base := range []string{"auth", "/auth/", "/a?b=1", "/a#top", "//"} {
		if _, err := p.WithBasePath(base); err == nil {
			t.Errorf("WithBasePath(%q) succeeded, want an error", base)
		}
	}
}
