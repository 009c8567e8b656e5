package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// These tests drive a real Chromium through the demo stack the way a person
// would: they open a page, click and type, and read what is on the screen.
// They catch what the HTTP-level tests in e2e_test.go cannot: SameSite cookies
// across the provider's redirects, forms that only work with the browser's own
// submission rules, autofocus and labels, and pages that pull in outside
// resources.

// TestBrowser shares one browser process between its cases (starting it is
// the slow part); each case gets a fresh demo stack and its own browser
// context, so no cookie of one case can help another.
func TestBrowser(t *testing.T) {
	browser := startBrowser(t)

	t.Run("full flow", func(t *testing.T) {
		s := startDemoStack(t)
		ctx := newTab(t, browser)
		openLogin(t, ctx, s)
		typeInto(t, ctx, `input[name=username]`, "alice")
		typeInto(t, ctx, `input[name=password]`, "alice-password")
		clickAndWait(t, ctx, `form button[type=submit]`)
		wantUnder(t, ctx, s.provider.URL+"/")

		resp := clickAndWait(t, ctx, `button[name=decision][value=allow]`)
		wantAt(t, ctx, s.demo.URL+"/me")
		if resp.Status != 200 {
			t.Errorf("the result page answered %d", resp.Status)
		}
		wantText(t, ctx, "Alice Example", "alice@example.com", "hello from the test API")

		// The button posts a form with the session's CSRF token; a broken
		// token or cookie would land on an error page instead.
		clickAndWait(t, ctx, `form[action="/call"] button`)
		wantAt(t, ctx, s.demo.URL+"/me")
		wantText(t, ctx, "hello from the test API")

		clickAndWait(t, ctx, `form[action="/logout"] button`)
		// With RP-initiated logout the provider may ask first; without it,
		// the demo goes straight home. Both must end on the demo's home.
		if strings.HasPrefix(location(ctx), s.provider.URL+"/") &&
			evaluate[bool](t, ctx, `document.querySelector('button[name=decision][value=logout]') !== null`) {
			clickAndWait(t, ctx, `button[name=decision][value=logout]`)
		}
		wantAt(t, ctx, s.demo.URL+"/")
		wantText(t, ctx, "Sign in")
		if strings.Contains(pageText(t, ctx), "You are signed in as") {
			t.Error("the home page still greets a signed-in user after Sign out")
		}
		// The session is gone, not just hidden: the result page sends the
		// browser home.
		if err := chromedp.Do(ctx, chromedp.Navigate(s.demo.URL+"/me")); err != nil {
			t.Fatal(err)
		}
		wantAt(t, ctx, s.demo.URL+"/")
	})

	t.Run("wrong password", func(t *testing.T) {
		s := startDemoStack(t)
		ctx := newTab(t, browser)
		openLogin(t, ctx, s)
		typeInto(t, ctx, `input[name=username]`, "alice")
		typeInto(t, ctx, `input[name=password]`, "not-alices-password")
		clickAndWait(t, ctx, `form button[type=submit]`)
		wantUnder(t, ctx, s.provider.URL+"/")
		got := evaluate[struct {
			Alert       string `json:"alert"`
			Username    string `json:"username"`
			Password    string `json:"password"`
			DescribedBy string `json:"describedBy"`
			AlertID     string `json:"alertID"`
		}](t, ctx, `(() => {
			const alert = document.querySelector('[role=alert]');
			const form = document.querySelector('form');
			const user = form && form.querySelector('input[name=username]');
			const pass = form && form.querySelector('input[name=password]');
			return {
				alert: alert ? alert.innerText.trim() : '',
				alertID: alert ? alert.id : '',
				username: user ? user.value : '<no username field>',
				password: pass ? pass.value : '<no password field>',
				describedBy: user ? (user.getAttribute('aria-describedby') || '') : '',
			};
		})()`)
		if got.Alert == "" {
			t.Errorf("no error with role=alert is shown:\n%s", pageText(t, ctx))
		}
		if got.Username != "alice" {
			t.Errorf("username field holds %q, want the typed alice kept", got.Username)
		}
		// The server must not echo the password back into the page.
		if got.Password != "" {
			t.Errorf("password field holds %q after the error, want it empty", got.Password)
		}
		// A screen reader reads the error with the field it is about.
		if got.AlertID == "" || !strings.Contains(" "+got.DescribedBy+" ", " "+got.AlertID+" ") {
			t.Errorf("username field's aria-describedby is %q, want it to name the alert (id %q)", got.DescribedBy, got.AlertID)
		}
	})

	t.Run("deny on consent", func(t *testing.T) {
		s := startDemoStack(t)
		ctx := newTab(t, browser)
		openLogin(t, ctx, s)
		typeInto(t, ctx, `input[name=username]`, "alice")
		typeInto(t, ctx, `input[name=password]`, "alice-password")
		clickAndWait(t, ctx, `form button[type=submit]`)
		clickAndWait(t, ctx, `button[name=decision][value=deny]`)
		wantUnder(t, ctx, s.demo.URL+"/callback?")
		wantText(t, ctx, "access_denied")
	})

	t.Run("keyboard and accessibility of the login page", func(t *testing.T) {
		s := startDemoStack(t)
		ctx := newTab(t, browser)
		openLogin(t, ctx, s)
		got := evaluate[struct {
			Inputs    int      `json:"inputs"`
			Unlabeled []string `json:"unlabeled"`
			Lang      string   `json:"lang"`
			Mains     int      `json:"mains"`
			Resources int      `json:"resources"`
			Foreign   []string `json:"foreign"`
			Focused   string   `json:"focused"`
		}](t, ctx, `(() => {
			const inputs = [...document.querySelectorAll('input:not([type=hidden])')];
			const resources = performance.getEntriesByType('resource').map(e => e.name);
			return {
				inputs: inputs.length,
				unlabeled: inputs.filter(i => i.labels.length === 0).map(i => i.name || i.outerHTML),
				lang: document.documentElement.lang,
				mains: document.querySelectorAll('main').length,
				resources: resources.length,
				foreign: resources.filter(u => new URL(u).origin !== location.origin),
				focused: document.activeElement ? (document.activeElement.name || document.activeElement.tagName) : '',
			};
		})()`)
		if got.Inputs < 2 {
			t.Errorf("the login page has %d visible inputs, want username and password", got.Inputs)
		}
		if len(got.Unlabeled) > 0 {
			t.Errorf("inputs without a label: %q", got.Unlabeled)
		}
		if got.Lang == "" {
			t.Error("<html> has no lang")
		}
		if got.Mains != 1 {
			t.Errorf("the page has %d <main> elements, want 1", got.Mains)
		}
		// A login page that loads scripts, fonts or images from elsewhere
		// tells a third party who signs in where, and breaks on a closed
		// network.
		if len(got.Foreign) > 0 {
			t.Errorf("the login page loads resources from other origins: %q", got.Foreign)
		}
		t.Logf("the login page loaded %d same-origin resources", got.Resources)

		// Sign in with the keyboard only: the username field has the focus
		// on arrival, Tab moves to the password, Enter submits.
		if got.Focused != "username" {
			t.Fatalf("focus on arrival is on %q, want the username field", got.Focused)
		}
		if err := chromedp.Do(ctx, chromedp.KeyEvent("alice\t")); err != nil {
			t.Fatal(err)
		}
		if f := evaluate[string](t, ctx, `document.activeElement.name || document.activeElement.tagName`); f != "password" {
			t.Fatalf("Tab from the username moved focus to %q, want the password field", f)
		}
		if _, err := chromedp.RunResponse(ctx, chromedp.KeyEvent("alice-password\r")); err != nil {
			t.Fatalf("pressing Enter in the password field: %v", err)
		}
		if evaluate[bool](t, ctx, `document.querySelector('button[name=decision][value=allow]') === null`) {
			t.Errorf("Enter did not reach the consent page; at %s:\n%s", location(ctx), pageText(t, ctx))
		}
	})
}

// openLogin opens the demo's home page, clicks Sign in and checks that the
// browser is on the provider's login page, which names the demo client.
func openLogin(t *testing.T, ctx context.Context, s *demoStack) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(s.demo.URL+"/")); err != nil {
		t.Fatalf("opening the demo: %v", err)
	}
	clickAndWait(t, ctx, `a[href="/login"]`)
	wantUnder(t, ctx, s.provider.URL+"/")
	if evaluate[bool](t, ctx, `document.querySelector('input[name=username]') === null`) {
		t.Fatalf("Sign in led to a page with no username field:\n%s", pageText(t, ctx))
	}
	wantText(t, ctx, "Demo Web App")
}

// wantAt fails the test unless the tab is exactly at url.
func wantAt(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	if loc := location(ctx); loc != url {
		t.Fatalf("the browser is at %s, want %s; the page shows:\n%s", loc, url, pageText(t, ctx))
	}
}

// wantUnder fails the test unless the tab's URL starts with prefix.
func wantUnder(t *testing.T, ctx context.Context, prefix string) {
	t.Helper()
	if loc := location(ctx); !strings.HasPrefix(loc, prefix) {
		t.Fatalf("the browser is at %s, want a page under %s; the page shows:\n%s", loc, prefix, pageText(t, ctx))
	}
}

// TestBrowserScreenshots writes the README's screenshots of the flow into
// $SCREENSHOTS_DIR. It is a generator, not a check, so it only runs on demand:
//
//	SCREENSHOTS_DIR=$PWD/templates/screenshots go test ./cmd/democlient -run TestBrowserScreenshots
func TestBrowserScreenshots(t *testing.T) {
	dir := os.Getenv("SCREENSHOTS_DIR")
	if dir == "" {
		t.Skip("set SCREENSHOTS_DIR to write the README's screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	browser := startBrowser(t)
	s := startDemoStack(t)
	ctx := newTab(t, browser)
	// A laptop-sized viewport at scale 1 keeps each PNG small and readable;
	// a long page is cut at the fold, as a reader's screen would show it.
	// Scrollbars are hidden because they are the browser's, not our design.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1000, 760)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, emulation.SetScrollbarsHidden, emulation.SetScrollbarsHiddenParams{Hidden: true}); err != nil {
		t.Fatal(err)
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", filepath.Join(dir, name), len(png))
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(s.demo.URL+"/")); err != nil {
		t.Fatal(err)
	}
	shot("01-demo-home.png")
	clickAndWait(t, ctx, `a[href="/login"]`)
	shot("02-login.png")
	typeInto(t, ctx, `input[name=username]`, "alice")
	typeInto(t, ctx, `input[name=password]`, "wrong")
	clickAndWait(t, ctx, `form button[type=submit]`)
	shot("03-login-error.png")
	typeInto(t, ctx, `input[name=password]`, "alice-password")
	clickAndWait(t, ctx, `form button[type=submit]`)
	shot("04-consent.png")
	clickAndWait(t, ctx, `button[name=decision][value=allow]`)
	wantText(t, ctx, "hello from the test API")
	shot("05-result.png")
}
