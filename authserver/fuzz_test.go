package authserver_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/storage/pgtest"
	"github.com/authserver-dev/authserver/config"
)

// fuzzProvider is one provider a fuzz target sends every input to.
type fuzzProvider struct {
	name string
	p    *authtest.Provider
	log  *providerLog
}

// fuzzProviders are a SQLite provider and, when the test database is set
// (or CI=true, where pgtest fails without one), a PostgreSQL one: the same
// input must get the same answer from both, never a 500, never an ERROR
// log line. Their logs go to a providerLog, since a fuzz target must not
// call F.Log.
func fuzzProviders(f *testing.F) []fuzzProvider {
	f.Helper()
	var out []fuzzProvider
	for _, be := range backends {
		if be.name == "postgres" && os.Getenv(pgtest.Env) == "" && os.Getenv("CI") != "true" {
			continue
		}
		p, log := be.startLogged(f, nil)
		out = append(out, fuzzProvider{be.name, p, log})
	}
	return out
}

// serve sends a request built by newReq to fp's provider and fails t if
// the provider logged at ERROR meanwhile.
func (fp fuzzProvider) serve(t *testing.T, newReq func() *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	m := fp.log.mark()
	rec := httptest.NewRecorder()
	fp.p.App.Server.ServeHTTP(rec, newReq())
	if lines := fp.log.since(m, errorLine); len(lines) > 0 {
		t.Fatalf("%s: logged at ERROR:\n%s", fp.name, strings.Join(lines, "\n"))
	}
	return rec
}

// FuzzAuthorize sends arbitrary query strings to the authorization endpoint.
// Whatever arrives, the server never fails with 500, never logs at ERROR,
// never redirects anywhere but to a redirect URI registered for the client
// named, and answers the same on SQLite and PostgreSQL.
func FuzzAuthorize(f *testing.F) {
	providers := fuzzProviders(f)
	registered := map[string][]string{}
	for _, c := range providers[0].p.Config.Clients {
		registered[c.ID] = c.RedirectURIs
	}
	valid := strings.TrimPrefix(authorizeURL(providers[0].p, nil), providers[0].p.URL+"/authorize?")
	f.Add(valid)
	f.Add("client_id=demo-web&redirect_uri=https://evil.example/&response_type=token")
	f.Add("client_id=demo-web&redirect_uri=http%3A%2F%2F127.0.0.1%3A9094%2Fcallback&response_type=code&code_challenge_method=plain")
	f.Add("client_id=code-only&client_id=demo-web&redirect_uri=http://127.0.0.1:7779/cb")
	f.Add("%zz&;;&&==")
	// Issue 14: malformed values, which PostgreSQL refuses to compare.
	f.Add("client_id=demo%00web&redirect_uri=http://127.0.0.1:9094/callback&response_type=code")
	f.Add("client_id=demo%FFweb&redirect_uri=http://127.0.0.1:9094/callback&response_type=code")
	f.Add("client_id=demo-web&redirect_uri=http://127.0.0.1:9094/call%00back&response_type=code")
	f.Add(valid + "&nonce=" + strings.Repeat("n", 5000))
	f.Add(valid + "&login_hint=al%00ice")
	f.Add("state=%FF&" + strings.Replace(valid, "state=xyz", "", 1))
	f.Fuzz(func(t *testing.T, query string) {
		var first *httptest.ResponseRecorder
		for _, fp := range providers {
			rec := fp.serve(t, func() *http.Request {
				req := httptest.NewRequest(http.MethodGet, "/authorize", nil)
				req.URL.RawQuery = query
				return req
			})
			if rec.Code >= 500 {
				t.Fatalf("%s: status %d for %q", fp.name, rec.Code, query)
			}
			if first == nil {
				first = rec
			} else if rec.Code != first.Code || (rec.Header().Get("Location") == "") != (first.Header().Get("Location") == "") {
				t.Fatalf("%s answered %d %q, %s %d %q for %q", providers[0].name, first.Code, first.Header().Get("Location"),
					fp.name, rec.Code, rec.Header().Get("Location"), query)
			}
			loc := rec.Header().Get("Location")
			if loc == "" {
				continue
			}
			q, _ := url.ParseQuery(query)
			target, _, _ := strings.Cut(loc, "?")
			base, _, _ := strings.Cut(q.Get("redirect_uri"), "?")
			if !slices.Contains(registered[q.Get("client_id")], q.Get("redirect_uri")) || target != base {
				t.Fatalf("%s: redirected to %s for %q", fp.name, loc, query)
			}
		}
	})
}

// FuzzToken sends arbitrary bodies and Basic credentials to the token
// endpoint: the answer is always RFC 6749 §5.2 JSON, never a 500 or an
// ERROR log line, never a token without the right client secret, and the
// same on SQLite and PostgreSQL (unless one of them is throttling, which
// depends on the time between attempts).
func FuzzToken(f *testing.F) {
	providers := fuzzProviders(f)
	cfg := providers[0].p.Config
	demo, service := configSecret(cfg, "demo-web"), configSecret(cfg, "service")
	f.Add("grant_type=password&username=alice&password=alice-password&scope=openid", "demo-web", demo)
	f.Add("grant_type=authorization_code&code=x&redirect_uri=http://127.0.0.1:9094/callback", "demo-web", demo)
	f.Add("grant_type=refresh_token&refresh_token=abc", "demo-web", "wrong")
	f.Add("grant_type=client_credentials&scope=api.read&client_id=service&client_secret="+url.QueryEscape(service), "", "")
	f.Add("grant_type=password&grant_type=password", "demo%2Dweb", url.QueryEscape(demo))
	// Issue 14: malformed values, which PostgreSQL refuses to compare.
	f.Add("grant_type=password&username=al%00ice&password=alice-password", "demo-web", demo)
	f.Add("grant_type=password&username=al%FFice&password=alice-password", "demo-web", demo)
	f.Add("grant_type=client_credentials&client_id=ser%00vice&client_secret="+url.QueryEscape(service), "", "")
	f.Add("grant_type=client_credentials&client_id=ser%FFvice", "", "")
	f.Add("grant_type=client_credentials", "ser%00vice", service)
	f.Add("grant_type=client_credentials", "ser\xffvice", service)
	f.Add("grant_type=authorization_code&code=x&redirect_uri=http://127.0.0.1:9094/callback&code_verifier=short", "demo-web", demo)
	f.Add("grant_type=refresh_token&refresh_token="+strings.Repeat("r", 5000), "demo-web", demo)
	f.Fuzz(func(t *testing.T, body, user, secret string) {
		var firstCode int
		var firstError any
		for i, fp := range providers {
			rec := fp.serve(t, func() *http.Request {
				req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				if user != "" || secret != "" {
					req.SetBasicAuth(user, secret)
				}
				return req
			})
			var answer map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
				t.Fatalf("%s: non-JSON answer %d %q", fp.name, rec.Code, rec.Body)
			}
			if rec.Code >= 500 || rec.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("%s: status %d, Cache-Control %q", fp.name, rec.Code, rec.Header().Get("Cache-Control"))
			}
			if rec.Code == http.StatusOK {
				form, _ := url.ParseQuery(body)
				id, sec := user, secret
				if id == "" && sec == "" {
					id, sec = form.Get("client_id"), form.Get("client_secret")
				} else {
					id, _ = url.QueryUnescape(id)
					sec, _ = url.QueryUnescape(sec)
				}
				if !slices.ContainsFunc(cfg.Clients, func(c config.Client) bool { return c.ID == id && c.Secret == sec }) {
					t.Fatalf("%s: token issued to %q with secret %q", fp.name, id, sec)
				}
			} else if answer["error"] == nil {
				t.Fatalf("%s: error answer without error: %d %v", fp.name, rec.Code, answer)
			}
			switch {
			case i == 0:
				firstCode, firstError = rec.Code, answer["error"]
			case rec.Code == http.StatusTooManyRequests || firstCode == http.StatusTooManyRequests:
			case rec.Code != firstCode || answer["error"] != firstError:
				t.Fatalf("%s answered %d %v, %s %d %v", providers[0].name, firstCode, firstError, fp.name, rec.Code, answer["error"])
			}
		}
	})
}

// configSecret is the configured secret of client id (secretOf for an F).
func configSecret(cfg config.Config, id string) string {
	for _, c := range cfg.Clients {
		if c.ID == id {
			return c.Secret
		}
	}
	return ""
}
