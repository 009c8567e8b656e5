package authserver_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/authserver-dev/authserver/authserver/authtest"
)

// FuzzAuthorize sends arbitrary query strings to the authorization endpoint.
// Whatever arrives, the server never fails with 500 and never redirects
// anywhere but to a redirect URI registered for the client named.
func FuzzAuthorize(f *testing.F) {
	p := authtest.Start(f, nil)
	registered := map[string][]string{}
	for _, c := range p.Config.Clients {
		registered[c.ID] = c.RedirectURIs
	}
	f.Add(strings.TrimPrefix(authorizeURL(p, nil), p.URL+"/authorize?"))
	f.Add("client_id=demo-web&redirect_uri=https://evil.example/&response_type=token")
	f.Add("client_id=demo-web&redirect_uri=http%3A%2F%2F127.0.0.1%3A9094%2Fcallback&response_type=code&code_challenge_method=plain")
	f.Add("client_id=code-only&client_id=demo-web&redirect_uri=http://127.0.0.1:7779/cb")
	f.Add("%zz&;;&&==")
	f.Fuzz(func(t *testing.T, query string) {
		req := httptest.NewRequest(http.MethodGet, "/authorize", nil)
		req.URL.RawQuery = query
		rec := httptest.NewRecorder()
		p.App.Server.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q", rec.Code, query)
		}
		loc := rec.Header().Get("Location")
		if loc == "" {
			return
		}
		q, _ := url.ParseQuery(query)
		target, _, _ := strings.Cut(loc, "?")
		base, _, _ := strings.Cut(q.Get("redirect_uri"), "?")
		if !slices.Contains(registered[q.Get("client_id")], q.Get("redirect_uri")) || target != base {
			t.Fatalf("redirected to %s for %q", loc, query)
		}
	})
}

// FuzzToken sends arbitrary bodies and Basic credentials to the token
// endpoint: the answer is always RFC 6749 §5.2 JSON, never a 500, and never a
// token without the right client secret.
func FuzzToken(f *testing.F) {
	p := authtest.Start(f, nil)
	f.Add("grant_type=password&username=alice&password=alice-password&scope=openid", "demo-web", "demo-secret")
	f.Add("grant_type=authorization_code&code=x&redirect_uri=http://127.0.0.1:9094/callback", "demo-web", "demo-secret")
	f.Add("grant_type=refresh_token&refresh_token=abc", "demo-web", "wrong")
	f.Add("grant_type=client_credentials&scope=api.read&client_id=service&client_secret=service-secret", "", "")
	f.Add("grant_type=password&grant_type=password", "demo%2Dweb", "demo%2Dsecret")
	f.Fuzz(func(t *testing.T, body, user, secret string) {
		req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if user != "" || secret != "" {
			req.SetBasicAuth(user, secret)
		}
		rec := httptest.NewRecorder()
		p.App.Server.ServeHTTP(rec, req)
		var answer map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
			t.Fatalf("non-JSON answer %d %q", rec.Code, rec.Body)
		}
		if rec.Code >= 500 || rec.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("status %d, Cache-Control %q", rec.Code, rec.Header().Get("Cache-Control"))
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
			if !knownSecret(id, sec) {
				t.Fatalf("token issued to %q with secret %q", id, sec)
			}
		} else if answer["error"] == nil {
			t.Fatalf("error answer without error: %d %v", rec.Code, answer)
		}
	})
}

func knownSecret(id, secret string) bool {
	switch id {
	case "demo-web":
		return secret == "demo-secret"
	case "service":
		return secret == "service-secret"
	case "tricky":
		return secret == "a+b/c=d%e&f g"
	case "code-only":
		return secret == "code-only-secret"
	case "native-app":
		return secret == ""
	}
	return false
}
