package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/resource"
)

// TestSampleAPIWithRealProvider signs alice in at a real provider with
// x/oauth2 and calls the sample API with the access token it issued.
func TestSampleAPIWithRealProvider(t *testing.T) {
	p := authtest.Start(t, nil)
	ctx := context.Background()
	v, err := resource.NewVerifier(ctx, resource.Config{Issuer: p.URL, Audience: "http://127.0.0.1:9095"})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(newAPI(v))
	defer api.Close()

	provider, err := oidc.NewProvider(ctx, p.URL)
	if err != nil {
		t.Fatal(err)
	}
	oc := &oauth2.Config{ClientID: "demo-web", ClientSecret: "demo-web-secret-not-for-production", Endpoint: provider.Endpoint(),
		RedirectURL: authtest.DemoRedirect, Scopes: []string{oidc.ScopeOpenID, "api.read"}}
	verifier := oauth2.GenerateVerifier()
	loc := p.SignIn(t, p.Browser(t), oc.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), "alice", "alice-password", "allow")
	tok, err := oc.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, auth string) (int, string, string) {
		req, _ := http.NewRequest(method, api.URL+path, strings.NewReader(`{"text":"hi"}`))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(body)
	}
	bearer := "Bearer " + tok.AccessToken
	for _, tc := range []struct {
		name, method, path, auth string
		status                   int
		wwwAuth                  string
	}{
		{"profile with api.read", "GET", "/api/profile", bearer, 200, ""},
		{"notes need api.write", "POST", "/api/notes", bearer, 403, `error="insufficient_scope"`},
		{"no token", "GET", "/api/profile", "", 401, `Bearer realm=`},
		{"tampered token", "GET", "/api/profile", bearer[:len(bearer)-3] + "abc", 401, `error="invalid_token"`},
		{"ID token is not an access token", "GET", "/api/profile", "Bearer " + tok.Extra("id_token").(string), 401, `error="invalid_token"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, www, body := call(tc.method, tc.path, tc.auth)
			if status != tc.status || !strings.Contains(www, tc.wwwAuth) {
				t.Fatalf("got %d %q %s; want %d with %q", status, www, body, tc.status, tc.wwwAuth)
			}
			if tc.status == 200 && !strings.Contains(body, `"client_id":"demo-web"`) {
				t.Fatalf("profile body = %s", body)
			}
		})
	}
}

// TestSampleAPIInIntrospectionMode runs the sample API as --introspect would:
// a live token works, a revoked one is refused. (The sample API keeps the
// default 10s cache; the revoked token is one the API has not seen yet.)
func TestSampleAPIInIntrospectionMode(t *testing.T) {
	p := authtest.Start(t, nil)
	ctx := context.Background()
	v, err := startVerifier(ctx, options{issuer: p.URL, audience: "https://api.example.com",
		introspect: true, clientID: "service", clientSecret: "service-secret-0123456789abcdefghij"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(newAPI(v))
	defer api.Close()
	cc := &clientcredentials.Config{ClientID: "service", ClientSecret: "service-secret-0123456789abcdefghij", TokenURL: p.URL + "/token", Scopes: []string{"api.read"}}
	newToken := func() string {
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	post := func(u, token string, basicAuth bool) int {
		req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(url.Values{"token": {token}, "text": {"hi"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basicAuth {
			req.SetBasicAuth("service", "service-secret-0123456789abcdefghij")
		} else {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	get := func(token string) int {
		req, _ := http.NewRequest(http.MethodGet, api.URL+"/api/profile", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	live := newToken()
	if got := get(live); got != http.StatusOK {
		t.Errorf("profile with a live token: %d, want 200", got)
	}
	if got := post(api.URL+"/api/notes", live, false); got != http.StatusForbidden {
		t.Errorf("notes with api.read only: %d, want 403", got)
	}
	revoked := newToken()
	if got := post(p.URL+"/revoke", revoked, true); got != http.StatusOK {
		t.Fatalf("revocation: %d", got)
	}
	if got := get(revoked); got != http.StatusUnauthorized {
		t.Errorf("profile with a revoked token: %d, want 401", got)
	}
}
