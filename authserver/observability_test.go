package authserver_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/observe/observetest"
	"github.com/authserver-dev/authserver/config"
)

// startObserved is authtest.Start with the process log as production writes
// it (JSON, info) kept for the test to read.
func startObserved(t *testing.T, mutate func(*config.Config)) (*authtest.Provider, *observetest.Logs) {
	t.Helper()
	logs := &observetest.Logs{}
	p := authtest.StartLogged(t, observe.NewLogger(logs, "json", "info"), mutate)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("provider log:\n%s", logs)
		}
	})
	return p, logs
}

// routePattern is what a route label may be: a ServeMux pattern or unmatched.
var routePattern = regexp.MustCompile(`^((GET|POST) /[A-Za-z0-9./_-]*|unmatched)$`)

// TestMetricsAfterAFlow scrapes the provider's own registry after a failed
// and a successful sign-in, a code exchange, a refresh, a refresh replay and
// a revocation, parses it as Prometheus does, and checks each counter and
// that routes are patterns, never paths with their query.
func TestMetricsAfterAFlow(t *testing.T) {
	t.Parallel()
	p, logs := startObserved(t, nil)
	ctx := context.Background()
	_, oc := codeClient(t, p)
	verifier := oauth2.GenerateVerifier()
	authURL := oc.AuthCodeURL("state-m", oauth2.S256ChallengeOption(verifier))

	b := p.Browser(t)
	login := authtest.Get(t, b, authURL)
	wrong := login.Submit(t, b, url.Values{"username": {"alice"}, "password": {"not-her-password"}})
	unknown := wrong.Submit(t, b, url.Values{"username": {"nobody"}, "password": {"whatever-password"}})
	if wrong.Status != http.StatusUnauthorized || unknown.Status != http.StatusUnauthorized {
		t.Fatalf("failed sign-ins answered %d and %d", wrong.Status, unknown.Status)
	}
	// The audit log tells the two apart; the page must not.
	if pageError(wrong.Body) != pageError(unknown.Body) || pageError(wrong.Body) == "" {
		t.Errorf("the login page tells an unknown user (%q) from a wrong password (%q)", pageError(unknown.Body), pageError(wrong.Body))
	}
	code := signIn(t, p, authURL, "state-m")
	tok, err := oc.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	status, body := refresh(t, p, tok.RefreshToken, "", "demo-web", "demo-web-secret-not-for-production")
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, body)
	}
	p.Clock.Advance(p.Config.Tokens.RefreshReuseGrace.Std() + time.Second) // past the grace window
	if status, _ := refresh(t, p, tok.RefreshToken, "", "demo-web", "demo-web-secret-not-for-production"); status != http.StatusBadRequest {
		t.Fatalf("refresh replay: %d", status)
	}
	second := passwordToken(t, p, "api.read")
	if status, _, _ := postTo(t, p, "/revoke", url.Values{"token": {second}}, "demo-web", "demo-web-secret-not-for-production"); status != http.StatusOK {
		t.Fatalf("revocation: %d", status)
	}
	for _, path := range []string{"/static/no-such-file.css?v=1", "/no/such/path?token=abc"} {
		resp, err := http.Get(p.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	m := observetest.Scrape(t, p.App.Metrics)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"authserver_tokens_issued_total", []string{"grant_type", "authorization_code"}, 1},
		{"authserver_tokens_issued_total", []string{"grant_type", "refresh_token"}, 1},
		{"authserver_tokens_issued_total", []string{"grant_type", "password"}, 1},
		{"authserver_tokens_issued_total", []string{"grant_type", "client_credentials"}, 0},
		{"authserver_logins_total", []string{"outcome", "failed"}, 2},
		{"authserver_logins_total", []string{"outcome", "succeeded"}, 2}, // the form and the password grant
		{"authserver_refresh_reuse_detected_total", nil, 1},
		{"authserver_revocations_total", nil, 1},
		{"authserver_store_errors_total", nil, 0},
		{"authserver_throttled_requests_total", nil, 0},
		{"authserver_http_requests_total", []string{"route", "POST /token", "code", "200"}, 3},
		{"authserver_http_requests_total", []string{"route", "POST /token", "code", "400"}, 1},
		{"authserver_http_requests_total", []string{"route", "POST /login", "code", "401"}, 2},
		{"authserver_http_requests_total", []string{"route", "POST /revoke", "code", "200"}, 1},
		{"authserver_http_requests_total", []string{"route", "GET /static/"}, 1},
		{"authserver_http_requests_total", []string{"route", "unmatched", "code", "404"}, 1},
		{"authserver_http_request_duration_seconds", []string{"route", "POST /token"}, 4},
	} {
		if got := m.Value(c.name, c.labels...); got != c.want {
			t.Errorf("%s%q = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if m.Value("authserver_http_requests_total", "route", "GET /authorize") < 2 {
		t.Error("GET /authorize was not counted under its pattern")
	}
	for _, name := range []string{"authserver_http_requests_total", "authserver_http_request_duration_seconds"} {
		for _, route := range m.LabelValues(name, "route") {
			if !routePattern.MatchString(route) {
				t.Errorf("%s has route label %q: not a pattern", name, route)
			}
		}
	}
	if _, ok := m["go_goroutines"]; !ok {
		t.Error("Go runtime metrics missing")
	}

	// The audit log has the detail the metrics and the page leave out.
	lines := logs.Lines(t)
	failed := observetest.Where(lines, "event", observe.EventLoginFailed)
	if len(failed) != 2 {
		t.Fatalf("want 2 login.failed events, got %d", len(failed))
	}
	for i, want := range []struct{ username, reason string }{{"alice", "wrong_password"}, {"nobody", "unknown_user"}} {
		l := failed[i]
		if l.Str("level") != "AUDIT" || l.Str("username") != want.username || l.Str("reason") != want.reason ||
			l.Str("client_id") != "demo-web" || l.Str("client_ip") != "127.0.0.1" || l.Str("via") != "login_form" {
			t.Errorf("login.failed event = %s", l.Raw)
		}
	}
	issued := observetest.Where(lines, "event", observe.EventTokenIssued)
	if len(issued) != 3 || issued[0].Str("grant_type") != "authorization_code" || issued[0].Str("client_id") != "demo-web" ||
		issued[0].Str("subject") == "" || issued[1].Str("grant_type") != "refresh_token" {
		t.Errorf("token.issued events = %v", issued)
	}
	reuse := observetest.Where(lines, "event", observe.EventRefreshReuseDetected)
	if len(reuse) != 1 || reuse[0].Str("family") == "" || reuse[0].Str("subject") != issued[0].Str("subject") {
		t.Errorf("refresh.reuse_detected events = %v", reuse)
	}
	revoked := observetest.Where(lines, "event", observe.EventTokenRevoked)
	if len(revoked) != 1 || revoked[0].Str("token_type") != "access_token" || revoked[0].Str("jti") == "" {
		t.Errorf("token.revoked events = %v", revoked)
	}
}

// pageError is the error message a page shows.
func pageError(body string) string {
	m := regexp.MustCompile(`(?s)id="login-error">(.*?)<`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1])
}

// TestForwardedClientIPAndRequestID: only a request whose TCP peer is a
// trusted proxy may name the client IP (X-Forwarded-For) and the request id;
// from anyone else both headers are ignored. The audit event and the access
// log show the result, and the response returns the id.
func TestForwardedClientIPAndRequestID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		trusted []string
		wantIP  string
		wantID  bool // the proxy's id was taken
	}{
		{"no trusted proxies", nil, "127.0.0.1", false},
		{"the peer is not a trusted proxy", []string{"10.0.0.0/8"}, "127.0.0.1", false},
		{"the peer is a trusted proxy", []string{"10.0.0.0/8", "127.0.0.1"}, "203.0.113.9", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, logs := startObserved(t, func(c *config.Config) { c.Server.TrustedProxies = tc.trusted })
			form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"wrong-password"}}
			req, _ := http.NewRequest(http.MethodPost, p.URL+"/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("demo-web", "demo-web-secret-not-for-production")
			req.Header.Set("X-Forwarded-For", "198.51.100.66, 203.0.113.9")
			req.Header.Set("X-Request-Id", "proxy-req-42")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			id := resp.Header.Get("X-Request-Id")
			if tc.wantID != (id == "proxy-req-42") || id == "" {
				t.Errorf("X-Request-Id = %q (proxy's id taken: want %v)", id, tc.wantID)
			}
			lines := logs.Lines(t)
			failed := observetest.Where(lines, "event", observe.EventLoginFailed)
			access := observetest.Where(lines, "msg", "request")
			if len(failed) != 1 || len(access) != 1 {
				t.Fatalf("want one login.failed and one access-log line, got %d and %d", len(failed), len(access))
			}
			for _, l := range []observetest.Line{failed[0], access[0]} {
				if l.Str("client_ip") != tc.wantIP || l.Str("request_id") != id {
					t.Errorf("client_ip %q request_id %q, want %q and %q: %s", l.Str("client_ip"), l.Str("request_id"), tc.wantIP, id, l.Raw)
				}
			}
			if failed[0].Str("via") != "password_grant" || failed[0].Str("reason") != "wrong_password" {
				t.Errorf("login.failed = %s", failed[0].Raw)
			}
			if access[0].Str("route") != "POST /token" || access[0].Str("client_id") != "demo-web" || access[0].Fields["status"] != 400.0 {
				t.Errorf("access log = %s", access[0].Raw)
			}
		})
	}
}

// TestEveryLogLineOfARequestCarriesItsID: the audit events, warnings and
// errors a handler logs, and the access log, all carry the request's id —
// here a code replay (an audit event and the access log) and a request that
// fails on a closed store (an error line, counted as a store error).
func TestEveryLogLineOfARequestCarriesItsID(t *testing.T) {
	t.Parallel()
	p, logs := startObserved(t, nil)
	verifier := oauth2.GenerateVerifier()
	_, oc := codeClient(t, p)
	code := signIn(t, p, oc.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), "s")
	if _, err := oc.Exchange(context.Background(), code, oauth2.VerifierOption(verifier)); err != nil {
		t.Fatal(err)
	}
	start := len(logs.Lines(t))
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {authtest.DemoRedirect}, "code_verifier": {verifier}}
	status, hdr, _ := postToken(t, p, form, "demo-web", "demo-web-secret-not-for-production")
	if status != http.StatusBadRequest {
		t.Fatalf("replayed code: %d", status)
	}
	replayID := hdr.Get("X-Request-Id")

	_ = p.App.Store.Close()
	status, hdr, body := postToken(t, p, url.Values{"grant_type": {"client_credentials"}}, "service", "service-secret-0123456789abcdefghij")
	if status < 500 { // server_error, or temporarily_unavailable for an outage
		t.Fatalf("with the store closed: %d %v", status, body)
	}
	failID := hdr.Get("X-Request-Id")

	perID := map[string][]string{}
	for _, l := range logs.Lines(t)[start:] {
		id := l.Str("request_id")
		if id == "" {
			t.Errorf("a line without request_id: %s", l.Raw)
		}
		perID[id] = append(perID[id], l.Str("msg"))
	}
	if got := strings.Join(perID[replayID], ","); got != observe.EventCodeReplayed+",request" {
		t.Errorf("lines of the replay request: %s", got)
	}
	if got := perID[failID]; len(got) != 2 || got[1] != "request" {
		t.Errorf("lines of the failing request: %q, want the error and the access log", got)
	}
	if got := observetest.Scrape(t, p.App.Metrics).Value("authserver_store_errors_total"); got != 1 {
		t.Errorf("store_errors_total = %v, want 1", got)
	}
}

// TestKeyRotationIsAudited: when the key schedule changes the signing keys,
// the server logs keys.rotated and counts it.
func TestKeyRotationIsAudited(t *testing.T) {
	t.Parallel()
	p, logs := startObserved(t, func(c *config.Config) {
		c.Signing.RotationPeriod = config.Duration(2 * time.Hour)
		c.Signing.PublishLead = config.Duration(30 * time.Minute)
		c.Signing.JWKSMaxAge = config.Duration(10 * time.Minute)
		c.Signing.KeyCheckInterval = config.Duration(time.Minute)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.App.Server.RunKeyRotation(ctx, time.Millisecond) }()
	t.Cleanup(func() { cancel(); <-done })

	// Time for the next key to be published.
	p.Clock.Advance(91 * time.Minute)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if len(observetest.Where(logs.Lines(t), "event", observe.EventKeysRotated)) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no keys.rotated event after the schedule published a new key")
		}
	}
	ev := observetest.Where(logs.Lines(t), "event", observe.EventKeysRotated)[0]
	// Every algorithm now publishes its signing key and the next one.
	if signing, _ := ev.Fields["signing"].([]any); ev.Str("level") != "AUDIT" || len(signing) == 0 || ev.Fields["published"] != float64(2*len(signing)) {
		t.Errorf("keys.rotated = %s, want the signing keys and a next key for each published", ev.Raw)
	}
	if got := observetest.Scrape(t, p.App.Metrics).Value("authserver_key_rotations_total"); got < 1 {
		t.Errorf("key_rotations_total = %v, want at least 1", got)
	}
}
