package authserver_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/storage"
)

// A disabled user (storage.User.Disabled, set by the admin service) cannot
// sign in anywhere, and a token that outlived the disabling is refused.

// setDisabled disables or enables a user as the admin service does: the
// store also ends everything the user holds when disabling.
func setDisabled(t *testing.T, p *authtest.Provider, id string, disabled bool) {
	t.Helper()
	if err := p.App.Store.SetUserDisabled(context.Background(), id, disabled, p.Clock.Now()); err != nil {
		t.Fatal(err)
	}
}

// demoPasswordGrant asks demo-web's password grant for username.
func demoPasswordGrant(t *testing.T, p *authtest.Provider, username, pw, scope string) (int, map[string]any) {
	t.Helper()
	status, _, body := postToken(t, p, url.Values{"grant_type": {"password"}, "username": {username}, "password": {pw}, "scope": {scope}},
		"demo-web", "demo-web-secret-not-for-production")
	return status, body
}

// The login form, the account page's login form and the password grant
// refuse a disabled user's right password with the words of a wrong one,
// and audit why.
func TestDisabledUserCannotSignIn(t *testing.T) {
	t.Parallel()
	p, logs := startObserved(t, nil)
	carol := addDatabaseUser(t, p, "carol", "carol-password")
	b := p.Browser(t)
	wrong := loginPage(t, p, b, nil).Submit(t, b, url.Values{"username": {"carol"}, "password": {"not-her-password"}})
	_, wrongGrant := demoPasswordGrant(t, p, "carol", "not-her-password", "openid")
	setDisabled(t, p, carol.ID, true)

	t.Run("login form", func(t *testing.T) {
		got := loginPage(t, p, b, nil).Submit(t, b, url.Values{"username": {"carol"}, "password": {"carol-password"}})
		if got.Status != http.StatusUnauthorized || pageError(got.Body) != pageError(wrong.Body) || pageError(got.Body) == "" {
			t.Fatalf("a disabled user's right password: %d %q, want the wrong password's 401 %q", got.Status, pageError(got.Body), pageError(wrong.Body))
		}
		if signedIn(t, p, b) {
			t.Fatal("a disabled user was signed in")
		}
	})
	t.Run("account page", func(t *testing.T) {
		fresh := p.Browser(t)
		got := authtest.Get(t, fresh, p.URL+"/account").Submit(t, fresh, url.Values{"username": {"carol"}, "password": {"carol-password"}})
		if got.Status != http.StatusUnauthorized || !onAccountLogin(got) || !strings.Contains(got.Body, "The username or password is wrong.") {
			t.Fatalf("a disabled user on /account: %d\n%s", got.Status, got.Body)
		}
	})
	t.Run("password grant", func(t *testing.T) {
		status, body := demoPasswordGrant(t, p, "carol", "carol-password", "openid")
		if status != http.StatusBadRequest || body["error"] != "invalid_grant" || body["error_description"] != wrongGrant["error_description"] {
			t.Fatalf("a disabled user's password grant: %d %v, want the wrong password's %v", status, body, wrongGrant)
		}
	})
	t.Run("audited with the reason", func(t *testing.T) {
		vias := map[string]bool{}
		for _, l := range auditEvents(t, logs, "login.failed") {
			if l.Str("reason") == "disabled" && l.Str("username") == "carol" {
				vias[l.Str("via")] = true
			}
		}
		for _, via := range []string{"login_form", "account_login", "password_grant"} {
			if !vias[via] {
				t.Errorf("no login.failed with reason disabled via %s (got %v)", via, vias)
			}
		}
	})
	t.Run("enabled again", func(t *testing.T) {
		setDisabled(t, p, carol.ID, false)
		if status, body := demoPasswordGrant(t, p, "carol", "carol-password", "openid"); status != http.StatusOK {
			t.Fatalf("an enabled user's password grant: %d %v", status, body)
		}
	})
}

// Disabling revokes the user's refresh families, so the refresh grant
// refuses their tokens; and should a token outlive the disabling (the flag
// set without the revocation), the refresh grant and userinfo refuse it
// for the user's sake.
func TestDisabledUserTokensAreRefused(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, nil)
	ctx := context.Background()

	t.Run("disabling revokes", func(t *testing.T) {
		tok := codeTokens(t, p)
		setDisabled(t, p, userByName(t, p, "alice").ID, true)
		if status, body := refresh(t, p, tok.RefreshToken, "", "demo-web", "demo-web-secret-not-for-production"); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("refresh after disabling: %d %v, want invalid_grant", status, body)
		}
		if status := userinfoStatus(t, p, tok.AccessToken); status != http.StatusUnauthorized {
			t.Fatalf("userinfo after disabling: %d, want 401", status)
		}
	})

	t.Run("a token that survived", func(t *testing.T) {
		addDatabaseUser(t, p, "carol", "carol-password")
		status, body := demoPasswordGrant(t, p, "carol", "carol-password", "openid offline_access")
		if status != http.StatusOK {
			t.Fatalf("password grant: %d %v", status, body)
		}
		// UpsertUser sets the flag and revokes nothing: the tokens live on.
		u := userByName(t, p, "carol")
		u.Disabled = true
		if _, err := p.App.Store.UpsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		rt, _ := body["refresh_token"].(string)
		st, got := refresh(t, p, rt, "", "demo-web", "demo-web-secret-not-for-production")
		if st != http.StatusBadRequest || got["error"] != "invalid_grant" || !strings.Contains(got["error_description"].(string), "disabled") {
			t.Fatalf("refresh of a disabled user's live token: %d %v, want invalid_grant", st, got)
		}
		if families, err := p.App.Store.GetRefreshToken(ctx, storage.Hash(rt)); err != nil || !families.SpentAt.IsZero() {
			t.Errorf("the refused refresh rotated the token: %v %v", families, err)
		}
		at, _ := body["access_token"].(string)
		if status := userinfoStatus(t, p, at); status != http.StatusUnauthorized {
			t.Fatalf("userinfo of a disabled user's live token: %d, want 401", status)
		}
	})
}

// userinfoStatus is the status of a userinfo request with the access token.
func userinfoStatus(t *testing.T, p *authtest.Provider, accessToken string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized && !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("userinfo 401 without invalid_token: %q", resp.Header.Get("WWW-Authenticate"))
	}
	return resp.StatusCode
}
