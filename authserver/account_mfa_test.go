package authserver_test

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/authserver-dev/authserver/authserver"
	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/observe/observetest"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/config"
)

// The tests of the account page's "Sign-in methods" (account_mfa.go) over
// HTTP with the cookie-jar browser and a software authenticator
// (account_mfa_helpers_test.go): every action and every refusal. Chromium
// with a virtual authenticator is in account_mfa_browser_test.go.

// addPasskey adds a passkey made by a with the add form of pg, and returns
// the page the browser lands on.
func addPasskey(t *testing.T, p *authtest.Provider, b *http.Client, pg *authtest.Page, a *accountAuthenticator, label string) *authtest.Page {
	t.Helper()
	options, state := passkeyForm(t, pg.Body)
	return accountPost(t, p, b, pg, "add_passkey", passkeyFields(label, state, a.register(t, options)), sameOriginPost(p))
}

func passkeysOf(t *testing.T, p *authtest.Provider, userID string) []storage.WebAuthnCredential {
	t.Helper()
	creds, err := p.App.Store.ListWebAuthnCredentials(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return creds
}

func totpOf(t *testing.T, p *authtest.Provider, userID string) (storage.TOTP, bool) {
	t.Helper()
	rec, err := p.App.Store.GetTOTP(context.Background(), userID)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.TOTP{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return rec, true
}

func recoveryLeft(t *testing.T, p *authtest.Provider, userID string) int {
	t.Helper()
	n, err := p.App.Store.CountRecoveryCodes(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// wantAccountError fails unless pg is the account page refusing with
// status and an error that contains words.
func wantAccountError(t *testing.T, what string, pg *authtest.Page, status int, words string) {
	t.Helper()
	if pg.Status != status || !onAccount(pg) || !strings.Contains(accountText(accountError, pg.Body), words) {
		t.Fatalf("%s: %d (error %q), want %d with %q:\n%s", what, pg.Status, accountText(accountError, pg.Body), status, words, pg.Body)
	}
}

// wantAccountNotice fails unless pg is the account page after a success
// whose notice contains words.
func wantAccountNotice(t *testing.T, what string, pg *authtest.Page, words string) {
	t.Helper()
	if pg.Status != http.StatusOK || !onAccount(pg) || !strings.Contains(accountText(accountNotice, pg.Body), words) {
		t.Fatalf("%s: %d (notice %q), want the page saying %q:\n%s", what, pg.Status, accountText(accountNotice, pg.Body), words, pg.Body)
	}
}

// signedInElsewhere signs username in on /account in n other browsers.
func signedInElsewhere(t *testing.T, p *authtest.Provider, username, pw string, n int) []*http.Client {
	t.Helper()
	var out []*http.Client
	for range n {
		b := p.Browser(t)
		accountSignIn(t, p, b, username, pw)
		out = append(out, b)
	}
	return out
}

func stillSignedIn(t *testing.T, p *authtest.Provider, b *http.Client) bool {
	t.Helper()
	return onAccount(authtest.Get(t, b, p.URL+"/account"))
}

// totpCode is the authenticator app's code for secret at the provider's now.
func totpCode(t *testing.T, p *authtest.Provider, secret string, offset time.Duration) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, p.Clock.Now().Add(offset))
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// accountSignInWithTOTP signs username in on /account with the password
// and then a code of the authenticator app. The clock moves to the next
// time step first: the current one may be spent.
func accountSignInWithTOTP(t *testing.T, p *authtest.Provider, b *http.Client, username, pw, secret string) *authtest.Page {
	t.Helper()
	p.Clock.Advance(30 * time.Second)
	step := authtest.Get(t, b, p.URL+"/account").Submit(t, b, url.Values{"username": {username}, "password": {pw}})
	action, vals := formWith(t, step, `name="method" value="totp"`)
	vals.Set("code", totpCode(t, p, secret, 0))
	pg := submitForm(t, p, b, step, action, vals)
	if !onAccount(pg) {
		t.Fatalf("signing in with a code as the second step: %d at %s:\n%s", pg.Status, pg.URL, pg.Body)
	}
	return pg
}

// setUpTOTP starts an authenticator app on the page and returns the
// secret it shows.
func setUpTOTP(t *testing.T, p *authtest.Provider, b *http.Client) (string, *authtest.Page) {
	t.Helper()
	pg := accountPost(t, p, b, openAccount(t, p, b), "setup_totp", nil, sameOriginPost(p))
	secret := accountText(accountTOTPSecret, pg.Body)
	if pg.Status != http.StatusOK || secret == "" || !strings.Contains(pg.Body, `<svg xmlns="http://www.w3.org/2000/svg" class="totp-qr"`) {
		t.Fatalf("setup_totp: %d, want the QR code and the secret:\n%s", pg.Status, pg.Body)
	}
	return secret, pg
}

// Adding passkeys: the registration runs for real (a software
// authenticator answers the page's options), the passkey is stored under
// its label for this user, and the first one ends the other sessions.
func TestAccountAddsPasskeys(t *testing.T) {
	t.Parallel()
	logs := &observetest.Logs{}
	p := startPasskeyProvider(t, logs, nil)
	alice := userByName(t, p, "alice")
	others := signedInElsewhere(t, p, "alice", "alice-password", 2)
	bobs := signedInElsewhere(t, p, "bob", "bob-password", 1)[0]
	b := p.Browser(t)
	pg := accountSignIn(t, p, b, "alice", "alice-password")
	if !strings.Contains(pg.Body, `<script src="/static/webauthn.`) || !strings.Contains(pg.Body, "You have no passkey.") {
		t.Fatalf("the page does not offer to add a passkey:\n%s", pg.Body)
	}

	laptop := newAccountAuthenticator(t, passkeyOrigin(p))
	got := addPasskey(t, p, b, pg, laptop, "  Work laptop ")
	wantAccountNotice(t, "the first passkey", got, "every other session has ended")
	creds := passkeysOf(t, p, alice.ID)
	if len(creds) != 1 || creds[0].ID != laptop.credentialID() || creds[0].Label != "Work laptop" || creds[0].UserID != alice.ID ||
		!creds[0].CreatedAt.Equal(p.Clock.Now().Truncate(time.Second)) && creds[0].CreatedAt.IsZero() {
		t.Fatalf("stored passkeys: %+v", creds)
	}
	if !strings.Contains(got.Body, "<strong>Work laptop</strong>") || !strings.Contains(got.Body, "never used") {
		t.Errorf("the page does not list the passkey:\n%s", got.Body)
	}
	for i, o := range others {
		if stillSignedIn(t, p, o) {
			t.Errorf("alice's other session %d survived her first passkey", i)
		}
	}
	if !stillSignedIn(t, p, b) || !stillSignedIn(t, p, bobs) {
		t.Fatal("this browser, or bob, was signed out")
	}

	// A second passkey is no first factor: other sessions stay.
	phoneBrowser := p.Browser(t)
	accountSignInWithPasskey(t, p, phoneBrowser, "alice", "alice-password", laptop)
	phone := newAccountAuthenticator(t, passkeyOrigin(p))
	wantAccountNotice(t, "a second passkey", addPasskey(t, p, b, openAccount(t, p, b), phone, "Phone"), "The passkey has been added.")
	if n := len(passkeysOf(t, p, alice.ID)); n != 2 {
		t.Fatalf("%d passkeys, want 2", n)
	}
	if !stillSignedIn(t, p, phoneBrowser) {
		t.Error("a second passkey ended the other sessions")
	}

	// No label: the ceremony has made the passkey by then, so it gets a name.
	key := newAccountAuthenticator(t, passkeyOrigin(p))
	addPasskey(t, p, b, openAccount(t, p, b), key, "")
	if creds := passkeysOf(t, p, alice.ID); len(creds) != 3 || creds[2].Label != "Passkey" {
		t.Errorf("a passkey without a label: %+v", creds)
	}

	ev := auditEvents(t, logs, "mfa.enrolled")
	if len(ev) != 3 || ev[0].Str("by") != "account" || ev[0].Str("factor") != "passkey" || ev[0].Str("user_id") != alice.ID ||
		ev[0].Str("passkey_id") != laptop.credentialID() || ev[0].Raw == "" || !strings.Contains(ev[0].Raw, `"first":true`) ||
		!strings.Contains(ev[1].Raw, `"first":false`) {
		t.Errorf("audit mfa.enrolled: %v", ev)
	}
	if ended := auditEvents(t, logs, "session.ended"); len(ended) != 2 {
		t.Errorf("%d session.ended events, want the 2 other sessions", len(ended))
	}
}

// What the add form refuses: no response (no JavaScript), a state used
// once already, another page's state for another user, a label too long,
// a response to another challenge; none stores a passkey.
func TestAccountRefusesBadPasskeys(t *testing.T) {
	t.Parallel()
	p := startPasskeyProvider(t, nil, nil)
	alice := userByName(t, p, "alice")
	b := p.Browser(t)
	pg := accountSignIn(t, p, b, "alice", "alice-password")
	bobs := p.Browser(t)
	bobPage := accountSignIn(t, p, bobs, "bob", "bob-password")
	_, bobState := passkeyForm(t, bobPage.Body)

	options, state := passkeyForm(t, pg.Body)
	a := newAccountAuthenticator(t, passkeyOrigin(p))
	response := a.register(t, options)
	otherOptions, _ := passkeyForm(t, openAccount(t, p, b).Body)
	long := strings.Repeat("é", 65)

	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		words  string
	}{
		{"no response (no JavaScript)", passkeyFields("Laptop", state, ""), http.StatusBadRequest, "needs JavaScript"},
		{"no state", passkeyFields("Laptop", "", response), http.StatusBadRequest, "Try again"},
		{"a forged state", passkeyFields("Laptop", state[:len(state)-4]+"AAAA", response), http.StatusBadRequest, "Try again"},
		{"bob's state", passkeyFields("Laptop", bobState, response), http.StatusBadRequest, "Try again"},
		{"a response to another challenge", passkeyFields("Laptop", state, a.register(t, otherOptions)), http.StatusBadRequest, "not accepted"},
		{"a label of 65 characters", passkeyFields(long, state, response), http.StatusBadRequest, "at most 64 characters"},
		{"a response of another origin", passkeyFields("Laptop", state, (&accountAuthenticator{key: a.key, id: a.id, origin: otherPort(t, p)}).register(t, options)),
			http.StatusBadRequest, "not accepted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantAccountError(t, tc.name, accountPost(t, p, b, pg, "add_passkey", tc.form, sameOriginPost(p)), tc.status, tc.words)
			if n := len(passkeysOf(t, p, alice.ID)); n != 0 {
				t.Fatalf("%d passkeys stored", n)
			}
		})
	}

	// The good answer works once: the same state and response again are a
	// replay.
	wantAccountNotice(t, "the good answer", accountPost(t, p, b, pg, "add_passkey", passkeyFields("Laptop", state, response), sameOriginPost(p)), "added")
	again := accountPost(t, p, b, pg, "add_passkey", passkeyFields("Laptop", state, response), sameOriginPost(p))
	wantAccountError(t, "the same ceremony again", again, http.StatusBadRequest, "Try again")
	// A new ceremony with an authenticator already registered: the store's id is unique.
	wantAccountError(t, "the same passkey twice", addPasskey(t, p, b, openAccount(t, p, b), a, "Again"), http.StatusConflict, "already registered")
	if n := len(passkeysOf(t, p, alice.ID)); n != 1 {
		t.Fatalf("%d passkeys stored, want 1", n)
	}
}

// Renaming and removing name the user's own passkeys only: another user's
// id is answered as one that does not exist, and changes nothing. Removing
// the last factor takes the recovery codes along and ends the other
// sessions.
func TestAccountRenamesAndRemovesPasskeys(t *testing.T) {
	t.Parallel()
	logs := &observetest.Logs{}
	p := startPasskeyProvider(t, logs, nil)
	alice, bob := userByName(t, p, "alice"), userByName(t, p, "bob")
	bobs := p.Browser(t)
	bobKey := newAccountAuthenticator(t, passkeyOrigin(p))
	addPasskey(t, p, bobs, accountSignIn(t, p, bobs, "bob", "bob-password"), bobKey, "Bob's key")

	b := p.Browser(t)
	accountSignIn(t, p, b, "alice", "alice-password")
	laptop, phone := newAccountAuthenticator(t, passkeyOrigin(p)), newAccountAuthenticator(t, passkeyOrigin(p))
	addPasskey(t, p, b, openAccount(t, p, b), laptop, "Laptop")
	addPasskey(t, p, b, openAccount(t, p, b), phone, "Phone")
	accountPost(t, p, b, openAccount(t, p, b), "generate_recovery_codes", nil, sameOriginPost(p))
	pg := openAccount(t, p, b)
	if ids := accountValues(accountPasskeyIDs, pg.Body); !slices.Equal(ids, []string{laptop.credentialID(), phone.credentialID()}) {
		t.Fatalf("the page lists passkeys %v", ids)
	}

	t.Run("rename", func(t *testing.T) {
		got := accountPost(t, p, b, pg, "rename_passkey", url.Values{"passkey": {laptop.credentialID()}, "label": {"Old laptop"}}, sameOriginPost(p))
		wantAccountNotice(t, "rename", got, "renamed")
		if creds := passkeysOf(t, p, alice.ID); creds[0].Label != "Old laptop" {
			t.Errorf("label after renaming: %q", creds[0].Label)
		}
		for _, tc := range []struct {
			name string
			form url.Values
			code int
		}{
			{"bob's passkey", url.Values{"passkey": {bobKey.credentialID()}, "label": {"Mine now"}}, http.StatusNotFound},
			{"no such passkey", url.Values{"passkey": {"AAAA"}, "label": {"x"}}, http.StatusNotFound},
			{"no id", url.Values{"label": {"x"}}, http.StatusNotFound},
			{"an empty label", url.Values{"passkey": {laptop.credentialID()}, "label": {"   "}}, http.StatusBadRequest},
			{"a label with a control character", url.Values{"passkey": {laptop.credentialID()}, "label": {"a\x00b"}}, http.StatusBadRequest},
		} {
			got := accountPost(t, p, b, pg, "rename_passkey", tc.form, sameOriginPost(p))
			if got.Status != tc.code || !onAccount(got) {
				t.Errorf("rename %s: %d, want %d", tc.name, got.Status, tc.code)
			}
		}
		if creds := passkeysOf(t, p, bob.ID); creds[0].Label != "Bob's key" {
			t.Errorf("bob's passkey was renamed to %q", creds[0].Label)
		}
	})

	t.Run("remove another user's", func(t *testing.T) {
		wantAccountError(t, "bob's passkey", accountPost(t, p, b, pg, "remove_passkey", url.Values{"passkey": {bobKey.credentialID()}}, sameOriginPost(p)),
			http.StatusNotFound, "not one of yours")
		wantAccountError(t, "no id", accountPost(t, p, b, pg, "remove_passkey", nil, sameOriginPost(p)), http.StatusNotFound, "not one of yours")
		if n := len(passkeysOf(t, p, bob.ID)); n != 1 {
			t.Fatalf("bob has %d passkeys", n)
		}
	})

	t.Run("remove one of two", func(t *testing.T) {
		other := p.Browser(t)
		accountSignInWithPasskey(t, p, other, "alice", "alice-password", phone)
		got := accountPost(t, p, b, pg, "remove_passkey", url.Values{"passkey": {laptop.credentialID()}}, sameOriginPost(p))
		wantAccountNotice(t, "remove", got, "The passkey has been removed.")
		if creds := passkeysOf(t, p, alice.ID); len(creds) != 1 || creds[0].ID != phone.credentialID() {
			t.Fatalf("left: %+v", creds)
		}
		if !stillSignedIn(t, p, other) || recoveryLeft(t, p, alice.ID) != 10 {
			t.Error("removing one of two passkeys ended the other sessions or the recovery codes")
		}
	})

	t.Run("remove the last", func(t *testing.T) {
		other := p.Browser(t)
		accountSignInWithPasskey(t, p, other, "alice", "alice-password", phone)
		got := accountPost(t, p, b, openAccount(t, p, b), "remove_passkey", url.Values{"passkey": {phone.credentialID()}}, sameOriginPost(p))
		wantAccountNotice(t, "remove the last", got, "password alone")
		if n := len(passkeysOf(t, p, alice.ID)); n != 0 {
			t.Fatalf("%d passkeys left", n)
		}
		if n := recoveryLeft(t, p, alice.ID); n != 0 {
			t.Errorf("%d recovery codes outlived the last factor", n)
		}
		if stillSignedIn(t, p, other) {
			t.Error("the other session survived the removal of the last factor")
		}
		if !stillSignedIn(t, p, b) || !stillSignedIn(t, p, bobs) {
			t.Error("this browser, or bob, was signed out")
		}
		ev := auditEvents(t, logs, "mfa.removed")
		if len(ev) != 2 || ev[0].Str("passkey_id") != laptop.credentialID() || !strings.Contains(ev[0].Raw, `"last":false`) ||
			ev[1].Str("passkey_id") != phone.credentialID() || !strings.Contains(ev[1].Raw, `"last":true`) ||
			ev[1].Str("by") != "account" || ev[1].Str("factor") != "passkey" || ev[1].Str("user_id") != alice.ID {
			t.Errorf("audit mfa.removed: %v", ev)
		}
	})
}

// A user who must use a second factor (require_mfa) cannot remove the
// last one; with two, either can go.
func TestAccountKeepsTheLastFactorOfARequiredUser(t *testing.T) {
	t.Parallel()
	p := startPasskeyProvider(t, nil, func(c *config.Config) {
		c.Users = append(c.Users, config.User{Username: "dora", Password: "dora-password", RequireMFA: true})
	})
	dora := userByName(t, p, "dora")
	b := p.Browser(t)
	// Without a factor yet, require_mfa lets her sign in to /account, to
	// enrol one.
	pg := accountSignIn(t, p, b, "dora", "dora-password")
	if !strings.Contains(pg.Body, "keep at least one passkey") {
		t.Errorf("the page does not say that a factor is required:\n%s", pg.Body)
	}
	key := newAccountAuthenticator(t, passkeyOrigin(p))
	wantAccountNotice(t, "her first passkey", addPasskey(t, p, b, pg, key, "Key"), "added")
	got := accountPost(t, p, b, openAccount(t, p, b), "remove_passkey", url.Values{"passkey": {key.credentialID()}}, sameOriginPost(p))
	wantAccountError(t, "removing the last factor of a required user", got, http.StatusConflict, "requires a second sign-in step")
	if n := len(passkeysOf(t, p, dora.ID)); n != 1 {
		t.Fatalf("%d passkeys left", n)
	}
	secret, pg := setUpTOTP(t, p, b)
	wantAccountNotice(t, "her app", accountPost(t, p, b, pg, "confirm_totp", url.Values{"code": {totpCode(t, p, secret, 0)}}, sameOriginPost(p)), "set up")
	wantAccountNotice(t, "removing one of two", accountPost(t, p, b, openAccount(t, p, b), "remove_totp", nil, sameOriginPost(p)), "removed")
}

// The authenticator app: set up (the QR code and the secret, shown once,
// stored sealed and unconfirmed), a wrong code keeps it unconfirmed, the
// right one confirms it (and, as the first factor, ends the other
// sessions), a replayed one is refused, and it can be removed.
func TestAccountSetsUpTOTP(t *testing.T) {
	t.Parallel()
	logs := &observetest.Logs{}
	p := startPasskeyProvider(t, logs, nil)
	alice := userByName(t, p, "alice")
	others := signedInElsewhere(t, p, "alice", "alice-password", 1)
	b := p.Browser(t)
	accountSignIn(t, p, b, "alice", "alice-password")

	secret, pg := setUpTOTP(t, p, b)
	rec, ok := totpOf(t, p, alice.ID)
	if !ok || !rec.ConfirmedAt.IsZero() || rec.Secret == "" || strings.Contains(rec.Secret, secret) {
		t.Fatalf("stored authenticator: %+v (want it sealed and unconfirmed)", rec)
	}
	if again := openAccount(t, p, b); strings.Contains(again.Body, secret) || strings.Contains(again.Body, "<svg") ||
		!strings.Contains(again.Body, `value="confirm_totp"`) {
		t.Errorf("the next page shows the secret again, or no way to finish:\n%s", again.Body)
	}
	if !stillSignedIn(t, p, others[0]) {
		t.Fatal("an unconfirmed app ended the other sessions")
	}

	wrong := "000000"
	if wrong == totpCode(t, p, secret, 0) {
		wrong = "111111"
	}
	for _, code := range []string{wrong, "12345", "abcdef", ""} {
		wantAccountError(t, "code "+code, accountPost(t, p, b, pg, "confirm_totp", url.Values{"code": {code}}, sameOriginPost(p)),
			http.StatusBadRequest, "not right")
	}
	if rec, _ := totpOf(t, p, alice.ID); !rec.ConfirmedAt.IsZero() {
		t.Fatal("a wrong code confirmed the app")
	}
	// A code of the step two steps back is outside the ±1 step window.
	wantAccountError(t, "an old code", accountPost(t, p, b, pg, "confirm_totp", url.Values{"code": {totpCode(t, p, secret, -61*time.Second)}}, sameOriginPost(p)),
		http.StatusBadRequest, "not right")

	code := totpCode(t, p, secret, 0)
	wantAccountNotice(t, "the right code", accountPost(t, p, b, pg, "confirm_totp", url.Values{"code": {code}}, sameOriginPost(p)),
		"every other session has ended")
	if rec, _ := totpOf(t, p, alice.ID); rec.ConfirmedAt.IsZero() || rec.LastStep == 0 {
		t.Fatalf("after the right code: %+v", rec)
	}
	if stillSignedIn(t, p, others[0]) {
		t.Error("the other session survived the first factor")
	}
	wantAccountError(t, "the same code again", accountPost(t, p, b, pg, "confirm_totp", url.Values{"code": {code}}, sameOriginPost(p)),
		http.StatusConflict, "set up already")
	wantAccountError(t, "a second app", accountPost(t, p, b, pg, "setup_totp", nil, sameOriginPost(p)), http.StatusConflict, "remove it first")
	if shown := openAccount(t, p, b); !strings.Contains(shown.Body, `value="remove_totp"`) || strings.Contains(shown.Body, secret) {
		t.Errorf("the page of a confirmed app:\n%s", shown.Body)
	}
	ev := auditEvents(t, logs, "mfa.enrolled")
	if len(ev) != 1 || ev[0].Str("factor") != "totp" || ev[0].Str("by") != "account" || !strings.Contains(ev[0].Raw, `"first":true`) {
		t.Errorf("audit mfa.enrolled: %v", ev)
	}
	if strings.Contains(logs.String(), secret) || strings.Contains(logs.String(), code) {
		t.Error("the secret or a code reached the log")
	}

	other := p.Browser(t)
	accountSignInWithTOTP(t, p, other, "alice", "alice-password", secret)
	wantAccountNotice(t, "remove", accountPost(t, p, b, pg, "remove_totp", nil, sameOriginPost(p)), "password alone")
	if _, ok := totpOf(t, p, alice.ID); ok {
		t.Fatal("the app is still stored")
	}
	if stillSignedIn(t, p, other) {
		t.Error("the other session survived the removal of the last factor")
	}
	if ev := auditEvents(t, logs, "mfa.removed"); len(ev) != 1 || ev[0].Str("factor") != "totp" || !strings.Contains(ev[0].Raw, `"last":true`) {
		t.Errorf("audit mfa.removed: %v", ev)
	}
	wantAccountError(t, "remove none", accountPost(t, p, b, pg, "remove_totp", nil, sameOriginPost(p)), http.StatusNotFound, "no authenticator app")
	wantAccountError(t, "confirm none", accountPost(t, p, b, pg, "confirm_totp", url.Values{"code": {"123456"}}, sameOriginPost(p)),
		http.StatusNotFound, "set one up first")
}

// Starting again replaces an unconfirmed secret (the old one's codes no
// longer confirm), cancelling deletes it without an audit event, and of
// two posts of one code at once exactly one confirms.
func TestAccountTOTPSetupRestartsAndConfirmsOnce(t *testing.T) {
	t.Parallel()
	logs := &observetest.Logs{}
	p := startPasskeyProvider(t, logs, nil)
	alice := userByName(t, p, "alice")
	b := p.Browser(t)
	accountSignIn(t, p, b, "alice", "alice-password")

	first, _ := setUpTOTP(t, p, b)
	wantAccountNotice(t, "cancel", accountPost(t, p, b, openAccount(t, p, b), "remove_totp", nil, sameOriginPost(p)), "cancelled")
	if _, ok := totpOf(t, p, alice.ID); ok {
		t.Fatal("a cancelled set-up is still stored")
	}
	if ev := auditEvents(t, logs, "mfa.removed"); len(ev) != 0 {
		t.Errorf("cancelling a set-up was audited as a removal: %v", ev)
	}
	setUpTOTP(t, p, b)
	second, pg := setUpTOTP(t, p, b) // start again
	if second == first {
		t.Fatal("starting again showed the same secret")
	}
	wantAccountError(t, "a code of the replaced secret", accountPost(t, p, b, pg, "confirm_totp", url.Values{"code": {totpCode(t, p, first, 0)}}, sameOriginPost(p)),
		http.StatusBadRequest, "not right")

	code := totpCode(t, p, second, 0)
	var wg sync.WaitGroup
	statuses := make([]int, 4)
	for i := range statuses {
		wg.Go(func() {
			statuses[i] = accountPost(t, p, b, pg, "confirm_totp", url.Values{"code": {code}}, sameOriginPost(p)).Status
		})
	}
	wg.Wait()
	if n := len(auditEvents(t, logs, "mfa.enrolled")); n != 1 {
		t.Errorf("%d posts of one code confirmed the app (statuses %v), want exactly 1", n, statuses)
	}
	if rec, _ := totpOf(t, p, alice.ID); rec.ConfirmedAt.IsZero() {
		t.Fatalf("not confirmed: %+v (statuses %v)", rec, statuses)
	}
}

// Recovery codes: only with a factor to back up; ten, shown once, stored
// as hashes only; new ones make the old ones useless.
func TestAccountRecoveryCodes(t *testing.T) {
	t.Parallel()
	logs := &observetest.Logs{}
	p := startPasskeyProvider(t, logs, nil)
	alice := userByName(t, p, "alice")
	ctx := context.Background()
	svc := authserver.MFA(p.App.Server)
	b := p.Browser(t)
	pg := accountSignIn(t, p, b, "alice", "alice-password")
	if strings.Contains(pg.Body, `value="generate_recovery_codes"`) {
		t.Error("recovery codes are offered without a factor to back up")
	}
	wantAccountError(t, "without a factor", accountPost(t, p, b, pg, "generate_recovery_codes", nil, sameOriginPost(p)),
		http.StatusConflict, "first")
	if n := recoveryLeft(t, p, alice.ID); n != 0 {
		t.Fatalf("%d codes without a factor", n)
	}

	addPasskey(t, p, b, openAccount(t, p, b), newAccountAuthenticator(t, passkeyOrigin(p)), "Laptop")
	got := accountPost(t, p, b, openAccount(t, p, b), "generate_recovery_codes", nil, sameOriginPost(p))
	codes := accountValues(accountRecoveryCodes, got.Body)
	if got.Status != http.StatusOK || len(codes) != 10 || !strings.Contains(got.Body, "shown only this once") {
		t.Fatalf("generate: %d, %d codes:\n%s", got.Status, len(codes), got.Body)
	}
	if n := recoveryLeft(t, p, alice.ID); n != 10 {
		t.Fatalf("%d codes stored, want 10", n)
	}
	hashes := storedRecoveryHashes(t, p, alice.ID)
	for _, c := range codes {
		if !slices.Contains(hashes, svc.HashRecoveryCode(c)) {
			t.Errorf("code %s is not stored as its hash", c)
		}
		for _, h := range hashes {
			if strings.Contains(strings.ToUpper(h), strings.ReplaceAll(c, "-", "")) || strings.Contains(h, c) {
				t.Errorf("code %s is stored in the clear", c)
			}
		}
	}
	shown := openAccount(t, p, b)
	if len(accountValues(accountRecoveryCodes, shown.Body)) != 0 || !strings.Contains(shown.Body, `<strong id="recovery-left">10</strong>`) {
		t.Errorf("the next page shows the codes again, or not how many are left:\n%s", shown.Body)
	}
	if err := p.App.Store.UseRecoveryCode(ctx, alice.ID, svc.HashRecoveryCode(codes[0]), p.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	if shown := openAccount(t, p, b); !strings.Contains(shown.Body, `<strong id="recovery-left">9</strong>`) {
		t.Errorf("one spent: the page does not say 9 are left")
	}

	again := accountPost(t, p, b, openAccount(t, p, b), "generate_recovery_codes", nil, sameOriginPost(p))
	fresh := accountValues(accountRecoveryCodes, again.Body)
	if len(fresh) != 10 || slices.ContainsFunc(fresh, func(c string) bool { return slices.Contains(codes, c) }) {
		t.Fatalf("regenerated codes %v overlap the old %v", fresh, codes)
	}
	if err := p.App.Store.UseRecoveryCode(ctx, alice.ID, svc.HashRecoveryCode(codes[1]), p.Clock.Now()); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("an old code after regenerating: %v, want ErrNotFound", err)
	}
	if err := p.App.Store.UseRecoveryCode(ctx, alice.ID, svc.HashRecoveryCode(fresh[1]), p.Clock.Now()); err != nil {
		t.Errorf("a new code: %v", err)
	}
	ev := auditEvents(t, logs, "mfa.recovery_codes_generated")
	if len(ev) != 2 || ev[0].Str("by") != "account" || ev[0].Str("user_id") != alice.ID || !strings.Contains(ev[0].Raw, `"count":10`) ||
		!strings.Contains(ev[1].Raw, `"replaced_unused":9`) {
		t.Errorf("audit: %v", ev)
	}
	all := logs.String()
	for _, c := range append(codes, fresh...) {
		if strings.Contains(all, c) {
			t.Fatalf("recovery code %s reached the log", c)
		}
	}
}

// storedRecoveryHashes reads the recovery_codes table of the provider's
// SQLite file directly, to see what is stored.
func storedRecoveryHashes(t *testing.T, p *authtest.Provider, userID string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", p.Config.Storage.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT code_hash FROM recovery_codes WHERE user_id = ?`, userID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(h) {
			t.Errorf("stored recovery code %q is not a hash", h)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Changes need a recent sign-in: ten minutes after signing in, the page
// asks for the password, every change but renaming is refused until it is
// given (through the sign-in's throttle), and the confirmation is worth
// nothing in another session.
func TestAccountChangesNeedARecentSignIn(t *testing.T) {
	t.Parallel()
	logs := &observetest.Logs{}
	p := startPasskeyProvider(t, logs, nil)
	alice := userByName(t, p, "alice")
	b := p.Browser(t)
	accountSignIn(t, p, b, "alice", "alice-password")
	key := newAccountAuthenticator(t, passkeyOrigin(p))
	addPasskey(t, p, b, openAccount(t, p, b), key, "Laptop")
	secret, _ := setUpTOTP(t, p, b)
	stale := openAccount(t, p, b)
	other := p.Browser(t) // alice's other session, as old as this one
	accountSignInWithPasskey(t, p, other, "alice", "alice-password", key)

	p.Clock.Advance(11 * time.Minute)
	pg := openAccount(t, p, b)
	if !strings.Contains(pg.Body, `value="reauthenticate"`) || strings.Contains(pg.Body, `data-webauthn="register"`) ||
		strings.Contains(pg.Body, `value="remove_passkey"`) {
		t.Fatalf("eleven minutes after signing in, the page still offers changes:\n%s", pg.Body)
	}
	options, state := passkeyForm(t, stale.Body)
	for _, tc := range []struct {
		op   string
		form url.Values
	}{
		{"add_passkey", passkeyFields("New", state, newAccountAuthenticator(t, passkeyOrigin(p)).register(t, options))},
		{"remove_passkey", url.Values{"passkey": {key.credentialID()}}},
		{"setup_totp", nil},
		{"confirm_totp", url.Values{"code": {totpCode(t, p, secret, 0)}}},
		{"remove_totp", nil},
		{"generate_recovery_codes", nil},
	} {
		got := accountPost(t, p, b, pg, tc.op, tc.form, sameOriginPost(p))
		wantAccountError(t, tc.op+" without a recent sign-in", got, http.StatusForbidden, "Confirm your password first")
		if !strings.Contains(got.Body, `value="reauthenticate"`) {
			t.Errorf("%s: the refusal does not ask for the password", tc.op)
		}
	}
	if n := len(passkeysOf(t, p, alice.ID)); n != 1 {
		t.Fatalf("%d passkeys after refused changes", n)
	}
	if rec, ok := totpOf(t, p, alice.ID); !ok || !rec.ConfirmedAt.IsZero() {
		t.Fatalf("the app after refused changes: %+v %v", rec, ok)
	}
	if n := recoveryLeft(t, p, alice.ID); n != 0 {
		t.Fatalf("%d recovery codes after a refused change", n)
	}
	wantAccountNotice(t, "renaming", accountPost(t, p, b, pg, "rename_passkey", url.Values{"passkey": {key.credentialID()}, "label": {"Laptop 2"}}, sameOriginPost(p)), "renamed")

	wantAccountError(t, "a wrong password", accountPost(t, p, b, pg, "reauthenticate", url.Values{"current_password": {"not-her-password"}}, sameOriginPost(p)),
		http.StatusUnauthorized, "wrong")
	if ev := auditEvents(t, logs, "login.failed"); len(ev) != 1 || ev[0].Str("via") != "account_reauth" {
		t.Errorf("a wrong password was not audited: %v", ev)
	}
	wantAccountError(t, "no password", accountPost(t, p, b, pg, "reauthenticate", nil, sameOriginPost(p)), http.StatusBadRequest, "Enter your password")
	sessionBefore := sessionsOf(t, p, alice.ID)
	got := accountPost(t, p, b, pg, "reauthenticate", url.Values{"current_password": {"alice-password"}}, sameOriginPost(p))
	wantAccountNotice(t, "the right password", got, "next 10 minutes")
	if !strings.Contains(got.Body, `data-webauthn="register"`) {
		t.Fatal("after confirming the password, the page offers no change")
	}
	same := func(a, b storage.Session) bool { return a.IDHash == b.IDHash && a.AuthTime.Equal(b.AuthTime) }
	if after := sessionsOf(t, p, alice.ID); !slices.EqualFunc(after, sessionBefore, same) {
		t.Errorf("confirming the password replaced the session: %+v, was %+v", after, sessionBefore)
	}
	wantAccountNotice(t, "generate after confirming", accountPost(t, p, b, got, "generate_recovery_codes", nil, sameOriginPost(p)), "shown only this once")

	// The proof is bound to the session: with every cookie of this browser
	// but its session, in another session of alice's, it is nothing.
	p.Clock.Advance(9 * time.Minute)
	if pg := openAccount(t, p, b); strings.Contains(pg.Body, `value="reauthenticate"`) {
		t.Fatal("the password confirmation lasts less than ten minutes")
	}
	u, _ := url.Parse(p.URL + "/account")
	mixed, _ := cookiejar.New(nil)
	for _, c := range other.Jar.Cookies(u) {
		if c.Name == "authserver_session" {
			mixed.SetCookies(u, []*http.Cookie{{Name: c.Name, Value: c.Value, Path: "/"}})
		}
	}
	for _, c := range b.Jar.Cookies(u) {
		if c.Name != "authserver_session" {
			mixed.SetCookies(u, []*http.Cookie{{Name: c.Name, Value: c.Value, Path: "/"}})
		}
	}
	other.Jar = mixed
	if pg := openAccount(t, p, other); !strings.Contains(pg.Body, `value="reauthenticate"`) {
		t.Error("another session's password confirmation counts in this one")
	}
	p.Clock.Advance(2 * time.Minute)
	// And it lasts ten minutes.
	if pg := openAccount(t, p, b); !strings.Contains(pg.Body, `value="reauthenticate"`) {
		t.Error("a password confirmation still counts after eleven minutes")
	}
}

// Every change passes the page's checks: its own CSRF token, from the
// provider's origin; a refused form changes nothing.
func TestAccountMethodFormsAreGuarded(t *testing.T) {
	t.Parallel()
	p := startPasskeyProvider(t, nil, nil)
	alice := userByName(t, p, "alice")
	b := p.Browser(t)
	accountSignIn(t, p, b, "alice", "alice-password")
	key := newAccountAuthenticator(t, passkeyOrigin(p))
	addPasskey(t, p, b, openAccount(t, p, b), key, "Laptop")
	pg := openAccount(t, p, b)
	options, state := passkeyForm(t, pg.Body)
	clientLogin := loginPage(t, p, p.Browser(t), nil)
	_, clientFields := clientLogin.FormFields(t)

	ops := []struct {
		op   string
		form url.Values
	}{
		{"add_passkey", passkeyFields("New", state, newAccountAuthenticator(t, passkeyOrigin(p)).register(t, options))},
		{"rename_passkey", url.Values{"passkey": {key.credentialID()}, "label": {"Renamed"}}},
		{"remove_passkey", url.Values{"passkey": {key.credentialID()}}},
		{"setup_totp", nil},
		{"generate_recovery_codes", nil},
		{"reauthenticate", url.Values{"current_password": {"alice-password"}}},
	}
	for _, forgery := range []struct {
		name string
		form url.Values
		hdr  map[string]string
	}{
		{"no CSRF token", url.Values{"csrf_token": {""}}, sameOriginPost(p)},
		{"the token of a login form", url.Values{"csrf_token": {clientFields.Get("csrf_token")}}, sameOriginPost(p)},
		{"a page on another port", nil, map[string]string{"Sec-Fetch-Site": "same-site", "Origin": otherPort(t, p)}},
		{"another site", nil, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}},
	} {
		for _, o := range ops {
			t.Run(forgery.name+"/"+o.op, func(t *testing.T) {
				form := url.Values{}
				for k, v := range o.form {
					form[k] = v
				}
				for k, v := range forgery.form {
					form[k] = v
				}
				refused(t, o.op, accountPost(t, p, b, pg, o.op, form, forgery.hdr))
			})
		}
	}
	if creds := passkeysOf(t, p, alice.ID); len(creds) != 1 || creds[0].Label != "Laptop" {
		t.Errorf("a refused form changed the passkeys: %+v", creds)
	}
	if _, ok := totpOf(t, p, alice.ID); ok || recoveryLeft(t, p, alice.ID) != 0 {
		t.Error("a refused form set up an app or made recovery codes")
	}
	for _, c := range b.Jar.Cookies(&url.URL{Scheme: "http", Host: strings.TrimPrefix(origin(p), "http://"), Path: "/account"}) {
		if c.Name == "authserver_reauth" {
			t.Error("a refused form confirmed the password")
		}
	}
}

// observetest is used by the audit assertions above through auditEvents.
var _ = observetest.Where
