package authserver_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/storage/pgtest"
	"github.com/authserver-dev/authserver/config"
)

// These tests take PostgreSQL away from a running provider and check what
// its clients see: 503 temporarily_unavailable with Retry-After on the JSON
// endpoints, a "try again shortly" page on the pages, /readyz 503, never a
// 500 and never a panic; and, once the database is back, everything works
// again without a restart, with every token handed out before still valid.

// errUnavailable marks an answer that was the expected 503.
var errUnavailable = errors.New("503 temporarily unavailable")

// answer is one HTTP response, read whole.
type answer struct {
	status int
	header http.Header
	body   string
}

func readAnswer(resp *http.Response) answer {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func (a answer) json() map[string]any {
	v := map[string]any{}
	_ = json.Unmarshal([]byte(a.body), &v)
	return v
}

// retryAfter reports whether the answer carries a usable Retry-After.
func (a answer) retryAfter() bool {
	n, err := strconv.Atoi(a.header.Get("Retry-After"))
	return err == nil && n > 0
}

// jsonOutcome classifies a JSON endpoint's answer: nil for 200,
// errUnavailable for a well-formed 503, an error for anything else.
func jsonOutcome(what string, a answer) error {
	switch {
	case a.status == http.StatusOK:
		return nil
	case a.status == http.StatusServiceUnavailable && a.json()["error"] == "temporarily_unavailable" &&
		a.json()["error_description"] != "" && a.retryAfter() && a.header.Get("Cache-Control") == "no-store" &&
		a.header.Get("Content-Type") == "application/json":
		return errUnavailable
	}
	return fmt.Errorf("%s: %d %v %s", what, a.status, a.header, a.body)
}

// pageOutcome classifies a page's answer the same way: the 503 must be the
// "try again shortly" page, never a redirect.
func pageOutcome(what string, a answer) error {
	switch {
	case a.status == http.StatusServiceUnavailable && strings.Contains(a.body, "Temporarily unavailable") &&
		a.retryAfter() && a.header.Get("Location") == "" && strings.HasPrefix(a.header.Get("Content-Type"), "text/html"):
		return errUnavailable
	case a.status == http.StatusOK || a.status == http.StatusSeeOther:
		return nil
	}
	return fmt.Errorf("%s: %d %v %s", what, a.status, a.header, a.body)
}

// client drives a provider from any goroutine: its methods report what
// happened instead of failing the test, which only the test's goroutine may.
type client struct {
	p *authtest.Provider
	t *testing.T // only for authtest helpers that need one and cannot fail here
}

// post sends a form to an endpoint with Basic client credentials.
func (c client) post(path string, form url.Values, user, secret string) (answer, error) {
	req, _ := http.NewRequest(http.MethodPost, c.p.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{}, err // a dropped connection: a panic, or worse
	}
	return readAnswer(resp), nil
}

// tokens is what one sign-in handed to the client.
type tokens struct{ access, refresh string }

func (c client) refresh(rt string) (tokens, error) {
	a, err := c.post("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "demo-web", "demo-web-secret-not-for-production")
	if err != nil {
		return tokens{}, err
	}
	if err := jsonOutcome("refresh", a); err != nil {
		return tokens{}, err
	}
	v := a.json()
	access, _ := v["access_token"].(string)
	next, _ := v["refresh_token"].(string)
	if access == "" || next == "" {
		return tokens{}, fmt.Errorf("refresh answered 200 without tokens: %s", a.body)
	}
	return tokens{access, next}, nil
}

// introspect returns whether the access token is active.
func (c client) introspect(access string) (bool, error) {
	a, err := c.post("/introspect", url.Values{"token": {access}}, "service", "service-secret-0123456789abcdefghij")
	if err != nil {
		return false, err
	}
	if err := jsonOutcome("introspect", a); err != nil {
		return false, err
	}
	return a.json()["active"] == true, nil
}

// signIn runs the whole code flow for alice with the demo client: the
// authorization request, the login form, the consent form, the exchange.
func (c client) signIn() (tokens, error) {
	b := c.p.Browser(c.t)
	verifier := oauth2.GenerateVerifier()
	q := url.Values{
		"client_id": {"demo-web"}, "redirect_uri": {authtest.DemoRedirect}, "response_type": {"code"},
		"scope": {"openid offline_access api.read"}, "state": {"st"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
		"prompt": {"consent"}, // the flow posts the consent form, so have it shown every time
	}
	resp, err := b.Get(c.p.URL + "/authorize?" + q.Encode())
	if err != nil {
		return tokens{}, err
	}
	a := readAnswer(resp)
	for _, step := range []struct {
		name   string
		fields url.Values
	}{
		{"login", url.Values{"username": {"alice"}, "password": {"alice-password"}}},
		{"consent", url.Values{"decision": {"allow"}}},
	} {
		if err := pageOutcome(step.name+" page", a); err != nil {
			return tokens{}, err
		}
		if a.status != http.StatusOK || !strings.Contains(a.body, "<form") {
			return tokens{}, fmt.Errorf("%s page: %d %s", step.name, a.status, a.body)
		}
		action, vals := (&authtest.Page{Body: a.body}).FormFields(c.t)
		for k, v := range step.fields {
			vals[k] = v
		}
		target, _ := url.Parse(c.p.URL)
		resp, err := b.PostForm(target.ResolveReference(&url.URL{Path: action}).String(), vals)
		if err != nil {
			return tokens{}, err
		}
		a = readAnswer(resp)
	}
	if err := pageOutcome("consent answer", a); err != nil {
		return tokens{}, err
	}
	loc, err := url.Parse(a.header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		return tokens{}, fmt.Errorf("consent did not return a code: %d %v %s", a.status, a.header, a.body)
	}
	a, err = c.post("/token", url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {authtest.DemoRedirect}, "code_verifier": {verifier}}, "demo-web", "demo-web-secret-not-for-production")
	if err != nil {
		return tokens{}, err
	}
	if err := jsonOutcome("code exchange", a); err != nil {
		return tokens{}, err
	}
	v := a.json()
	access, _ := v["access_token"].(string)
	rt, _ := v["refresh_token"].(string)
	if access == "" || rt == "" {
		return tokens{}, fmt.Errorf("code exchange answered 200 without tokens: %s", a.body)
	}
	return tokens{access, rt}, nil
}

// waitReady polls /readyz until it answers 200, a bounded number of times.
func waitReady(t *testing.T, p *authtest.Provider) {
	t.Helper()
	for range 200 {
		if resp, err := http.Get(p.URL + "/readyz"); err == nil {
			ready := resp.StatusCode == http.StatusOK
			resp.Body.Close()
			if ready {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("/readyz did not come back to 200 after the database did")
}

// TestPostgresOutage puts a TCP proxy between the provider and PostgreSQL
// and closes it: every JSON endpoint and every page must answer the
// temporary 503, /readyz must say the store is down, /healthz that the
// process is up. Reopening the proxy must bring everything back, on the
// same process and pool, with the tokens issued before still valid.
func TestPostgresOutage(t *testing.T) {
	t.Parallel()
	pgtest.Open(t) // skips, or fails in CI, without a database
	var proxy *pgtest.Proxy
	p := authtest.StartReplicas(t, 1, func(c *config.Config) {
		proxy = pgtest.NewProxy(t, c.Storage.DSN)
		c.Storage.DSN = proxy.DSN(c.Storage.DSN)
	})
	c := client{p, t}
	before := codeTokens(t, p)

	// A login page and a consent page, rendered while the database was up,
	// to be submitted during the outage.
	loginBrowser := p.Browser(t)
	loginPage := authtest.Get(t, loginBrowser, authorizeURL(p, nil))
	consentBrowser := p.Browser(t)
	consentPage := authtest.Get(t, consentBrowser, authorizeURL(p, map[string]string{"prompt": "consent"})).
		Submit(t, consentBrowser, url.Values{"username": {"alice"}, "password": {"alice-password"}})
	if !strings.Contains(consentPage.Body, `name="decision"`) {
		t.Fatalf("no consent page: %d %s", consentPage.Status, consentPage.Body)
	}

	proxy.Stop()

	jsonCalls := []struct {
		name string
		call func() (answer, error)
	}{
		{"token (refresh)", func() (answer, error) {
			return c.post("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {before.RefreshToken}}, "demo-web", "demo-web-secret-not-for-production")
		}},
		{"token (client credentials)", func() (answer, error) {
			return c.post("/token", url.Values{"grant_type": {"client_credentials"}}, "service", "service-secret-0123456789abcdefghij")
		}},
		{"introspect", func() (answer, error) {
			return c.post("/introspect", url.Values{"token": {before.AccessToken}}, "service", "service-secret-0123456789abcdefghij")
		}},
		{"revoke", func() (answer, error) {
			return c.post("/revoke", url.Values{"token": {before.RefreshToken}}, "demo-web", "demo-web-secret-not-for-production")
		}},
		{"userinfo", func() (answer, error) {
			req, _ := http.NewRequest(http.MethodGet, p.URL+"/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+before.AccessToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return answer{}, err
			}
			return readAnswer(resp), nil
		}},
	}
	for _, jc := range jsonCalls {
		a, err := jc.call()
		if err != nil {
			t.Fatalf("%s during the outage: %v", jc.name, err)
		}
		if err := jsonOutcome(jc.name, a); !errors.Is(err, errUnavailable) {
			t.Errorf("%s during the outage: want 503 temporarily_unavailable with Retry-After and no-store, got %v", jc.name, err)
		}
	}

	noRedirect := func(b *http.Client) *http.Client {
		c := *b
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		return &c
	}
	submit := func(b *http.Client, pg *authtest.Page, extra url.Values) (answer, error) {
		action, vals := pg.FormFields(t)
		for k, v := range extra {
			vals[k] = v
		}
		resp, err := noRedirect(b).PostForm(pg.URL.ResolveReference(&url.URL{Path: action}).String(), vals)
		if err != nil {
			return answer{}, err
		}
		return readAnswer(resp), nil
	}
	pageCalls := []struct {
		name string
		call func() (answer, error)
	}{
		{"authorize", func() (answer, error) {
			resp, err := noRedirect(p.Browser(t)).Get(authorizeURL(p, nil))
			if err != nil {
				return answer{}, err
			}
			return readAnswer(resp), nil
		}},
		{"login form", func() (answer, error) {
			return submit(loginBrowser, loginPage, url.Values{"username": {"alice"}, "password": {"alice-password"}})
		}},
		{"consent form", func() (answer, error) {
			return submit(consentBrowser, consentPage, url.Values{"decision": {"allow"}})
		}},
		{"logout", func() (answer, error) {
			resp, err := noRedirect(consentBrowser).Get(p.URL + "/logout")
			if err != nil {
				return answer{}, err
			}
			return readAnswer(resp), nil
		}},
	}
	for _, pc := range pageCalls {
		a, err := pc.call()
		if err != nil {
			t.Fatalf("%s during the outage: %v", pc.name, err)
		}
		if a.status != http.StatusServiceUnavailable {
			t.Errorf("%s during the outage: %d, want 503 (Location %q)", pc.name, a.status, a.header.Get("Location"))
			continue
		}
		if err := pageOutcome(pc.name, a); !errors.Is(err, errUnavailable) {
			t.Errorf("%s during the outage: want the try-again page with Retry-After, got %v", pc.name, err)
		}
	}

	status, h, body := probe(t, p.URL+"/readyz")
	ready := readyBody(t, h, body)
	if status != http.StatusServiceUnavailable || ready["status"] != "unavailable" || ready["reason"] != "store: the database could not be reached" {
		t.Errorf("/readyz during the outage: %d %v", status, ready)
	}
	for _, secret := range []string{"127.0.0.1", "postgres", "5432", "user="} {
		if strings.Contains(body, secret) {
			t.Errorf("/readyz reason leaks %q: %s", secret, body)
		}
	}
	if status, _, body := probe(t, p.URL+"/healthz"); status != http.StatusOK {
		t.Errorf("/healthz during the outage: %d %s; the process is up", status, body)
	}

	proxy.Start()
	waitReady(t, p)
	after, err := c.refresh(before.RefreshToken)
	if err != nil {
		t.Fatalf("refresh of a token from before the outage: %v", err)
	}
	for _, access := range []string{before.AccessToken, after.access} {
		if active, err := c.introspect(access); err != nil || !active {
			t.Fatalf("access token after the outage: active=%v %v", active, err)
		}
	}
	a, err := submit(consentBrowser, consentPage, url.Values{"decision": {"allow"}})
	if err != nil {
		t.Fatal(err)
	}
	if loc, _ := url.Parse(a.header.Get("Location")); a.status != http.StatusSeeOther || loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("consent after the outage: %d %v", a.status, a.header)
	}
	if _, err := c.signIn(); err != nil {
		t.Fatalf("a new sign-in after the outage: %v", err)
	}
}

// TestPostgresTerminateBackendsDuringFlows runs sign-ins, refreshes and
// introspections concurrently against two replicas on PostgreSQL and, in
// the middle of them, cuts every connection the replicas hold with
// pg_terminate_backend, three times. Only the replicas' own connections are
// cut (they carry an application_name of this test), since other tests
// share the database. Every answer must be a success or the temporary 503;
// afterwards every access token and refresh-token family handed out, before
// or during the cuts, must still work.
func TestPostgresTerminateBackendsDuringFlows(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	app := "authserver-outage-" + hex.EncodeToString(b[:])
	p := authtest.StartReplicas(t, 2, func(c *config.Config) {
		c.Storage.DSN = pgtest.WithParam(t, c.Storage.DSN, "application_name", app)
		// A rotation whose commit reached the database but whose answer was
		// cut comes back as a retry of the spent token: the grace window is
		// what lets it through (see README, "PostgreSQL outages").
		c.Tokens.RefreshReuseGrace = config.Duration(30 * time.Second)
	})
	c := client{p, t}

	// family is one sign-in as its client holds it: the latest tokens.
	type family struct {
		mu  sync.Mutex
		tok tokens
	}
	var (
		mu       sync.Mutex
		families []*family
		failures []error
	)
	add := func(tok tokens) {
		mu.Lock()
		defer mu.Unlock()
		families = append(families, &family{tok: tok})
	}
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, err)
	}
	for range 6 {
		tok, err := c.signIn()
		if err != nil {
			t.Fatal(err)
		}
		add(tok)
	}
	var beforeCut []string
	for _, f := range families {
		beforeCut = append(beforeCut, f.tok.access)
	}

	var ops, unavailable atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	const workers = 6
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				f := families[(w+i)%len(families)]
				mu.Unlock()
				var err error
				switch (w + i) % 3 {
				case 0:
					var tok tokens
					if tok, err = c.signIn(); err == nil {
						add(tok)
					}
				case 1:
					f.mu.Lock()
					var tok tokens
					if tok, err = c.refresh(f.tok.refresh); err == nil {
						f.tok = tok
					}
					f.mu.Unlock()
				case 2:
					f.mu.Lock()
					access := f.tok.access
					f.mu.Unlock()
					var active bool
					if active, err = c.introspect(access); err == nil && !active {
						err = errors.New("a live access token was reported inactive")
					}
				}
				ops.Add(1)
				switch {
				case errors.Is(err, errUnavailable):
					unavailable.Add(1)
				case err != nil:
					fail(err)
				}
			}
		}()
	}

	// waitOps waits until the workers have done n more operations; the
	// bound only keeps a hung provider from hanging the test.
	waitOps := func(n int64) {
		target := ops.Load() + n
		for range 6000 {
			if ops.Load() >= target {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		close(stop)
		t.Fatalf("the workers stopped making progress at %d operations", ops.Load())
	}
	for cut := range 3 {
		waitOps(40)
		res, err := db.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = $1 AND pid <> pg_backend_pid()`, app)
		if err != nil {
			close(stop)
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			close(stop)
			t.Fatalf("cut %d terminated no connection of the replicas", cut+1)
		}
	}
	waitOps(40)
	close(stop)
	wg.Wait()
	t.Logf("%d operations, %d answered 503 temporarily_unavailable", ops.Load(), unavailable.Load())
	for _, err := range failures {
		t.Errorf("during the cuts: %v", err)
	}

	// Everything handed out still works: every access token, before the cuts
	// or during them, and one more refresh of every family.
	for _, access := range beforeCut {
		if active, err := c.introspect(access); err != nil || !active {
			t.Errorf("access token from before the cuts: active=%v %v", active, err)
		}
	}
	for i, f := range families {
		if active, err := c.introspect(f.tok.access); err != nil || !active {
			t.Errorf("family %d: latest access token active=%v %v", i, active, err)
		}
		if _, err := c.refresh(f.tok.refresh); err != nil {
			t.Errorf("family %d: refresh after the cuts: %v", i, err)
		}
	}
}
