package registration_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/storage"
)

// signIn plays alice from authURL through the login page and the consent
// page back to the client, and returns the redirect. A registered client
// never skips consent, so the consent page must be shown.
func signIn(t *testing.T, p *authtest.Provider, authURL string) *url.URL {
	t.Helper()
	b := p.Browser(t)
	pg := authtest.Get(t, b, authURL)
	if pg.Location != nil || !strings.Contains(pg.Body, `name="password"`) {
		t.Fatalf("no login page: status %d, location %v", pg.Status, pg.Location)
	}
	pg = pg.Submit(t, b, url.Values{"username": {"alice"}, "password": {"alice-password"}})
	if pg.Location != nil || !strings.Contains(pg.Body, `name="decision"`) {
		t.Fatalf("no consent page for a registered client: status %d, location %v", pg.Status, pg.Location)
	}
	pg = pg.Submit(t, b, url.Values{"decision": {"allow"}})
	if pg.Location == nil {
		t.Fatalf("consent did not return to the client: status %d\n%s", pg.Status, pg.Body)
	}
	return pg.Location
}

// codeFlow runs the code flow with PKCE and a nonce for oc, and verifies
// the ID token with go-oidc.
func codeFlow(t *testing.T, p *authtest.Provider, provider *oidc.Provider, oc *oauth2.Config) (*oauth2.Token, *oidc.IDToken) {
	t.Helper()
	ctx := context.Background()
	verifier := oauth2.GenerateVerifier()
	loc := signIn(t, p, oc.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-1")))
	q := loc.Query()
	if q.Get("error") != "" || q.Get("state") != "state-1" || q.Get("code") == "" {
		t.Fatalf("authorization response %s", loc)
	}
	if back, _, _ := strings.Cut(loc.String(), "?"); back != oc.RedirectURL {
		t.Fatalf("redirected to %s, registered %s", loc, oc.RedirectURL)
	}
	tok, err := oc.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: oc.ClientID}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	if idt.Nonce != "nonce-1" {
		t.Errorf("nonce = %q", idt.Nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	return tok, idt
}

// audienceOf reads the aud of a JWT access token (verified by the
// provider; here only its claims matter).
func audienceOf(t *testing.T, jwt string) []string {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("access token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Aud any `json:"aud"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	switch a := claims.Aud.(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, v := range a {
			s, _ := v.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

// TestRegisteredClientsCodeFlow: clients that registered themselves sign
// a user in with x/oauth2 and go-oidc, a confidential web app and a public
// native app (PKCE required), with consent asked, refresh tokens for
// offline_access, access tokens for the default audience, and no
// introspection.
func TestRegisteredClientsCodeFlow(t *testing.T) {
	t.Parallel()
	p := startOpen(t, nil)
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, p.URL)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("confidential web client", func(t *testing.T) {
		const redirect = "http://127.0.0.1:7790/callback"
		r := register(t, p, map[string]any{
			"client_name": "Registered Web App", "redirect_uris": []string{redirect},
			"grant_types": []string{"authorization_code", "refresh_token"}, "scope": "openid profile email offline_access",
		})
		oc := &oauth2.Config{
			ClientID: r.str("client_id"), ClientSecret: r.str("client_secret"), Endpoint: provider.Endpoint(), RedirectURL: redirect,
			Scopes: []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess},
		}
		oc.Endpoint.AuthStyle = oauth2.AuthStyleInHeader // client_secret_basic
		tok, idt := codeFlow(t, p, provider, oc)
		var claims struct {
			Email string `json:"email"`
		}
		if err := idt.Claims(&claims); err != nil || claims.Email != "alice@example.com" {
			t.Errorf("ID token email %q, %v", claims.Email, err)
		}
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token for offline_access")
		}
		if aud := audienceOf(t, tok.AccessToken); !slices.Equal(aud, p.Config.Tokens.DefaultAudience) {
			t.Errorf("access token aud = %v, want tokens.default_audience %v", aud, p.Config.Tokens.DefaultAudience)
		}
		next, err := oc.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil || next.AccessToken == "" {
			t.Fatalf("refresh: %v", err)
		}
		if _, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(next)); err != nil {
			t.Errorf("userinfo with the refreshed token: %v", err)
		}

		form := url.Values{"token": {tok.AccessToken}}
		req, _ := http.NewRequest(http.MethodPost, p.URL+"/introspect", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(oc.ClientID), url.QueryEscape(oc.ClientSecret))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("a registered client may introspect")
		}
	})

	t.Run("public native client", func(t *testing.T) {
		const redirect = "com.example.app:/oauth2redirect"
		r := register(t, p, map[string]any{
			"application_type": "native", "token_endpoint_auth_method": "none", "redirect_uris": []string{redirect}, "scope": "openid email",
		})
		oc := &oauth2.Config{ClientID: r.str("client_id"), Endpoint: provider.Endpoint(), RedirectURL: redirect, Scopes: []string{oidc.ScopeOpenID, "email"}}
		oc.Endpoint.AuthStyle = oauth2.AuthStyleInParams // none: client_id in the form
		tok, _ := codeFlow(t, p, provider, oc)
		if tok.RefreshToken != "" {
			t.Error("a refresh token without the refresh_token grant")
		}

		// Without PKCE, a public client's request is refused before sign-in.
		pg := authtest.Get(t, p.Browser(t), oc.AuthCodeURL("state-2"))
		if pg.Location == nil || pg.Location.Query().Get("error") != "invalid_request" {
			t.Errorf("a public client without PKCE: status %d, location %v; want the error invalid_request", pg.Status, pg.Location)
		}
	})
}

// TestDeleteEndsTheClientsTokens: RFC 7592 §2.3 through the whole path: a
// registered client gets a refresh token, deletes itself, and the token is
// gone with it.
func TestDeleteEndsTheClientsTokens(t *testing.T) {
	t.Parallel()
	p := startOpen(t, nil)
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, p.URL)
	if err != nil {
		t.Fatal(err)
	}
	const redirect = "http://127.0.0.1:7792/callback"
	r := register(t, p, map[string]any{"redirect_uris": []string{redirect}, "grant_types": []string{"authorization_code", "refresh_token"}})
	oc := &oauth2.Config{ClientID: r.str("client_id"), ClientSecret: r.str("client_secret"), Endpoint: provider.Endpoint(), RedirectURL: redirect,
		Scopes: []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess}}
	tok, _ := codeFlow(t, p, provider, oc)
	if _, err := p.App.Store.GetRefreshToken(ctx, storage.Hash(tok.RefreshToken)); err != nil {
		t.Fatalf("the refresh token is not stored: %v", err)
	}

	if got := send(t, http.MethodDelete, r.str("registration_client_uri"), r.str("registration_access_token"), ""); got.Status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", got.Status, got.Raw)
	}
	if _, err := p.App.Store.GetClient(ctx, oc.ClientID); err == nil {
		t.Error("the client is still stored")
	}
	if _, err := p.App.Store.GetRefreshToken(ctx, storage.Hash(tok.RefreshToken)); err == nil {
		t.Error("the deleted client's refresh token is still stored")
	}
	if _, err := oc.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("the deleted client refreshed its token")
	}
}
