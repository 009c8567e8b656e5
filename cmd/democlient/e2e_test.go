package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/config"
	"github.com/authserver-dev/authserver/resource"
)

// demoStack runs the three programs' handlers on loopback: a real provider,
// the sample API (through package resource) and this demo client, which is
// registered at the provider with its test address.
type demoStack struct {
	provider *authtest.Provider
	api      *httptest.Server
	demo     *httptest.Server
	app      *app
}

// stackOptions vary the stack: the demo client's --dpop, and the
// provider's configuration.
type stackOptions struct {
	dpop     bool
	provider func(*config.Config)
}

func startDemoStack(t *testing.T) *demoStack { return startDemoStackWith(t, stackOptions{}) }

func startDemoStackWith(t *testing.T, o stackOptions) *demoStack {
	t.Helper()
	demo := httptest.NewUnstartedServer(nil)
	demoURL := "http://" + demo.Listener.Addr().String()
	p := authtest.Start(t, func(c *config.Config) {
		c.Clients[0].RedirectURIs = append(c.Clients[0].RedirectURIs, demoURL+"/callback")
		c.Clients[0].PostLogoutRedirectURIs = append(c.Clients[0].PostLogoutRedirectURIs, demoURL+"/")
		if o.provider != nil {
			o.provider(c)
		}
	})
	ctx := context.Background()
	v, err := resource.NewVerifier(ctx, resource.Config{Issuer: p.URL, Audience: "http://127.0.0.1:9095"})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(v.RequireScope("api.read", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := resource.ClaimsFromContext(r.Context())
		_ = json.NewEncoder(w).Encode(map[string]string{"sub": c.Subject, "message": "hello from the test API"})
	})))
	t.Cleanup(api.Close)
	a, err := newApp(ctx, appConfig{
		Issuer: p.URL, ClientID: "demo-web", ClientSecret: "demo-web-secret-not-for-production", Listen: demo.Listener.Addr().String(),
		APIURL: api.URL + "/api/profile", Scopes: []string{"openid", "profile", "email", "offline_access", "api.read"},
		DPoP: o.dpop,
	})
	if err != nil {
		t.Fatal(err)
	}
	demo.Config.Handler = a.Handler()
	demo.Start()
	t.Cleanup(demo.Close)
	return &demoStack{provider: p, api: api, demo: demo, app: a}
}

// browse follows every redirect across the three servers, like a browser.
func browse(t *testing.T, b *http.Client, method, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = b.PostForm(u, form)
	} else {
		resp, err = b.Get(u)
	}
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// TestDemoClientAgainstRealProvider clicks through the demo as a person
// would: home, Sign in, the provider's login and consent pages, and back to
// the demo's result page with the verified claims and the API's answer.
func TestDemoClientAgainstRealProvider(t *testing.T) {
	s := startDemoStack(t)
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar}

	_, home := browse(t, b, "GET", s.demo.URL+"/", nil)
	if !strings.Contains(home, "Sign in") {
		t.Fatalf("home page has no Sign in:\n%s", home)
	}
	resp, loginPage := browse(t, b, "GET", s.demo.URL+"/login", nil)
	if !strings.HasPrefix(resp.Request.URL.String(), s.provider.URL+"/authorize") || !strings.Contains(loginPage, `name="password"`) {
		t.Fatalf("Sign in did not reach the provider's login page: %s", resp.Request.URL)
	}
	pg := &authtest.Page{Status: resp.StatusCode, URL: resp.Request.URL, Body: loginPage}
	consent := pg.Submit(t, b, url.Values{"username": {"alice"}, "password": {"alice-password"}})
	if !strings.Contains(consent.Body, `value="allow"`) || !strings.Contains(consent.Body, "Demo Web App") {
		t.Fatalf("no consent page:\n%s", consent.Body)
	}
	action, vals := consent.FormFields(t)
	vals.Set("decision", "allow")
	resp, me := browse(t, b, "POST", s.provider.URL+action, vals)
	if resp.Request.URL.Path != "/me" {
		t.Fatalf("after consent the browser is at %s:\n%s", resp.Request.URL, me)
	}
	for _, want := range []string{"Alice Example", "alice@example.com", "hello from the test API", "200"} {
		if !strings.Contains(me, want) {
			t.Errorf("result page lacks %q", want)
		}
	}
}

// TestDemoClientDeny shows access_denied when the user denies consent.
func TestDemoClientDeny(t *testing.T) {
	s := startDemoStack(t)
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar}
	resp, loginPage := browse(t, b, "GET", s.demo.URL+"/login", nil)
	pg := &authtest.Page{Status: resp.StatusCode, URL: resp.Request.URL, Body: loginPage}
	consent := pg.Submit(t, b, url.Values{"username": {"alice"}, "password": {"alice-password"}})
	action, vals := consent.FormFields(t)
	vals.Set("decision", "deny")
	resp, body := browse(t, b, "POST", s.provider.URL+action, vals)
	if !strings.HasPrefix(resp.Request.URL.String(), s.demo.URL+"/callback") || !strings.Contains(body, "access_denied") {
		t.Fatalf("deny ended at %s:\n%s", resp.Request.URL, body)
	}
}

// TestPasswordModeAgainstRealProvider runs `democlient password`.
func TestPasswordModeAgainstRealProvider(t *testing.T) {
	s := startDemoStack(t)
	var out strings.Builder
	err := runPassword(context.Background(), appConfig{
		Issuer: s.provider.URL, ClientID: "demo-web", ClientSecret: "demo-web-secret-not-for-production",
		APIURL: s.api.URL + "/api/profile", Scopes: []string{"openid", "profile", "email", "api.read"},
	}, credentials{Username: "alice", Password: "alice-password"}, &out)
	if err != nil {
		t.Fatalf("password mode: %v\n%s", err, out.String())
	}
	for _, want := range []string{"alice@example.com", "hello from the test API"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
