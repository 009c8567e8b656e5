package authserver_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/authserver-dev/authserver/authserver/authtest"
)

// The account page's sign-in methods in a real Chromium, under the page's
// Content-Security-Policy, with the page's own forms and webauthn.js: a
// passkey made by Chromium's virtual authenticator (addVirtualAuthenticator,
// signin_browser_test.go: CTAP2, internal transport, resident keys, user
// verification), then used alone to sign in to /account and removed; a
// refused ceremony; and an authenticator app confirmed with a code the
// test computes from the secret the page shows.

func TestAccountSignInMethodsInChromium(t *testing.T) {
	t.Parallel()
	browser := startChromium(t)

	t.Run("a passkey: add, sign in with it alone, remove", func(t *testing.T) {
		t.Parallel()
		p := startPasskeyProvider(t, nil, nil)
		base := p.Config.Issuer // localhost: WebAuthn needs a domain name
		alice := userByName(t, p, "alice")
		other := p.Browser(t) // a session that the first passkey ends
		accountSignIn(t, p, other, "alice", "alice-password")
		tab := chromeTab(t, browser)
		authenticator := virtualAuthenticator(t, tab, true)

		chromeGo(t, tab, base+"/account")
		chromeSignIn(t, tab, "alice", "alice-password")
		chromeType(t, tab, `#passkey_label`, "Chromium key")
		chromePress(t, tab, `form.add-passkey button[type=submit]`)
		if notice := chromeText(t, tab, `p.notice`); !strings.Contains(notice, "The passkey has been added") {
			t.Fatalf("notice after adding a passkey: %q", notice)
		}
		if list := chromeText(t, tab, `ul[aria-labelledby=passkeys]`); !strings.Contains(list, "Chromium key") || !strings.Contains(list, "never used") {
			t.Errorf("the passkey list: %q", list)
		}
		creds := passkeysOf(t, p, alice.ID)
		if len(creds) != 1 || creds[0].Label != "Chromium key" {
			t.Fatalf("stored passkeys: %+v", creds)
		}
		onAuthenticator := virtualCredentials(t, tab, authenticator)
		if len(onAuthenticator) != 1 || !onAuthenticator[0].IsResidentCredential ||
			base64.RawURLEncoding.EncodeToString(onAuthenticator[0].CredentialID) != creds[0].ID ||
			string(onAuthenticator[0].UserHandle) != alice.ID {
			t.Fatalf("the authenticator holds %+v; stored %s", onAuthenticator, creds[0].ID)
		}
		if stillSignedIn(t, p, other) {
			t.Error("the first passkey did not end the other session")
		}

		// Sign out with the logout page, then in with the passkey alone.
		chromeGo(t, tab, base+"/logout")
		chromeClick(t, tab, `button[name=decision][value=logout]`)
		chromeGo(t, tab, base+"/account")
		// The login page offers the passkey in the username's autofill
		// (conditional mediation), which the virtual authenticator accepts
		// at once, and by its button: whichever comes first signs in.
		how, err := chromedp.Run(tab, chromedp.Evaluate[string](`(function () {
			if (document.querySelector("section[aria-labelledby=methods]")) return "autofill";
			var b = document.querySelector("#passkey-sign-in");
			if (!b) return "no passkey button";
			b.click();
			return "button";
		})()`))
		if err != nil || how == "no passkey button" {
			t.Fatalf("signing in with the passkey: %q, %v", how, err)
		}
		if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(`section[aria-labelledby=methods]`))); err != nil {
			t.Fatalf("after signing in with the passkey (by %s): %v", how, err)
		}
		t.Logf("signed in with the passkey alone, by the %s", how)
		sessions := sessionsOf(t, p, alice.ID)
		if len(sessions) != 1 || !slices.Contains(sessions[0].AMR, "hwk") || !slices.Contains(sessions[0].AMR, "user") ||
			slices.Contains(sessions[0].AMR, "pwd") {
			t.Errorf("the passkey sign-in's session: %+v", sessions)
		}
		if creds := passkeysOf(t, p, alice.ID); creds[0].LastUsedAt.IsZero() {
			t.Error("the passkey's last use was not recorded")
		}

		// Just signed in, so the page allows removing it.
		chromeClick(t, tab, `button[name=op][value=remove_passkey]`)
		if notice := chromeText(t, tab, `p.notice`); !strings.Contains(notice, "password alone") {
			t.Fatalf("notice after removing the passkey: %q", notice)
		}
		if n := chromeCount(t, tab, `ul[aria-labelledby=passkeys] li`); n != 0 {
			t.Errorf("%d passkeys still listed", n)
		}
		if n := len(passkeysOf(t, p, alice.ID)); n != 0 {
			t.Fatalf("%d passkeys stored after removing", n)
		}
	})

	// The authenticator cannot verify the user: the ceremony fails in the
	// browser, the page says so, and nothing is posted or stored.
	t.Run("a refused ceremony", func(t *testing.T) {
		t.Parallel()
		p := startPasskeyProvider(t, nil, nil)
		tab := chromeTab(t, browser)
		virtualAuthenticator(t, tab, false)
		chromeGo(t, tab, p.Config.Issuer+"/account")
		chromeSignIn(t, tab, "alice", "alice-password")
		chromeType(t, tab, `#passkey_label`, "Unverified")
		chromePress(t, tab, `form.add-passkey button[type=submit]`)
		if status := chromeText(t, tab, `form.add-passkey [data-webauthn-status]`); !strings.Contains(status, "not used") {
			t.Errorf("the page's status after a refused ceremony: %q", status)
		}
		if n := len(passkeysOf(t, p, userByName(t, p, "alice").ID)); n != 0 {
			t.Fatalf("%d passkeys stored", n)
		}
	})

	t.Run("an authenticator app and recovery codes", func(t *testing.T) {
		t.Parallel()
		p := authtest.Start(t, nil) // TOTP needs no domain name
		alice := userByName(t, p, "alice")
		tab := chromeTab(t, browser)

		chromeGo(t, tab, p.URL+"/account")
		chromeSignIn(t, tab, "alice", "alice-password")
		if resp := chromeClick(t, tab, `button[name=op][value=setup_totp]`); resp.Status != http.StatusOK {
			t.Fatalf("setting up: %d", resp.Status)
		}
		if n := chromeCount(t, tab, `figure.totp svg.totp-qr path`); n != 1 {
			t.Errorf("the QR code is not on the page (%d paths)", n)
		}
		secret := chromeText(t, tab, `#totp-secret`)
		code, err := totp.GenerateCode(secret, p.Clock.Now())
		if err != nil {
			t.Fatalf("the secret shown, %q: %v", secret, err)
		}
		chromeType(t, tab, `#totp_code`, code)
		chromeClick(t, tab, `button[name=op][value=confirm_totp]`)
		if notice := chromeText(t, tab, `p.notice`); !strings.Contains(notice, "authenticator app is set up") {
			t.Fatalf("notice after confirming: %q", notice)
		}
		if rec, ok := totpOf(t, p, alice.ID); !ok || rec.ConfirmedAt.IsZero() {
			t.Fatalf("stored app: %+v", rec)
		}

		chromeClick(t, tab, `button[name=op][value=generate_recovery_codes]`)
		if n := chromeCount(t, tab, `ol.recovery-codes li`); n != 10 {
			t.Errorf("%d recovery codes shown, want 10", n)
		}
		chromeGo(t, tab, p.URL+"/account")
		if n := chromeCount(t, tab, `ol.recovery-codes li`); n != 0 {
			t.Error("the recovery codes are shown again")
		}
		if left := chromeText(t, tab, `#recovery-left`); left != "10" {
			t.Errorf("codes left: %q", left)
		}
	})
}

// virtualAuthenticator gives the tab a platform authenticator (CTAP2,
// internal transport) that holds discoverable credentials and has user
// verification, which succeeds when verified is set; it answers at once.
func virtualAuthenticator(t *testing.T, tab context.Context, verified bool) webauthn.AuthenticatorID {
	t.Helper()
	if _, err := chromedp.Call(tab, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(tab, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
		Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
		IsUserVerified: verified, AutomaticPresenceSimulation: true,
	}})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}

// virtualCredentials are the credentials the virtual authenticator id
// holds.
func virtualCredentials(t *testing.T, tab context.Context, id webauthn.AuthenticatorID) []*webauthn.Credential {
	t.Helper()
	res, err := chromedp.Call(tab, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
	if err != nil {
		t.Fatalf("WebAuthn.getCredentials: %v", err)
	}
	return res.Credentials
}
