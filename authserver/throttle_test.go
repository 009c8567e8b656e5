package authserver_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver"
	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/observe/observetest"
	"github.com/authserver-dev/authserver/authserver/setup"
	"github.com/authserver-dev/authserver/authserver/storage/pgtest"
	"github.com/authserver-dev/authserver/config"
	"github.com/authserver-dev/authserver/keys"
)

// The tests of the finding "No throttling anywhere": failed sign-ins and
// client authentications earn an exponential back-off kept in the store.

// frozenClock stands still until the test moves it, so that every back-off
// is exact and no assertion depends on how fast the machine is.
type frozenClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *frozenClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *frozenClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// replicas are providers on one store, each on its own listener, with one
// frozen clock and one JSON log. The loopback address is a trusted proxy, so
// a test names each request's client IP with X-Forwarded-For.
type replicas struct {
	r     []*authtest.Provider
	clock *frozenClock
	logs  *observetest.Logs
}

// startReplicasOn starts n replicas with the test configuration (changed by
// mutate) on a fresh SQLite file, or on a fresh PostgreSQL schema when
// postgres is set (skipped without a test database, failed in CI).
func startReplicasOn(t *testing.T, n int, postgres bool, mutate func(*config.Config)) *replicas {
	return startReplicasWith(t, n, postgres, mutate, nil)
}

// startReplicasWith is startReplicasOn with prepare run on each server
// before it serves its first request.
func startReplicasWith(t *testing.T, n int, postgres bool, mutate func(*config.Config), prepare func(*authserver.Server)) *replicas {
	t.Helper()
	servers := make([]*httptest.Server, n)
	for i := range servers {
		servers[i] = httptest.NewUnstartedServer(nil)
	}
	dir := t.TempDir()
	cfg := authtest.TestConfig(dir)
	cfg.Issuer = "http://" + servers[0].Listener.Addr().String()
	cfg.Listen = servers[0].Listener.Addr().String()
	cfg.Server.TrustedProxies = []string{"127.0.0.1"}
	getenv := func(string) string { return "" }
	if postgres {
		cfg.Storage = config.Storage{Driver: "postgres", DSN: pgtest.Open(t).Schema(t)}
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		kek := base64.StdEncoding.EncodeToString(key)
		getenv = func(name string) string {
			if name == keys.KEKEnv {
				return kek
			}
			return ""
		}
	} else {
		cfg.Storage.DSN = filepath.Join(dir, "shared.db")
	}
	if mutate != nil {
		mutate(&cfg)
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test configuration: %v", err)
	}
	rs := &replicas{clock: &frozenClock{now: time.Now().UTC().Truncate(time.Second)}, logs: &observetest.Logs{}}
	logger := observe.NewLogger(rs.logs, "json", "info")
	for _, ts := range servers {
		// One after the other: the first creates the schema and the keys
		// that the others then find.
		app, err := setup.Open(context.Background(), cfg, setup.Options{Logger: logger, Now: rs.clock.Now, Getenv: getenv})
		if err != nil {
			t.Fatalf("starting replica: %v", err)
		}
		if prepare != nil {
			prepare(app.Server)
		}
		ts.Config.Handler = app.Server
		ts.Start()
		t.Cleanup(func() {
			ts.Close()
			_ = app.Close()
		})
		rs.r = append(rs.r, &authtest.Provider{URL: ts.URL, App: app, Replicas: []*setup.App{app}, Config: cfg, Server: ts})
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("provider log:\n%s", rs.logs)
		}
	})
	return rs
}

// throttledTotal sums authserver_throttled_requests_total{kind} over the replicas.
func (rs *replicas) throttledTotal(t *testing.T, kind string) float64 {
	var n float64
	for _, p := range rs.r {
		n += observetest.Scrape(t, p.App.Metrics).Value("authserver_throttled_requests_total", "kind", kind)
	}
	return n
}

// blockedEvents are the throttle.blocked audit lines whose field key is value.
func (rs *replicas) blockedEvents(t *testing.T, key, value string) []observetest.Line {
	return observetest.Where(observetest.Where(rs.logs.Lines(t), "event", observe.EventThrottleBlocked), key, value)
}

// fromIP is a transport that says, as a trusted proxy would, which client
// the request comes from.
type fromIP struct {
	ip   string
	base http.RoundTripper
}

func (f fromIP) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.ip)
	return f.base.RoundTrip(r)
}

// reply is a JSON endpoint's response.
type reply struct {
	status int
	header http.Header
	body   map[string]any
}

// postFrom posts form to path of p from the client IP ip, with Basic
// credentials unless user is empty.
func postFrom(t *testing.T, p *authtest.Provider, ip, path string, form url.Values, user, secret string) reply {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(secret))
	}
	resp, err := (&http.Client{Transport: fromIP{ip, http.DefaultTransport}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := reply{status: resp.StatusCode, header: resp.Header}
	_ = json.NewDecoder(resp.Body).Decode(&a.body)
	return a
}

func passwordGrant(t *testing.T, p *authtest.Provider, ip, username, pw string) reply {
	t.Helper()
	return postFrom(t, p, ip, "/token", url.Values{"grant_type": {"password"}, "username": {username}, "password": {pw}, "scope": {"openid"}},
		"demo-web", "demo-web-secret-not-for-production")
}

// checkThrottledJSON asserts the reply to a throttled token-endpoint
// request: 429, Retry-After in whole seconds, RFC 6749 §5.2-shaped JSON that
// says the same number, and no caching.
func checkThrottledJSON(t *testing.T, what string, a reply, retryAfter int) {
	t.Helper()
	want := fmt.Sprintf("too many failed attempts; retry after %d seconds", retryAfter)
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") != strconv.Itoa(retryAfter) ||
		a.body["error"] != "invalid_request" || a.body["error_description"] != want || a.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%s: %d Retry-After %q Cache-Control %q %v; want 429, Retry-After %d, invalid_request %q, no-store",
			what, a.status, a.header.Get("Retry-After"), a.header.Get("Cache-Control"), a.body, retryAfter, want)
	}
}

// countStatuses tallies the statuses of n calls of f.
func countStatuses(n int, f func() int) map[int]int {
	got := map[int]int{}
	for range n {
		got[f()]++
	}
	return got
}

// 50 wrong passwords on the password grant: five are free, the sixth
// blocks the username for base_delay (1 s) and the 44 after it are refused
// unchecked; the right password is refused too while the block lasts, on
// the other replica as well; after it the right password works, and the
// next block after the free ones doubles. Another user from another
// address is never affected. Run on two replicas of one SQLite file and of
// one PostgreSQL schema.
func TestNoThrottlingAnywhere_PasswordGrant(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			rs := startReplicasOn(t, 2, backend == "postgres", nil)
			a, b := rs.r[0], rs.r[1]
			const attacker, other = "198.51.100.1", "203.0.113.9"

			got := countStatuses(50, func() int { return passwordGrant(t, a, attacker, "alice", "guess").status })
			if got[http.StatusBadRequest] != 6 || got[http.StatusTooManyRequests] != 44 {
				t.Fatalf("50 wrong passwords answered %v; want 6 checked (400) and 44 refused (429)", got)
			}
			checkThrottledJSON(t, "right password during back-off, other replica", passwordGrant(t, b, attacker, "alice", "alice-password"), 1)
			checkThrottledJSON(t, "right password during back-off, other address", passwordGrant(t, b, other, "alice", "alice-password"), 1)
			if ans := passwordGrant(t, b, other, "bob", "bob-password"); ans.status != http.StatusOK {
				t.Fatalf("another user from another address: %d %v", ans.status, ans.body)
			}

			rs.clock.Advance(time.Second)
			// One more failure: the seventh, so the block doubles.
			if ans := passwordGrant(t, b, attacker, "alice", "guess"); ans.status != http.StatusBadRequest {
				t.Fatalf("a wrong password after the block: %d %v", ans.status, ans.body)
			}
			checkThrottledJSON(t, "after the seventh failure", passwordGrant(t, a, attacker, "alice", "alice-password"), 2)
			rs.clock.Advance(2 * time.Second)
			if ans := passwordGrant(t, a, attacker, "alice", "alice-password"); ans.status != http.StatusOK || ans.body["access_token"] == nil {
				t.Fatalf("the right password after the back-off: %d %v", ans.status, ans.body)
			}
			// The success reset the username's counter: five free failures again.
			got = countStatuses(6, func() int { return passwordGrant(t, b, other, "alice", "guess").status })
			if got[http.StatusBadRequest] != 6 {
				t.Fatalf("after a success the username kept its count: %v", got)
			}

			if n := rs.throttledTotal(t, observe.ThrottleLogin); n != 47 {
				t.Errorf("authserver_throttled_requests_total{kind=login} = %v over the replicas; want 47", n)
			}
			events := rs.blockedEvents(t, "username", "alice")
			if len(events) != 47 {
				t.Fatalf("%d throttle.blocked events for alice; want 47", len(events))
			}
			first := events[0]
			if first.Str("client_ip") != attacker || first.Str("kind") != observe.ThrottleLogin || first.Str("counter") != "login_user" ||
				first.Fields["retry_after"] != float64(1) {
				t.Errorf("throttle.blocked event: %s", first.Raw)
			}
		})
	}
}

// The same on the login form: the page comes back with 429 and "Too many
// attempts", for a known and an unknown username alike, and the right
// password does not sign in until the back-off has passed.
func TestNoThrottlingAnywhere_LoginForm(t *testing.T) {
	t.Parallel()
	rs := startReplicasOn(t, 2, false, nil)
	a, b := rs.r[0], rs.r[1]
	const attacker = "198.51.100.1"
	browser := func(p *authtest.Provider, ip string) *http.Client {
		c := p.Browser(t)
		c.Transport = fromIP{ip, http.DefaultTransport}
		return c
	}
	attempts := func(p *authtest.Provider, username string) (map[int]int, *authtest.Page) {
		c := browser(p, attacker)
		pg := authtest.Get(t, c, authorizeURL(p, nil))
		got := map[int]int{}
		for range 50 {
			pg = pg.Submit(t, c, url.Values{"username": {username}, "password": {"guess"}})
			got[pg.Status]++
		}
		return got, pg
	}
	known, knownPage := attempts(a, "alice")
	unknown, unknownPage := attempts(b, "nobody")
	for name, got := range map[string]map[int]int{"alice": known, "nobody": unknown} {
		if got[http.StatusUnauthorized] != 6 || got[http.StatusTooManyRequests] != 44 {
			t.Fatalf("50 wrong passwords for %s answered %v; want 6 checked (401) and 44 refused (429)", name, got)
		}
	}
	want := "Too many attempts; try again in 1 second."
	if pageError(knownPage.Body) != want || pageError(unknownPage.Body) != want {
		t.Fatalf("throttled login pages say %q (alice) and %q (nobody); want %q for both", pageError(knownPage.Body), pageError(unknownPage.Body), want)
	}

	// The right password, on the other replica, during the back-off.
	c := browser(b, attacker)
	pg := authtest.Get(t, c, authorizeURL(b, nil))
	refused := pg.Submit(t, c, url.Values{"username": {"alice"}, "password": {"alice-password"}})
	if refused.Status != http.StatusTooManyRequests || refused.Location != nil || pageError(refused.Body) != want ||
		strings.Contains(refused.Body, `name="decision"`) {
		t.Fatalf("right password during back-off: %d %v %q", refused.Status, refused.Location, pageError(refused.Body))
	}
	// Another user from another address signs in.
	other := browser(b, "203.0.113.9")
	if pg := authtest.Get(t, other, authorizeURL(b, nil)).Submit(t, other, url.Values{"username": {"bob"}, "password": {"bob-password"}}); !strings.Contains(pg.Body, `name="decision"`) {
		t.Fatalf("bob from another address did not reach consent: %d %q", pg.Status, pageError(pg.Body))
	}
	rs.clock.Advance(time.Second)
	if pg := refused.Submit(t, c, url.Values{"username": {"alice"}, "password": {"alice-password"}}); !strings.Contains(pg.Body, `name="decision"`) {
		t.Fatalf("right password after the back-off did not reach consent: %d %q", pg.Status, pageError(pg.Body))
	}
}

// Failures from one address count against it across usernames: a
// password-spraying address is blocked after ip_free_failures (20), for
// every username and even with a right password, while the same user from
// another address signs in. A success does not reset the address.
func TestNoThrottlingAnywhere_ClientIP(t *testing.T) {
	t.Parallel()
	rs := startReplicasOn(t, 1, false, nil)
	p := rs.r[0]
	const sprayer = "198.51.100.7"
	for i := range 20 {
		if ans := passwordGrant(t, p, sprayer, fmt.Sprintf("user%d", i), "guess"); ans.status != http.StatusBadRequest {
			t.Fatalf("spray attempt %d: %d %v", i, ans.status, ans.body)
		}
	}
	// Free for the address still; the right password passes and resets
	// only bob's counter.
	if ans := passwordGrant(t, p, sprayer, "bob", "bob-password"); ans.status != http.StatusOK {
		t.Fatalf("bob from the address after 20 failures: %d %v", ans.status, ans.body)
	}
	if ans := passwordGrant(t, p, sprayer, "user20", "guess"); ans.status != http.StatusBadRequest {
		t.Fatalf("the 21st failure: %d %v", ans.status, ans.body)
	}
	checkThrottledJSON(t, "bob from the spraying address", passwordGrant(t, p, sprayer, "bob", "bob-password"), 1)
	if ans := passwordGrant(t, p, "203.0.113.9", "bob", "bob-password"); ans.status != http.StatusOK {
		t.Fatalf("bob from another address: %d %v", ans.status, ans.body)
	}
	if ev := rs.blockedEvents(t, "counter", "login_ip"); len(ev) != 1 || ev[0].Str("client_ip") != sprayer || ev[0].Str("username") != "bob" {
		t.Fatalf("throttle.blocked events by the IP counter: %v", ev)
	}
}

// Wrong secrets count against the client id on the token, revocation and
// introspection endpoints alike; once blocked, the right secret is refused
// on all three until the back-off has passed. Public clients, which have no
// secret, are not affected.
func TestNoThrottlingAnywhere_ClientAuthentication(t *testing.T) {
	t.Parallel()
	rs := startReplicasOn(t, 2, false, nil)
	a, b := rs.r[0], rs.r[1]
	const ip = "198.51.100.3"
	cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"api.read"}}
	tok := postFrom(t, a, ip, "/token", cc, "service", "service-secret-0123456789abcdefghij")
	if tok.status != http.StatusOK {
		t.Fatalf("client credentials: %d %v", tok.status, tok.body)
	}
	access := tok.body["access_token"].(string)
	wrong := []struct{ path string }{{"/token"}, {"/revoke"}, {"/introspect"}, {"/token"}, {"/revoke"}, {"/introspect"}}
	for i, w := range wrong {
		if ans := postFrom(t, rs.r[i%2], ip, w.path, url.Values{"grant_type": {"client_credentials"}, "token": {access}}, "service", "wrong-secret"); ans.status != http.StatusUnauthorized {
			t.Fatalf("wrong secret %d on %s: %d %v", i, w.path, ans.status, ans.body)
		}
	}
	checkThrottledJSON(t, "token with the right secret", postFrom(t, b, ip, "/token", cc, "service", "service-secret-0123456789abcdefghij"), 1)
	checkThrottledJSON(t, "introspection with the right secret", postFrom(t, a, ip, "/introspect", url.Values{"token": {access}}, "service", "service-secret-0123456789abcdefghij"), 1)
	checkThrottledJSON(t, "revocation with the right secret", postFrom(t, b, ip, "/revoke", url.Values{"token": {access}}, "service", "service-secret-0123456789abcdefghij"), 1)
	if ans := postFrom(t, a, ip, "/token", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {"http://127.0.0.1:7777/cb"},
		"client_id": {"native-app"}}, "", ""); ans.status == http.StatusTooManyRequests || ans.status == http.StatusUnauthorized {
		t.Fatalf("a public client from the same address: %d %v", ans.status, ans.body)
	}
	rs.clock.Advance(time.Second)
	if ans := postFrom(t, b, ip, "/introspect", url.Values{"token": {access}}, "service", "service-secret-0123456789abcdefghij"); ans.status != http.StatusOK || ans.body["active"] != true {
		t.Fatalf("introspection after the back-off: %d %v", ans.status, ans.body)
	}
	if n := rs.throttledTotal(t, observe.ThrottleClientAuth); n != 3 {
		t.Errorf("authserver_throttled_requests_total{kind=client_auth} = %v; want 3", n)
	}
	if ev := rs.blockedEvents(t, "client_id", "service"); len(ev) != 3 || ev[0].Str("client_ip") != ip || ev[0].Fields["retry_after"] != float64(1) {
		t.Fatalf("throttle.blocked events for the client: %v", ev)
	}
}

// security.throttle.enabled: false checks every attempt, as before.
func TestNoThrottlingAnywhere_CanBeTurnedOff(t *testing.T) {
	t.Parallel()
	rs := startReplicasOn(t, 1, false, func(c *config.Config) {
		off := false
		c.Security.Throttle.Enabled = &off
	})
	got := countStatuses(10, func() int { return passwordGrant(t, rs.r[0], "198.51.100.1", "alice", "guess").status })
	if got[http.StatusBadRequest] != 10 {
		t.Fatalf("with throttling off, 10 wrong passwords answered %v", got)
	}
	if ans := passwordGrant(t, rs.r[0], "198.51.100.1", "alice", "alice-password"); ans.status != http.StatusOK {
		t.Fatalf("with throttling off, the right password: %d %v", ans.status, ans.body)
	}
}

// One address may have ip_hash_slots (2) password verifications running at
// once: a third from it waits and, when its wait runs out, is refused with
// 429, while another address still gets a slot. The verification is made
// slow (it waits for the test) so that the slots are observably full.
func TestNoThrottlingAnywhere_HashSlotsPerClientIP(t *testing.T) {
	t.Parallel()
	var entered atomic.Int32
	release := make(chan struct{})
	rs := startReplicasWith(t, 1, false, nil, func(s *authserver.Server) {
		authserver.SlowHashes(s, func(string, string) (bool, error) {
			entered.Add(1)
			<-release
			return true, nil
		}, 8, 50*time.Millisecond)
	})
	p := rs.r[0]
	wait := func(n int32) {
		for entered.Load() < n {
			time.Sleep(time.Millisecond)
		}
	}
	var wg sync.WaitGroup
	results := make(chan reply, 3)
	start := func(ip string) {
		wg.Go(func() { results <- passwordGrant(t, p, ip, "alice", "alice-password") })
	}
	start("198.51.100.1")
	start("198.51.100.1")
	wait(2)
	start("203.0.113.9") // another address is not stuck behind the first
	wait(3)
	// The third from the first address: refused once its wait runs out,
	// never let into the verification (which would hold it forever).
	busyCh := make(chan reply, 1)
	go func() { busyCh <- passwordGrant(t, p, "198.51.100.1", "alice", "alice-password") }()
	var busy reply
	for busy.status == 0 {
		select {
		case busy = <-busyCh:
		default:
			if entered.Load() > 3 {
				close(release)
				t.Fatal("a third verification from one address ran beside the first two")
			}
			time.Sleep(time.Millisecond)
		}
	}
	if busy.status != http.StatusTooManyRequests || busy.header.Get("Retry-After") != "1" || busy.body["error"] != "invalid_request" {
		t.Fatalf("a third verification from one address: %d Retry-After %q %v; want 429", busy.status, busy.header.Get("Retry-After"), busy.body)
	}
	if n := entered.Load(); n != 3 {
		t.Fatalf("%d verifications ran; the refused one must not have", n)
	}
	close(release)
	wg.Wait()
	close(results)
	for ans := range results {
		if ans.status != http.StatusOK {
			t.Errorf("a verification that had a slot: %d %v", ans.status, ans.body)
		}
	}
	if n := rs.throttledTotal(t, observe.ThrottleLogin); n != 1 {
		t.Errorf("authserver_throttled_requests_total{kind=login} = %v; want 1", n)
	}
	if ev := rs.blockedEvents(t, "counter", "ip_hash_slots"); len(ev) != 1 {
		t.Errorf("throttle.blocked events for the hash slots: %v", ev)
	}
}
