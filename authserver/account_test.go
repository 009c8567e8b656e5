package authserver_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/observe/observetest"
	"github.com/authserver-dev/authserver/authserver/password"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/config"
)

// The tests of the user's own page, /account, over HTTP with the cookie-jar
// browser: signing in to it, every action, and every refusal. The browser
// tests in Chromium are in account_browser_test.go.

var (
	accountCSRF    = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)
	accountSID     = regexp.MustCompile(`name="session" value="([^"]*)"`)
	accountGrantID = regexp.MustCompile(`name="client_id" value="([^"]*)"`)
	accountError   = regexp.MustCompile(`id="account-error">([^<]*)<`)
	accountNotice  = regexp.MustCompile(`role="status">([^<]*)<`)
)

// onAccount reports whether pg is the account page.
func onAccount(pg *authtest.Page) bool {
	return pg.Location == nil && strings.Contains(pg.Body, "<h1>Your account</h1>")
}

// onAccountLogin reports whether pg is the login page that returns to /account.
func onAccountLogin(pg *authtest.Page) bool {
	return pg.Location == nil && strings.Contains(pg.Body, `name="password"`) &&
		strings.Contains(pg.Body, `<input type="hidden" name="return" value="account">`)
}

// accountSignIn signs the browser in on the account page's own login form
// and returns the account page it lands on.
func accountSignIn(t *testing.T, p *authtest.Provider, b *http.Client, username, pw string) *authtest.Page {
	t.Helper()
	login := authtest.Get(t, b, p.URL+"/account")
	if !onAccountLogin(login) {
		t.Fatalf("GET /account signed out: want the login page, got %d:\n%s", login.Status, login.Body)
	}
	pg := login.Submit(t, b, url.Values{"username": {username}, "password": {pw}})
	if !onAccount(pg) || pg.URL.Path != strings.TrimPrefix(p.URL+"/account", origin(p)) {
		t.Fatalf("signing in to /account as %s: want the account page, got %d at %s:\n%s", username, pg.Status, pg.URL, pg.Body)
	}
	return pg
}

// openAccount is the account page of a signed-in browser.
func openAccount(t *testing.T, p *authtest.Provider, b *http.Client) *authtest.Page {
	t.Helper()
	pg := authtest.Get(t, b, p.URL+"/account")
	if !onAccount(pg) {
		t.Fatalf("GET /account: want the account page, got %d:\n%s", pg.Status, pg.Body)
	}
	return pg
}

// accountPost sends one of the account page's forms: op, the page's CSRF
// token (unless form sets csrf_token) and form, with the headers a browser
// would add.
func accountPost(t *testing.T, p *authtest.Provider, b *http.Client, pg *authtest.Page, op string, form url.Values, hdr map[string]string) *authtest.Page {
	t.Helper()
	vals := url.Values{"op": {op}}
	if m := accountCSRF.FindStringSubmatch(pg.Body); m != nil {
		vals.Set("csrf_token", html.UnescapeString(m[1]))
	}
	for k, v := range form {
		vals[k] = v
	}
	return send(t, b, http.MethodPost, p.URL+"/account", vals, hdr)
}

// sameOriginPost is what Chromium sends with a form of the provider's own page.
func sameOriginPost(p *authtest.Provider) map[string]string {
	return map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": origin(p)}
}

func accountText(re *regexp.Regexp, body string) string {
	if m := re.FindStringSubmatch(body); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

func accountValues(re *regexp.Regexp, body string) []string {
	var out []string
	for _, m := range re.FindAllStringSubmatch(body, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

// testPasswordParams are the argon2id parameters of authtest.TestConfig, so
// that a user made here needs no hash upgrade at sign-in.
var testPasswordParams = password.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}

// addDatabaseUser stores a user as the CLI or the admin API would
// (storage.OwnerDatabase), whose password /account may change.
func addDatabaseUser(t *testing.T, p *authtest.Provider, username, pw string) storage.User {
	t.Helper()
	hash, err := password.Hash(pw, testPasswordParams)
	if err != nil {
		t.Fatal(err)
	}
	now := p.Clock.Now()
	u, err := p.App.Store.UpsertUser(context.Background(), storage.User{Username: username, PasswordHash: hash,
		Email: username + "@example.com", Name: "Carol Example", CreatedAt: now, UpdatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func userByName(t *testing.T, p *authtest.Provider, username string) storage.User {
	t.Helper()
	u, err := p.App.Store.GetUserByUsername(context.Background(), username)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func sessionsOf(t *testing.T, p *authtest.Provider, userID string) []storage.Session {
	t.Helper()
	s, err := p.App.Store.ListUserSessions(context.Background(), userID, p.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// auditEvents are the audit lines of event.
func auditEvents(t *testing.T, logs *observetest.Logs, event string) []observetest.Line {
	t.Helper()
	return observetest.Where(logs.Lines(t), "event", event)
}

// userAgent sets a browser's User-Agent, as each real browser sends its own.
type userAgent struct {
	next http.RoundTripper
	ua   string
}

func (u userAgent) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", u.ua)
	next := u.next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(r)
}

func browserAs(t *testing.T, p *authtest.Provider, ua string) *http.Client {
	b := p.Browser(t)
	b.Transport = userAgent{next: b.Transport, ua: ua}
	return b
}

// Signed out, /account is the login page; signing in there comes back to
// /account, under the issuer's path too, and the page says who you are.
func TestAccountSignedOutGoesThroughLoginAndBack(t *testing.T) {
	t.Parallel()
	for _, issuerPath := range []string{"", "/auth"} {
		t.Run("issuer path "+issuerPath, func(t *testing.T) {
			t.Parallel()
			p := authtest.StartWithIssuerPath(t, issuerPath, nil)
			b := p.Browser(t)
			login := authtest.Get(t, b, p.URL+"/account")
			if login.Status != http.StatusOK || !onAccountLogin(login) {
				t.Fatalf("GET /account signed out: %d\n%s", login.Status, login.Body)
			}
			if action, _ := login.FormFields(t); action != issuerPath+"/login" {
				t.Errorf("the login form posts to %q, want %q", action, issuerPath+"/login")
			}
			// A wrong password stays on the account's login form.
			wrong := login.Submit(t, b, url.Values{"username": {"alice"}, "password": {"not-her-password"}})
			if wrong.Status != http.StatusUnauthorized || !onAccountLogin(wrong) || !strings.Contains(wrong.Body, "The username or password is wrong.") {
				t.Fatalf("wrong password: %d\n%s", wrong.Status, wrong.Body)
			}
			pg := wrong.Submit(t, b, url.Values{"username": {"alice"}, "password": {"alice-password"}})
			if !onAccount(pg) || pg.URL.Path != issuerPath+"/account" {
				t.Fatalf("after sign-in: %d at %s\n%s", pg.Status, pg.URL, pg.Body)
			}
			alice := userByName(t, p, "alice")
			for _, want := range []string{"<dd>alice</dd>", "<dd>Alice Example</dd>", "<dd>alice@example.com</dd>",
				"<code>" + alice.ID + "</code>", `<span class="badge">This browser</span>`, `href="` + issuerPath + `/logout"`} {
				if !strings.Contains(pg.Body, want) {
					t.Errorf("the account page lacks %q:\n%s", want, pg.Body)
				}
			}
			// File-owned: no password form, and the page says why.
			if strings.Contains(pg.Body, `name="new_password"`) || !strings.Contains(pg.Body, "managed by the server's configuration") {
				t.Errorf("alice belongs to the configuration file, yet the page offers a password change:\n%s", pg.Body)
			}
			// The session signs in to clients too: it is the same session.
			if issuerPath == "" && !signedIn(t, p, b) {
				t.Error("signing in on /account did not sign the browser in")
			}
		})
	}
}

// The login form returns to /account and nowhere else: the return field
// names a page, never a URL, and anything but "account" is refused.
func TestAccountLoginHasNoOpenRedirect(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, nil)
	b := p.Browser(t)
	noFollow := *b
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	creds := url.Values{"username": {"alice"}, "password": {"alice-password"}}

	for _, ret := range [][]string{{"https://evil.example/"}, {"//evil.example/account"}, {"/account"}, {"/authorize"},
		{"account/../../evil"}, {""}, {"account", "https://evil.example/"}} {
		login := authtest.Get(t, b, p.URL+"/account")
		_, vals := login.FormFields(t)
		for k, v := range creds {
			vals[k] = v
		}
		vals["return"] = ret
		vals.Set("redirect_uri", "https://evil.example/cb") // ignored, as every other field
		pg := send(t, &noFollow, http.MethodPost, p.URL+"/login", vals, nil)
		if pg.Location != nil || pg.Status == http.StatusOK || pg.Status/100 == 3 {
			t.Errorf("return=%q: %d %v, want a refusal", ret, pg.Status, pg.Location)
		}
		if signedIn(t, p, b) {
			t.Fatalf("return=%q signed the browser in", ret)
		}
	}

	// The one good form: back to the fixed path, whatever else it carries.
	login := authtest.Get(t, b, p.URL+"/account")
	_, vals := login.FormFields(t)
	for k, v := range creds {
		vals[k] = v
	}
	vals.Set("client_id", "demo-web")
	vals.Set("redirect_uri", "https://evil.example/cb")
	pg := send(t, &noFollow, http.MethodPost, p.URL+"/login", vals, nil)
	if pg.Status != http.StatusSeeOther || pg.Location == nil || pg.Location.String() != p.URL+"/account" {
		t.Fatalf("sign-in for /account: %d %v, want 303 to %s/account", pg.Status, pg.Location, p.URL)
	}
}

// The account's login form has the login form's checks: its own CSRF
// token (not a client's login form's), and no post from another origin.
func TestAccountLoginFormIsGuarded(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, nil)
	b := p.Browser(t)
	creds := url.Values{"username": {"alice"}, "password": {"alice-password"}}
	login := authtest.Get(t, b, p.URL+"/account")
	clientLogin := loginPage(t, p, b, nil)
	_, clientFields := clientLogin.FormFields(t)

	refused(t, "another port's page", postForm(t, b, login, creds, map[string]string{"Sec-Fetch-Site": "same-site", "Origin": otherPort(t, p)}))
	refused(t, "no CSRF token", postForm(t, b, login, url.Values{"csrf_token": {""}, "username": creds["username"], "password": creds["password"]}, nil))
	refused(t, "a client's login token", postForm(t, b, login, url.Values{"csrf_token": {clientFields.Get("csrf_token")},
		"username": creds["username"], "password": creds["password"]}, nil))
	if signedIn(t, p, b) {
		t.Fatal("a refused sign-in signed the browser in")
	}
	if pg := postForm(t, b, login, creds, sameOriginPost(p)); !onAccount(pg) {
		t.Fatalf("same-origin sign-in: %d\n%s", pg.Status, pg.Body)
	}
}

// The page lists the user's sessions with their browser and address, and
// the applications allowed with the scopes in words: the configuration's
// words first, then the built-in ones, then the name, once.
func TestAccountShowsSessionsAndGrants(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, func(c *config.Config) {
		c.Scopes = append(c.Scopes, config.Scope{Name: "email", Description: "Where we can write to you"})
	})
	ctx := context.Background()
	// Invalid UTF-8 (obs-text, which HTTP allows) is not stored as such.
	phone := browserAs(t, p, "PhoneBrowser/1.0 \xff\u00e9")
	loc := p.SignIn(t, phone, authorizeURL(p, map[string]string{"scope": "openid email api.read"}), "alice", "alice-password", "allow")
	if loc.Query().Get("code") == "" {
		t.Fatalf("code flow: %v", loc)
	}
	alice := userByName(t, p, "alice")
	// A grant with a scope that has no words and a claim approved by name.
	if _, err := p.App.Store.GrantConsent(ctx, alice.ID, "native-app", "openid custom.scope claim:given_name", p.Clock.Now()); err != nil {
		t.Fatal(err)
	}

	laptop := browserAs(t, p, "LaptopBrowser/2.0 "+strings.Repeat("x", 300))
	pg := accountSignIn(t, p, laptop, "alice", "alice-password")
	for _, want := range []string{
		"<strong>PhoneBrowser/1.0 \u00e9</strong></div>",
		"from 127.0.0.1",
		`<strong>LaptopBrowser/2.0 xxx`, `<span class="badge">This browser</span>`,
		"<strong>Demo Web App</strong>", "<strong>Native App</strong>",
		"Confirm your identity", "Where we can write to you", "Read your data in the sample API",
		`<li><code class="scope-name">custom.scope</code></li>`, `<code class="scope-name">given_name</code>`,
	} {
		if !strings.Contains(pg.Body, want) {
			t.Errorf("the account page lacks %q:\n%s", want, pg.Body)
		}
	}
	if strings.Contains(pg.Body, "Your email address") {
		t.Error("the built-in words of email won over the configuration's")
	}
	sessions := sessionsOf(t, p, alice.ID)
	if len(sessions) != 2 {
		t.Fatalf("%d sessions stored, want 2", len(sessions))
	}
	for _, s := range sessions {
		if len(s.UserAgent) > storage.MaxUserAgent || s.IP != "127.0.0.1" || s.UserAgent == "" {
			t.Errorf("session stored with user agent %q (%d bytes) and IP %q", s.UserAgent, len(s.UserAgent), s.IP)
		}
	}
	// Only the other session can be ended from its row; this one is signed out with Sign out.
	if sids := accountValues(accountSID, pg.Body); len(sids) != 1 || !slices.ContainsFunc(sessions, func(s storage.Session) bool {
		return s.IDHash == sids[0] && strings.HasPrefix(s.UserAgent, "PhoneBrowser")
	}) {
		t.Errorf("end buttons for sessions %v, want only the phone's", sids)
	}
	if grants := accountValues(accountGrantID, pg.Body); !slices.Equal(grants, []string{"demo-web", "native-app"}) {
		t.Errorf("revoke buttons for %v, want demo-web and native-app", grants)
	}

	// The consent page uses the same words.
	other := p.Browser(t)
	consent := consentPage(t, p, other, "alice", map[string]string{"scope": "openid email", "prompt": "consent"})
	if !strings.Contains(consent.Body, "Where we can write to you") {
		t.Errorf("the consent page does not use the configuration's words:\n%s", consent.Body)
	}
}

// Ending a session from /account: only the user's own, the others signed
// out with it, audited; someone else's session id and an unknown one are
// refused alike.
func TestAccountEndsSessions(t *testing.T) {
	t.Parallel()
	p, logs := startObserved(t, nil)
	phone, tablet, laptop := p.Browser(t), p.Browser(t), p.Browser(t)
	accountSignIn(t, p, phone, "alice", "alice-password")
	accountSignIn(t, p, tablet, "alice", "alice-password")
	bobs := p.Browser(t)
	accountSignIn(t, p, bobs, "bob", "bob-password")
	bobSessions := sessionsOf(t, p, userByName(t, p, "bob").ID)
	pg := accountSignIn(t, p, laptop, "alice", "alice-password")

	t.Run("another user's session or an unknown one", func(t *testing.T) {
		var answers []string
		for _, sid := range []string{bobSessions[0].IDHash, storage.Hash("no such session"), ""} {
			got := accountPost(t, p, laptop, pg, "end_session", url.Values{"session": {sid}}, sameOriginPost(p))
			if got.Status != http.StatusNotFound || !onAccount(got) {
				t.Fatalf("end_session %q: %d\n%s", sid, got.Status, got.Body)
			}
			answers = append(answers, accountText(accountError, got.Body))
		}
		if answers[0] == "" || answers[0] != answers[1] || answers[1] != answers[2] {
			t.Errorf("the answers differ, telling a session of someone else from none: %q", answers)
		}
		if !onAccount(authtest.Get(t, bobs, p.URL+"/account")) {
			t.Error("bob's session ended at alice's request")
		}
	})

	t.Run("one of the user's own", func(t *testing.T) {
		sids := accountValues(accountSID, pg.Body)
		if len(sids) != 2 {
			t.Fatalf("%d end buttons, want 2 (phone and tablet)", len(sids))
		}
		got := accountPost(t, p, laptop, pg, "end_session", url.Values{"session": {sids[0]}}, sameOriginPost(p))
		if !onAccount(got) || accountText(accountNotice, got.Body) != "The session has ended." {
			t.Fatalf("end_session: %d\n%s", got.Status, got.Body)
		}
		if slices.Contains(accountValues(accountSID, got.Body), sids[0]) {
			t.Error("the ended session is still listed")
		}
		ended := 0
		for _, b := range []*http.Client{phone, tablet} {
			if onAccountLogin(authtest.Get(t, b, p.URL+"/account")) {
				ended++
			}
		}
		if ended != 1 {
			t.Fatalf("%d of phone and tablet were signed out, want 1", ended)
		}
		ev := auditEvents(t, logs, "session.ended")
		if len(ev) != 1 || ev[0].Str("by") != "account" || ev[0].Str("sid") != sids[0] || ev[0].Str("subject") != userByName(t, p, "alice").ID {
			t.Errorf("audit: %v", ev)
		}
	})

	t.Run("all others", func(t *testing.T) {
		desktop := p.Browser(t)
		accountSignIn(t, p, desktop, "alice", "alice-password")
		pg := openAccount(t, p, laptop)
		if n := len(accountValues(accountSID, pg.Body)); n != 2 {
			t.Fatalf("%d other sessions listed, want 2", n)
		}
		got := accountPost(t, p, laptop, pg, "end_other_sessions", nil, sameOriginPost(p))
		if !onAccount(got) || accountText(accountNotice, got.Body) != "Every other session has ended." || len(accountValues(accountSID, got.Body)) != 0 {
			t.Fatalf("end_other_sessions: %d\n%s", got.Status, got.Body)
		}
		if n := len(auditEvents(t, logs, "session.ended")); n != 3 {
			t.Errorf("%d session.ended events in all, want 3", n)
		}
		for name, b := range map[string]*http.Client{"phone": phone, "tablet": tablet, "desktop": desktop} {
			if !onAccountLogin(authtest.Get(t, b, p.URL+"/account")) {
				t.Errorf("the %s is still signed in", name)
			}
		}
		if !onAccount(authtest.Get(t, bobs, p.URL+"/account")) {
			t.Error("bob's session ended with alice's others")
		}
	})

	t.Run("this browser's own is signing out", func(t *testing.T) {
		accountSignIn(t, p, p.Browser(t), "alice", "alice-password") // so that the page has a form, and a token
		pg := openAccount(t, p, laptop)
		var own string
		for _, s := range sessionsOf(t, p, userByName(t, p, "alice").ID) {
			if !slices.Contains(accountValues(accountSID, pg.Body), s.IDHash) {
				own = s.IDHash // the one without an end button
			}
		}
		got := accountPost(t, p, laptop, pg, "end_session", url.Values{"session": {own}}, sameOriginPost(p))
		if !onAccountLogin(got) {
			t.Fatalf("ending this browser's session: %d\n%s", got.Status, got.Body)
		}
		if onAccount(authtest.Get(t, laptop, p.URL+"/account")) {
			t.Error("still signed in")
		}
	})
}

// Every action needs the page's own CSRF token, from a page of the
// provider's origin, and a live session; a refused form changes nothing.
func TestAccountRefusesForgedForms(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, nil)
	other := p.Browser(t)
	accountSignIn(t, p, other, "alice", "alice-password")
	b := p.Browser(t)
	pg := accountSignIn(t, p, b, "alice", "alice-password")
	otherPage := openAccount(t, p, other)
	otherToken := accountText(accountCSRF, otherPage.Body)
	clientLogin := loginPage(t, p, p.Browser(t), nil)
	_, clientFields := clientLogin.FormFields(t)

	for _, tc := range []struct {
		name string
		form url.Values
		hdr  map[string]string
	}{
		{"no CSRF token", url.Values{"csrf_token": {""}}, sameOriginPost(p)},
		{"a wrong CSRF token", url.Values{"csrf_token": {"1700000000.AAAA"}}, sameOriginPost(p)},
		{"the token of another browser's page", url.Values{"csrf_token": {otherToken}}, sameOriginPost(p)},
		{"the token of a login form", url.Values{"csrf_token": {clientFields.Get("csrf_token")}}, sameOriginPost(p)},
		{"a page on another port", nil, map[string]string{"Sec-Fetch-Site": "same-site", "Origin": otherPort(t, p)}},
		{"another site", nil, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}},
		{"another port, older browser", nil, map[string]string{"Origin": otherPort(t, p)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refused(t, tc.name, accountPost(t, p, b, pg, "end_other_sessions", tc.form, tc.hdr))
			if !onAccount(authtest.Get(t, other, p.URL+"/account")) {
				t.Fatal("a refused form ended the other session")
			}
		})
	}
	t.Run("signed out", func(t *testing.T) {
		fresh := p.Browser(t)
		login := authtest.Get(t, fresh, p.URL+"/account")
		got := accountPost(t, p, fresh, login, "end_other_sessions", nil, sameOriginPost(p)) // the login page's token
		if got.Status != http.StatusForbidden {
			t.Fatalf("an action without a session, with the login form's token: %d\n%s", got.Status, got.Body)
		}
	})
	t.Run("an unknown action", func(t *testing.T) {
		pg := openAccount(t, p, b)
		if got := accountPost(t, p, b, pg, "delete_everything", nil, sameOriginPost(p)); got.Status != http.StatusBadRequest || !onAccount(got) {
			t.Fatalf("unknown op: %d\n%s", got.Status, got.Body)
		}
	})
	t.Run("an expired token", func(t *testing.T) {
		stale := openAccount(t, p, b)
		p.Clock.Advance(31 * time.Minute)
		refused(t, "a token older than 30 minutes", accountPost(t, p, b, stale, "end_other_sessions", nil, sameOriginPost(p)))
	})
	t.Run("the session ended meanwhile", func(t *testing.T) {
		c := p.Browser(t)
		pg := accountSignIn(t, p, c, "alice", "alice-password")
		for _, s := range sessionsOf(t, p, userByName(t, p, "alice").ID) {
			if err := p.App.Store.DeleteSession(context.Background(), s.IDHash); err != nil {
				t.Fatal(err)
			}
		}
		got := accountPost(t, p, c, pg, "end_other_sessions", nil, sameOriginPost(p))
		if !onAccountLogin(got) || !strings.Contains(got.Body, "Your session has ended") {
			t.Fatalf("a form of a session that ended: %d\n%s", got.Status, got.Body)
		}
	})
}

// Revoking an application: its refresh tokens are refused at once, the
// next authorization asks for consent again, and only the user's own grant
// can be named.
func TestAccountRevokesGrant(t *testing.T) {
	t.Parallel()
	p, logs := startObserved(t, nil)
	ctx := context.Background()
	tok := codeTokens(t, p) // alice allows demo-web, with offline_access
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	bobs := p.Browser(t)
	p.SignIn(t, bobs, authorizeURL(p, map[string]string{"client_id": "native-app", "redirect_uri": "http://127.0.0.1:7777/cb"}),
		"bob", "bob-password", "allow")
	bob := userByName(t, p, "bob")
	alice := userByName(t, p, "alice")

	b := p.Browser(t)
	pg := accountSignIn(t, p, b, "alice", "alice-password")
	if grants := accountValues(accountGrantID, pg.Body); !slices.Equal(grants, []string{"demo-web"}) {
		t.Fatalf("alice's applications: %v", grants)
	}

	t.Run("another user's grant or none", func(t *testing.T) {
		var answers []string
		for _, id := range []string{"native-app", "no-such-client", ""} {
			got := accountPost(t, p, b, pg, "revoke_grant", url.Values{"client_id": {id}}, sameOriginPost(p))
			if got.Status != http.StatusNotFound || !onAccount(got) {
				t.Fatalf("revoke_grant %q: %d\n%s", id, got.Status, got.Body)
			}
			answers = append(answers, accountText(accountError, got.Body))
		}
		if answers[0] == "" || answers[0] != answers[1] || answers[1] != answers[2] {
			t.Errorf("the answers differ: %q", answers)
		}
		if _, err := p.App.Store.GetConsent(ctx, bob.ID, "native-app"); err != nil {
			t.Errorf("bob's grant: %v", err)
		}
	})

	t.Run("the user's own", func(t *testing.T) {
		got := accountPost(t, p, b, pg, "revoke_grant", url.Values{"client_id": {"demo-web"}}, sameOriginPost(p))
		if !onAccount(got) || !strings.Contains(accountText(accountNotice, got.Body), "revoked") || len(accountValues(accountGrantID, got.Body)) != 0 {
			t.Fatalf("revoke_grant: %d\n%s", got.Status, got.Body)
		}
		if status, body := refresh(t, p, tok.RefreshToken, "", "demo-web", "demo-web-secret-not-for-production"); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("refresh after revoking: %d %v, want invalid_grant", status, body)
		}
		if again := authtest.Get(t, b, authorizeURL(p, nil)); !strings.Contains(again.Body, `name="decision"`) {
			t.Errorf("the next authorization did not ask for consent: %d %v\n%s", again.Status, again.Location, again.Body)
		}
		ev := auditEvents(t, logs, "consent.revoked")
		if len(ev) != 1 || ev[0].Str("by") != "account" || ev[0].Str("client_id") != "demo-web" || ev[0].Str("subject") != alice.ID {
			t.Errorf("audit: %v", ev)
		}
	})
}

// Changing the password needs the current one and a new one of 8
// characters, twice; it ends the other sessions and the refresh tokens,
// and keeps this browser signed in.
func TestAccountChangesPassword(t *testing.T) {
	t.Parallel()
	p, logs := startObserved(t, nil)
	carol := addDatabaseUser(t, p, "carol", "carol-old-password")
	other := p.Browser(t)
	accountSignIn(t, p, other, "carol", "carol-old-password")
	// A refresh token of carol's, from the password grant (demo-web has it).
	status, _, body := postToken(t, p, url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {"carol-old-password"},
		"scope": {"openid offline_access"}}, "demo-web", "demo-web-secret-not-for-production")
	if status != http.StatusOK {
		t.Fatalf("password grant: %d %v", status, body)
	}
	oldRefresh, _ := body["refresh_token"].(string)
	b := p.Browser(t)
	pg := accountSignIn(t, p, b, "carol", "carol-old-password")
	if !strings.Contains(pg.Body, `name="new_password"`) {
		t.Fatalf("no password form for a database user:\n%s", pg.Body)
	}

	for _, tc := range []struct {
		name                 string
		current, next, again string
		status               int
	}{
		{"wrong current password", "not-her-password", "carol-new-password", "carol-new-password", http.StatusUnauthorized},
		{"no current password", "", "carol-new-password", "carol-new-password", http.StatusBadRequest},
		{"too short", "carol-old-password", "short7!", "short7!", http.StatusBadRequest},
		{"seven characters that are more bytes", "carol-old-password", "ééééééé", "ééééééé", http.StatusBadRequest},
		{"not the same twice", "carol-old-password", "carol-new-password", "carol-new-passw0rd", http.StatusBadRequest},
		{"a control character", "carol-old-password", "carol-new\x00password", "carol-new\x00password", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := accountPost(t, p, b, openAccount(t, p, b), "change_password", url.Values{"current_password": {tc.current},
				"new_password": {tc.next}, "new_password_again": {tc.again}}, sameOriginPost(p))
			if got.Status != tc.status || !onAccount(got) || accountText(accountError, got.Body) == "" {
				t.Fatalf("%d, want %d with the reason:\n%s", got.Status, tc.status, got.Body)
			}
			if u := userByName(t, p, "carol"); u.PasswordHash != carol.PasswordHash {
				t.Fatal("the password changed")
			}
		})
	}
	if ev := auditEvents(t, logs, "login.failed"); len(ev) != 1 || ev[0].Str("via") != "account_password" || ev[0].Str("reason") != "wrong_password" {
		t.Errorf("the wrong current password was not audited as a failed password check: %v", ev)
	}

	got := accountPost(t, p, b, openAccount(t, p, b), "change_password", url.Values{"current_password": {"carol-old-password"},
		"new_password": {"carol-new-password"}, "new_password_again": {"carol-new-password"}}, sameOriginPost(p))
	if !onAccount(got) || !strings.Contains(accountText(accountNotice, got.Body), "password has been changed") {
		t.Fatalf("change_password: %d\n%s", got.Status, got.Body)
	}
	if !onAccount(authtest.Get(t, b, p.URL+"/account")) {
		t.Error("this browser was signed out by its own password change")
	}
	if !onAccountLogin(authtest.Get(t, other, p.URL+"/account")) {
		t.Error("the other session survived the password change")
	}
	if n := len(sessionsOf(t, p, carol.ID)); n != 1 {
		t.Errorf("%d sessions after the change, want this browser's only", n)
	}
	if status, body := refresh(t, p, oldRefresh, "", "demo-web", "demo-web-secret-not-for-production"); status != http.StatusBadRequest {
		t.Errorf("a refresh token from before the change: %d %v", status, body)
	}
	fresh := p.Browser(t)
	login := authtest.Get(t, fresh, p.URL+"/account")
	if old := login.Submit(t, fresh, url.Values{"username": {"carol"}, "password": {"carol-old-password"}}); old.Status != http.StatusUnauthorized {
		t.Errorf("the old password: %d", old.Status)
	}
	accountSignIn(t, p, fresh, "carol", "carol-new-password")
	ev := auditEvents(t, logs, "user.password_changed")
	if len(ev) != 1 || ev[0].Str("by") != "account" || ev[0].Str("user_id") != carol.ID || strings.Contains(ev[0].Raw, "carol-new-password") {
		t.Errorf("audit: %v", ev)
	}
	if strings.Contains(logs.String(), "carol-new-password") || strings.Contains(logs.String(), "carol-old-password") {
		t.Error("a password reached the log")
	}
}

// A user of the configuration file cannot change the password here: the
// file owns it (the next start would undo it).
func TestAccountRefusesPasswordChangeOfFileUser(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, nil)
	accountSignIn(t, p, p.Browser(t), "alice", "alice-password") // so that the page has a form, and a token
	b := p.Browser(t)
	pg := accountSignIn(t, p, b, "alice", "alice-password")
	before := userByName(t, p, "alice")
	got := accountPost(t, p, b, pg, "change_password", url.Values{"current_password": {"alice-password"},
		"new_password": {"alice-new-password"}, "new_password_again": {"alice-new-password"}}, sameOriginPost(p))
	if got.Status != http.StatusForbidden || !strings.Contains(accountText(accountError, got.Body), "managed by the server's configuration") {
		t.Fatalf("change_password of a file user: %d\n%s", got.Status, got.Body)
	}
	if userByName(t, p, "alice").PasswordHash != before.PasswordHash {
		t.Fatal("the password changed")
	}
}

// The current password is checked through the sign-in's throttle: guesses
// on /account count against the username like the login form's, so the
// page is no way around the back-off, and then even the right password waits.
func TestAccountPasswordCheckIsThrottled(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, func(c *config.Config) {
		c.Security.Throttle.FreeFailures = 2
		c.Security.Throttle.BaseDelay = config.Duration(time.Hour) // no assertion depends on the clock
		c.Security.Throttle.MaxDelay = config.Duration(2 * time.Hour)
	})
	addDatabaseUser(t, p, "carol", "carol-password")
	b := p.Browser(t)
	guess := func(current string) *authtest.Page {
		return accountPost(t, p, b, openAccount(t, p, b), "change_password", url.Values{"current_password": {current},
			"new_password": {"carol-new-password"}, "new_password_again": {"carol-new-password"}}, sameOriginPost(p))
	}
	accountSignIn(t, p, b, "carol", "carol-password")
	blocked := false
	for i := range 5 {
		got := guess("guess-" + string(rune('a'+i)))
		if got.Status == http.StatusTooManyRequests {
			blocked = true
			break
		}
		if got.Status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d\n%s", i, got.Status, got.Body)
		}
	}
	if !blocked {
		t.Fatal("five wrong current passwords and no back-off")
	}
	if got := guess("carol-password"); got.Status != http.StatusTooManyRequests {
		t.Errorf("the right password during the back-off: %d, want 429", got.Status)
	}
	fresh := p.Browser(t)
	login := authtest.Get(t, fresh, p.URL+"/account")
	if got := login.Submit(t, fresh, url.Values{"username": {"carol"}, "password": {"carol-password"}}); got.Status != http.StatusTooManyRequests {
		t.Errorf("the login form after guesses on /account: %d, want 429 (one counter)", got.Status)
	}
}
