// Package templates owns the HTML pages of the provider: login, consent,
// error, logout confirmation, logged-out and the user's account page, plus
// their stylesheet and logo.
//
// Pages are html/template files embedded in the binary; an operator may
// replace any of them, and the logo, from a directory. The pages need no
// JavaScript and load no external asset, which lets Render send a strict
// Content-Security-Policy.
//
// The form field names are a fixed contract that scripts and browser tests
// drive (see docs/ARCHITECTURE.md); change them only together with those.
//
// This package is a leaf: it imports only the standard library and must not
// import any other package of this module.
package templates

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"
)

// Field is one hidden form input carried through a page.
type Field struct{ Name, Value string }

// Scope is a requested scope: its protocol name and what it means in words.
type Scope struct{ Name, Description string }

// Login is the data of the login page.
type Login struct {
	ClientName, Username, Error, CSRFToken, Action string
	// SignedInAs names the user of the browser's current session when the
	// application asked for a fresh sign-in (prompt=login, max_age).
	SignedInAs string
	Hidden     []Field
	// PasskeyAction, when set, is where the "Sign in with a passkey" form
	// posts (with the same CSRFToken and Hidden fields): a discoverable
	// WebAuthn ceremony run by webauthn.js with PasskeyOptions (JSON), whose
	// sealed state is PasskeyState. The username field offers passkeys by
	// autofill where the browser can (conditional mediation).
	PasskeyAction, PasskeyOptions, PasskeyState string
}

// SecondStep is the data of the page that asks a user who has given their
// password (or whose session is too weak for an application, StepUp) for
// a second factor: Method first (MethodPasskey, MethodTOTP or
// MethodRecoveryCode), the others of Methods as alternatives. Every form
// posts to Action with CSRFToken, Pending (the sealed, short-lived proof of
// the first step), a method field and the Hidden fields. With EnrolURL set
// there is no step to take: the user must first set up a second factor
// there, and the page says so.
type SecondStep struct {
	ClientName, Username, Error string
	Action, CSRFToken, Pending  string
	Hidden                      []Field
	Method                      string
	Methods                     []string
	// PasskeyOptions (JSON) and PasskeyState are the WebAuthn ceremony of
	// the passkey method (webauthn.js runs it).
	PasskeyOptions, PasskeyState string
	// StepUp: the user is signed in, but the application asks for a
	// stronger sign-in.
	StepUp   bool
	EnrolURL string
}

// The methods of a second step (the method field of its forms).
const (
	MethodPasskey      = "passkey"
	MethodTOTP         = "totp"
	MethodRecoveryCode = "recovery_code"
)

// Has reports whether m is one of the page's methods, for the template.
func (p SecondStep) Has(m string) bool {
	for _, x := range p.Methods {
		if x == m {
			return true
		}
	}
	return false
}

// Consent is the data of the consent page.
type Consent struct {
	ClientName, Username, NotYouURL, CSRFToken, Action string
	Scopes                                             []Scope
	Hidden                                             []Field
}

// Error is the data of the error page: what went wrong and what to do.
type Error struct{ Title, Message, Hint string }

// LogoutConfirm is the data of the page that asks before an RP-initiated logout.
type LogoutConfirm struct {
	ClientName, CSRFToken, Action string
	Hidden                        []Field
}

// LoggedOut is the data of the page shown after logout.
type LoggedOut struct{ ReturnURL string }

// FormPost is the data of the page that carries an authorization response
// to a client by POST (OAuth 2.0 Form Post Response Mode): a form to Action
// with Fields, which submits itself with FormPostScriptURL's script and shows
// a button for browsers without JavaScript. Render gives it a policy of its
// own: the script of ours, and a form that may go only to Action's origin.
type FormPost struct {
	ClientName, Action string
	Fields             []Field
}

// Account is the data of the signed-in user's own page (/account): who they
// are, their sessions, the applications they allowed, and the password form.
// Every form posts to Action with CSRFToken and an op field naming what it
// does (see the account page's form fields in docs/ARCHITECTURE.md).
type Account struct {
	Username, Name, Email, Subject string
	CSRFToken, Action              string
	// LogoutURL is the sign-out page of this browser's session.
	LogoutURL string
	Sessions  []AccountSession
	Grants    []AccountGrant
	// PasswordManaged is set when the configuration file owns the user:
	// the password cannot be changed here.
	PasswordManaged bool
	// Methods is the "Sign-in methods" section: passkeys, the
	// authenticator app, recovery codes.
	Methods AccountMethods
	// Notice says what the last action did; Error why it was refused (the
	// page is then shown with an error status).
	Notice, Error string
}

// AccountMethods are the user's second factors on the account page.
type AccountMethods struct {
	// Recent is set while changes are allowed: the session signed in, or
	// the password was confirmed on the page, a few minutes ago. Otherwise
	// the page asks for the password (op=reauthenticate) before offering
	// to add or remove anything.
	Recent bool
	// Required is set when the user must keep a second factor
	// (require_mfa): the last one cannot be removed.
	Required bool
	Passkeys []AccountPasskey
	// PasskeysUnavailable is set when the server cannot have passkeys
	// (an issuer at an IP address, which WebAuthn does not allow): none
	// can be added.
	PasskeysUnavailable bool
	// PasskeyOptions and PasskeyState are a passkey registration ready to
	// run: the options for webauthn.js (data-webauthn-options) and the
	// sealed ceremony the form posts back (webauthn_state). Empty when
	// not Recent.
	PasskeyOptions, PasskeyState string
	// TOTPConfirmed: the authenticator app counts; TOTPPending: one was
	// set up but no code has confirmed it yet. TOTPSince is when it was
	// set up.
	TOTPConfirmed, TOTPPending bool
	TOTPSince                  time.Time
	// TOTPSecret (base32) and TOTPQR (an SVG element of the QR code of its
	// otpauth URI, made by the server, trusted markup) are set only in the
	// answer that set the app up: they are shown once.
	TOTPSecret string
	TOTPQR     template.HTML
	// RecoveryCodesLeft is how many unspent recovery codes the user has;
	// NewRecoveryCodes are set only in the answer that made them (shown
	// once, never stored in the clear).
	RecoveryCodesLeft int
	NewRecoveryCodes  []string
}

// HasFactor reports whether the user has a second factor that counts
// (a passkey or a confirmed authenticator app); recovery codes are their
// back-up and are offered only then.
func (m AccountMethods) HasFactor() bool { return len(m.Passkeys) > 0 || m.TOTPConfirmed }

// AccountPasskey is one of the user's passkeys; ID is its WebAuthn
// credential id (base64url). LastUsed is zero for one never used.
type AccountPasskey struct {
	ID, Label         string
	Created, LastUsed time.Time
}

// AccountSession is one of the user's live sessions. ID is the session's
// sid (the hash of its cookie, never the cookie).
type AccountSession struct {
	ID            string
	SignedIn      time.Time
	UserAgent, IP string
	// Current marks the session of the browser showing the page.
	Current bool
}

// AccountGrant is an application the user allowed, with the scopes (and
// claims) allowed in words and when access was first granted.
type AccountGrant struct {
	ClientID, ClientName string
	Scopes               []Scope
	Granted              time.Time
}

// Unavailable is the data of the page shown while the provider cannot reach
// its database: the request was fine, and reloading in RetryAfterSeconds
// should work.
type Unavailable struct{ RetryAfterSeconds int }

// StaticPrefix is the path, after the base path (see WithBasePath), under
// which AssetHandler expects to be mounted.
const StaticPrefix = "/static/"

// pageFiles maps each data type to the file that renders it; the file names
// are also the names an operator uses in the override directory.
var pageFiles = map[reflect.Type]string{
	reflect.TypeFor[Login]():         "login.html",
	reflect.TypeFor[Consent]():       "consent.html",
	reflect.TypeFor[Error]():         "error.html",
	reflect.TypeFor[LogoutConfirm](): "logout.html",
	reflect.TypeFor[LoggedOut]():     "logged_out.html",
	reflect.TypeFor[Unavailable]():   "unavailable.html",
	reflect.TypeFor[FormPost]():      "form_post.html",
	reflect.TypeFor[Account]():       "account.html",
	reflect.TypeFor[SecondStep]():    "second_step.html",
}

// scriptPages are the pages that load our own scripts (webauthn.js, for
// passkeys): their policy adds script-src 'self'; every other page runs no
// script at all. Still no inline script anywhere.
var scriptPages = map[reflect.Type]bool{
	reflect.TypeFor[Login]():      true,
	reflect.TypeFor[Account]():    true,
	reflect.TypeFor[SecondStep](): true,
}

// samples fill every field so that parse can execute each page once.
var samples = map[string]any{
	"login.html": Login{ClientName: "Example", Username: "alice", Error: "Wrong username or password.", SignedInAs: "bob",
		CSRFToken: "csrf", Action: "/login", Hidden: []Field{{"k", "v"}},
		PasskeyAction: "/login/passkey", PasskeyOptions: `{"publicKey":{}}`, PasskeyState: "state"},
	"second_step.html": SecondStep{ClientName: "Example", Username: "alice", Error: "Wrong code.", Action: "/login/second-step",
		CSRFToken: "csrf", Pending: "pending", Hidden: []Field{{"k", "v"}}, Method: MethodPasskey,
		Methods: []string{MethodPasskey, MethodTOTP, MethodRecoveryCode}, PasskeyOptions: `{"publicKey":{}}`, PasskeyState: "state",
		StepUp: true, EnrolURL: "/account"},
	"consent.html": Consent{ClientName: "Example", Username: "alice", NotYouURL: "/logout", CSRFToken: "csrf",
		Action: "/consent", Scopes: []Scope{{"openid", ScopeDescription("openid")}}, Hidden: []Field{{"k", "v"}}},
	"error.html":       Error{Title: "Error", Message: "message", Hint: "hint"},
	"logout.html":      LogoutConfirm{ClientName: "Example", CSRFToken: "csrf", Action: "/logout", Hidden: []Field{{"k", "v"}}},
	"logged_out.html":  LoggedOut{ReturnURL: "https://client.example/"},
	"unavailable.html": Unavailable{RetryAfterSeconds: 3},
	"form_post.html":   FormPost{ClientName: "Example", Action: "https://client.example/cb", Fields: []Field{{"code", "c"}, {"state", "s"}}},
	"account.html": Account{Username: "alice", Name: "Alice Example", Email: "alice@example.com", Subject: "sub",
		CSRFToken: "csrf", Action: "/account", LogoutURL: "/logout", PasswordManaged: true, Notice: "done", Error: "refused",
		Methods: AccountMethods{Recent: true, Required: true, PasskeyOptions: "{}", PasskeyState: "state",
			Passkeys:      []AccountPasskey{{ID: "cred", Label: "Laptop", Created: time.Unix(0, 0), LastUsed: time.Unix(0, 0)}},
			TOTPConfirmed: true, TOTPPending: true, TOTPSince: time.Unix(0, 0), TOTPSecret: "JBSWY3DPEHPK3PXP", TOTPQR: "<svg></svg>",
			RecoveryCodesLeft: 9, NewRecoveryCodes: []string{"ABCD-EFGH-IJKL-MNOP"}},
		Sessions: []AccountSession{{ID: "sid", SignedIn: time.Unix(0, 0), UserAgent: "Browser/1.0", IP: "192.0.2.1", Current: true}},
		Grants: []AccountGrant{{ClientID: "example", ClientName: "Example", Scopes: []Scope{{"openid", ScopeDescription("openid")}},
			Granted: time.Unix(0, 0)}}},
}

//go:embed pages/*.html static/style.css static/logo.svg static/form_post.js static/webauthn.js
var embedded embed.FS

// asset is a static file served under a content-hash name.
type asset struct {
	name        string // e.g. style.3f2a9c1b0d4e5f60.css
	contentType string
	body        []byte
}

// Pages holds the parsed pages and their assets. It is safe for concurrent use.
type Pages struct {
	// base is the path every URL the pages link to starts with: "" for a
	// provider at the root of its host, "/auth" for an issuer with a path.
	base   string
	pages  map[string]*template.Template
	assets map[string]asset // keyed by hashed name; never changed after Load
	// cssName, logoName, formPostJSName and webauthnJSName are the hashed
	// asset names, without any prefix.
	cssName, logoName, formPostJSName, webauthnJSName string
	// layout and sources (by page file name) are the template texts, kept so
	// that WithBasePath can parse them again with its own asset URLs.
	layout  string
	sources map[string]source
}

// source is the text of one page and where it came from, for error messages.
type source struct{ path, text string }

// Load parses the embedded templates; a non-empty overrideDir replaces any page
// (login.html, consent.html, error.html, logout.html, logged_out.html,
// unavailable.html, form_post.html, account.html, second_step.html) and
// logo.svg found there.
// A missing overrideDir is an error, since a typo in the operator's
// configuration should not silently fall back to the defaults. The pages
// link to the root of the host; see WithBasePath for an issuer with a path.
func Load(overrideDir string) (*Pages, error) {
	if overrideDir != "" {
		st, err := os.Stat(overrideDir)
		if err != nil {
			return nil, fmt.Errorf("templates: override directory: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("templates: override directory %s is not a directory", overrideDir)
		}
	}
	// read returns the override file if there is one, else the embedded
	// file. An empty name means the file cannot be overridden.
	read := func(embeddedPath, name string) ([]byte, string, error) {
		if overrideDir != "" && name != "" {
			p := filepath.Join(overrideDir, name)
			b, err := os.ReadFile(p)
			if err == nil {
				return b, p, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return nil, "", fmt.Errorf("templates: %w", err)
			}
		}
		b, err := embedded.ReadFile(embeddedPath)
		return b, embeddedPath, err
	}

	p := &Pages{assets: map[string]asset{}, sources: map[string]source{}}
	css, _, err := read("static/style.css", "")
	if err != nil {
		return nil, err
	}
	p.cssName = p.addAsset("style", ".css", "text/css; charset=utf-8", css)
	logo, logoPath, err := read("static/logo.svg", "logo.svg")
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(logo)) == 0 {
		return nil, fmt.Errorf("templates: %s is empty", logoPath)
	}
	p.logoName = p.addAsset("logo", ".svg", "image/svg+xml", logo)
	js, _, err := read("static/form_post.js", "")
	if err != nil {
		return nil, err
	}
	p.formPostJSName = p.addAsset("form_post", ".js", "text/javascript; charset=utf-8", js)
	wjs, _, err := read("static/webauthn.js", "")
	if err != nil {
		return nil, err
	}
	p.webauthnJSName = p.addAsset("webauthn", ".js", "text/javascript; charset=utf-8", wjs)

	layout, err := embedded.ReadFile("pages/layout.html")
	if err != nil {
		return nil, err
	}
	p.layout = string(layout)
	for _, name := range pageFiles {
		src, srcPath, err := read("pages/"+name, name)
		if err != nil {
			return nil, err
		}
		p.sources[name] = source{path: srcPath, text: string(src)}
	}
	if err := p.parse(); err != nil {
		return nil, err
	}
	return p, nil
}

// WithBasePath returns the same pages for a provider served under base (the
// path of an issuer such as https://example.com/auth, so "/auth"): the
// stylesheet and logo URLs start with base+StaticPrefix and AssetHandler
// expects them there. An empty base, or "/", is the root of the host. The
// receiver is not changed, so one loaded set can serve several issuers.
func (p *Pages) WithBasePath(base string) (*Pages, error) {
	if base == "/" {
		base = ""
	}
	if base != "" && (!strings.HasPrefix(base, "/") || strings.HasSuffix(base, "/") || strings.ContainsAny(base, "?#")) {
		return nil, fmt.Errorf("templates: base path %q must start with a slash and end without one", base)
	}
	q := &Pages{base: base, assets: p.assets, cssName: p.cssName, logoName: p.logoName, formPostJSName: p.formPostJSName,
		webauthnJSName: p.webauthnJSName, layout: p.layout, sources: p.sources}
	if err := q.parse(); err != nil {
		return nil, err
	}
	return q, nil
}

// BasePath is the path prefix the pages were built for ("" at the root).
func (p *Pages) BasePath() string { return p.base }

// parse builds every page from the kept sources, with template functions that
// link to this Pages' asset URLs, and renders each once with sample data so
// an override that refers to a missing field fails at start-up, not at a
// user's login.
func (p *Pages) parse() error {
	funcs := template.FuncMap{
		"stylesheet": p.StylesheetURL,
		"logo":       p.LogoURL,
		"base":       p.BasePath,
		"describe":   ScopeDescription,
		"formPostJS": p.FormPostScriptURL,
		"webauthnJS": p.WebAuthnScriptURL,
	}
	base, err := template.New("layout.html").Funcs(funcs).Parse(p.layout)
	if err != nil {
		return fmt.Errorf("templates: pages/layout.html: %w", err)
	}
	p.pages = map[string]*template.Template{}
	for name, src := range p.sources {
		t, err := base.Clone()
		if err == nil {
			t, err = t.New(name).Parse(src.text)
		}
		if err != nil {
			return fmt.Errorf("templates: %s: %w", src.path, err)
		}
		if err := t.Execute(io.Discard, samples[name]); err != nil {
			return fmt.Errorf("templates: %s does not render: %w", src.path, err)
		}
		p.pages[name] = t
	}
	return nil
}

// addAsset registers body under a name derived from its content, so a changed
// file gets a new URL and the old one can be cached forever.
func (p *Pages) addAsset(stem, ext, contentType string, body []byte) string {
	sum := sha256.Sum256(body)
	name := stem + "." + hex.EncodeToString(sum[:8]) + ext
	p.assets[name] = asset{name: name, contentType: contentType, body: body}
	return name
}

// StylesheetURL is the path of the stylesheet, e.g.
// /static/style.3f2a9c1b0d4e5f60.css, or /auth/static/style.3f2a9c1b0d4e5f60.css
// under the base path /auth.
func (p *Pages) StylesheetURL() string { return p.base + StaticPrefix + p.cssName }

// LogoURL is the path of the logo, e.g. /static/logo.0a1b2c3d4e5f6071.svg
// (with the base path in front, like StylesheetURL).
func (p *Pages) LogoURL() string { return p.base + StaticPrefix + p.logoName }

// FormPostScriptURL is the path of the script that submits the form_post
// page (with the base path in front, like StylesheetURL).
func (p *Pages) FormPostScriptURL() string { return p.base + StaticPrefix + p.formPostJSName }

// WebAuthnScriptURL is the path of the script that runs the passkey
// ceremonies of the pages listed in scriptPages (with the base path in
// front, like StylesheetURL); templates call it as {{webauthnJS}}.
func (p *Pages) WebAuthnScriptURL() string { return p.base + StaticPrefix + p.webauthnJSName }

// AssetHandler serves the stylesheet and the logo under their hash-based names
// with long-lived immutable caching. Mount it at BasePath()+StaticPrefix; it
// also accepts requests whose prefix was already stripped.
func (p *Pages) AssetHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name, found := strings.CutPrefix(r.URL.Path, p.base+StaticPrefix)
		if !found {
			name = strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, StaticPrefix), "/")
		}
		a, ok := p.assets[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		h.Set("ETag", `"`+a.name+`"`)
		h.Set("X-Content-Type-Options", "nosniff")
		// An operator's SVG opened directly must not run script in our origin.
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}

// Render writes the page for data (one of Login, Consent, Error,
// LogoutConfirm, LoggedOut, Unavailable, FormPost, Account, SecondStep, or a pointer to
// one) with the status code and the
// security headers. It renders into a buffer first, so a template error
// returns before anything is written and the caller can still answer.
//
// The form-action directive allows 'self' plus the origin of any
// redirect_uri or post_logout_redirect_uri among the hidden fields, because
// browsers apply form-action to the redirects that follow a form submission
// (posting consent ends in a redirect to the client). Use
// RenderAllowingRedirects when those URIs are not carried in the form.
func (p *Pages) Render(w http.ResponseWriter, status int, data any) error {
	return p.RenderAllowingRedirects(w, status, data)
}

// RenderAllowingRedirects is Render with additional URLs whose origins the
// page's form answer may redirect to, such as a client's registered
// redirect_uri. Pass only URIs that were validated against the client's
// registration. URLs that are not absolute http(s) URLs are ignored.
func (p *Pages) RenderAllowingRedirects(w http.ResponseWriter, status int, data any, redirectURIs ...string) error {
	t := reflect.TypeOf(data)
	v := reflect.ValueOf(data)
	if t != nil && t.Kind() == reflect.Pointer {
		if v.IsNil() {
			return fmt.Errorf("templates: nil %s", t)
		}
		t, v = t.Elem(), v.Elem()
	}
	name, ok := pageFiles[t]
	if !ok {
		return fmt.Errorf("templates: no page for data of type %v", reflect.TypeOf(data))
	}
	var buf bytes.Buffer
	if err := p.pages[name].Execute(&buf, v.Interface()); err != nil {
		return fmt.Errorf("templates: %s: %w", name, err)
	}
	targets := append(formTargets(v.Interface()), redirectURIs...)
	csp := contentSecurityPolicy(targets, scriptPages[t])
	if fp, ok := v.Interface().(FormPost); ok {
		csp = formPostPolicy(fp.Action)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// formTargets lists the URLs a page's form may end up at besides 'self'.
func formTargets(data any) []string {
	var action string
	var hidden []Field
	switch d := data.(type) {
	case Login:
		action, hidden = d.Action, d.Hidden
	case Consent:
		action, hidden = d.Action, d.Hidden
	case LogoutConfirm:
		action, hidden = d.Action, d.Hidden
	case SecondStep:
		action, hidden = d.Action, d.Hidden
	}
	out := []string{action}
	for _, f := range hidden {
		if f.Name == "redirect_uri" || f.Name == "post_logout_redirect_uri" {
			out = append(out, f.Value)
		}
	}
	return out
}

// contentSecurityPolicy builds the page policy: nothing but our own
// stylesheet and images (and scripts, when scripts is set), no framing, and
// forms that go only to us or to the listed origins.
func contentSecurityPolicy(targets []string, scripts bool) string {
	formAction := []string{"'self'"}
	seen := map[string]bool{}
	for _, t := range targets {
		if o, ok := origin(t); ok && !seen[o] {
			seen[o] = true
			formAction = append(formAction, o)
		}
	}
	script := ""
	if scripts {
		script = "script-src 'self'; "
	}
	return "default-src 'none'; " + script + "style-src 'self'; img-src 'self' data:; form-action " +
		strings.Join(formAction, " ") + "; frame-ancestors 'none'; base-uri 'none'"
}

// formPostPolicy is the policy of the form_post page: our stylesheet, logo
// and submitting script, and a form that may go to the client's origin and
// nowhere else ('none' when action has no origin a policy can name).
func formPostPolicy(action string) string {
	formAction := "'none'"
	if o, ok := origin(action); ok {
		formAction = o
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action " +
		formAction + "; frame-ancestors 'none'; base-uri 'none'"
}

// origin returns scheme://host[:port] of an absolute http(s) URL. It refuses
// anything with characters that could end a CSP source expression, since the
// URL may come from a request parameter.
func origin(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", false
	}
	host := strings.ToLower(u.Host)
	for _, c := range host {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune(".-:[]", c)
		if !ok {
			return "", false
		}
	}
	return u.Scheme + "://" + host, true
}

// scopeDescriptions are the standard scopes (OIDC Core §5.4, §11), in words
// a user understands. Any other scope is the operator's: its words come from
// the configuration (scopes[]), which the provider passes in Scope.Description.
var scopeDescriptions = map[string]string{
	"openid":         "Confirm your identity",
	"profile":        "Your name",
	"email":          "Your email address",
	"address":        "Your postal address",
	"phone":          "Your phone number",
	"offline_access": "Stay signed in (keep access when you are away)",
}

// ScopeDescription describes a standard scope in words; any other scope is
// described by its name.
func ScopeDescription(name string) string {
	if d, ok := scopeDescriptions[name]; ok {
		return d
	}
	return name
}
