package authserver_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/config"
)

// The account page in a real Chromium: what a person does there, with the
// page's own forms (no JavaScript of ours), under its Content-Security-Policy.

// chromeTimeout bounds one case: a ceiling for a hung page, not a
// performance assertion.
const chromeTimeout = 60 * time.Second

// startChromium starts one headless Chromium (chromium(), as the form_post
// test finds it) for t and its subtests, and returns the context that holds
// it. Without a browser the test is skipped, but fails with CI=true, where
// a silent skip would hide that the browser tests never ran.
func startChromium(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath(chromium())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium not found (%v); CI must install it or set CHROMIUM", err)
		}
		t.Skipf("Chromium not found (%v); install it or set CHROMIUM to run the browser tests", err)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(path),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true))
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	// The first Do starts the process; its context has no deadline, since
	// the browser lives as long as that context and must outlive each case.
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return browser
}

// chromeTab opens a tab in a browser context of its own (its own cookies,
// like a fresh private window) of the shared browser. The context it returns
// ends after chromeTimeout; if the test fails, the page's address and text
// are logged first.
func chromeTab(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	tab, cancelTab := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancelTab)
	if err := chromedp.Do(tab); err != nil { // created without a deadline, so that it outlives a timed-out case
		t.Fatalf("opening a tab: %v", err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		ctx, cancel := context.WithTimeout(tab, 10*time.Second)
		defer cancel()
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		t.Logf("the browser was at %s, showing:\n%s", loc, text)
	})
	ctx, cancel := context.WithTimeout(tab, chromeTimeout)
	t.Cleanup(cancel)
	return ctx
}

// chromeGo opens u and waits for the page; it returns its response.
func chromeGo(t *testing.T, ctx context.Context, u string) *network.Response {
	t.Helper()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(u))
	if err != nil {
		t.Fatalf("opening %s: %v", u, err)
	}
	return resp
}

// chromeClick clicks what css selects and waits for the page it leads to
// (after any redirects).
func chromeClick(t *testing.T, ctx context.Context, css string) *network.Response {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("clicking %s: %v", css, err)
	}
	return resp
}

// chromeType types text into the field css selects, key by key.
func chromeType(t *testing.T, ctx context.Context, css, text string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(css), text)); err != nil {
		t.Fatalf("typing into %s: %v", css, err)
	}
}

// chromeText is the text a person sees in what css selects, once visible.
func chromeText(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css), chromedp.NodeVisible))
	if err != nil {
		t.Fatalf("reading %s: %v", css, err)
	}
	return text
}

// chromeCount is how many elements css selects now.
func chromeCount(t *testing.T, ctx context.Context, css string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(css)+`).length`))
	if err != nil {
		t.Fatalf("counting %s: %v", css, err)
	}
	return n
}

func jsString(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `'`, `\'`) + "'"
}

// chromeSignIn fills in the login page the tab shows and submits it.
func chromeSignIn(t *testing.T, ctx context.Context, username, pw string) *network.Response {
	t.Helper()
	chromeType(t, ctx, `input[name=username]`, username)
	chromeType(t, ctx, `input[name=password]`, pw)
	return chromeClick(t, ctx, `button[type=submit]`)
}

// rpCallback is a relying party's redirect URI: it records the query of
// each authorization response and shows a page that says so.
type rpCallback struct {
	srv *httptest.Server
	got chan url.Values
}

func newRPCallback(t *testing.T) *rpCallback {
	cb := &rpCallback{got: make(chan url.Values, 4)}
	cb.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/cb" {
			http.Error(w, "want GET /cb", http.StatusMethodNotAllowed)
			return
		}
		cb.got <- r.URL.Query()
		_, _ = io.WriteString(w, "<!DOCTYPE html><title>callback</title><p id=done>back at the application</p>")
	}))
	t.Cleanup(cb.srv.Close)
	return cb
}

func (cb *rpCallback) url() string { return cb.srv.URL + "/cb" }

func TestAccountInChromium(t *testing.T) {
	t.Parallel()
	browser := startChromium(t)

	// Alice allows an application in its code flow, then revokes it on
	// /account: its refresh token is refused at once, and its next
	// authorization asks for consent again.
	t.Run("revoking an application", func(t *testing.T) {
		t.Parallel()
		cb := newRPCallback(t)
		const secret = "account-rp-secret-0123456789abcdefgh"
		p := authtest.Start(t, func(c *config.Config) {
			c.Clients = append(c.Clients, config.Client{ID: "account-rp", Name: "Notes App", Secret: secret,
				RedirectURIs: []string{cb.url()}, GrantTypes: []string{"authorization_code", "refresh_token"},
				Scopes: []string{"openid", "profile", "offline_access", "api.read"}})
		})
		oc := &oauth2.Config{ClientID: "account-rp", ClientSecret: secret, RedirectURL: cb.url(),
			Scopes:   []string{"openid", "profile", "offline_access", "api.read"},
			Endpoint: oauth2.Endpoint{AuthURL: p.URL + "/authorize", TokenURL: p.URL + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
		verifier := oauth2.GenerateVerifier()
		tab := chromeTab(t, browser)

		chromeGo(t, tab, oc.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier)))
		chromeSignIn(t, tab, "alice", "alice-password")
		if asked := chromeText(t, tab, `ul.scopes`); !strings.Contains(asked, "Read your data in the sample API") {
			t.Fatalf("the consent page asks: %q", asked)
		}
		chromeClick(t, tab, `button[name=decision][value=allow]`)
		q := <-cb.got
		tok, err := oc.Exchange(tab, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil || tok.RefreshToken == "" {
			t.Fatalf("exchange: %v (refresh token %q)", err, tok.RefreshToken)
		}

		if resp := chromeGo(t, tab, p.URL+"/account"); resp.Status != http.StatusOK {
			t.Fatalf("/account: %d", resp.Status)
		}
		apps := chromeText(t, tab, `section[aria-labelledby=applications]`)
		for _, want := range []string{"Notes App", "Confirm your identity", "Stay signed in", "Read your data in the sample API"} {
			if !strings.Contains(apps, want) {
				t.Errorf("the applications section lacks %q:\n%s", want, apps)
			}
		}
		chromeClick(t, tab, `button[name=op][value=revoke_grant]`)
		if notice := chromeText(t, tab, `p.notice`); !strings.Contains(notice, "revoked") {
			t.Errorf("notice after revoking: %q", notice)
		}
		if apps := chromeText(t, tab, `section[aria-labelledby=applications]`); strings.Contains(apps, "Notes App") {
			t.Errorf("the revoked application is still listed:\n%s", apps)
		}

		stale := &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Hour)}
		_, err = oc.TokenSource(context.Background(), stale).Token()
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Errorf("the revoked application's refresh token: %v, want invalid_grant", err)
		}

		chromeGo(t, tab, oc.AuthCodeURL("st-2", oauth2.S256ChallengeOption(verifier)))
		if n := chromeCount(t, tab, `button[name=decision][value=allow]`); n != 1 {
			t.Fatal("the next authorization did not ask for consent again")
		}
	})

	// Alice is signed in in Chromium and in another browser; she ends the
	// other one's session from /account, and only that one ends.
	t.Run("ending another session", func(t *testing.T) {
		t.Parallel()
		p := authtest.Start(t, nil)
		other := browserAs(t, p, "OtherBrowser/1.0")
		accountSignIn(t, p, other, "alice", "alice-password")
		tab := chromeTab(t, browser)

		chromeGo(t, tab, p.URL+"/account")
		chromeSignIn(t, tab, "alice", "alice-password")
		sessions := chromeText(t, tab, `section[aria-labelledby=sessions]`)
		for _, want := range []string{"OtherBrowser/1.0", "HeadlessChrome", "This browser", "from 127.0.0.1"} {
			if !strings.Contains(sessions, want) {
				t.Errorf("the sessions section lacks %q:\n%s", want, sessions)
			}
		}
		chromeClick(t, tab, `button[name=op][value=end_session]`)
		if notice := chromeText(t, tab, `p.notice`); notice != "The session has ended." {
			t.Errorf("notice: %q", notice)
		}
		if n := chromeCount(t, tab, `button[name=op][value=end_session]`); n != 0 {
			t.Errorf("%d other sessions still listed", n)
		}
		if !onAccountLogin(authtest.Get(t, other, p.URL+"/account")) {
			t.Error("the other browser is still signed in")
		}
		chromeGo(t, tab, p.URL+"/account")
		if h := chromeText(t, tab, `h1`); h != "Your account" {
			t.Errorf("this browser was signed out too: %q", h)
		}
	})

	// Carol changes her password in Chromium: the old one is refused, the
	// new one accepted, her other session ended and this browser still
	// signed in.
	t.Run("changing the password", func(t *testing.T) {
		t.Parallel()
		p := authtest.Start(t, nil)
		addDatabaseUser(t, p, "carol", "carol-old-password")
		other := p.Browser(t)
		accountSignIn(t, p, other, "carol", "carol-old-password")
		tab := chromeTab(t, browser)

		chromeGo(t, tab, p.URL+"/account")
		chromeSignIn(t, tab, "carol", "carol-old-password")
		chromeType(t, tab, `#current_password`, "carol-old-password")
		chromeType(t, tab, `#new_password`, "carol-new-password")
		chromeType(t, tab, `#new_password_again`, "carol-new-password")
		if resp := chromeClick(t, tab, `button[name=op][value=change_password]`); resp.Status != http.StatusOK {
			t.Fatalf("after the change: %d", resp.Status)
		}
		if notice := chromeText(t, tab, `p.notice`); !strings.Contains(notice, "password has been changed") {
			t.Fatalf("notice: %q", notice)
		}
		chromeGo(t, tab, p.URL+"/account")
		if n := chromeCount(t, tab, `#current_password`); n != 1 {
			t.Error("this browser is no longer signed in after its own password change")
		}
		if !onAccountLogin(authtest.Get(t, other, p.URL+"/account")) {
			t.Error("the other session survived the password change")
		}
		fresh := p.Browser(t)
		if old := authtest.Get(t, fresh, p.URL+"/account").Submit(t, fresh, url.Values{"username": {"carol"}, "password": {"carol-old-password"}}); old.Status != http.StatusUnauthorized {
			t.Errorf("the old password: %d, want 401", old.Status)
		}
		accountSignIn(t, p, fresh, "carol", "carol-new-password")
	})
}
