// Package authtest starts a real provider on a loopback httptest server with a
// fresh SQLite file, and drives its pages like a browser (a cookie jar and
// form posts), for the end-to-end tests of this module's packages and
// programs. It is a test helper, like net/http/httptest: nothing in the
// product imports it.
package authtest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/setup"
	"github.com/authserver-dev/authserver/authserver/storage/pgtest"
	"github.com/authserver-dev/authserver/config"
	"github.com/authserver-dev/authserver/keys"
)

// Provider is a running provider.
type Provider struct {
	URL    string
	App    *setup.App
	Config config.Config
	Server *httptest.Server
	// Clock is the provider's clock; tests move it forward to expire things.
	Clock *Clock
	// Replicas are every replica behind the balancer; App is the first.
	Replicas []*setup.App
}

// Clock is real time plus an offset that tests advance, so that lifetimes
// can be crossed without sleeping.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now is the provider's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// DemoRedirect is the demo client's registered redirect URI.
const DemoRedirect = "http://127.0.0.1:9094/callback"

// TestConfig is the demo configuration made cheap and self-contained: a
// SQLite file and a key-encryption-key file under dir, small argon2
// parameters, and a few extra clients the tests need.
func TestConfig(dir string) config.Config {
	cfg := config.Default()
	cfg.Storage.DSN = filepath.Join(dir, "authserver.db")
	cfg.Signing.KeyEncryptionKeyFile = filepath.Join(dir, "kek")
	cfg.Passwords = config.Passwords{MemoryKiB: 64, Iterations: 1, Parallelism: 1}
	cfg.Clients = append(cfg.Clients,
		config.Client{ID: "native-app", Name: "Native App", RedirectURIs: []string{"http://127.0.0.1:7777/cb"},
			GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{"openid", "profile", "email", "offline_access", "api.read"}},
		config.Client{ID: "tricky", Name: "Tricky Secret", Secret: "a+b/c=d%e&f g-0123456789abcdefghij", RedirectURIs: []string{"http://127.0.0.1:7778/cb"},
			GrantTypes: []string{"authorization_code", "password"}, Scopes: []string{"openid", "api.read"}},
		config.Client{ID: "service", Name: "Backend Service", Secret: "service-secret-0123456789abcdefghij", GrantTypes: []string{"client_credentials"},
			Scopes: []string{"api.read", "api.write"}, Audience: []string{"https://api.example.com"}, AllowIntrospection: true},
		config.Client{ID: "code-only", Name: "Code Only", Secret: "code-only-secret-0123456789abcdefgh", RedirectURIs: []string{"https://app.example.com/cb", "http://127.0.0.1:7779/cb"},
			GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid", "email", "api.read"}, SkipConsent: true},
	)
	cfg.Users = append(cfg.Users, config.User{Username: "bob", Password: "bob-password", Email: "bob@example.com", Name: "Bob Example"})
	return cfg
}

// Start runs a provider on 127.0.0.1 with TestConfig, changed by mutate if
// not nil. It is stopped when the test ends.
func Start(t testing.TB, mutate func(*config.Config)) *Provider {
	t.Helper()
	return start(t, 1, mutate, nil)
}

// StartWithIssuerPath is Start with an issuer that has a path: the server's
// URL followed by issuerPath (e.g. "/auth"), as behind a reverse proxy that
// forwards https://example.com/auth/ unchanged. Provider.URL is that issuer;
// Provider.Server.URL is the root of the host.
func StartWithIssuerPath(t testing.TB, issuerPath string, mutate func(*config.Config)) *Provider {
	t.Helper()
	p := start(t, 1, func(c *config.Config) {
		c.Issuer += issuerPath
		if mutate != nil {
			mutate(c)
		}
	}, nil)
	p.URL = p.Config.Issuer
	return p
}

// StartTLS is Start on https: the test server speaks TLS with httptest's
// certificate (for 127.0.0.1) and the issuer is https, so the provider sets
// Secure, prefixed cookies. mutate may add a path to the issuer. Browser
// trusts the certificate; other clients use Provider.Server.Client().
func StartTLS(t testing.TB, mutate func(*config.Config)) *Provider {
	t.Helper()
	p := start(t, 1, func(c *config.Config) {
		c.Issuer = "https://" + strings.TrimPrefix(c.Issuer, "http://")
		if mutate != nil {
			mutate(c)
		}
	}, nil)
	p.URL = p.Config.Issuer
	return p
}

// StartReplicas runs n providers on one fresh PostgreSQL schema, sharing the
// issuer and the key-encryption key, behind a round-robin balancer: every
// request goes to the next replica, as behind a load balancer. Without a
// test database it skips (fails in CI); see package pgtest.
func StartReplicas(t testing.TB, n int, mutate func(*config.Config)) *Provider {
	t.Helper()
	dsn := pgtest.Open(t).Schema(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	kek := base64.StdEncoding.EncodeToString(key)
	return start(t, n, func(c *config.Config) {
		c.Storage = config.Storage{Driver: "postgres", DSN: dsn}
		if mutate != nil {
			mutate(c)
		}
	}, func(name string) string {
		if name == keys.KEKEnv {
			return kek
		}
		return ""
	})
}

// StartLogged is Start with the provider logging to logger instead of the
// test's log, for tests that read what the provider logs.
func StartLogged(t testing.TB, logger *slog.Logger, mutate func(*config.Config)) *Provider {
	t.Helper()
	return startWith(t, 1, mutate, nil, logger)
}

func start(t testing.TB, n int, mutate func(*config.Config), getenv func(string) string) *Provider {
	t.Helper()
	return startWith(t, n, mutate, getenv, nil)
}

// startWith runs n replicas; a nil logger means the test's log at warn.
func startWith(t testing.TB, n int, mutate func(*config.Config), getenv func(string) string, logger *slog.Logger) *Provider {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String()
	cfg := TestConfig(t.TempDir())
	cfg.Issuer = issuer
	cfg.Listen = ts.Listener.Addr().String()
	if mutate != nil {
		mutate(&cfg)
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test configuration: %v", err)
	}
	clock := &Clock{}
	if logger == nil {
		var logTo io.Writer = testWriter{t}
		switch t.(type) {
		case *testing.F, *testing.B:
			// A fuzz target must not call F.Log, and a benchmark must not
			// measure the test log: audit events (login, token issued) pass
			// every level.
			logTo = io.Discard
		}
		logger = observe.NewLogger(logTo, "text", "warn")
	}
	var apps []*setup.App
	for range n {
		app, err := setup.Open(context.Background(), cfg, setup.Options{Now: clock.Now, Logger: logger, Getenv: getenv})
		if err != nil {
			t.Fatalf("starting provider: %v", err)
		}
		apps = append(apps, app)
	}
	var next atomic.Uint64
	ts.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apps[int(next.Add(1)-1)%len(apps)].Server.ServeHTTP(w, r)
	})
	if strings.HasPrefix(cfg.Issuer, "https://") {
		ts.StartTLS() // see StartTLS
	} else {
		ts.Start()
	}
	t.Cleanup(func() {
		ts.Close()
		for _, a := range apps {
			_ = a.Close()
		}
	})
	return &Provider{URL: issuer, App: apps[0], Replicas: apps, Config: cfg, Server: ts, Clock: clock}
}

// testWriter sends the provider's log to the test's log, shown on failure.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// Browser is an HTTP client with a cookie jar that follows redirects within
// the provider and stops at the first redirect that leaves it (to a client's
// redirect URI), so the test can read the code.
func (p *Provider) Browser(t testing.TB) *http.Client {
	jar, _ := cookiejar.New(nil)
	var transport http.RoundTripper
	if p.Server != nil { // nil for a provider a test runs itself
		transport = p.Server.Client().Transport // trusts StartTLS's certificate
	}
	return &http.Client{
		Jar:       jar,
		Transport: transport,
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if !strings.HasPrefix(req.URL.String(), p.URL+"/") {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
}

// Page is an HTML page the provider served.
type Page struct {
	Status int
	URL    *url.URL
	Body   string
	// Location is set when the provider redirected out of itself.
	Location *url.URL
}

// Get loads a URL in the browser.
func Get(t testing.TB, b *http.Client, u string) *Page {
	t.Helper()
	resp, err := b.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return readPage(t, resp)
}

func readPage(t testing.TB, resp *http.Response) *Page {
	t.Helper()
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := &Page{Status: resp.StatusCode, URL: resp.Request.URL, Body: string(body)}
	if resp.StatusCode/100 == 3 {
		loc, err := resp.Location()
		if err != nil {
			t.Fatalf("redirect without Location: %v", err)
		}
		p.Location = loc
	}
	return p
}

var (
	formRe  = regexp.MustCompile(`(?s)<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>`)
	inputRe = regexp.MustCompile(`<input[^>]*>`)
	attrRe  = regexp.MustCompile(`(\w+)="([^"]*)"`)
)

// FormFields returns the action and the hidden (and pre-filled) inputs of
// the page's first form.
func (pg *Page) FormFields(t testing.TB) (string, url.Values) {
	t.Helper()
	m := formRe.FindStringSubmatch(pg.Body)
	if m == nil {
		t.Fatalf("no form on page %s (status %d):\n%s", pg.URL, pg.Status, pg.Body)
	}
	vals := url.Values{}
	for _, in := range inputRe.FindAllString(m[2], -1) {
		attrs := map[string]string{}
		for _, a := range attrRe.FindAllStringSubmatch(in, -1) {
			attrs[a[1]] = html.UnescapeString(a[2])
		}
		if attrs["name"] != "" && attrs["type"] != "password" {
			vals.Set(attrs["name"], attrs["value"])
		}
	}
	return html.UnescapeString(m[1]), vals
}

// Submit posts the page's first form with the extra fields set.
func (pg *Page) Submit(t testing.TB, b *http.Client, extra url.Values) *Page {
	t.Helper()
	action, vals := pg.FormFields(t)
	for k, v := range extra {
		vals[k] = v
	}
	target := pg.URL.ResolveReference(&url.URL{Path: action})
	resp, err := b.PostForm(target.String(), vals)
	if err != nil {
		t.Fatalf("POST %s: %v", target, err)
	}
	return readPage(t, resp)
}

// SignIn goes from an authorization URL through the login page (and the
// consent page, answering decision) to the redirect back to the client, and
// returns that redirect's URL.
func (p *Provider) SignIn(t testing.TB, b *http.Client, authURL, username, password, decision string) *url.URL {
	t.Helper()
	pg := Get(t, b, authURL)
	if pg.Location == nil && strings.Contains(pg.Body, `name="password"`) {
		pg = pg.Submit(t, b, url.Values{"username": {username}, "password": {password}})
	}
	if pg.Location == nil && strings.Contains(pg.Body, `name="decision"`) {
		pg = pg.Submit(t, b, url.Values{"decision": {decision}})
	}
	if pg.Location == nil {
		t.Fatalf("sign-in did not return to the client: status %d at %s:\n%s", pg.Status, pg.URL, pg.Body)
	}
	return pg.Location
}

// String describes the provider for failure messages.
func (p *Provider) String() string { return fmt.Sprintf("provider at %s", p.URL) }
