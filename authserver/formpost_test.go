package authserver_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/authserver-dev/authserver/authserver/authtest"
)

// The tests of this file cover response_mode=form_post (OAuth 2.0 Form Post
// Response Mode): conformance module oidcc-response-mode-form-post, and the
// OIDCCFormPostBasicTestPlan, which runs the Basic modules in this mode.

// callback is a relying party's redirect URI that records what was posted.
type callback struct {
	srv   *httptest.Server
	mu    sync.Mutex
	posts []url.Values
	got   chan url.Values
}

func newCallback(t *testing.T) *callback {
	cb := &callback{got: make(chan url.Values, 8)}
	cb.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/cb" {
			http.Error(w, "want POST /cb", http.StatusMethodNotAllowed)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		cb.mu.Lock()
		cb.posts = append(cb.posts, r.PostForm)
		cb.mu.Unlock()
		cb.got <- r.PostForm
		_, _ = io.WriteString(w, "<!DOCTYPE html><title>callback</title><p id=done>received</p>")
	}))
	t.Cleanup(cb.srv.Close)
	return cb
}

func (cb *callback) redirect() string { return cb.srv.URL + "/cb" }

var scriptRe = regexp.MustCompile(`<script src="([^"]+)"`)

// formPostPage checks the page that carries an authorization response: its
// headers, its form to the redirect URI and its script, and returns the
// form's fields.
func formPostPage(t *testing.T, p *authtest.Provider, pg *authtest.Page, hdr http.Header, redirect string) url.Values {
	t.Helper()
	if pg.Status != http.StatusOK || pg.Location != nil {
		t.Fatalf("want the form_post page, got %d %v:\n%s", pg.Status, pg.Location, pg.Body)
	}
	action, fields := pg.FormFields(t)
	if action != redirect {
		t.Fatalf("form posts to %q, want %q", action, redirect)
	}
	if !strings.Contains(pg.Body, `method="post"`) || !strings.Contains(pg.Body, `<button type="submit">Continue</button>`) {
		t.Errorf("no POST form with a visible button (needed without JavaScript):\n%s", pg.Body)
	}
	if hdr != nil {
		u, _ := url.Parse(redirect)
		csp := hdr.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'none'", "script-src 'self'", "form-action " + u.Scheme + "://" + u.Host + ";", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("CSP %q lacks %q", csp, d)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "form-action 'self'") {
			t.Errorf("CSP %q allows inline script or forms to the provider", csp)
		}
		if cc := hdr.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
	}
	m := scriptRe.FindStringSubmatch(pg.Body)
	if m == nil {
		t.Fatalf("no script that submits the form:\n%s", pg.Body)
	}
	if strings.Contains(pg.Body, "<script>") {
		t.Errorf("inline script, which the CSP forbids")
	}
	resp, err := http.Get(p.Server.URL + m[1]) // a path from the root of the host
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	js, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") ||
		!strings.Contains(string(js), ".submit()") {
		t.Errorf("script %s: %d %s\n%s", m[1], resp.StatusCode, resp.Header.Get("Content-Type"), js)
	}
	return fields
}

// getWithHeaders is authtest.Get that also returns the response headers.
func getWithHeaders(t *testing.T, b *http.Client, u string) (*authtest.Page, http.Header) {
	t.Helper()
	var hdr http.Header
	b2 := *b
	b2.Transport = headerRecorder{next: b.Transport, hdr: &hdr}
	return authtest.Get(t, &b2, u), hdr
}

// submitWithHeaders is Page.Submit that also returns the response headers.
func submitWithHeaders(t *testing.T, b *http.Client, pg *authtest.Page, extra url.Values) (*authtest.Page, http.Header) {
	t.Helper()
	var hdr http.Header
	b2 := *b
	b2.Transport = headerRecorder{next: b.Transport, hdr: &hdr}
	return pg.Submit(t, &b2, extra), hdr
}

type headerRecorder struct {
	next http.RoundTripper
	hdr  *http.Header
}

func (h headerRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	next := h.next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(r)
	if err == nil {
		*h.hdr = resp.Header
	}
	return resp, err
}

// The code reaches the redirect URI by POST, with state and iss, and
// redeems for tokens that go-oidc verifies.
func TestFormPostDeliversCode(t *testing.T) {
	t.Parallel()
	cb := newCallback(t)
	p := claimsProvider(t, cb.redirect())
	f := newClaimsFlow(t, p, cb.redirect())
	b := p.Browser(t)
	pg := authtest.Get(t, b, f.authURL("openid profile", map[string]string{"response_mode": "form_post"}))
	pg = pg.Submit(t, b, url.Values{"username": {"alice"}, "password": {"alice-password"}})
	pg, hdr := submitWithHeaders(t, b, pg, url.Values{"decision": {"allow"}})
	fields := formPostPage(t, p, pg, hdr, cb.redirect())
	if fields.Get("code") == "" || fields.Get("state") != "st-1" || fields.Get("iss") != p.URL || fields.Has("error") {
		t.Fatalf("form fields %v", fields)
	}

	// What a browser does with the form: post it to the client.
	resp, err := http.PostForm(cb.redirect(), fields)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	posted := <-cb.got
	tok, idClaims := f.tokens(posted)
	if idClaims["nonce"] != "n-1" || idClaims["name"] != "Alice Example" {
		t.Errorf("ID token claims %v", idClaims)
	}
	if ui := f.userinfo(tok); ui["sub"] != idClaims["sub"] {
		t.Errorf("userinfo %v", ui)
	}
}

// Errors after the redirect URI is validated are posted too; before, they
// are the error page; a response_mode we do not have is invalid_request,
// by query, since the client asked for nothing we can honour.
func TestFormPostErrors(t *testing.T) {
	t.Parallel()
	cb := newCallback(t)
	p := claimsProvider(t, cb.redirect())

	t.Run("consent denied", func(t *testing.T) {
		f := newClaimsFlow(t, p, cb.redirect())
		b := p.Browser(t)
		pg := authtest.Get(t, b, f.authURL("openid", map[string]string{"response_mode": "form_post"}))
		pg = pg.Submit(t, b, url.Values{"username": {"alice"}, "password": {"alice-password"}})
		pg, hdr := submitWithHeaders(t, b, pg, url.Values{"decision": {"deny"}})
		fields := formPostPage(t, p, pg, hdr, cb.redirect())
		if fields.Get("error") != "access_denied" || fields.Get("state") != "st-1" || fields.Get("iss") != p.URL || fields.Has("code") {
			t.Fatalf("form fields %v", fields)
		}
	})
	for _, tc := range []struct {
		name  string
		extra map[string]string
		want  string
	}{
		{"prompt none signed out", map[string]string{"prompt": "none"}, "login_required"},
		{"request_uri", map[string]string{"request_uri": "https://rp.example/r.jwt"}, "request_uri_not_supported"},
		{"bad claims", map[string]string{"claims": "{"}, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newClaimsFlow(t, p, cb.redirect())
			tc.extra["response_mode"] = "form_post"
			pg, hdr := getWithHeaders(t, p.Browser(t), f.authURL("openid", tc.extra))
			fields := formPostPage(t, p, pg, hdr, cb.redirect())
			if fields.Get("error") != tc.want || fields.Get("error_description") == "" || fields.Get("state") != "st-1" || fields.Get("iss") != p.URL {
				t.Fatalf("form fields %v, want error %s", fields, tc.want)
			}
		})
	}
	t.Run("unknown response_mode", func(t *testing.T) {
		f := newClaimsFlow(t, p, cb.redirect())
		pg := authtest.Get(t, p.Browser(t), f.authURL("openid", map[string]string{"response_mode": "web_message"}))
		if pg.Location == nil || pg.Location.Query().Get("error") != "invalid_request" || pg.Location.Query().Get("state") != "st-1" {
			t.Fatalf("want invalid_request by query, got %d %v", pg.Status, pg.Location)
		}
	})
	t.Run("unregistered redirect_uri", func(t *testing.T) {
		f := newClaimsFlow(t, p, cb.srv.URL+"/elsewhere")
		pg := authtest.Get(t, p.Browser(t), f.authURL("openid", map[string]string{"response_mode": "form_post"}))
		if pg.Status != http.StatusBadRequest || pg.Location != nil || strings.Contains(pg.Body, "/elsewhere\"") {
			t.Fatalf("want the error page, got %d %v:\n%s", pg.Status, pg.Location, pg.Body)
		}
	})
}

// In a real browser the page submits itself under its CSP: Chromium signs
// in, approves, and lands on the client's redirect URI by POST with a code,
// nobody pressing Continue.
func TestFormPostInChromium(t *testing.T) {
	t.Parallel()
	path, err := exec.LookPath(chromium())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium not found (%v); CI must install it or set CHROMIUM", err)
		}
		t.Skipf("Chromium not found (%v)", err)
	}
	cb := newCallback(t)
	p := claimsProvider(t, cb.redirect())
	f := newClaimsFlow(t, p, cb.redirect())

	alloc, cancel := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(path),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true))
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second) // a hung page, not a performance bound
	defer cancel()
	err = chromedp.Do(ctx,
		chromedp.Navigate(f.authURL("openid", map[string]string{"response_mode": "form_post"})),
		chromedp.WaitVisible(`input[name=username]`),
		chromedp.SendKeys(`input[name=username]`, "alice"),
		chromedp.SendKeys(`input[name=password]`, "alice-password"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`button[name=decision][value=allow]`),
		chromedp.Click(`button[name=decision][value=allow]`),
		chromedp.WaitVisible(`#done`),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	posted := <-cb.got
	if posted.Get("code") == "" || posted.Get("state") != "st-1" || posted.Get("iss") != p.URL {
		t.Fatalf("the browser posted %v", posted)
	}
	f.tokens(posted)
}

// chromium is $CHROMIUM, else Debian's package, as the demo client's
// browser tests use.
func chromium() string {
	if c := os.Getenv("CHROMIUM"); c != "" {
		return c
	}
	return "/usr/bin/chromium"
}
