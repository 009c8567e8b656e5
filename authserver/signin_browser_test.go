package authserver_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/mfa"
	"github.com/authserver-dev/authserver/config"
)

// Passkeys in a real Chromium with a virtual authenticator (CDP WebAuthn
// domain: CTAP2, internal transport, resident keys, user verification):
// the passkey is enrolled on /account by the page's own form and
// webauthn.js, then used alone from the login page, and as the second
// step after the password. WebAuthn needs a domain name, so the issuer is
// on localhost.

// authenticator is a virtual authenticator of one tab.
type authenticator struct {
	tab context.Context
	id  webauthn.AuthenticatorID
}

// addVirtualAuthenticator gives the tab a platform authenticator that
// holds discoverable credentials and verifies its user, answering at once
// (automatic presence), with the given credentials (from another tab's).
func addVirtualAuthenticator(t *testing.T, tab context.Context, creds ...*webauthn.Credential) *authenticator {
	t.Helper()
	if _, err := chromedp.Call(tab, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(tab, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol:                    webauthn.AuthenticatorProtocolCtap2,
		Ctap2version:                webauthn.Ctap2versionCtap21,
		Transport:                   webauthn.AuthenticatorTransportInternal,
		HasResidentKey:              true,
		HasUserVerification:         true,
		IsUserVerified:              true,
		AutomaticPresenceSimulation: true,
		// This cdproto always sends generateCmtgKeyOnNextOperation, which
		// Chromium refuses unless the authenticator has the extension.
		HasCmtgKey: true,
	}})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	a := &authenticator{tab: tab, id: res.AuthenticatorID}
	for _, c := range creds {
		c := *c
		c.CmtgKeys, c.ActiveCmtgKeyIndex = nil, nil // the enrolling authenticator's own
		if _, err := chromedp.Call(tab, webauthn.AddCredential, webauthn.AddCredentialParams{AuthenticatorID: a.id, Credential: &c}); err != nil {
			t.Fatalf("WebAuthn.addCredential: %v", err)
		}
	}
	return a
}

// credentials are the passkeys the authenticator holds.
func (a *authenticator) credentials(t *testing.T) []*webauthn.Credential {
	t.Helper()
	res, err := chromedp.Call(a.tab, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: a.id})
	if err != nil {
		t.Fatalf("WebAuthn.getCredentials: %v", err)
	}
	return res.Credentials
}

// present sets whether the person touches the authenticator when asked:
// off, a request (the login page's autofill one) waits.
func (a *authenticator) present(t *testing.T, on bool) {
	t.Helper()
	if _, err := chromedp.Call(a.tab, webauthn.SetAutomaticPresenceSimulation,
		webauthn.SetAutomaticPresenceSimulationParams{AuthenticatorID: a.id, Enabled: on}); err != nil {
		t.Fatalf("WebAuthn.setAutomaticPresenceSimulation: %v", err)
	}
}

// chromePress clicks the button css selects, from script: the ceremony it
// starts navigates when it ends, and the click must not wait for that.
func chromePress(t *testing.T, tab context.Context, css string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(css))); err != nil {
		t.Fatalf("waiting for %s: %v", css, err)
	}
	ok, err := chromedp.Run(tab, chromedp.Evaluate[bool](`(function(){var b=document.querySelector(`+jsString(css)+`); if(!b) return false; b.click(); return true})()`))
	if err != nil || !ok {
		t.Fatalf("pressing %s: %v (found %v)", css, err, ok)
	}
}

// callbackQuery waits for the client's redirect URI to be reached.
func callbackQuery(t *testing.T, tab context.Context, cb *rpCallback) url.Values {
	t.Helper()
	select {
	case q := <-cb.got:
		return q
	case <-tab.Done():
		t.Fatal("the browser never came back to the application")
		return nil
	}
}

func TestPasskeyInChromium(t *testing.T) {
	t.Parallel()
	browser := startChromium(t)
	cb := newRPCallback(t)
	const client, secret = "passkey-rp", "passkey-rp-secret-0123456789abcdefgh"
	p := authtest.Start(t, func(c *config.Config) {
		c.Issuer = strings.Replace(c.Issuer, "127.0.0.1", "localhost", 1)
		c.Clients = append(c.Clients, config.Client{ID: client, Name: "Passkey App", Secret: secret, RedirectURIs: []string{cb.url()},
			SkipConsent: true, GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid", "profile"}})
	})
	p.URL = p.Config.Issuer
	op, err := oidc.NewProvider(context.Background(), p.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	oc := &oauth2.Config{ClientID: client, ClientSecret: secret, Endpoint: op.Endpoint(), RedirectURL: cb.url(), Scopes: []string{"openid", "profile"}}
	signedIn := func(t *testing.T, q url.Values, acr string, amr ...string) {
		t.Helper()
		if q.Get("code") == "" {
			t.Fatalf("no code: %v", q)
		}
		tok, err := oc.Exchange(context.Background(), q.Get("code"))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := op.Verifier(&oidc.Config{ClientID: client}).Verify(context.Background(), raw)
		if err != nil {
			t.Fatalf("ID token: %v", err)
		}
		var claims map[string]any
		if err := idt.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		checkSignIn(t, "ID token", claims, acr, amr...)
		ui, err := op.UserInfo(context.Background(), oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		var uiClaims map[string]any
		if err := ui.Claims(&uiClaims); err != nil {
			t.Fatal(err)
		}
		checkSignIn(t, "userinfo", uiClaims, acr, amr...)
	}
	// Enrolled on /account, with the page's form and script.
	tab := chromeTab(t, browser)
	enrolling := addVirtualAuthenticator(t, tab)
	chromeGo(t, tab, p.URL+"/account")
	chromeSignIn(t, tab, "alice", "alice-password")
	chromeType(t, tab, `#passkey_label`, "Virtual authenticator")
	chromePress(t, tab, `form.add-passkey button[type=submit]`)
	if notice := chromeText(t, tab, `p.notice`); !strings.Contains(strings.ToLower(notice), "passkey") {
		t.Fatalf("notice after adding a passkey: %q", notice)
	}
	alice, err := p.App.Store.GetUserByUsername(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if creds := passkeysOf(t, p, alice.ID); len(creds) != 1 || creds[0].Label != "Virtual authenticator" {
		t.Fatalf("stored passkeys: %+v", creds)
	}
	passkey := enrolling.credentials(t)
	if len(passkey) != 1 || !passkey[0].IsResidentCredential {
		t.Fatalf("the authenticator holds %d credentials (want one discoverable)", len(passkey))
	}

	// Each case is a fresh browser (no cookie) whose authenticator holds
	// that passkey. A copy is a clone, which the server detects by its sign
	// count going back; each copy starts the count further on, as the one
	// device the passkey lives on would have.
	copies := 0
	clone := func() []*webauthn.Credential {
		copies++
		c := *passkey[0]
		c.SignCount += float64(1000 * copies)
		return []*webauthn.Credential{&c}
	}
	t.Run("a passkey alone, offered by autofill", func(t *testing.T) {
		tab := chromeTab(t, browser)
		addVirtualAuthenticator(t, tab, clone()...)
		// The login page starts a conditional request as it loads; the
		// virtual authenticator answers it as a person picking the passkey
		// from the username field's autofill would.
		chromeGo(t, tab, oc.AuthCodeURL("st-autofill", oidc.Nonce("n-1")))
		signedIn(t, callbackQuery(t, tab, cb), mfa.ACRPhishingResistant, "hwk", "user", "mfa")
	})
	t.Run("a passkey alone, by its button", func(t *testing.T) {
		tab := chromeTab(t, browser)
		a := addVirtualAuthenticator(t, tab, clone()...)
		a.present(t, false) // the autofill request waits
		chromeGo(t, tab, oc.AuthCodeURL("st-button", oidc.Nonce("n-2")))
		if n := chromeCount(t, tab, `input#username[autocomplete="username webauthn"]`); n != 1 {
			t.Errorf("the username field does not offer passkeys (autocomplete)")
		}
		a.present(t, true)
		chromePress(t, tab, "#passkey-sign-in")
		signedIn(t, callbackQuery(t, tab, cb), mfa.ACRPhishingResistant, "hwk", "user", "mfa")
	})
	t.Run("password then passkey", func(t *testing.T) {
		tab := chromeTab(t, browser)
		a := addVirtualAuthenticator(t, tab, clone()...)
		a.present(t, false) // no autofill sign-in: she types her password
		chromeGo(t, tab, oc.AuthCodeURL("st-second", oidc.Nonce("n-3")))
		chromeSignIn(t, tab, "alice", "alice-password")
		if h := chromeText(t, tab, `h1`); h != "Confirm it is you" {
			t.Fatalf("after the password: %q", h)
		}
		a.present(t, true)
		chromePress(t, tab, "#use-passkey")
		signedIn(t, callbackQuery(t, tab, cb), mfa.ACRPhishingResistant, "pwd", "hwk", "user", "mfa")
	})
}
