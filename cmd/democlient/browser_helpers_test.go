package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// tabTimeout bounds everything one browser test case does. It is a ceiling
// for a hung page, not a performance assertion: a case normally needs a
// second or two.
const tabTimeout = 60 * time.Second

// chromiumPath is the browser the tests drive: $CHROMIUM, else Debian's
// package, which CI installs too.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// startBrowser starts one headless Chromium for t and its subtests and
// returns a context that holds it; newTab opens isolated tabs in it. Without
// a browser the test is skipped on a developer's machine, but fails in CI,
// where a silent skip would hide that the browser tests never ran.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath(chromiumPath())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium not found (%v); CI must install it or set CHROMIUM", err)
		}
		t.Skipf("Chromium not found (%v); install it or set CHROMIUM to run the browser tests", err)
	}
	// Our own flag list, not chromedp.DefaultExecAllocatorOptions, so that
	// the browser's command line is exactly what this comment shows. The
	// allocator adds --remote-debugging-pipe and, since no user-data-dir is
	// given, a fresh temporary profile that it deletes when the browser
	// exits. Nothing here lets the browser reach beyond 127.0.0.1 on its own
	// (no background networking, component updates, sync or QUIC probes).
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	t.Cleanup(cancelAlloc)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	// The first Do starts the process. Its context has no deadline on
	// purpose: chromedp ties the browser's life to the context of the first
	// call, and it must outlive every case's timeout.
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return browserCtx
}

// newTab opens a tab in a new browser context of the shared browser, so that
// its cookies and storage are its own, like a fresh incognito window. The
// returned context ends after tabTimeout. If the test fails, a screenshot and
// the page's HTML are saved first (see saveArtifacts).
func newTab(t *testing.T, browserCtx context.Context) context.Context {
	t.Helper()
	tabCtx, cancelTab := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancelTab)
	// The tab is created here, under a context with no deadline, so that
	// it survives the case's timeout long enough for saveArtifacts.
	if err := chromedp.Do(tabCtx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			saveArtifacts(t, tabCtx)
		}
	})
	ctx, cancel := context.WithTimeout(tabCtx, tabTimeout)
	t.Cleanup(cancel)
	return ctx
}

// artifactsDir is where a failing case leaves its screenshot and HTML:
// $TEST_ARTIFACTS_DIR (CI uploads it) or test-artifacts/ at the repository
// root (git-ignored), with one folder per test name in either.
func artifactsDir(t *testing.T) (string, error) {
	base := os.Getenv("TEST_ARTIFACTS_DIR")
	if base == "" {
		root, err := repoRoot()
		if err != nil {
			return "", err
		}
		base = filepath.Join(root, "test-artifacts")
	}
	return filepath.Join(base, filepath.FromSlash(t.Name())), nil
}

// repoRoot finds the module root from the package directory that go test
// runs in.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// saveArtifacts writes page.png (the whole page) and page.html of the tab's
// current page. It gets a short deadline of its own, since the case may have
// failed because its context ran out.
func saveArtifacts(t *testing.T, tabCtx context.Context) {
	dir, err := artifactsDir(t)
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		t.Logf("no artifacts: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(tabCtx, 10*time.Second)
	defer cancel()
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err == nil {
		t.Logf("the browser was at %s", loc)
	}
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err != nil {
		t.Logf("no screenshot: %v", err)
	} else if err := os.WriteFile(filepath.Join(dir, "page.png"), png, 0o644); err != nil {
		t.Logf("no screenshot: %v", err)
	}
	if html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`)); err != nil {
		t.Logf("no HTML: %v", err)
	} else if err := os.WriteFile(filepath.Join(dir, "page.html"), []byte(html), 0o644); err != nil {
		t.Logf("no HTML: %v", err)
	}
	t.Logf("artifacts of the failure are in %s", dir)
}

// clickAndWait clicks the element that css selects and waits until the page
// that this starts (after any redirects) has loaded. It returns the final
// response, whose status the caller may check.
func clickAndWait(t *testing.T, ctx context.Context, css string) *network.Response {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("clicking %s: %v (at %s)", css, err, location(ctx))
	}
	return resp
}

// typeInto types text into the field that css selects, key by key.
func typeInto(t *testing.T, ctx context.Context, css, text string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(css), text)); err != nil {
		t.Fatalf("typing into %s: %v (at %s)", css, err, location(ctx))
	}
}

// evaluate runs a script in the page and decodes its JSON result.
func evaluate[T any](t *testing.T, ctx context.Context, script string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](script))
	if err != nil {
		t.Fatalf("evaluating %s: %v (at %s)", script, err, location(ctx))
	}
	return v
}

// pageText is the text a person sees on the page (innerText skips hidden
// elements and markup).
func pageText(t *testing.T, ctx context.Context) string {
	t.Helper()
	return evaluate[string](t, ctx, `document.body.innerText`)
}

// location is the tab's URL, or a note why it is unknown, for messages.
func location(ctx context.Context) string {
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "unknown URL: " + err.Error()
	}
	return loc
}

// wantText stops the test unless the page shows every one of want. It
// stops rather than goes on so that the saved artifacts show this page.
func wantText(t *testing.T, ctx context.Context, want ...string) {
	t.Helper()
	text := pageText(t, ctx)
	var missing []string
	for _, w := range want {
		if !strings.Contains(text, w) {
			missing = append(missing, w)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("page %s does not show %q; it shows:\n%s", location(ctx), missing, text)
	}
}
