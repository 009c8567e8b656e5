package authserver_test

import (
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver"
	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/mfa"
	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/observe/observetest"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/config"
)

// The second step of a sign-in over HTTP, with the real provider, its
// SQLite store and go-oidc as the relying party: TOTP (codes computed here
// from the secret, as an authenticator app would), recovery codes, what
// relying parties are told (acr, amr), step-up, require_mfa and the
// password grant. Passkeys are in signin_browser_test.go (Chromium).

const (
	mfaRP        = "mfa-rp"
	mfaSecret    = "mfa-rp-secret-0123456789abcdefghijkl"
	mfaRedirect  = "http://127.0.0.1:7801/cb"
	strictRP     = "strict-rp" // require_mfa
	strictSecret = "strict-rp-secret-0123456789abcdefghij"
	strictRedir  = "http://127.0.0.1:7802/cb"
)

// mfaFixture is a provider with a client that skips consent and a
// require_mfa one, and alice (who gets factors in the tests) and bob.
type mfaFixture struct {
	t    *testing.T
	p    *authtest.Provider
	op   *oidc.Provider
	logs *observetest.Logs
}

func newMFAFixture(t *testing.T, mutate func(*config.Config)) *mfaFixture {
	t.Helper()
	p, logs := startObserved(t, func(c *config.Config) {
		c.Clients = append(c.Clients,
			config.Client{ID: mfaRP, Name: "MFA RP", Secret: mfaSecret, RedirectURIs: []string{mfaRedirect}, SkipConsent: true,
				GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{"openid", "profile", "offline_access"}},
			config.Client{ID: strictRP, Name: "Strict RP", Secret: strictSecret, RedirectURIs: []string{strictRedir}, SkipConsent: true,
				GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid", "profile"}, RequireMFA: true})
		if mutate != nil {
			mutate(c)
		}
	})
	op, err := oidc.NewProvider(context.Background(), p.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return &mfaFixture{t: t, p: p, op: op, logs: logs}
}

// events are the audit events named event with key=value.
func (f *mfaFixture) events(event, key, value string) []observetest.Line {
	return observetest.Where(observetest.Where(f.logs.Lines(f.t), "event", event), key, value)
}

func (f *mfaFixture) user(name string) storage.User {
	f.t.Helper()
	u, err := f.p.App.Store.GetUserByUsername(context.Background(), name)
	if err != nil {
		f.t.Fatalf("user %s: %v", name, err)
	}
	return u
}

// enrolTOTP gives the user a confirmed authenticator, as /account does once
// its first code was right, and returns the secret the app would hold.
func (f *mfaFixture) enrolTOTP(name string) string {
	f.t.Helper()
	u := f.user(name)
	svc := authserver.MFA(f.p.App.Server)
	secret, _, _, err := svc.NewTOTP(u.Username)
	if err != nil {
		f.t.Fatal(err)
	}
	sealed, err := svc.SealSecret(u.ID, secret)
	if err != nil {
		f.t.Fatal(err)
	}
	now := f.p.Clock.Now()
	if err := f.p.App.Store.PutTOTP(context.Background(), storage.TOTP{UserID: u.ID, Secret: sealed, CreatedAt: now, ConfirmedAt: now}); err != nil {
		f.t.Fatal(err)
	}
	return secret
}

// recoveryCodes gives the user fresh recovery codes and returns them.
func (f *mfaFixture) recoveryCodes(name string) []string {
	f.t.Helper()
	codes, hashes := authserver.MFA(f.p.App.Server).NewRecoveryCodes()
	if err := f.p.App.Store.ReplaceRecoveryCodes(context.Background(), f.user(name).ID, hashes, f.p.Clock.Now()); err != nil {
		f.t.Fatal(err)
	}
	return codes
}

// code is what the authenticator app shows now, by the provider's clock;
// in is an offset from now (a code of another time step).
func (f *mfaFixture) code(secret string, in time.Duration) string {
	f.t.Helper()
	c, err := totp.GenerateCode(secret, f.p.Clock.Now().Add(in))
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

func (f *mfaFixture) oauth(client string) *oauth2.Config {
	secret, redirect := mfaSecret, mfaRedirect
	if client == strictRP {
		secret, redirect = strictSecret, strictRedir
	}
	return &oauth2.Config{ClientID: client, ClientSecret: secret, Endpoint: f.op.Endpoint(), RedirectURL: redirect,
		Scopes: []string{"openid", "profile", "offline_access"}}
}

// authorize opens an authorization request of client in the browser.
func (f *mfaFixture) authorize(b *http.Client, client string, extra map[string]string) *authtest.Page {
	f.t.Helper()
	opts := []oauth2.AuthCodeOption{oidc.Nonce("n-1")}
	for k, v := range extra {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	return authtest.Get(f.t, b, f.oauth(client).AuthCodeURL("st-1", opts...))
}

// password submits the login page pg.
func (f *mfaFixture) password(b *http.Client, pg *authtest.Page, username, pw string) *authtest.Page {
	f.t.Helper()
	if !strings.Contains(pg.Body, `name="password"`) {
		f.t.Fatalf("not the login page: %d at %s\n%s", pg.Status, pg.URL, pg.Body)
	}
	return pg.Submit(f.t, b, url.Values{"username": {username}, "password": {pw}})
}

var stepFormBlock = regexp.MustCompile(`(?s)<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>`)

// step submits the second-step page's form of method with code.
func (f *mfaFixture) step(b *http.Client, pg *authtest.Page, method, code string) *authtest.Page {
	f.t.Helper()
	for _, m := range stepFormBlock.FindAllStringSubmatch(pg.Body, -1) {
		if !strings.Contains(m[2], `name="method" value="`+method+`"`) {
			continue
		}
		vals := url.Values{}
		for _, in := range regexp.MustCompile(`<input[^>]*>`).FindAllString(m[2], -1) {
			name := regexp.MustCompile(`name="([^"]*)"`).FindStringSubmatch(in)
			value := regexp.MustCompile(`value="([^"]*)"`).FindStringSubmatch(in)
			if name != nil && value != nil {
				vals.Set(name[1], html.UnescapeString(value[1]))
			}
		}
		vals.Set("code", code)
		target := pg.URL.ResolveReference(&url.URL{Path: html.UnescapeString(m[1])})
		resp, err := b.PostForm(target.String(), vals)
		if err != nil {
			f.t.Fatal(err)
		}
		return readStepPage(f.t, resp)
	}
	f.t.Fatalf("no %s form on the page (%d at %s):\n%s", method, pg.Status, pg.URL, pg.Body)
	return nil
}

func readStepPage(t *testing.T, resp *http.Response) *authtest.Page {
	t.Helper()
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	pg := &authtest.Page{Status: resp.StatusCode, URL: resp.Request.URL, Body: string(body)}
	if resp.StatusCode/100 == 3 {
		pg.Location, _ = resp.Location()
	}
	return pg
}

// onSecondStep reports whether pg asks for a second step by method.
func onSecondStep(pg *authtest.Page, method string) bool {
	return pg.Location == nil && strings.Contains(pg.Body, `name="method" value="`+method+`"`)
}

// returned is the client's redirect in pg, which must carry a code.
func (f *mfaFixture) returned(pg *authtest.Page) url.Values {
	f.t.Helper()
	if pg.Location == nil || pg.Location.Query().Get("code") == "" {
		f.t.Fatalf("no code for the client: %d at %s (redirect %v)\n%s", pg.Status, pg.URL, pg.Location, pg.Body)
	}
	return pg.Location.Query()
}

// tokens redeems the code and returns the tokens and the verified ID
// token's claims.
func (f *mfaFixture) tokens(client string, q url.Values) (*oauth2.Token, map[string]any) {
	f.t.Helper()
	tok, err := f.oauth(client).Exchange(context.Background(), q.Get("code"))
	if err != nil {
		f.t.Fatalf("exchange: %v", err)
	}
	return tok, f.idClaims(client, tok)
}

func (f *mfaFixture) idClaims(client string, tok *oauth2.Token) map[string]any {
	f.t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	idt, err := f.op.Verifier(&oidc.Config{ClientID: client}).Verify(context.Background(), raw)
	if err != nil {
		f.t.Fatalf("ID token: %v", err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		f.t.Fatal(err)
	}
	return claims
}

func (f *mfaFixture) userinfo(tok *oauth2.Token) map[string]any {
	f.t.Helper()
	ui, err := f.op.UserInfo(context.Background(), oauth2.StaticTokenSource(tok))
	if err != nil {
		f.t.Fatalf("userinfo: %v", err)
	}
	var claims map[string]any
	if err := ui.Claims(&claims); err != nil {
		f.t.Fatal(err)
	}
	return claims
}

// checkSignIn asserts what claims (an ID token or userinfo answer) say of
// the sign-in.
func checkSignIn(t *testing.T, where string, claims map[string]any, acr string, amr ...string) {
	t.Helper()
	var got []string
	if list, ok := claims["amr"].([]any); ok {
		for _, v := range list {
			s, _ := v.(string)
			got = append(got, s)
		}
	}
	if claims["acr"] != acr || !slices.Equal(got, amr) {
		t.Errorf("%s: acr %v amr %v, want %s %v", where, claims["acr"], claims["amr"], acr, amr)
	}
}

// A password and a TOTP code: the session starts only after the code, and
// the ID token, userinfo and a refreshed ID token say pwd, otp, mfa.
// Without a factor, bob's sign-in is a password alone, and says so.
func TestTOTPSignIn(t *testing.T) {
	t.Parallel()
	f := newMFAFixture(t, nil)
	secret := f.enrolTOTP("alice")
	b := f.p.Browser(t)

	pg := f.password(b, f.authorize(b, mfaRP, nil), "alice", "alice-password")
	if !onSecondStep(pg, "totp") || pg.Status != http.StatusOK {
		t.Fatalf("after the password: want the TOTP step, got %d\n%s", pg.Status, pg.Body)
	}
	if strings.Contains(pg.Body, `value="recovery_code"`) || strings.Contains(pg.Body, `value="passkey"`) {
		t.Errorf("the page offers methods alice does not have:\n%s", pg.Body)
	}
	// No session before the second step: another authorization in this
	// browser is the login page again.
	if again := f.authorize(b, mfaRP, nil); !strings.Contains(again.Body, `name="password"`) {
		t.Fatalf("signed in before the second step: %d %v\n%s", again.Status, again.Location, again.Body)
	}
	tok, id := f.tokens(mfaRP, f.returned(f.step(b, pg, "totp", f.code(secret, 0))))
	checkSignIn(t, "ID token", id, mfa.ACRMFA, "pwd", "otp", "mfa")
	checkSignIn(t, "userinfo", f.userinfo(tok), mfa.ACRMFA, "pwd", "otp", "mfa")

	// A refresh keeps what the sign-in proved.
	tok.Expiry = time.Now().Add(-time.Minute)
	next, err := f.oauth(mfaRP).TokenSource(context.Background(), tok).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	checkSignIn(t, "refreshed ID token", f.idClaims(mfaRP, next), mfa.ACRMFA, "pwd", "otp", "mfa")
	checkSignIn(t, "userinfo after refresh", f.userinfo(next), mfa.ACRMFA, "pwd", "otp", "mfa")

	// The session's strength carries to the next authorization: no step.
	_, id = f.tokens(mfaRP, f.returned(f.authorize(b, mfaRP, nil)))
	checkSignIn(t, "second authorization", id, mfa.ACRMFA, "pwd", "otp", "mfa")

	bob := f.p.Browser(t)
	tok, id = f.tokens(mfaRP, f.returned(f.password(bob, f.authorize(bob, mfaRP, nil), "bob", "bob-password")))
	checkSignIn(t, "bob's ID token", id, mfa.ACRPassword, "pwd")
	checkSignIn(t, "bob's userinfo", f.userinfo(tok), mfa.ACRPassword, "pwd")
}

// A TOTP code is accepted once: the same code again, or an earlier one
// still within the ±1 step of clock skew, is refused, in any browser; the
// next step's code works. A code two steps away is refused as wrong.
func TestTOTPCodeAcceptedOnce(t *testing.T) {
	t.Parallel()
	f := newMFAFixture(t, nil)
	secret := f.enrolTOTP("alice")
	first := f.p.Browser(t)
	used := f.code(secret, 0)
	f.returned(f.step(first, f.password(first, f.authorize(first, mfaRP, nil), "alice", "alice-password"), "totp", used))

	for _, tc := range []struct{ name, code string }{
		{"the same code", used},
		{"the previous step's code", f.code(secret, -30*time.Second)},
		{"a code of two steps ago", f.code(secret, -60*time.Second)},
		{"a code of two steps ahead", f.code(secret, 60*time.Second)},
	} {
		b := f.p.Browser(t)
		pg := f.step(b, f.password(b, f.authorize(b, mfaRP, nil), "alice", "alice-password"), "totp", tc.code)
		if pg.Status != http.StatusUnauthorized || !onSecondStep(pg, "totp") || !strings.Contains(pg.Body, "wrong or has been used") {
			t.Errorf("%s: %d %v, want 401 and the step again\n%s", tc.name, pg.Status, pg.Location, pg.Body)
		}
	}
	f.p.Clock.Advance(30 * time.Second)
	b := f.p.Browser(t)
	f.returned(f.step(b, f.password(b, f.authorize(b, mfaRP, nil), "alice", "alice-password"), "totp", f.code(secret, 0)))
}

// Wrong codes are throttled like wrong passwords: past the free failures
// the right code is refused too (429, Retry-After), and giving the right
// password again, which resets the password's counter, does not reset the
// second step's. Once the back-off has passed, the right code works.
func TestTOTPWrongCodeThrottled(t *testing.T) {
	t.Parallel()
	f := newMFAFixture(t, func(c *config.Config) {
		c.Security.Throttle = config.Throttle{FreeFailures: 2, IPFreeFailures: 100, ClientFreeFailures: 5,
			BaseDelay: config.Duration(time.Minute), MaxDelay: config.Duration(15 * time.Minute), ResetAfter: config.Duration(time.Hour), IPHashSlots: 2}
	})
	secret := f.enrolTOTP("alice")
	b := f.p.Browser(t)
	pg := f.password(b, f.authorize(b, mfaRP, nil), "alice", "alice-password")
	wrong := f.code(secret, 10*time.Minute)
	for i := range 3 {
		if pg = f.step(b, pg, "totp", wrong); pg.Status != http.StatusUnauthorized {
			t.Fatalf("wrong code %d: %d, want 401\n%s", i+1, pg.Status, pg.Body)
		}
	}
	pg = f.step(b, pg, "totp", f.code(secret, 0))
	if pg.Status != http.StatusTooManyRequests || pg.Location != nil {
		t.Fatalf("right code in back-off: %d %v, want 429\n%s", pg.Status, pg.Location, pg.Body)
	}
	if failed := f.events(observe.EventMFAFailed, "reason", "wrong_code"); len(failed) != 3 || failed[0].Str("method") != "totp" {
		t.Errorf("mfa.failed events: %v, want 3 for totp", failed)
	}
	if blocked := f.events(observe.EventThrottleBlocked, "username", "alice"); len(blocked) != 1 {
		t.Errorf("throttle.blocked events: %v, want 1", blocked)
	}
	again := f.p.Browser(t)
	pg = f.password(again, f.authorize(again, mfaRP, nil), "alice", "alice-password")
	if pg = f.step(again, pg, "totp", f.code(secret, 0)); pg.Status != http.StatusTooManyRequests {
		t.Fatalf("right code after a new password in back-off: %d, want 429\n%s", pg.Status, pg.Body)
	}
	f.p.Clock.Advance(2 * time.Minute)
	f.returned(f.step(again, f.password(again, f.authorize(again, mfaRP, nil), "alice", "alice-password"), "totp", f.code(secret, 0)))
}

// A recovery code signs in once (amr otp), ends alice's other sessions,
// and is refused the second time.
func TestRecoveryCodeSignIn(t *testing.T) {
	t.Parallel()
	f := newMFAFixture(t, nil)
	secret := f.enrolTOTP("alice")
	codes := f.recoveryCodes("alice")

	other := f.p.Browser(t)
	pg := f.password(other, f.authorize(other, mfaRP, nil), "alice", "alice-password")
	if !onSecondStep(pg, "recovery_code") || strings.Index(pg.Body, `value="totp"`) > strings.Index(pg.Body, `value="recovery_code"`) {
		t.Fatalf("want TOTP first and a recovery code as the alternative:\n%s", pg.Body)
	}
	f.returned(f.step(other, pg, "totp", f.code(secret, 0)))

	b := f.p.Browser(t)
	pg = f.password(b, f.authorize(b, mfaRP, nil), "alice", "alice-password")
	tok, id := f.tokens(mfaRP, f.returned(f.step(b, pg, "recovery_code", strings.ToLower(codes[3]))))
	checkSignIn(t, "ID token", id, mfa.ACRMFA, "pwd", "otp", "mfa")
	checkSignIn(t, "userinfo", f.userinfo(tok), mfa.ACRMFA, "pwd", "otp", "mfa")

	if pg := f.authorize(other, mfaRP, map[string]string{"prompt": "none"}); pg.Location == nil || pg.Location.Query().Get("error") != "login_required" {
		t.Errorf("the other session after a recovery code: %d %v, want login_required", pg.Status, pg.Location)
	}
	if pg := f.authorize(b, mfaRP, map[string]string{"prompt": "none"}); pg.Location == nil || pg.Location.Query().Get("code") == "" {
		t.Errorf("this browser's own session: %d %v", pg.Status, pg.Location)
	}
	alice := f.user("alice").ID
	if n, err := f.p.App.Store.CountRecoveryCodes(context.Background(), alice); err != nil || n != len(codes)-1 {
		t.Errorf("unspent recovery codes: %d %v, want %d", n, err, len(codes)-1)
	}
	if used := f.events(observe.EventRecoveryCodeUsed, "subject", alice); len(used) != 1 || used[0].Str("client_id") != mfaRP {
		t.Errorf("mfa.recovery_code_used events: %v, want 1", used)
	}
	if ended := f.events(observe.EventLogout, "by", "recovery_code"); len(ended) != 1 {
		t.Errorf("session.ended by recovery_code: %v, want the other session", ended)
	}
	if ok := f.events(observe.EventLoginSucceeded, "via", "second_step"); len(ok) != 2 || ok[1].Str("amr") != "pwd otp mfa" || ok[1].Str("acr") != mfa.ACRMFA {
		t.Errorf("login.succeeded via second_step: %v", ok)
	}
	if strings.Contains(f.logs.String(), codes[3]) || strings.Contains(f.logs.String(), strings.ToLower(codes[3])) {
		t.Error("the recovery code is in the log")
	}

	third := f.p.Browser(t)
	pg = f.step(third, f.password(third, f.authorize(third, mfaRP, nil), "alice", "alice-password"), "recovery_code", codes[3])
	if pg.Status != http.StatusUnauthorized || !strings.Contains(pg.Body, "used already") {
		t.Errorf("the same recovery code again: %d %v\n%s", pg.Status, pg.Location, pg.Body)
	}
}

// acr_values asks for a level: a password session is stepped up (the
// second step only, no password), auth_time moves and the ID token says
// mfa; prompt=none with the weaker session is interaction_required, and
// max_age still asks for the password first.
func TestACRValuesStepUp(t *testing.T) {
	t.Parallel()
	f := newMFAFixture(t, nil)
	b := f.p.Browser(t)
	_, id := f.tokens(mfaRP, f.returned(f.password(b, f.authorize(b, mfaRP, nil), "alice", "alice-password")))
	checkSignIn(t, "before any factor", id, mfa.ACRPassword, "pwd")
	firstAuth := id["auth_time"].(float64)
	secret := f.enrolTOTP("alice")

	// Voluntary, already met, or not asked: no step.
	for _, extra := range []map[string]string{nil, {"acr_values": mfa.ACRPassword}, {"acr_values": "urn:example:unknown"}} {
		_, id := f.tokens(mfaRP, f.returned(f.authorize(b, mfaRP, extra)))
		checkSignIn(t, "no step-up asked", id, mfa.ACRPassword, "pwd")
	}
	mfaWanted := map[string]string{"acr_values": "urn:example:gold " + mfa.ACRMFA}
	none := map[string]string{"acr_values": mfa.ACRMFA, "prompt": "none"}
	if pg := f.authorize(b, mfaRP, none); pg.Location == nil || pg.Location.Query().Get("error") != "interaction_required" {
		t.Fatalf("prompt=none with a weaker session: %d %v, want interaction_required", pg.Status, pg.Location)
	}
	f.p.Clock.Advance(time.Minute)
	pg := f.authorize(b, mfaRP, mfaWanted)
	if !onSecondStep(pg, "totp") || strings.Contains(pg.Body, `name="password"`) || !strings.Contains(pg.Body, "stronger sign-in") {
		t.Fatalf("step-up: want the TOTP step without a password, got %d\n%s", pg.Status, pg.Body)
	}
	_, id = f.tokens(mfaRP, f.returned(f.step(b, pg, "totp", f.code(secret, 0))))
	checkSignIn(t, "after the step-up", id, mfa.ACRMFA, "pwd", "otp", "mfa")
	if at := id["auth_time"].(float64); at < firstAuth+60 {
		t.Errorf("auth_time %v after the step-up, want at least %v", at, firstAuth+60)
	}
	_, id = f.tokens(mfaRP, f.returned(f.authorize(b, mfaRP, none)))
	checkSignIn(t, "prompt=none once stepped up", id, mfa.ACRMFA, "pwd", "otp", "mfa")

	if pg := f.authorize(b, mfaRP, map[string]string{"acr_values": mfa.ACRMFA, "max_age": "0"}); !strings.Contains(pg.Body, `name="password"`) {
		t.Errorf("max_age=0 with a strong session: %d %v, want the login page", pg.Status, pg.Location)
	}
}

// An essential acr (the claims parameter) is a demand: a level alice can
// reach is stepped up like acr_values; one she cannot (phishing-resistant
// without a passkey) fails the authentication, after the sign-in, with
// unmet_authentication_requirements (OIDC Core §5.5.1.1).
func TestEssentialACR(t *testing.T) {
	t.Parallel()
	f := newMFAFixture(t, nil)
	secret := f.enrolTOTP("alice")
	essential := func(acr string) map[string]string {
		return map[string]string{"claims": `{"id_token":{"acr":{"essential":true,"values":["` + acr + `"]}}}`}
	}
	b := f.p.Browser(t)
	pg := f.step(b, f.password(b, f.authorize(b, mfaRP, essential(mfa.ACRMFA)), "alice", "alice-password"), "totp", f.code(secret, 0))
	_, id := f.tokens(mfaRP, f.returned(pg))
	checkSignIn(t, "essential mfa", id, mfa.ACRMFA, "pwd", "otp", "mfa")

	pg = f.authorize(b, mfaRP, essential(mfa.ACRPhishingResistant))
	if pg.Location == nil || pg.Location.Query().Get("error") != "unmet_authentication_requirements" || pg.Location.Query().Get("state") != "st-1" {
		t.Fatalf("essential phishing-resistant without a passkey: %d %v", pg.Status, pg.Location)
	}
}

// A require_mfa client never gets a password-only session: a user without
// a factor is sent to enrol one (prompt=none: interaction_required); once
// they have one, the session is stepped up.
func TestRequireMFAClientStepsUp(t *testing.T) {
	t.Parallel()
	f := newMFAFixture(t, nil)
	b := f.p.Browser(t)
	f.returned(f.password(b, f.authorize(b, mfaRP, nil), "alice", "alice-password"))

	pg := f.authorize(b, strictRP, nil)
	if pg.Status != http.StatusForbidden || pg.Location != nil || !strings.Contains(pg.Body, `href="/account"`) {
		t.Fatalf("require_mfa client, user without a factor: %d %v, want the enrol page\n%s", pg.Status, pg.Location, pg.Body)
	}
	if pg := f.authorize(b, strictRP, map[string]string{"prompt": "none"}); pg.Location == nil || pg.Location.Query().Get("error") != "interaction_required" {
		t.Fatalf("prompt=none: %d %v, want interaction_required", pg.Status, pg.Location)
	}
	secret := f.enrolTOTP("alice")
	pg = f.authorize(b, strictRP, nil)
	if !onSecondStep(pg, "totp") {
		t.Fatalf("require_mfa client, password session: want the step-up, got %d\n%s", pg.Status, pg.Body)
	}
	_, id := f.tokens(strictRP, f.returned(f.step(b, pg, "totp", f.code(secret, 0))))
	checkSignIn(t, "require_mfa client", id, mfa.ACRMFA, "pwd", "otp", "mfa")
}

// A require_mfa user without a factor may sign in with the password to
// /account (to enrol one) but is refused every client; once enrolled, every
// sign-in takes the second step.
func TestRequireMFAUser(t *testing.T) {
	t.Parallel()
	f := newMFAFixture(t, func(c *config.Config) {
		c.Users = append(c.Users, config.User{Username: "carol", Password: "carol-password", Email: "carol@example.com", RequireMFA: true})
	})
	b := f.p.Browser(t)
	pg := f.password(b, f.authorize(b, mfaRP, nil), "carol", "carol-password")
	if pg.Status != http.StatusForbidden || pg.Location != nil || !strings.Contains(pg.Body, `href="/account"`) {
		t.Fatalf("require_mfa user without a factor: %d %v, want the enrol page\n%s", pg.Status, pg.Location, pg.Body)
	}
	if pg := f.authorize(b, mfaRP, map[string]string{"prompt": "none"}); pg.Location == nil || pg.Location.Query().Get("error") != "interaction_required" {
		t.Errorf("prompt=none: %d %v, want interaction_required", pg.Status, pg.Location)
	}
	if acct := authtest.Get(t, b, f.p.URL+"/account"); acct.Status != http.StatusOK || onAccountLogin(acct) {
		t.Errorf("/account for the require_mfa user's password session: %d\n%s", acct.Status, acct.Body)
	}

	secret := f.enrolTOTP("carol")
	fresh := f.p.Browser(t)
	pg = f.password(fresh, f.authorize(fresh, mfaRP, nil), "carol", "carol-password")
	if !onSecondStep(pg, "totp") {
		t.Fatalf("require_mfa user with a factor: want the second step, got %d\n%s", pg.Status, pg.Body)
	}
	f.returned(f.step(fresh, pg, "totp", f.code(secret, 0)))
}

// The password grant has no second step: a user with a factor, a
// require_mfa user and a require_mfa client cannot use it; a wrong password
// still gets the same answer as before.
func TestPasswordGrantRefusedForMFA(t *testing.T) {
	t.Parallel()
	f := newMFAFixture(t, func(c *config.Config) {
		c.Users = append(c.Users, config.User{Username: "carol", Password: "carol-password", RequireMFA: true})
		c.Clients = append(c.Clients, config.Client{ID: "strict-pw", Secret: "strict-pw-secret-0123456789abcdefghij",
			GrantTypes: []string{"password"}, Scopes: []string{"openid"}, RequireMFA: true})
	})
	f.enrolTOTP("alice")
	grant := func(client, secret, user, pw string) error {
		oc := &oauth2.Config{ClientID: client, ClientSecret: secret, Endpoint: f.op.Endpoint(), Scopes: []string{"openid"}}
		_, err := oc.PasswordCredentialsToken(context.Background(), user, pw)
		return err
	}
	const tricky, trickySecret = "tricky", "a+b/c=d%e&f g-0123456789abcdefghij"
	for _, tc := range []struct{ name, client, secret, user, pw, want string }{
		{"user with a factor", tricky, trickySecret, "alice", "alice-password", "uses a second factor"},
		{"require_mfa user", tricky, trickySecret, "carol", "carol-password", "uses a second factor"},
		{"require_mfa client", "strict-pw", "strict-pw-secret-0123456789abcdefghij", "bob", "bob-password", "requires a second factor"},
		{"wrong password of a user with a factor", tricky, trickySecret, "alice", "wrong-password", "username or password is wrong"},
	} {
		var re *oauth2.RetrieveError
		if err := grant(tc.client, tc.secret, tc.user, tc.pw); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || !strings.Contains(re.ErrorDescription, tc.want) {
			t.Errorf("%s: %v, want invalid_grant saying %q", tc.name, err, tc.want)
		}
	}
	if err := grant(tricky, trickySecret, "bob", "bob-password"); err != nil {
		t.Errorf("bob, without a factor: %v", err)
	}
}

// A pending second step is bound to the browser's form: a copy in another
// browser is refused, as is one whose five minutes have passed.
func TestMFAPendingStepBound(t *testing.T) {
	t.Parallel()
	f := newMFAFixture(t, nil)
	secret := f.enrolTOTP("alice")
	b := f.p.Browser(t)
	pg := f.password(b, f.authorize(b, mfaRP, nil), "alice", "alice-password")

	thief := f.p.Browser(t)
	authtest.Get(t, thief, f.p.URL+"/account") // a CSRF cookie of its own
	if got := f.step(thief, pg, "totp", f.code(secret, 0)); got.Location != nil || got.Status != http.StatusForbidden {
		t.Errorf("the pending step in another browser: %d %v, want 403\n%s", got.Status, got.Location, got.Body)
	}
	f.p.Clock.Advance(6 * time.Minute)
	if got := f.step(b, pg, "totp", f.code(secret, 0)); got.Location != nil || !strings.Contains(got.Body, "took too long") {
		t.Errorf("after five minutes: %d %v\n%s", got.Status, got.Location, got.Body)
	}
}

// A second step completes only for what the first step proved still
// holding: a step-up only while its session lives (else a code alone would
// make a session whose password nobody checked), and no step for a user
// disabled meanwhile.
func TestStepUpNeedsItsSession(t *testing.T) {
	t.Parallel()
	f := newMFAFixture(t, nil)
	b := f.p.Browser(t)
	f.returned(f.password(b, f.authorize(b, mfaRP, nil), "alice", "alice-password"))
	secret := f.enrolTOTP("alice")
	pg := f.authorize(b, mfaRP, map[string]string{"acr_values": mfa.ACRMFA})
	if !onSecondStep(pg, "totp") {
		t.Fatalf("want the step-up:\n%s", pg.Body)
	}
	ctx := context.Background()
	sessions, err := f.p.App.Store.ListUserSessions(ctx, f.user("alice").ID, f.p.Clock.Now())
	if err != nil || len(sessions) != 1 {
		t.Fatalf("sessions: %v %v", sessions, err)
	}
	if err := storage.EndSession(ctx, f.p.App.Store, sessions[0].IDHash, f.p.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	if got := f.step(b, pg, "totp", f.code(secret, 0)); got.Location != nil || !strings.Contains(got.Body, `name="password"`) {
		t.Fatalf("step-up of an ended session: %d %v, want the login page\n%s", got.Status, got.Location, got.Body)
	}

	pg = f.password(b, f.authorize(b, mfaRP, nil), "alice", "alice-password")
	if err := f.p.App.Store.SetUserDisabled(ctx, f.user("alice").ID, true, f.p.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	if got := f.step(b, pg, "totp", f.code(secret, 0)); got.Location != nil || !strings.Contains(got.Body, `name="password"`) {
		t.Fatalf("second step of a user disabled meanwhile: %d %v, want the login page\n%s", got.Status, got.Location, got.Body)
	}
}

// The account page's own sign-in takes the second step too, and lands on
// /account.
func TestTOTPAccountSignIn(t *testing.T) {
	t.Parallel()
	f := newMFAFixture(t, nil)
	secret := f.enrolTOTP("alice")
	b := f.p.Browser(t)
	login := authtest.Get(t, b, f.p.URL+"/account")
	if !onAccountLogin(login) {
		t.Fatalf("GET /account signed out: %d\n%s", login.Status, login.Body)
	}
	pg := login.Submit(t, b, url.Values{"username": {"alice"}, "password": {"alice-password"}})
	if !onSecondStep(pg, "totp") || !strings.Contains(pg.Body, `name="return" value="account"`) {
		t.Fatalf("after the password: want the TOTP step back to /account, got %d\n%s", pg.Status, pg.Body)
	}
	if !onAccountLogin(authtest.Get(t, b, f.p.URL+"/account")) {
		t.Fatal("signed in to /account before the second step")
	}
	if pg = f.step(b, pg, "totp", f.code(secret, 0)); !onAccount(pg) {
		t.Fatalf("after the code: want the account page, got %d at %s\n%s", pg.Status, pg.URL, pg.Body)
	}
	if ok := f.events(observe.EventLoginSucceeded, "via", "second_step"); len(ok) != 1 || ok[0].Str("client_id") != "" {
		t.Errorf("login.succeeded: %v", ok)
	}
}
