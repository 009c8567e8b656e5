package authserver_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/config"
)

// The audit finding of issue 14, "Input and robustness": a NUL byte or
// invalid UTF-8 in client_id or username reached PostgreSQL, which refuses
// such text, and an unauthenticated request got a 500 and an ERROR log line.

// providerLog is the testing.TB that authtest runs a provider with, so that
// the provider's log lines (authtest sends them to t.Log) are kept here
// instead: a fuzz target may not call its F's Log, which every audited
// token would, and tests read the lines to assert that nothing was logged
// at ERROR. Everything else is the wrapped TB's.
type providerLog struct {
	testing.TB
	mu    sync.Mutex
	lines []string
}

// Log keeps one log line of the provider.
func (l *providerLog) Log(args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprint(args...))
}

// mark is the number of lines so far, for since.
func (l *providerLog) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

// since returns the lines logged after mark m that match re.
func (l *providerLog) since(m int, re *regexp.Regexp) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines[m:] {
		if re.MatchString(line) {
			out = append(out, line)
		}
	}
	return out
}

// errorLine is a text-handler line at level ERROR (audit events, above it,
// print as ERROR+4 and do not match).
var errorLine = regexp.MustCompile(`(^|\s)level=ERROR(\s|$)`)

// backend starts a provider on one storage driver, its log kept in a
// providerLog.
type backend struct {
	name  string
	start func(testing.TB, func(*config.Config)) *authtest.Provider
}

// backends are SQLite and PostgreSQL; the PostgreSQL one skips without a
// test database (and fails in CI), see package pgtest.
var backends = []backend{
	{"sqlite", authtest.Start},
	{"postgres", func(t testing.TB, mutate func(*config.Config)) *authtest.Provider {
		return authtest.StartReplicas(t, 1, mutate)
	}},
}

func (b backend) startLogged(t testing.TB, mutate func(*config.Config)) (*authtest.Provider, *providerLog) {
	t.Helper()
	log := &providerLog{TB: t}
	return b.start(log, mutate), log
}

// badValues are what the finding sent, and their relatives: each is
// malformed for every parameter.
var badValues = []struct{ name, value string }{
	{"NUL", "demo\x00web"},
	{"invalid UTF-8", "demo\xffweb"},
	{"control character", "demo\nweb"},
	{"overlong", strings.Repeat("a", 10000)}, // above every bound, within every body limit
}

// answerWant is how a malformed request must be answered.
type answerWant int

const (
	jsonError   answerWant = iota // RFC 6749 §5.2 JSON with the status and code
	errorPage                     // an HTML error page, no redirect
	loginPageAt                   // the login page again, with a message
	clientError                   // a redirect to the registered URI with error=code and state
)

func Test500OnPostgreSQLForNULBytesOrInvalidUTF8(t *testing.T) {
	t.Parallel()
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			p, log := be.startLogged(t, nil)
			// The log is really captured: a sign-in is audited.
			m := log.mark()
			demoSecret := configSecret(p.Config, "demo-web")
			pw := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"}, "scope": {"openid"}}
			if status, _, body := postToken(t, p, pw, "demo-web", demoSecret); status != http.StatusOK {
				t.Fatalf("password grant: %d %v", status, body)
			}
			if len(log.since(m, regexp.MustCompile(`token\.issued`))) == 0 {
				t.Fatal("the provider's log is not captured: no token.issued line")
			}
			for _, bad := range badValues {
				t.Run(bad.name, func(t *testing.T) {
					for _, tc := range malformedRequests(t, p, bad.value) {
						m := log.mark()
						tc.check(t, p)
						if lines := log.since(m, errorLine); len(lines) > 0 {
							t.Errorf("%s: logged at ERROR:\n%s", tc.name, strings.Join(lines, "\n"))
						}
					}
				})
			}
		})
	}
}

// malformedRequest is one request with a malformed parameter and the answer
// it must get.
type malformedRequest struct {
	name   string
	method string
	path   string
	form   url.Values // the query of a GET, else the body
	// user and secret are Basic credentials (form-urlencoded first, as
	// RFC 6749 §2.3.1 says); none when user is "".
	user, secret string
	want         answerWant
	status       int    // of a jsonError, errorPage or loginPageAt
	code         string // the error of a jsonError or clientError
	state        string // the state a clientError must carry ("" none)
	browser      *http.Client
}

// malformedRequests are the requests of the finding, with bad in each
// parameter in turn, on every endpoint that reads parameters.
func malformedRequests(t *testing.T, p *authtest.Provider, bad string) []malformedRequest {
	t.Helper()
	with := func(v url.Values, kv ...string) url.Values {
		out := url.Values{}
		for k, vs := range v {
			out[k] = vs
		}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	demoSecret, serviceSecret := configSecret(p.Config, "demo-web"), configSecret(p.Config, "service")
	password := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"}, "scope": {"openid"}}
	code := url.Values{"grant_type": {"authorization_code"}, "code": {"some-code"}, "redirect_uri": {authtest.DemoRedirect},
		"code_verifier": {"verifier-verifier-verifier-verifier-verifier"}}
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"some-refresh-token"}}
	service := url.Values{"grant_type": {"client_credentials"}, "scope": {"api.read"}}
	token := url.Values{"token": {"some-token"}}
	invalidRequest := func(name, path string, form url.Values, user, secret string) malformedRequest {
		return malformedRequest{name: name, method: http.MethodPost, path: path, form: form, user: user, secret: secret,
			want: jsonError, status: http.StatusBadRequest, code: "invalid_request"}
	}
	invalidClient := func(name, path string, form url.Values, user, secret string) malformedRequest {
		return malformedRequest{name: name, method: http.MethodPost, path: path, form: form, user: user, secret: secret,
			want: jsonError, status: http.StatusUnauthorized, code: "invalid_client"}
	}
	reqs := []malformedRequest{
		invalidRequest("password grant username", "/token", with(password, "username", bad), "demo-web", demoSecret),
		invalidRequest("password grant password", "/token", with(password, "password", bad), "demo-web", demoSecret),
		invalidRequest("password grant scope", "/token", with(password, "scope", bad), "demo-web", demoSecret),
		invalidClient("password grant client_id (post)", "/token", with(password, "client_id", bad, "client_secret", demoSecret), "", ""),
		invalidClient("password grant client_secret (post)", "/token", with(password, "client_id", "demo-web", "client_secret", bad), "", ""),
		invalidClient("password grant client_id (basic)", "/token", password, bad, demoSecret),
		invalidRequest("code grant code", "/token", with(code, "code", bad), "demo-web", demoSecret),
		invalidRequest("code grant redirect_uri", "/token", with(code, "redirect_uri", bad), "demo-web", demoSecret),
		invalidRequest("code grant code_verifier", "/token", with(code, "code_verifier", bad), "demo-web", demoSecret),
		invalidClient("code grant client_id (post, public)", "/token", with(code, "client_id", bad), "", ""),
		invalidRequest("refresh grant refresh_token", "/token", with(refresh, "refresh_token", bad), "demo-web", demoSecret),
		invalidRequest("client credentials scope", "/token", with(service, "scope", bad), "service", serviceSecret),
		invalidClient("client credentials client_id (basic)", "/token", service, bad, serviceSecret),
		invalidClient("client credentials client_secret (basic)", "/token", service, "service", bad),
		invalidClient("client credentials client_id (post)", "/token", with(service, "client_id", bad, "client_secret", serviceSecret), "", ""),
		invalidRequest("unknown parameter", "/token", with(service, "x", bad), "service", serviceSecret),
		invalidRequest("revoke token", "/revoke", with(token, "token", bad), "demo-web", demoSecret),
		invalidClient("revoke client_id (basic)", "/revoke", token, bad, demoSecret),
		invalidRequest("introspect token", "/introspect", with(token, "token", bad), "service", serviceSecret),
		invalidClient("introspect client_id (post)", "/introspect", with(token, "client_id", bad, "client_secret", serviceSecret), "", ""),
		{name: "userinfo access_token", method: http.MethodPost, path: "/userinfo", form: url.Values{"access_token": {bad}},
			want: jsonError, status: http.StatusBadRequest, code: "invalid_request"},
	}
	// The authorization endpoint: an error page while client_id or
	// redirect_uri is in doubt, else the error goes back to the client.
	authz, _ := url.ParseQuery(strings.TrimPrefix(authorizeURL(p, nil), p.URL+"/authorize?"))
	page := func(name, method, path string, form url.Values) malformedRequest {
		return malformedRequest{name: name, method: method, path: path, form: form, want: errorPage, status: http.StatusBadRequest}
	}
	back := func(name string, form url.Values, state string) malformedRequest {
		return malformedRequest{name: name, method: http.MethodGet, path: "/authorize", form: form, want: clientError, code: "invalid_request", state: state}
	}
	reqs = append(reqs,
		page("authorize client_id", http.MethodGet, "/authorize", with(authz, "client_id", bad)),
		page("authorize redirect_uri", http.MethodGet, "/authorize", with(authz, "redirect_uri", bad)),
		page("authorize client_id (POST)", http.MethodPost, "/authorize", with(authz, "client_id", bad)),
		page("logout client_id", http.MethodGet, "/logout", url.Values{"client_id": {bad}}),
		page("logout post_logout_redirect_uri", http.MethodGet, "/logout", url.Values{"client_id": {"demo-web"}, "post_logout_redirect_uri": {bad}}),
		back("authorize scope", with(authz, "scope", bad), "xyz"),
		back("authorize nonce", with(authz, "nonce", bad), "xyz"),
		back("authorize login_hint", with(authz, "login_hint", bad), "xyz"),
		back("authorize state", with(authz, "state", bad), ""),
		back("authorize unknown parameter", with(authz, "x", bad), "xyz"),
	)
	// The login form, posted from the login page with its CSRF token.
	b := p.Browser(t)
	login := loginPage(t, p, b, nil)
	action, fields := login.FormFields(t)
	fields.Set("username", "alice")
	fields.Set("password", "alice-password")
	loginAt := login.URL.ResolveReference(&url.URL{Path: action}).Path
	for _, name := range []string{"username", "password"} {
		reqs = append(reqs, malformedRequest{name: "login form " + name, method: http.MethodPost, path: loginAt,
			form: with(fields, name, bad), want: loginPageAt, status: http.StatusBadRequest, browser: b})
	}
	reqs = append(reqs, malformedRequest{name: "login form client_id", method: http.MethodPost, path: loginAt,
		form: with(fields, "client_id", bad), want: errorPage, status: http.StatusBadRequest, browser: b})
	return reqs
}

// check sends the request and checks the answer.
func (tc malformedRequest) check(t *testing.T, p *authtest.Provider) {
	t.Helper()
	u, _ := url.Parse(p.URL)
	u = u.JoinPath(strings.TrimPrefix(tc.path, u.Path))
	var body *strings.Reader
	if tc.method == http.MethodGet {
		u.RawQuery = tc.form.Encode()
		body = strings.NewReader("")
	} else {
		body = strings.NewReader(tc.form.Encode())
	}
	req, err := http.NewRequest(tc.method, u.String(), body)
	if err != nil {
		t.Fatal(err)
	}
	if tc.method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if tc.user != "" {
		req.SetBasicAuth(url.QueryEscape(tc.user), url.QueryEscape(tc.secret))
	}
	c := tc.browser
	if c == nil {
		c = p.Browser(t)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", tc.name, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	got := string(raw)
	ct := resp.Header.Get("Content-Type")
	fail := func(why string) {
		t.Helper()
		if len(got) > 600 {
			got = got[:600] + "…"
		}
		t.Errorf("%s: %s; got %d %s Location %q\n%s", tc.name, why, resp.StatusCode, ct, resp.Header.Get("Location"), got)
	}
	if resp.StatusCode >= 500 {
		fail("server error")
		return
	}
	switch tc.want {
	case jsonError:
		var answer map[string]any
		if err := json.Unmarshal(raw, &answer); err != nil || ct != "application/json" {
			fail("want a JSON error")
		} else if resp.StatusCode != tc.status || answer["error"] != tc.code {
			fail(fmt.Sprintf("want %d %s", tc.status, tc.code))
		} else if tc.status == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
			fail("401 without WWW-Authenticate: Basic")
		}
	case errorPage, loginPageAt:
		switch {
		case resp.StatusCode != tc.status || !strings.HasPrefix(ct, "text/html") || resp.Header.Get("Location") != "":
			fail(fmt.Sprintf("want a %d page", tc.status))
		case tc.want == loginPageAt && !strings.Contains(got, `name="password"`):
			fail("want the login page")
		case tc.want == errorPage && strings.Contains(got, `name="password"`):
			fail("want the error page, not the login page")
		case strings.Contains(got, "demo\x00web") || strings.Contains(got, "demo\xffweb"):
			fail("the page echoes the malformed value")
		}
	case clientError:
		loc, err := resp.Location()
		if err != nil || resp.StatusCode != http.StatusSeeOther {
			fail("want a redirect to the client")
			return
		}
		q := loc.Query()
		target := *loc
		target.RawQuery = ""
		if target.String() != authtest.DemoRedirect || q.Get("error") != tc.code || q.Get("state") != tc.state {
			fail(fmt.Sprintf("want %s?error=%s&state=%.20s…", authtest.DemoRedirect, tc.code, tc.state))
		}
	}
}

// TestParameterBoundsAreExact checks the edges of the parameter table on
// both backends: a value at its bound, valid Unicode and a tab in a
// password get past the boundary (and are answered on their meaning), one
// byte more does not.
func TestParameterBoundsAreExact(t *testing.T) {
	t.Parallel()
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			// Several wrong passwords for alice: not a case for the throttle.
			p, log := be.startLogged(t, func(c *config.Config) { c.Security.Throttle.Enabled = new(false) })
			demoSecret := configSecret(p.Config, "demo-web")
			password := func(user, pw string) url.Values {
				return url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}, "scope": {"openid"}}
			}
			verifier := func(v string) url.Values {
				return url.Values{"grant_type": {"authorization_code"}, "code": {"some-code"}, "redirect_uri": {authtest.DemoRedirect}, "code_verifier": {v}}
			}
			tokenCase := func(name string, form url.Values, status int, code string) malformedRequest {
				return malformedRequest{name: name, method: http.MethodPost, path: "/token", form: form, user: "demo-web", secret: demoSecret,
					want: jsonError, status: status, code: code}
			}
			authz, _ := url.ParseQuery(strings.TrimPrefix(authorizeURL(p, map[string]string{"prompt": "none"}), p.URL+"/authorize?"))
			withState := func(state string) url.Values {
				q := url.Values{}
				for k, v := range authz {
					q[k] = v
				}
				q.Set("state", state)
				return q
			}
			longState := strings.Repeat("s", 4096)
			for _, tc := range []malformedRequest{
				tokenCase("Unicode username", password("jürgen-ℌ-😀", "x"), http.StatusBadRequest, "invalid_grant"),
				tokenCase("tab in password", password("alice", "alice\tpassword"), http.StatusBadRequest, "invalid_grant"),
				tokenCase("tab in username", password("ali\tce", "x"), http.StatusBadRequest, "invalid_grant"),
				tokenCase("DEL in username", password("ali\x7fce", "x"), http.StatusBadRequest, "invalid_request"),
				tokenCase("username at its bound", password(strings.Repeat("u", 256), "x"), http.StatusBadRequest, "invalid_grant"),
				tokenCase("username over its bound", password(strings.Repeat("u", 257), "x"), http.StatusBadRequest, "invalid_request"),
				tokenCase("password at its bound", password("alice", strings.Repeat("p", 1024)), http.StatusBadRequest, "invalid_grant"),
				tokenCase("password over its bound", password("alice", strings.Repeat("p", 1025)), http.StatusBadRequest, "invalid_request"),
				tokenCase("code_verifier of 43", verifier(strings.Repeat("v", 43)), http.StatusBadRequest, "invalid_grant"),
				tokenCase("code_verifier of 128", verifier(strings.Repeat("v", 128)), http.StatusBadRequest, "invalid_grant"),
				tokenCase("code_verifier of 42", verifier(strings.Repeat("v", 42)), http.StatusBadRequest, "invalid_request"),
				tokenCase("code_verifier of 129", verifier(strings.Repeat("v", 129)), http.StatusBadRequest, "invalid_request"),
				tokenCase("code_verifier with every unreserved character", verifier("AZaz09-._~"+strings.Repeat("v", 33)), http.StatusBadRequest, "invalid_grant"),
				tokenCase("code_verifier with +", verifier("+"+strings.Repeat("v", 42)), http.StatusBadRequest, "invalid_request"),
				{name: "state at its bound", method: http.MethodGet, path: "/authorize", form: withState(longState),
					want: clientError, code: "login_required", state: longState},
				{name: "state over its bound", method: http.MethodGet, path: "/authorize", form: withState(longState + "s"),
					want: clientError, code: "invalid_request"},
			} {
				m := log.mark()
				tc.check(t, p)
				if lines := log.since(m, errorLine); len(lines) > 0 {
					t.Errorf("%s: logged at ERROR:\n%s", tc.name, strings.Join(lines, "\n"))
				}
			}
		})
	}
}
