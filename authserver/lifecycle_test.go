package authserver_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/config"
)

// codeTokens runs the code flow for alice with the demo client.
func codeTokens(t *testing.T, p *authtest.Provider, scopes ...string) *oauth2.Token {
	t.Helper()
	_, oc := codeClient(t, p, scopes...)
	verifier := oauth2.GenerateVerifier()
	code := signIn(t, p, oc.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), "s")
	tok, err := oc.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func refresh(t *testing.T, p *authtest.Provider, token, scope, user, secret string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
	if scope != "" {
		form.Set("scope", scope)
	}
	if secret == "" { // a public client identifies itself in the body
		form.Set("client_id", user)
		user = ""
	}
	status, _, body := postToken(t, p, form, user, secret)
	return status, body
}

// introspect asks the introspection endpoint as the service client.
func introspect(t *testing.T, p *authtest.Provider, token string) map[string]any {
	t.Helper()
	status, _, body := postTo(t, p, "/introspect", url.Values{"token": {token}}, "service", "service-secret-0123456789abcdefghij")
	if status != http.StatusOK {
		t.Fatalf("introspection: %d %v", status, body)
	}
	return body
}

// TestRefreshWithTokenSource lets x/oauth2 refresh across two rotations as a
// client would, then checks the spent tokens are spent.
func TestRefreshWithTokenSource(t *testing.T) {
	p := authtest.Start(t, nil)
	_, oc := codeClient(t, p)
	first := codeTokens(t, p)
	seen := map[string]bool{first.RefreshToken: true}
	tok := first
	for i := range 2 {
		expired := *tok
		expired.Expiry = time.Now().Add(-time.Minute)
		next, err := oc.TokenSource(context.Background(), &expired).Token()
		if err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
		if next.AccessToken == tok.AccessToken || next.RefreshToken == "" || seen[next.RefreshToken] {
			t.Fatalf("refresh %d did not rotate", i)
		}
		if _, ok := next.Extra("id_token").(string); !ok {
			t.Errorf("refresh %d returned no ID token", i)
		}
		seen[next.RefreshToken] = true
		tok = next
	}
	if got := introspect(t, p, tok.RefreshToken); got["active"] != true || got["client_id"] != "demo-web" {
		t.Errorf("newest refresh token introspects as %v", got)
	}
	if got := introspect(t, p, first.RefreshToken); got["active"] != false {
		t.Errorf("spent refresh token introspects as %v", got)
	}
}

// Defect 6: a spent refresh token revokes its whole family when presented.
func TestRefreshReuseRevokesFamily(t *testing.T) {
	p := authtest.Start(t, nil)
	a := codeTokens(t, p)
	status, b := refresh(t, p, a.RefreshToken, "", "demo-web", "demo-web-secret-not-for-production")
	if status != 200 {
		t.Fatalf("first refresh: %d %v", status, b)
	}
	// Past the grace window a spent token is reuse.
	p.Clock.Advance(p.Config.Tokens.RefreshReuseGrace.Std() + time.Second)
	if status, body := refresh(t, p, a.RefreshToken, "", "demo-web", "demo-web-secret-not-for-production"); status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("reuse: %d %v", status, body)
	}
	if status, body := refresh(t, p, b["refresh_token"].(string), "", "demo-web", "demo-web-secret-not-for-production"); status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("newest token after reuse: %d %v; want invalid_grant", status, body)
	}
	for name, tok := range map[string]string{"first access token": a.AccessToken, "newest access token": b["access_token"].(string),
		"newest refresh token": b["refresh_token"].(string)} {
		if got := introspect(t, p, tok); got["active"] != false {
			t.Errorf("%s still active after reuse: %v", name, got)
		}
	}
}

// Defects 3 and 4, expiry and malformed requests.
func TestRefreshErrors(t *testing.T) {
	p := authtest.Start(t, nil)
	tok := codeTokens(t, p)
	for _, tc := range []struct {
		name, token, scope, client, secret string
		status                             int
		want                               string
	}{
		{"bound to its client", tok.RefreshToken, "", "native-app", "", 400, "invalid_grant"},
		{"client without the grant", tok.RefreshToken, "", "code-only", "code-only-secret-0123456789abcdefgh", 400, "unauthorized_client"},
		{"wrong secret", tok.RefreshToken, "", "demo-web", "nope", 401, "invalid_client"},
		{"scope widening", tok.RefreshToken, "openid api.write", "demo-web", "demo-web-secret-not-for-production", 400, "invalid_scope"},
		{"malformed token", "not-a-token", "", "demo-web", "demo-web-secret-not-for-production", 400, "invalid_grant"},
		{"missing token", "", "", "demo-web", "demo-web-secret-not-for-production", 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := refresh(t, p, tc.token, tc.scope, tc.client, tc.secret)
			if status != tc.status || body["error"] != tc.want {
				t.Fatalf("got %d %v; want %d %s", status, body, tc.status, tc.want)
			}
		})
	}
	t.Run("narrowing keeps the family's scope", func(t *testing.T) {
		status, body := refresh(t, p, tok.RefreshToken, "api.read", "demo-web", "demo-web-secret-not-for-production")
		if status != 200 || body["scope"] != "api.read" || body["id_token"] != nil {
			t.Fatalf("narrowed refresh: %d %v", status, body)
		}
		status, body = refresh(t, p, body["refresh_token"].(string), "", "demo-web", "demo-web-secret-not-for-production")
		if status != 200 || !strings.Contains(body["scope"].(string), "profile") {
			t.Fatalf("next refresh lost the granted scope: %d %v", status, body)
		}
	})
	t.Run("expired", func(t *testing.T) {
		fresh := codeTokens(t, p)
		p.Clock.Advance(p.Config.Tokens.RefreshIdleTTL.Std() + time.Second)
		if status, body := refresh(t, p, fresh.RefreshToken, "", "demo-web", "demo-web-secret-not-for-production"); status != 400 || body["error"] != "invalid_grant" {
			t.Fatalf("got %d %v", status, body)
		}
	})
}

func TestNoRefreshTokenWithoutOfflineAccess(t *testing.T) {
	p := authtest.Start(t, nil)
	if tok := codeTokens(t, p, "openid", "profile"); tok.RefreshToken != "" {
		t.Fatal("refresh token issued without offline_access")
	}
}

func TestClientCredentials(t *testing.T) {
	p := authtest.Start(t, nil)
	status, _, body := postToken(t, p, url.Values{"grant_type": {"client_credentials"}, "scope": {"api.read"}}, "service", "service-secret-0123456789abcdefghij")
	if status != 200 || body["refresh_token"] != nil || body["id_token"] != nil || body["scope"] != "api.read" {
		t.Fatalf("got %d %v", status, body)
	}
	info := introspect(t, p, body["access_token"].(string))
	if info["active"] != true || info["sub"] != "service" || info["client_id"] != "service" || info["aud"] != "https://api.example.com" {
		t.Fatalf("introspection of a client token: %v", info)
	}
	for _, tc := range []struct{ name, scope, client, secret, want string }{
		{"openid needs a user", "openid", "service", "service-secret-0123456789abcdefghij", "invalid_scope"},
		{"scope not allowed", "admin", "service", "service-secret-0123456789abcdefghij", "invalid_scope"},
		{"client without the grant", "api.read", "demo-web", "demo-web-secret-not-for-production", "unauthorized_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := postToken(t, p, url.Values{"grant_type": {"client_credentials"}, "scope": {tc.scope}}, tc.client, tc.secret)
			if status != 400 || body["error"] != tc.want {
				t.Fatalf("got %d %v; want %s", status, body, tc.want)
			}
		})
	}
}

// postTo posts a form with Basic client credentials to an endpoint.
func postTo(t *testing.T, p *authtest.Provider, path string, form url.Values, user, secret string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := map[string]any{}
	_ = jsonDecode(resp, &body)
	return resp.StatusCode, resp.Header, body
}

func TestRevocation(t *testing.T) {
	p := authtest.Start(t, nil)
	revoke := func(token, user, secret string) (int, map[string]any) {
		status, _, body := postTo(t, p, "/revoke", url.Values{"token": {token}}, user, secret)
		return status, body
	}
	t.Run("refresh token revokes its family", func(t *testing.T) {
		tok := codeTokens(t, p)
		if status, body := revoke(tok.RefreshToken, "demo-web", "demo-web-secret-not-for-production"); status != 200 {
			t.Fatalf("revoke: %d %v", status, body)
		}
		if status, body := refresh(t, p, tok.RefreshToken, "", "demo-web", "demo-web-secret-not-for-production"); status != 400 {
			t.Fatalf("refresh after revocation: %d %v", status, body)
		}
		if info := introspect(t, p, tok.AccessToken); info["active"] != false {
			t.Fatalf("access token of a revoked family is active: %v", info)
		}
	})
	t.Run("access token", func(t *testing.T) {
		tok := codeTokens(t, p)
		if status, body := revoke(tok.AccessToken, "demo-web", "demo-web-secret-not-for-production"); status != 200 {
			t.Fatalf("revoke: %d %v", status, body)
		}
		if info := introspect(t, p, tok.AccessToken); info["active"] != false {
			t.Fatalf("revoked access token is active: %v", info)
		}
		if status, body := refresh(t, p, tok.RefreshToken, "", "demo-web", "demo-web-secret-not-for-production"); status != 200 {
			t.Fatalf("revoking an access token must not revoke the refresh token: %d %v", status, body)
		}
	})
	t.Run("foreign token is left alone", func(t *testing.T) {
		tok := codeTokens(t, p)
		if status, _ := revoke(tok.RefreshToken, "tricky", "a+b/c=d%e&f g-0123456789abcdefghij"); status != 200 {
			t.Fatalf("revoke of a foreign token: %d", status)
		}
		if info := introspect(t, p, tok.RefreshToken); info["active"] != true {
			t.Fatalf("another client revoked the token: %v", info)
		}
	})
	for _, tc := range []struct {
		name, token, user, secret string
		status                    int
		want                      string
	}{
		{"unknown token", "nope", "demo-web", "demo-web-secret-not-for-production", 200, ""},
		{"no token", "", "demo-web", "demo-web-secret-not-for-production", 400, "invalid_request"},
		{"no client authentication", "nope", "", "", 401, "invalid_client"},
		{"wrong secret", "nope", "demo-web", "bad", 401, "invalid_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := revoke(tc.token, tc.user, tc.secret)
			if status != tc.status || (tc.want != "" && body["error"] != tc.want) {
				t.Fatalf("got %d %v; want %d %s", status, body, tc.status, tc.want)
			}
		})
	}
}

func TestIntrospection(t *testing.T) {
	p := authtest.Start(t, nil)
	tok := codeTokens(t, p)
	info := introspect(t, p, tok.AccessToken)
	for _, k := range []string{"scope", "client_id", "sub", "exp", "iat", "iss", "aud", "token_type", "jti"} {
		if info[k] == nil {
			t.Errorf("introspection lacks %s: %v", k, info)
		}
	}
	if info["active"] != true || info["iss"] != p.URL || info["client_id"] != "demo-web" {
		t.Fatalf("introspection = %v", info)
	}
	other := authtest.Start(t, nil) // another issuer with its own keys
	foreign := codeTokens(t, other)
	for name, token := range map[string]string{"malformed": "abc.def.ghi", "ID token": tok.Extra("id_token").(string),
		"foreign issuer": foreign.AccessToken, "empty-ish": "x"} {
		if got := introspect(t, p, token); got["active"] != false || len(got) != 1 {
			t.Errorf("%s: %v; want only active=false", name, got)
		}
	}
	if status, _, body := postTo(t, p, "/introspect", url.Values{"token": {tok.AccessToken}}, "demo-web", "demo-web-secret-not-for-production"); status != 400 || body["error"] != "unauthorized_client" {
		t.Errorf("client without permission: %d %v", status, body)
	}
	if status, _, body := postTo(t, p, "/introspect", url.Values{"token": {tok.AccessToken}}, "", ""); status != 401 {
		t.Errorf("anonymous introspection: %d %v", status, body)
	}
	p.Clock.Advance(p.Config.Tokens.AccessTokenTTL.Std() + time.Second)
	if got := introspect(t, p, tok.AccessToken); got["active"] != false {
		t.Errorf("expired access token: %v", got)
	}
}

func TestRPInitiatedLogout(t *testing.T) {
	p := authtest.Start(t, nil)
	provider, oc := codeClient(t, p)
	if provider.Endpoint().AuthURL == "" {
		t.Fatal("no discovery")
	}
	b := p.Browser(t)
	verifier := oauth2.GenerateVerifier()
	loc := p.SignIn(t, b, oc.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), "alice", "alice-password", "allow")
	tok, err := oc.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idToken := tok.Extra("id_token").(string)

	t.Run("unregistered post_logout_redirect_uri is an error page", func(t *testing.T) {
		pg := authtest.Get(t, b, p.URL+"/logout?"+url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"https://evil.example/"}}.Encode())
		if pg.Location != nil || pg.Status != 400 {
			t.Fatalf("got %d %v", pg.Status, pg.Location)
		}
	})
	t.Run("redirect without a client is an error page", func(t *testing.T) {
		pg := authtest.Get(t, b, p.URL+"/logout?"+url.Values{"post_logout_redirect_uri": {"http://127.0.0.1:9094/"}}.Encode())
		if pg.Location != nil || pg.Status != 400 {
			t.Fatalf("got %d %v", pg.Status, pg.Location)
		}
	})
	t.Run("without a hint the user confirms", func(t *testing.T) {
		pg := authtest.Get(t, b, p.URL+"/logout")
		if !strings.Contains(pg.Body, `value="logout"`) {
			t.Fatalf("no confirmation page: %d\n%s", pg.Status, pg.Body)
		}
		forged, _ := http.PostForm(p.URL+"/logout", url.Values{"decision": {"logout"}})
		if forged.StatusCode != http.StatusForbidden {
			t.Fatalf("logout without CSRF token: %d", forged.StatusCode)
		}
	})
	t.Run("hint of this session signs out and returns", func(t *testing.T) {
		pg := authtest.Get(t, b, p.URL+"/logout?"+url.Values{"id_token_hint": {idToken},
			"post_logout_redirect_uri": {"http://127.0.0.1:9094/"}, "state": {"bye"}}.Encode())
		if pg.Location == nil || pg.Location.String() != "http://127.0.0.1:9094/?state=bye" {
			t.Fatalf("got %d %v", pg.Status, pg.Location)
		}
		again := authtest.Get(t, b, oc.AuthCodeURL("s2", oauth2.S256ChallengeOption(verifier)))
		if !strings.Contains(again.Body, `name="password"`) {
			t.Fatal("the session survived sign-out")
		}
		// offline_access tokens outlive the browser session (OIDC Core §11).
		if status, body := refresh(t, p, tok.RefreshToken, "", "demo-web", "demo-web-secret-not-for-production"); status != 200 {
			t.Fatalf("offline refresh token after sign-out: %d %v", status, body)
		}
	})
}

func TestHousekeepingDeletesOnlyDeadRows(t *testing.T) {
	p := authtest.Start(t, nil)
	ctx := context.Background()
	dead := codeTokens(t, p)
	p.Clock.Advance(p.Config.Tokens.RefreshIdleTTL.Std() + time.Hour)
	live := codeTokens(t, p)
	n, err := p.App.Server.Purge(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if n < 2 { // at least the dead refresh token and the dead session
		t.Fatalf("purged %d rows", n)
	}
	if _, err := p.App.Store.GetRefreshToken(ctx, storage.Hash(dead.RefreshToken)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("expired refresh token still stored: %v", err)
	}
	if _, err := p.App.Store.GetRefreshToken(ctx, storage.Hash(live.RefreshToken)); err != nil {
		t.Errorf("live refresh token purged: %v", err)
	}
	if status, body := refresh(t, p, live.RefreshToken, "", "demo-web", "demo-web-secret-not-for-production"); status != 200 {
		t.Errorf("live family unusable after housekeeping: %d %v", status, body)
	}
}

// The family's absolute lifetime bounds it, however often it is rotated.
func TestRefreshFamilyAbsoluteLifetime(t *testing.T) {
	p := authtest.Start(t, func(c *config.Config) {
		c.Tokens.RefreshTokenTTL = config.Duration(2 * time.Hour)
		c.Tokens.RefreshIdleTTL = config.Duration(time.Hour)
	})
	token := codeTokens(t, p).RefreshToken
	for _, step := range []struct {
		advance time.Duration
		status  int
	}{
		{50 * time.Minute, 200}, // within idle and absolute lifetimes
		{50 * time.Minute, 200}, // idle renewed by the rotation
		{25 * time.Minute, 400}, // 2h05m after sign-in: the family is over
	} {
		p.Clock.Advance(step.advance)
		status, body := refresh(t, p, token, "", "demo-web", "demo-web-secret-not-for-production")
		if status != step.status {
			t.Fatalf("after %s more: %d %v; want %d", step.advance, status, body, step.status)
		}
		if status == 200 {
			token = body["refresh_token"].(string)
		}
	}
}

// Our own userinfo endpoint refuses a revoked access token at once.
func TestUserinfoRefusesRevokedToken(t *testing.T) {
	p := authtest.Start(t, nil)
	tok := codeTokens(t, p)
	call := func() int {
		req, _ := http.NewRequest(http.MethodGet, p.URL+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := call(); got != 200 {
		t.Fatalf("before revocation: %d", got)
	}
	if status, _, body := postTo(t, p, "/revoke", url.Values{"token": {tok.RefreshToken}}, "demo-web", "demo-web-secret-not-for-production"); status != 200 {
		t.Fatalf("revoke: %d %v", status, body)
	}
	if got := call(); got != 401 {
		t.Fatalf("after revoking the family: %d; want 401", got)
	}
}
