package authserver_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/authtest"
)

// idTokenOf is the raw ID token of a token response.
func idTokenOf(t *testing.T, tok *oauth2.Token) string {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("no id_token in the token response")
	}
	return raw
}

// jwtParts decodes a compact JWS's header and payload.
func jwtParts(t *testing.T, raw string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", raw)
	}
	if err := json.Unmarshal(decodeSegment(t, parts[0]), &header); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(decodeSegment(t, parts[1]), &payload); err != nil {
		t.Fatal(err)
	}
	return header, payload
}

// resigned is raw with its claims edited and signed again with the
// provider's own key for the same algorithm: a validly signed token that
// says something else.
func resigned(t *testing.T, p *authtest.Provider, raw string, edit func(map[string]any)) string {
	t.Helper()
	header, payload := jwtParts(t, raw)
	edit(payload)
	b, _ := json.Marshal(payload)
	out, err := p.App.Keys.Sign(header["alg"].(string), nil, b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// loginPrefilled is the username the login page starts with.
func loginPrefilled(t *testing.T, a *consentAttempt) string {
	t.Helper()
	if !a.onLogin() {
		t.Fatalf("expected the login page, got status %d (location %v):\n%s", a.pg.Status, a.pg.Location, a.pg.Body)
	}
	_, fields := a.pg.FormFields(t)
	return fields.Get("username")
}

// oidcc-id-token-hint and OIDC Core §3.1.2.1's id_token_hint: the hinted
// user's session answers prompt=none silently, also with an expired hint;
// another user's session is login_required with prompt=none and otherwise a
// fresh login for the hinted user (username prefilled) that nobody else may
// complete; a hint that is not our valid ID token for this client is
// invalid_request at the redirect URI.
func TestIDTokenHintAtAuthorization(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, nil)
	alice := newConsentRP(t, p)
	aliceTok, aliceID := alice.start("openid profile").login("alice", "alice-password").decide("allow").redeem()
	aliceHint := idTokenOf(t, aliceTok)
	bob := alice.withBrowser()
	bobTok, bobID := bob.start("openid profile").login("bob", "bob-password").decide("allow").redeem()
	bobHint := idTokenOf(t, bobTok)

	t.Run("the signed-in user's hint with prompt=none", func(t *testing.T) {
		if _, idt := alice.start("openid", "prompt", "none", "id_token_hint", aliceHint).redeem(); idt.Subject != aliceID.Subject {
			t.Fatalf("sub %s, want %s", idt.Subject, aliceID.Subject)
		}
	})
	t.Run("another user's hint with prompt=none is login_required", func(t *testing.T) {
		if e := alice.start("openid", "prompt", "none", "id_token_hint", bobHint).authError(); e != "login_required" {
			t.Fatalf("got %s", e)
		}
	})
	t.Run("an expired hint is still a hint", func(t *testing.T) {
		p.Clock.Advance(p.Config.Tokens.IDTokenTTL.Std() + time.Minute)
		if _, claims := jwtParts(t, aliceHint); int64(claims["exp"].(float64)) >= p.Clock.Now().Unix() {
			t.Fatal("the hint has not expired")
		}
		if _, idt := alice.start("openid", "prompt", "none", "id_token_hint", aliceHint).redeem(); idt.Subject != aliceID.Subject {
			t.Fatalf("sub %s, want %s", idt.Subject, aliceID.Subject)
		}
	})
	t.Run("only the hinted user may sign in for it", func(t *testing.T) {
		a := alice.start("openid", "id_token_hint", bobHint)
		if got := loginPrefilled(t, a); got != "bob" {
			t.Fatalf("login page prefilled with %q, want bob", got)
		}
		if e := a.login("alice", "alice-password").authError(); e != "login_required" {
			t.Fatalf("alice signing in for bob's hint: %s, want login_required", e)
		}
		// alice's session is as it was.
		if _, idt := alice.start("openid", "prompt", "none").redeem(); idt.Subject != aliceID.Subject {
			t.Fatalf("sub %s after the refused sign-in, want alice's", idt.Subject)
		}
	})
	t.Run("another user's hint is a fresh login for that user", func(t *testing.T) {
		a := alice.start("openid", "id_token_hint", bobHint)
		if got := loginPrefilled(t, a); got != "bob" {
			t.Fatalf("login page prefilled with %q, want bob", got)
		}
		if _, idt := a.login("bob", "bob-password").redeem(); idt.Subject != bobID.Subject {
			t.Fatalf("sub %s, want bob's %s", idt.Subject, bobID.Subject)
		}
	})

	other := authtest.Start(t, nil)
	status, _, body := postToken(t, other, url.Values{"grant_type": {"password"}, "username": {"alice"},
		"password": {"alice-password"}, "scope": {"openid"}}, "demo-web", "demo-web-secret-not-for-production")
	if status != http.StatusOK {
		t.Fatalf("password grant at the other provider: %d %v", status, body)
	}
	otherIssuers, _ := body["id_token"].(string)
	_, aliceClaims := jwtParts(t, aliceHint)
	tampered := func() string {
		parts := strings.Split(aliceHint, ".")
		aliceClaims["sub"] = bobID.Subject
		b, _ := json.Marshal(aliceClaims)
		aliceClaims["sub"] = aliceID.Subject
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
	}()
	for name, hint := range map[string]string{
		"tampered":                       tampered,
		"another issuer's":               otherIssuers,
		"ours, naming another issuer":    resigned(t, p, aliceHint, func(c map[string]any) { c["iss"] = "https://other.example" }),
		"ours, issued to another client": resigned(t, p, aliceHint, func(c map[string]any) { c["aud"] = "native-app" }),
		"an access token":                aliceTok.AccessToken,
		"not a JWT":                      "not-a-jwt",
	} {
		t.Run(name+" hint is invalid_request", func(t *testing.T) {
			for _, prompt := range []string{"", "none"} {
				if e := alice.start("openid", "prompt", prompt, "id_token_hint", hint).authError(); e != "invalid_request" {
					t.Fatalf("prompt=%q: got %s, want invalid_request", prompt, e)
				}
			}
		})
	}
}

// login_hint prefills the login form's username (OIDC Core §3.1.2.1).
func TestLoginHintPrefillsTheUsername(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, nil)
	rp := newConsentRP(t, p)
	a := rp.start("openid", "login_hint", "bob")
	if got := loginPrefilled(t, a); got != "bob" {
		t.Fatalf("login page prefilled with %q, want bob", got)
	}
	if _, idt := a.login("bob", "bob-password").decide("allow").redeem(); idt.Subject == "" {
		t.Fatal("no sub")
	}
}

// authTimeOf is the ID token's auth_time.
func authTimeOf(t *testing.T, idt *oidc.IDToken) int64 {
	t.Helper()
	var c struct {
		AuthTime int64 `json:"auth_time"`
	}
	if err := idt.Claims(&c); err != nil || c.AuthTime == 0 {
		t.Fatalf("auth_time: %v (%d)", err, c.AuthTime)
	}
	return c.AuthTime
}

// oidcc-max-age-10000, oidcc-max-age-1 and oidcc-prompt-login: a recent
// enough sign-in answers silently with its auth_time; an older one, or
// prompt=login, signs the user in again (and prompt=none cannot), with a
// later auth_time; remembered consent spares the consent page.
func TestMaxAgeAndPromptLogin(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, nil)
	rp := newConsentRP(t, p)
	_, idt := rp.start("openid").login("alice", "alice-password").decide("allow").redeem()
	first := authTimeOf(t, idt)
	p.Clock.Advance(2 * time.Second)

	if _, idt := rp.start("openid", "max_age", "10000", "prompt", "none").redeem(); authTimeOf(t, idt) != first {
		t.Fatalf("max_age=10000: auth_time %d, want the first sign-in's %d", authTimeOf(t, idt), first)
	}
	if e := rp.start("openid", "max_age", "1", "prompt", "none").authError(); e != "login_required" {
		t.Fatalf("max_age=1 with prompt=none after 2s: %s, want login_required", e)
	}
	a := rp.start("openid", "max_age", "1")
	if !strings.Contains(a.pg.Body, "Signed in as") {
		t.Fatalf("max_age=1 after 2s did not ask alice to sign in again:\n%s", a.pg.Body)
	}
	_, idt = a.login("alice", "alice-password").redeem()
	second := authTimeOf(t, idt)
	if second <= first {
		t.Fatalf("auth_time after the new sign-in %d, want later than %d", second, first)
	}

	p.Clock.Advance(2 * time.Second)
	a = rp.start("openid", "prompt", "login")
	if !a.onLogin() {
		t.Fatalf("prompt=login did not show the login page: %d %v", a.pg.Status, a.pg.Location)
	}
	if _, idt = a.login("alice", "alice-password").redeem(); authTimeOf(t, idt) <= second {
		t.Fatalf("prompt=login: auth_time %d, want later than %d", authTimeOf(t, idt), second)
	}
}
