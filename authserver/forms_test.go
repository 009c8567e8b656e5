package authserver_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/config"
)

// The audit findings of issue 14, "Forms and cookies". A page on another
// port of the same host is same-site with the provider (cookies and
// SameSite ignore ports), so it can set the provider's CSRF cookie and post
// its forms with the user's session; these tests play that page.

// send makes one request from the browser b with extra headers (as a real
// browser adds Sec-Fetch-Site and Origin) and returns the page, stopping at
// redirects out of the provider as b does.
func send(t *testing.T, b *http.Client, method, u string, form url.Values, hdr map[string]string) *authtest.Page {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	pg := &authtest.Page{Status: resp.StatusCode, URL: resp.Request.URL, Body: string(raw)}
	if resp.StatusCode/100 == 3 {
		pg.Location, _ = resp.Location()
	}
	return pg
}

// postForm posts the page's first form with extra fields set and headers.
func postForm(t *testing.T, b *http.Client, pg *authtest.Page, extra url.Values, hdr map[string]string) *authtest.Page {
	t.Helper()
	action, vals := pg.FormFields(t)
	for k, v := range extra {
		vals[k] = v
	}
	return send(t, b, http.MethodPost, pg.URL.ResolveReference(&url.URL{Path: action}).String(), vals, hdr)
}

// loginPage opens an authorization request (authorizeURL with set) and
// returns the login page.
func loginPage(t *testing.T, p *authtest.Provider, b *http.Client, set map[string]string) *authtest.Page {
	t.Helper()
	pg := authtest.Get(t, b, authorizeURL(p, set))
	if !strings.Contains(pg.Body, `name="password"`) {
		t.Fatalf("no login page: %d %v\n%s", pg.Status, pg.Location, pg.Body)
	}
	return pg
}

// consentPage signs the browser in as alice if needed and returns the
// consent page of the authorization request (authorizeURL with set).
func consentPage(t *testing.T, p *authtest.Provider, b *http.Client, user string, set map[string]string) *authtest.Page {
	t.Helper()
	pg := authtest.Get(t, b, authorizeURL(p, set))
	if strings.Contains(pg.Body, `name="password"`) {
		pg = pg.Submit(t, b, url.Values{"username": {user}, "password": {user + "-password"}})
	}
	if !strings.Contains(pg.Body, `name="decision"`) {
		t.Fatalf("no consent page: %d %v\n%s", pg.Status, pg.Location, pg.Body)
	}
	return pg
}

// signedIn reports whether the browser's session still signs it in.
func signedIn(t *testing.T, p *authtest.Provider, b *http.Client) bool {
	t.Helper()
	pg := authtest.Get(t, b, authorizeURL(p, nil))
	return !strings.Contains(pg.Body, `name="password"`)
}

// gotCode fails unless the page is the redirect to the client with a code
// (and the given state).
func gotCode(t *testing.T, pg *authtest.Page, state string) {
	t.Helper()
	if pg.Location == nil || pg.Location.Query().Get("code") == "" || pg.Location.Query().Get("state") != state {
		t.Fatalf("want a redirect with a code and state %q; got %d %v\n%s", state, pg.Status, pg.Location, pg.Body)
	}
}

func refused(t *testing.T, what string, pg *authtest.Page) {
	t.Helper()
	if pg.Status != http.StatusForbidden || pg.Location != nil {
		t.Fatalf("%s: %d %v; want 403\n%s", what, pg.Status, pg.Location, pg.Body)
	}
}

// otherPort is the origin of a page on another port of the provider's host.
func otherPort(t *testing.T, p *authtest.Provider) string {
	t.Helper()
	u, _ := url.Parse(p.URL)
	port, _ := strconv.Atoi(u.Port())
	return u.Scheme + "://" + net.JoinHostPort(u.Hostname(), strconv.Itoa(port+1))
}

// origin is the provider's own origin.
func origin(p *authtest.Provider) string {
	u, _ := url.Parse(p.URL)
	return u.Scheme + "://" + u.Host
}

func TestCSRFTokensAnyPageOnTheSameHostCanPlant(t *testing.T) {
	t.Parallel()
	// What a browser says about a post from a page that is not ours.
	foreign := func(p *authtest.Provider) map[string]map[string]string {
		return map[string]map[string]string{
			"Sec-Fetch-Site same-site (another port)": {"Sec-Fetch-Site": "same-site", "Origin": otherPort(t, p)},
			"Sec-Fetch-Site cross-site":               {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
			"Origin of another port (older browser)":  {"Origin": otherPort(t, p)},
		}
	}

	t.Run("login, consent and logout refuse another origin", func(t *testing.T) {
		t.Parallel()
		p := authtest.Start(t, nil)
		b := p.Browser(t)

		login := loginPage(t, p, b, nil)
		creds := url.Values{"username": {"alice"}, "password": {"alice-password"}}
		for name, hdr := range foreign(p) {
			refused(t, "login from "+name, postForm(t, b, login, creds, hdr))
		}
		if signedIn(t, p, b) {
			t.Fatal("a refused login signed the browser in")
		}
		// The same form from our own page (a browser says same-origin) works.
		consent := postForm(t, b, loginPage(t, p, b, nil), creds, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": origin(p)})
		if !strings.Contains(consent.Body, `name="decision"`) {
			t.Fatalf("same-origin login: %d %v\n%s", consent.Status, consent.Location, consent.Body)
		}

		allow := url.Values{"decision": {"allow"}}
		for name, hdr := range foreign(p) {
			refused(t, "consent from "+name, postForm(t, b, consent, allow, hdr))
		}
		// A request with neither header is not from a browser: the CSRF
		// token alone guards it.
		gotCode(t, postForm(t, b, consent, allow, nil), "xyz")

		confirm := authtest.Get(t, b, p.URL+"/logout")
		if !strings.Contains(confirm.Body, `value="logout"`) {
			t.Fatalf("no logout confirmation: %d\n%s", confirm.Status, confirm.Body)
		}
		bye := url.Values{"decision": {"logout"}}
		for name, hdr := range foreign(p) {
			refused(t, "logout from "+name, postForm(t, b, confirm, bye, hdr))
		}
		if !signedIn(t, p, b) {
			t.Fatal("a refused logout signed the browser out")
		}
		if out := postForm(t, b, confirm, bye, map[string]string{"Origin": origin(p)}); out.Status != http.StatusOK || signedIn(t, p, b) {
			t.Fatalf("same-origin logout: %d\n%s", out.Status, out.Body)
		}
	})

	t.Run("requests that change nothing a GET could not still come from anywhere", func(t *testing.T) {
		t.Parallel()
		p := authtest.Start(t, nil)
		b := p.Browser(t)
		cross := map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://client.example"}
		// OIDC Core §3.1.2.1: an authorization request by POST, which a
		// client's page sends.
		u, _ := url.Parse(authorizeURL(p, nil))
		if pg := send(t, b, http.MethodPost, p.URL+"/authorize", u.Query(), cross); !strings.Contains(pg.Body, `name="password"`) {
			t.Fatalf("cross-site authorization request by POST: %d\n%s", pg.Status, pg.Body)
		}
		// RP-Initiated Logout §2: a logout request by POST with the ID
		// token of this session.
		_, oc := codeClient(t, p)
		verifier := oauth2.GenerateVerifier()
		loc := p.SignIn(t, b, oc.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), "alice", "alice-password", "allow")
		tok, err := oc.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		pg := send(t, b, http.MethodPost, p.URL+"/logout", url.Values{"id_token_hint": {tok.Extra("id_token").(string)},
			"post_logout_redirect_uri": {"http://127.0.0.1:9094/"}}, cross)
		if pg.Location == nil || pg.Location.String() != "http://127.0.0.1:9094/" || signedIn(t, p, b) {
			t.Fatalf("cross-site logout request by POST: %d %v\n%s", pg.Status, pg.Location, pg.Body)
		}
	})

	t.Run("a token issued for one authorization request does not validate on another", func(t *testing.T) {
		t.Parallel()
		p := authtest.Start(t, nil)
		b := p.Browser(t)
		one := consentPage(t, p, b, "alice", map[string]string{"state": "one"})
		two := consentPage(t, p, b, "alice", map[string]string{"state": "two"})
		_, oneFields := one.FormFields(t)
		_, twoFields := two.FormFields(t)
		allow := url.Values{"decision": {"allow"}}
		refused(t, "request two with the token of one", postForm(t, b, two, url.Values{"decision": {"allow"}, "csrf_token": {oneFields.Get("csrf_token")}}, nil))
		refused(t, "request one with the token of two", postForm(t, b, one, url.Values{"decision": {"allow"}, "csrf_token": {twoFields.Get("csrf_token")}}, nil))
		// Nor does a login form's token approve consent for the same request.
		login := loginPage(t, p, b, map[string]string{"state": "two", "prompt": "login"})
		_, loginFields := login.FormFields(t)
		refused(t, "consent with a login token", postForm(t, b, two, url.Values{"decision": {"allow"}, "csrf_token": {loginFields.Get("csrf_token")}}, nil))
		gotCode(t, postForm(t, b, two, allow, nil), "two")
		gotCode(t, postForm(t, b, one, allow, nil), "one")
	})

	t.Run("an expired token is refused", func(t *testing.T) {
		t.Parallel()
		p := authtest.Start(t, nil)
		b := p.Browser(t)
		stale := consentPage(t, p, b, "alice", nil)
		login := loginPage(t, p, b, map[string]string{"prompt": "login"})
		p.Clock.Advance(31 * time.Minute) // the default CSRFTokenTTL is 30 minutes
		allow := url.Values{"decision": {"allow"}}
		refused(t, "consent after 31 minutes", postForm(t, b, stale, allow, nil))
		refused(t, "login after 31 minutes", postForm(t, b, login, url.Values{"username": {"alice"}, "password": {"alice-password"}}, nil))
		// The session lives on; a freshly loaded form works.
		gotCode(t, postForm(t, b, consentPage(t, p, b, "alice", nil), allow, nil), "xyz")
	})

	t.Run("a planted CSRF cookie gives no token for the victim's request", func(t *testing.T) {
		t.Parallel()
		p := authtest.Start(t, nil)
		victim, attacker := p.Browser(t), p.Browser(t)
		mine := consentPage(t, p, victim, "alice", map[string]string{"state": "victim"})

		// The attacker signs in as bob and loads a consent page and a login
		// page of a request of his choosing, in his own browser.
		theirs := consentPage(t, p, attacker, "bob", map[string]string{"state": "attacker"})
		theirLogin := loginPage(t, p, attacker, map[string]string{"state": "attacker", "prompt": "login"})
		_, theirFields := theirs.FormFields(t)
		_, theirLoginFields := theirLogin.FormFields(t)
		u, _ := url.Parse(p.URL)
		var planted *http.Cookie
		for _, c := range attacker.Jar.Cookies(u) {
			if c.Name == "authserver_csrf" {
				planted = &http.Cookie{Name: c.Name, Value: c.Value, Path: "/"}
			}
		}
		if planted == nil {
			t.Fatal("the attacker's browser has no CSRF cookie")
		}
		// His page on another port of the host sets that cookie in the
		// victim's browser (cookies ignore ports) and posts the forms.
		victim.Jar.SetCookies(u, []*http.Cookie{planted})
		allow := url.Values{"decision": {"allow"}, "csrf_token": {theirFields.Get("csrf_token")}}
		refused(t, "the attacker's request with his token", postForm(t, victim, theirs, allow, nil))
		refused(t, "the victim's request with the attacker's token", postForm(t, victim, mine, allow, nil))
		refused(t, "signing the victim in as the attacker", postForm(t, victim, theirLogin,
			url.Values{"username": {"bob"}, "password": {"bob-password"}, "csrf_token": {theirLoginFields.Get("csrf_token")}}, nil))

		// The victim's own page, loaded with the planted cookie, still works:
		// the refusals came from the binding, not from the cookie.
		gotCode(t, postForm(t, victim, consentPage(t, p, victim, "alice", map[string]string{"state": "victim"}), url.Values{"decision": {"allow"}}, nil), "victim")
	})

	t.Run("cookie names under https carry __Host-", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct{ base, prefix, path string }{
			{"", "__Host-", "/"},
			// __Host- demands Path=/; an issuer with a path keeps its
			// cookies to that path with __Secure- instead.
			{"/auth", "__Secure-", "/auth"},
		} {
			p := authtest.StartTLS(t, func(c *config.Config) { c.Issuer += tc.base })
			b := p.Browser(t)
			rec := &setCookieRecorder{next: b.Transport}
			b.Transport = rec
			consent := consentPage(t, p, b, "alice", nil) // the login form, then the consent page
			names := map[string]bool{}
			for _, c := range rec.cookies {
				names[c.Name] = true
				if !strings.HasPrefix(c.Name, tc.prefix) || !c.Secure || c.Path != tc.path || c.Domain != "" {
					t.Errorf("issuer %s: cookie %s Secure=%v Path=%q Domain=%q; want %s…, Secure, Path=%s, no Domain",
						p.URL, c.Name, c.Secure, c.Path, c.Domain, tc.prefix, tc.path)
				}
			}
			if !names[tc.prefix+"authserver_csrf"] || !names[tc.prefix+"authserver_session"] {
				t.Errorf("issuer %s: cookies %v; want %sauthserver_csrf and %sauthserver_session", p.URL, names, tc.prefix, tc.prefix)
			}
			// And the browser's flow works with them.
			gotCode(t, postForm(t, b, consent, url.Values{"decision": {"allow"}}, nil), "xyz")
		}
	})
}

// setCookieRecorder is a transport that keeps every Set-Cookie, including
// those on redirects the browser follows.
type setCookieRecorder struct {
	next    http.RoundTripper
	cookies []*http.Cookie
}

func (r *setCookieRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err == nil {
		r.cookies = append(r.cookies, resp.Cookies()...)
	}
	return resp, err
}

// signInTokens signs alice in with browser b through the code flow of
// demo-web and returns the tokens, whose ID token's sid names b's session.
func signInTokens(t *testing.T, p *authtest.Provider, b *http.Client) *oauth2.Token {
	t.Helper()
	_, oc := codeClient(t, p)
	verifier := oauth2.GenerateVerifier()
	loc := p.SignIn(t, b, oc.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), "alice", "alice-password", "allow")
	tok, err := oc.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestLogoutWithoutConfirmationForAnyIDTokenOfTheUser(t *testing.T) {
	t.Parallel()
	// demo-web's access tokens are for itself here, so an access token's
	// aud names a registered client, as an ID token's does.
	p := authtest.Start(t, func(c *config.Config) {
		for i := range c.Clients {
			if c.Clients[i].ID == "demo-web" {
				c.Clients[i].Audience = []string{"demo-web"}
			}
		}
	})
	passwordIDToken := func(t *testing.T, client, secret string) string {
		status, _, body := postToken(t, p, url.Values{"grant_type": {"password"}, "username": {"alice"},
			"password": {"alice-password"}, "scope": {"openid"}}, client, secret)
		idt, _ := body["id_token"].(string)
		if status != http.StatusOK || idt == "" {
			t.Fatalf("password grant of %s: %d %v", client, status, body)
		}
		return idt
	}
	for _, tc := range []struct {
		name string
		hint func(t *testing.T, own *oauth2.Token) string
		asks bool
	}{
		{"an ID token whose sid names this session signs out at once",
			func(t *testing.T, own *oauth2.Token) string { return own.Extra("id_token").(string) }, false},
		{"an ID token without sid (password grant) asks",
			func(t *testing.T, _ *oauth2.Token) string {
				return passwordIDToken(t, "demo-web", "demo-web-secret-not-for-production")
			}, true},
		{"an ID token without sid of another client asks",
			func(t *testing.T, _ *oauth2.Token) string {
				return passwordIDToken(t, "tricky", "a+b/c=d%e&f g-0123456789abcdefghij")
			}, true},
		{"an ID token of another session of the user asks",
			func(t *testing.T, _ *oauth2.Token) string {
				return signInTokens(t, p, p.Browser(t)).Extra("id_token").(string)
			}, true},
		{"an access token (typ at+jwt) asks",
			func(t *testing.T, own *oauth2.Token) string { return own.AccessToken }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := p.Browser(t)
			own := signInTokens(t, p, b)
			pg := authtest.Get(t, b, p.URL+"/logout?"+url.Values{"id_token_hint": {tc.hint(t, own)}}.Encode())
			confirm, still := strings.Contains(pg.Body, `value="logout"`), signedIn(t, p, b)
			if confirm != tc.asks || still != tc.asks {
				t.Fatalf("confirmation page %v, still signed in %v; want both %v: %d\n%s", confirm, still, tc.asks, pg.Status, pg.Body)
			}
			if tc.asks { // the user's answer signs out
				if out := postForm(t, b, pg, url.Values{"decision": {"logout"}}, nil); out.Status != http.StatusOK || signedIn(t, p, b) {
					t.Fatalf("confirmed logout: %d\n%s", out.Status, out.Body)
				}
			}
		})
	}
}
