package authserver_test

import (
	"cmp"
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/setup"
	"github.com/authserver-dev/authserver/resource"
)

// issuerCases are the issuers every test here runs against: the root of a
// host, as before, and issuers with a path, as behind a reverse proxy that
// forwards https://example.com/auth/ unchanged.
var issuerCases = []struct{ name, base string }{
	{"root", ""},
	{"path", "/auth"},
	{"nested path", "/tenants/acme"},
}

// startAt runs a provider whose issuer is the test server's URL plus base.
func startAt(t *testing.T, base string) *authtest.Provider {
	t.Helper()
	if base == "" {
		return authtest.Start(t, nil)
	}
	return authtest.StartWithIssuerPath(t, base, nil)
}

// cookieRecorder is a transport that keeps every Set-Cookie the provider
// sends, including those on redirects the browser follows.
type cookieRecorder struct {
	mu      sync.Mutex
	cookies []*http.Cookie
}

func (c *cookieRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		c.mu.Lock()
		c.cookies = append(c.cookies, resp.Cookies()...)
		c.mu.Unlock()
	}
	return resp, err
}

func (c *cookieRecorder) all() []*http.Cookie {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*http.Cookie(nil), c.cookies...)
}

// fetch loads a page in the browser and keeps its headers, which
// authtest.Get does not.
func fetch(t *testing.T, b *http.Client, u string) (*authtest.Page, http.Header) {
	t.Helper()
	resp, err := b.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	pg := &authtest.Page{Status: resp.StatusCode, URL: resp.Request.URL, Body: string(body)}
	if resp.StatusCode/100 == 3 {
		pg.Location, _ = resp.Location()
	}
	return pg, resp.Header
}

// linkRE finds every URL a page makes the browser load, follow or post to.
var linkRE = regexp.MustCompile(`\b(href|src|action)="([^"]*)"`)

// checkPageLinks fetches every stylesheet, image and link of a provider page
// and expects 200, and expects each of them, and the form's action, to be
// under the issuer's path.
func checkPageLinks(t *testing.T, b *http.Client, p *authtest.Provider, base string, pg *authtest.Page) {
	t.Helper()
	links := linkRE.FindAllStringSubmatch(pg.Body, -1)
	if len(links) < 3 { // stylesheet, logo, form action at least
		t.Fatalf("page %s has %d links, want the stylesheet, the logo and a form:\n%s", pg.URL, len(links), pg.Body)
	}
	for _, m := range links {
		ref, err := url.Parse(html.UnescapeString(m[2]))
		if err != nil {
			t.Errorf("%s=%q: %v", m[1], m[2], err)
			continue
		}
		abs := pg.URL.ResolveReference(ref)
		if !strings.HasPrefix(abs.String(), p.URL+"/") {
			t.Errorf("%s=%q on %s leaves the issuer %s", m[1], m[2], pg.URL, p.URL)
		}
		if !strings.HasPrefix(ref.Path, base+"/") {
			t.Errorf("%s=%q is not under the issuer's path %q", m[1], m[2], base)
		}
		if m[1] == "action" {
			continue // posted by the flow itself
		}
		resp, err := b.Get(abs.String())
		if err != nil {
			t.Fatalf("GET %s: %v", abs, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s (%s on %s) = %d, want 200", abs, m[1], pg.URL.Path, resp.StatusCode)
		}
	}
}

// The whole authorization code flow, as a third-party app runs it with
// go-oidc and x/oauth2, works at the root and under a path: every page,
// asset, redirect and cookie stays under the issuer, the ID token verifies
// against the issuer with its path, and the resource package accepts the
// access token.
func TestIssuerPathCodeFlow(t *testing.T) {
	for _, tc := range issuerCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := startAt(t, tc.base)
			if want := p.Server.URL + tc.base; p.URL != want {
				t.Fatalf("issuer = %q, want %q", p.URL, want)
			}
			ctx := context.Background()
			provider, err := oidc.NewProvider(ctx, p.URL) // checks the document's issuer
			if err != nil {
				t.Fatalf("discovery: %v", err)
			}
			oc := &oauth2.Config{ClientID: "demo-web", ClientSecret: "demo-web-secret-not-for-production", Endpoint: provider.Endpoint(),
				RedirectURL: authtest.DemoRedirect, Scopes: []string{oidc.ScopeOpenID, "profile", "email", "api.read"}}
			rec := &cookieRecorder{}
			b := p.Browser(t)
			b.Transport = rec
			verifier := oauth2.GenerateVerifier()

			login, h := fetch(t, b, oc.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n-1")))
			if login.Status != http.StatusOK || !strings.Contains(login.Body, `name="password"`) {
				t.Fatalf("login page: %d at %s:\n%s", login.Status, login.URL, login.Body)
			}
			// The form posts to us and the flow ends at the client: the CSP
			// allows exactly those origins, whatever the issuer's path.
			if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' http://127.0.0.1:9094;") {
				t.Errorf("login CSP = %q, want form-action 'self' and the client's origin", csp)
			}
			checkPageLinks(t, b, p, tc.base, login)

			consent := login.Submit(t, b, url.Values{"username": {"alice"}, "password": {"alice-password"}})
			if consent.Status != http.StatusOK || !strings.Contains(consent.Body, `value="allow"`) {
				t.Fatalf("after login, want the consent page: %d at %s:\n%s", consent.Status, consent.URL, consent.Body)
			}
			if want := tc.base + "/authorize"; consent.URL.Path != want {
				t.Errorf("login continued at %s, want %s", consent.URL.Path, want)
			}
			checkPageLinks(t, b, p, tc.base, consent) // includes "Not you?"

			done := consent.Submit(t, b, url.Values{"decision": {"allow"}})
			if done.Location == nil {
				t.Fatalf("consent did not return to the client: %d\n%s", done.Status, done.Body)
			}
			q := done.Location.Query()
			if q.Get("iss") != p.URL || q.Get("state") != "st" || q.Get("code") == "" {
				t.Fatalf("authorization response %s", done.Location)
			}
			tok, err := oc.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			rawID, _ := tok.Extra("id_token").(string)
			idt, err := provider.Verifier(&oidc.Config{ClientID: "demo-web"}).Verify(ctx, rawID)
			if err != nil {
				t.Fatalf("ID token: %v", err)
			}
			if idt.Issuer != p.URL || idt.Nonce != "n-1" {
				t.Errorf("ID token iss %q nonce %q", idt.Issuer, idt.Nonce)
			}
			if ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil || ui.Subject != idt.Subject {
				t.Errorf("userinfo: %v %+v", err, ui)
			}

			api, err := resource.NewVerifier(ctx, resource.Config{Issuer: p.URL, Audience: "http://127.0.0.1:9095"})
			if err != nil {
				t.Fatalf("resource verifier: %v", err)
			}
			claims, err := api.Verify(ctx, tok.AccessToken)
			if err != nil {
				t.Fatalf("resource verifier refused the access token: %v", err)
			}
			if claims.Subject != idt.Subject || !claims.HasScope("api.read") {
				t.Errorf("access token claims = %+v", claims)
			}

			// Sign out under the prefix: the confirmation page (no hint) is
			// ours too, and the hinted request ends the session and clears
			// the cookie on the same path.
			confirm, _ := fetch(t, b, p.URL+"/logout")
			if !strings.Contains(confirm.Body, `value="logout"`) {
				t.Fatalf("logout confirmation page: %d\n%s", confirm.Status, confirm.Body)
			}
			checkPageLinks(t, b, p, tc.base, confirm)
			var doc struct {
				EndSession string `json:"end_session_endpoint"`
			}
			if err := provider.Claims(&doc); err != nil || doc.EndSession != p.URL+"/logout" {
				t.Fatalf("end_session_endpoint = %q (%v)", doc.EndSession, err)
			}
			out, _ := fetch(t, b, doc.EndSession+"?"+url.Values{"id_token_hint": {rawID},
				"post_logout_redirect_uri": {"http://127.0.0.1:9094/"}, "state": {"bye"}}.Encode())
			if out.Location == nil || out.Location.String() != "http://127.0.0.1:9094/?state=bye" {
				t.Fatalf("logout: %d %v\n%s", out.Status, out.Location, out.Body)
			}
			again, _ := fetch(t, b, oc.AuthCodeURL("s2", oauth2.S256ChallengeOption(verifier)))
			if !strings.Contains(again.Body, `name="password"`) {
				t.Fatalf("the session survived sign-out under %q", tc.base)
			}

			// Every cookie the provider set lives on the issuer's path only.
			cookies := rec.all()
			var session, cleared bool
			for _, c := range cookies {
				if want := cmp.Or(tc.base, "/"); c.Path != want {
					t.Errorf("cookie %s has Path=%q, want %q", c.Name, c.Path, want)
				}
				switch {
				case c.Name == "authserver_session" && c.MaxAge > 0:
					session = true
				case c.Name == "authserver_session" && c.MaxAge < 0:
					cleared = true
				}
			}
			if !session || !cleared {
				t.Errorf("want the session cookie set and cleared, got %d cookies: %v", len(cookies), cookies)
			}
		})
	}
}

// Discovery (OIDC and RFC 8414, at both places RFC 8414 §3.1 allows) lists
// URLs under the issuer, and each of them answers.
func TestIssuerPathDiscovery(t *testing.T) {
	for _, tc := range issuerCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := startAt(t, tc.base)
			docs := []string{
				p.URL + "/.well-known/openid-configuration",
				p.URL + "/.well-known/oauth-authorization-server",
				p.Server.URL + "/.well-known/oauth-authorization-server" + tc.base, // RFC 8414 §3.1
			}
			var first map[string]any
			for _, u := range docs {
				resp, err := http.Get(u)
				if err != nil {
					t.Fatal(err)
				}
				var doc map[string]any
				err = json.NewDecoder(resp.Body).Decode(&doc)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK || err != nil {
					t.Fatalf("GET %s = %d (%v)", u, resp.StatusCode, err)
				}
				if doc["issuer"] != p.URL {
					t.Errorf("%s: issuer = %v, want %s", u, doc["issuer"], p.URL)
				}
				if first == nil {
					first = doc
				}
			}

			// Each endpoint, asked the way a client would without credentials,
			// answers as itself (an error of its own), never 404.
			calls := []struct{ field, method string }{
				{"authorization_endpoint", http.MethodGet},
				{"token_endpoint", http.MethodPost},
				{"userinfo_endpoint", http.MethodGet},
				{"jwks_uri", http.MethodGet},
				{"revocation_endpoint", http.MethodPost},
				{"introspection_endpoint", http.MethodPost},
				{"end_session_endpoint", http.MethodGet},
			}
			for _, c := range calls {
				u, _ := first[c.field].(string)
				if !strings.HasPrefix(u, p.URL+"/") {
					t.Errorf("%s = %q, not under the issuer %s", c.field, u, p.URL)
					continue
				}
				req, _ := http.NewRequest(c.method, u, strings.NewReader(""))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
					t.Errorf("%s %s (%s) = %d", c.method, u, c.field, resp.StatusCode)
				}
			}
		})
	}
}

// With a path issuer nothing answers outside the path except the liveness
// probe, which is at both places; at the root issuer the same paths work.
func TestIssuerPathNothingOutsideThePath(t *testing.T) {
	const base = "/auth"
	p := startAt(t, base)
	css := regexp.MustCompile(`href="(` + base + `/static/[^"]+\.css)"`)
	login := authtest.Get(t, p.Browser(t), authorizeURL(p, nil))
	m := css.FindStringSubmatch(login.Body)
	if m == nil {
		t.Fatalf("no stylesheet under %s on the login page:\n%s", base, login.Body)
	}
	asset := strings.TrimPrefix(m[1], base)
	q := strings.SplitN(authorizeURL(p, nil), "?", 2)[1]
	tests := []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/authorize?" + q, http.StatusNotFound},
		{http.MethodPost, "/token", http.StatusNotFound},
		{http.MethodGet, "/jwks.json", http.StatusNotFound},
		{http.MethodGet, "/userinfo", http.StatusNotFound},
		{http.MethodGet, "/logout", http.StatusNotFound},
		{http.MethodGet, "/.well-known/openid-configuration", http.StatusNotFound},
		{http.MethodGet, asset, http.StatusNotFound},
		{http.MethodGet, base + "/authorize?" + q, http.StatusOK},
		{http.MethodGet, base + "/jwks.json", http.StatusOK},
		{http.MethodGet, base + asset, http.StatusOK},
		{http.MethodGet, base + "/.well-known/openid-configuration", http.StatusOK},
		{http.MethodGet, "/healthz", http.StatusOK},
		{http.MethodGet, base + "/healthz", http.StatusOK},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, p.Server.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s = %d, want %d", tc.method, strings.SplitN(tc.path, "?", 2)[0], resp.StatusCode, tc.want)
		}
	}
}

// An issuer path that a ServeMux pattern or a cookie Path could not carry
// as written is refused at start, not served wrongly.
func TestIssuerPathMustBePlain(t *testing.T) {
	for _, path := range []string{"/a/../b", "/a/./b", "/a%20b", "/{id}", "/a//b"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			cfg := authtest.TestConfig(t.TempDir())
			cfg.Issuer = "http://127.0.0.1:9096" + path
			cfg.ApplyDefaults()
			app, err := setup.Open(context.Background(), cfg, setup.Options{})
			if err == nil {
				_ = app.Close()
				t.Fatalf("issuer %s was accepted", cfg.Issuer)
			}
			if !strings.Contains(err.Error(), "issuer") {
				t.Errorf("error %q does not name the issuer", err)
			}
		})
	}
}
