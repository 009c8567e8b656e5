package authserver_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/authtest"
)

// codeClient is the demo client as a third-party app would configure it:
// discovery through go-oidc, the flow through x/oauth2.
func codeClient(t *testing.T, p *authtest.Provider, scopes ...string) (*oidc.Provider, *oauth2.Config) {
	t.Helper()
	provider, err := oidc.NewProvider(context.Background(), p.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess, "api.read"}
	}
	return provider, &oauth2.Config{
		ClientID:     "demo-web",
		ClientSecret: "demo-web-secret-not-for-production",
		Endpoint:     provider.Endpoint(),
		RedirectURL:  authtest.DemoRedirect,
		Scopes:       scopes,
	}
}

// signIn runs the browser part of the code flow and returns the code.
func signIn(t *testing.T, p *authtest.Provider, authURL, state string) string {
	t.Helper()
	loc := p.SignIn(t, p.Browser(t), authURL, "alice", "alice-password", "allow")
	q := loc.Query()
	if q.Get("error") != "" {
		t.Fatalf("authorization failed: %s: %s", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("state") != state || q.Get("iss") != p.URL || q.Get("code") == "" {
		t.Fatalf("bad authorization response %s", loc)
	}
	return q.Get("code")
}

func TestCodeFlowWithOIDCClient(t *testing.T) {
	p := authtest.Start(t, nil)
	ctx := context.Background()
	provider, oc := codeClient(t, p)
	verifier := oauth2.GenerateVerifier()
	authURL := oc.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-1"))

	code := signIn(t, p, authURL, "state-1")
	tok, err := oc.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.TokenType != "Bearer" || tok.RefreshToken == "" || tok.ExpiresIn != 15*60 {
		t.Errorf("token response: type %q, refresh present %v, expires_in %d", tok.TokenType, tok.RefreshToken != "", tok.ExpiresIn)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: "demo-web"}).Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	if idt.Nonce != "nonce-1" {
		t.Errorf("nonce = %q", idt.Nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	var claims struct {
		Email    string `json:"email"`
		Name     string `json:"name"`
		AuthTime int64  `json:"auth_time"`
		SID      string `json:"sid"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.Email != "alice@example.com" || claims.Name != "Alice Example" || claims.AuthTime == 0 || claims.SID == "" {
		t.Errorf("ID token claims = %+v", claims)
	}
	ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if ui.Subject != idt.Subject || ui.Email != "alice@example.com" {
		t.Errorf("userinfo = %+v", ui)
	}
}

func TestUserinfoPOSTAndErrors(t *testing.T) {
	p := authtest.Start(t, nil)
	tok := passwordToken(t, p, "openid email")
	req, _ := http.NewRequest(http.MethodPost, p.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	assertStatus(t, req, http.StatusOK, "")

	noOpenID := passwordToken(t, p, "api.read")
	for _, tc := range []struct {
		name, auth string
		status     int
		errCode    string
	}{
		{"no token", "", http.StatusUnauthorized, ""},
		{"tampered token", "Bearer " + tok[:len(tok)-4] + "AAAA", http.StatusUnauthorized, "invalid_token"},
		{"garbage", "Bearer not-a-jwt", http.StatusUnauthorized, "invalid_token"},
		{"without openid scope", "Bearer " + noOpenID, http.StatusForbidden, "insufficient_scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, p.URL+"/userinfo", nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp := assertStatus(t, req, tc.status, tc.errCode)
			if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

// passwordToken gets an access token for alice through the password grant.
func passwordToken(t *testing.T, p *authtest.Provider, scope string) string {
	t.Helper()
	status, _, body := postToken(t, p, url.Values{"grant_type": {"password"}, "username": {"alice"},
		"password": {"alice-password"}, "scope": {scope}}, "demo-web", "demo-web-secret-not-for-production")
	if status != http.StatusOK {
		t.Fatalf("password grant: %d %v", status, body)
	}
	return body["access_token"].(string)
}

// postToken posts form to the token endpoint, with Basic credentials unless
// user is empty, and checks what every token-endpoint answer must be: JSON
// that no cache keeps.
func postToken(t *testing.T, p *authtest.Provider, form url.Values, user, secret string) (int, http.Header, map[string]any) {
	t.Helper()
	status, hdr, body := postTo(t, p, "/token", form, user, secret)
	if ct := hdr.Get("Content-Type"); ct != "application/json" {
		t.Errorf("token endpoint answered Content-Type %q", ct)
	}
	if cc := hdr.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("token endpoint answered Cache-Control %q", cc)
	}
	if len(body) == 0 {
		t.Errorf("token endpoint answered no JSON object (status %d)", status)
	}
	return status, hdr, body
}

func jsonDecode(resp *http.Response, v any) error {
	return json.NewDecoder(resp.Body).Decode(v)
}

func assertStatus(t *testing.T, req *http.Request, status int, errCode string) *http.Response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != status || (errCode != "" && body["error"] != errCode) {
		t.Fatalf("%s %s: status %d body %v; want %d %s", req.Method, req.URL.Path, resp.StatusCode, body, status, errCode)
	}
	return resp
}

func decodeSegment(t *testing.T, seg string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
