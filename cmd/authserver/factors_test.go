package main

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/admin"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/config"
)

// factorFixture stores second factors and sessions of a user directly, as
// the account page and the sign-in would.
type factorFixture struct {
	t   *testing.T
	st  storage.Store
	now time.Time
}

func (f factorFixture) passkey(userID, id, label string) {
	f.t.Helper()
	if err := f.st.CreateWebAuthnCredential(context.Background(), storage.WebAuthnCredential{ID: id, UserID: userID, Label: label,
		Credential: []byte(`{"publicKey":"not-shown"}`), CreatedAt: f.now}); err != nil {
		f.t.Fatal(err)
	}
}

func (f factorFixture) confirmedTOTP(userID string) {
	f.t.Helper()
	ctx := context.Background()
	if err := f.st.PutTOTP(ctx, storage.TOTP{UserID: userID, Secret: "sealed-secret-not-shown", CreatedAt: f.now}); err != nil {
		f.t.Fatal(err)
	}
	if err := f.st.UseTOTPStep(ctx, userID, 1, f.now); err != nil {
		f.t.Fatal(err)
	}
}

func (f factorFixture) recoveryCodes(userID string, n int) {
	f.t.Helper()
	var hashes []string
	for i := range n {
		hashes = append(hashes, storage.Hash(userID+string(rune('a'+i))))
	}
	if err := f.st.ReplaceRecoveryCodes(context.Background(), userID, hashes, f.now); err != nil {
		f.t.Fatal(err)
	}
}

func (f factorFixture) session(userID, cookie string) {
	f.t.Helper()
	if err := f.st.CreateSession(context.Background(), storage.Session{IDHash: storage.Hash(cookie), UserID: userID, AuthTime: f.now,
		CreatedAt: f.now, ExpiresAt: f.now.Add(time.Hour)}); err != nil {
		f.t.Fatal(err)
	}
}

func (f factorFixture) sessions(userID string) int {
	f.t.Helper()
	ss, err := f.st.ListUserSessions(context.Background(), userID, time.Now())
	if err != nil {
		f.t.Fatal(err)
	}
	return len(ss)
}

// user factors, factor-remove and factors-reset, and --require-mfa, on a
// user of the database.
func TestUserFactorCommands(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "")
	dave := decode[admin.User](t, c.ok("dave-password\n", "user", "add", "--output", "json", "--require-mfa", "dave"))
	if !dave.RequireMFA {
		t.Errorf("user add --require-mfa: %+v", dave)
	}
	f := factorFixture{t: t, st: c.store(), now: time.Now().UTC().Truncate(time.Second)}

	if got := decode[admin.Factors](t, c.ok("", "user", "factors", "--output", "json", "dave")); got.Passkeys == nil || len(got.Passkeys) != 0 || got.TOTP != nil {
		t.Errorf("no factors yet: %+v", got)
	}
	if text := c.ok("", "user", "factors", "dave"); !strings.Contains(text, "passkeys: none") || !strings.Contains(text, "totp") {
		t.Errorf("user factors without any:\n%s", text)
	}

	f.passkey(dave.ID, "cred-laptop", "Laptop")
	f.passkey(dave.ID, "cred-phone", "")
	f.confirmedTOTP(dave.ID)
	f.recoveryCodes(dave.ID, 10)
	f.session(dave.ID, "first")
	f.session(dave.ID, "second")

	got := decode[admin.Factors](t, c.ok("", "user", "factors", "--output", "json", "dave"))
	if len(got.Passkeys) != 2 || got.Passkeys[0].ID != "cred-laptop" || got.Passkeys[0].Label != "Laptop" || got.Passkeys[1].ID != "cred-phone" ||
		!got.Passkeys[0].CreatedAt.Equal(f.now) || !got.Passkeys[0].LastUsedAt.IsZero() ||
		got.TOTP == nil || !got.TOTP.Confirmed || !got.TOTP.CreatedAt.Equal(f.now) || got.RecoveryCodesLeft != 10 {
		t.Errorf("user factors --output json: %+v (totp %+v)", got, got.TOTP)
	}
	text := c.ok("", "user", "factors", "dave")
	for _, re := range []string{`(?m)^PASSKEY ID +LABEL +ENROLLED +LAST USED$`, `(?m)^cred-laptop +Laptop +` + when(f.now) + ` +-$`,
		`(?m)^cred-phone +- `, `(?m)^totp +enrolled ` + when(f.now) + `$`, `(?m)^recovery_codes_left +10$`, `(?m)^require_mfa +true$`} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("user factors does not match %s:\n%s", re, text)
		}
	}
	if strings.Contains(text, "not-shown") {
		t.Errorf("user factors shows a stored secret:\n%s", text)
	}

	// Mistakes on the command line, and factors the user does not have.
	for _, args := range [][]string{
		{"user", "factor-remove", "dave", "passkey"},
		{"user", "factor-remove", "dave", "totp", "cred-laptop"},
		{"user", "factor-remove", "dave", "sms"},
		{"user", "factor-remove", "dave"},
	} {
		c.want(exitUsage, "", args...)
	}
	c.want(exitNotFound, "", "user", "factor-remove", "dave", "passkey", "cred-none")
	c.want(exitNotFound, "", "user", "factors", "nobody")
	if f.sessions(dave.ID) != 2 {
		t.Fatal("a refused command ended a session")
	}

	if out := c.ok("", "user", "factor-remove", "dave", "passkey", "cred-laptop"); !strings.Contains(out, "passkey cred-laptop of dave removed; their sessions ended") {
		t.Errorf("factor-remove passkey: %s", out)
	}
	got = decode[admin.Factors](t, c.ok("", "user", "factors", "--output", "json", "dave"))
	if len(got.Passkeys) != 1 || got.Passkeys[0].ID != "cred-phone" || got.TOTP == nil {
		t.Errorf("after removing a passkey: %+v", got)
	}
	if n := f.sessions(dave.ID); n != 0 {
		t.Errorf("%d sessions left after removing a passkey", n)
	}
	c.ok("", "user", "factor-remove", "dave", "totp")
	c.want(exitNotFound, "", "user", "factor-remove", "dave", "totp")

	f.session(dave.ID, "third")
	if out := c.ok("", "user", "factors-reset", "dave"); !strings.Contains(out, "of dave removed; their sessions ended") {
		t.Errorf("factors-reset: %s", out)
	}
	got = decode[admin.Factors](t, c.ok("", "user", "factors", "--output", "json", "dave"))
	if len(got.Passkeys) != 0 || got.TOTP != nil || got.RecoveryCodesLeft != 0 || f.sessions(dave.ID) != 0 {
		t.Errorf("after factors-reset: %+v, %d sessions", got, f.sessions(dave.ID))
	}

	// require_mfa changes with user update, and shows.
	updated := decode[admin.User](t, c.ok("", "user", "update", "--output", "json", "--require-mfa=false", "dave"))
	if updated.RequireMFA {
		t.Errorf("user update --require-mfa=false: %+v", updated)
	}
	if text := c.ok("", "user", "show", "dave"); !regexp.MustCompile(`(?m)^require_mfa +false$`).MatchString(text) {
		t.Errorf("user show lacks require_mfa false:\n%s", text)
	}
	c.ok("", "user", "update", "--require-mfa", "dave")
	if u := decode[admin.User](t, c.ok("", "user", "show", "--output", "json", "dave")); !u.RequireMFA {
		t.Error("user update --require-mfa did not require it")
	}
}

// The factors of a user the file declares are the user's: the commands
// work on them; require_mfa is the file's.
func TestFileUserFactorsCLI(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "")
	c.provider() // a start stores the file's users
	carol := decode[admin.User](t, c.ok("", "user", "show", "--output", "json", "carol"))
	f := factorFixture{t: t, st: c.store(), now: time.Now()}
	f.passkey(carol.ID, "cred-carol", "Carol's key")
	f.confirmedTOTP(carol.ID)

	if got := decode[admin.Factors](t, c.ok("", "user", "factors", "--output", "json", "carol")); len(got.Passkeys) != 1 {
		t.Errorf("carol's factors: %+v", got)
	}
	c.ok("", "user", "factor-remove", "carol", "passkey", "cred-carol")
	c.ok("", "user", "factors-reset", "carol")
	if got := decode[admin.Factors](t, c.ok("", "user", "factors", "--output", "json", "carol")); len(got.Passkeys) != 0 || got.TOTP != nil {
		t.Errorf("carol's factors after the reset: %+v", got)
	}
	if stderr := c.want(exitConflict, "", "user", "update", "--require-mfa", "carol"); !strings.Contains(stderr, "edit the file") {
		t.Errorf("user update --require-mfa of a file user:\n%s", stderr)
	}
}

// client add and update take --require-mfa and --default-acr-value, and
// the refusal of a wrong acr names the flag.
func TestClientRequireMFAAndACRFlags(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "")
	added := decode[clientJSON](t, c.ok("", "client", "add", "--output", "json", "--id", "app", "--public",
		"--redirect-uri", "https://app.example/cb", "--audience", "https://api.example.com", "--require-mfa",
		"--default-acr-value", config.ACRPhishingResistant, "--default-acr-value", config.ACRMFA))
	if !added.RequireMFA || !slices.Equal(added.DefaultACRValues, []string{config.ACRPhishingResistant, config.ACRMFA}) {
		t.Errorf("client add: %+v", added.Client)
	}
	text := c.ok("", "client", "show", "app")
	for _, re := range []string{`(?m)^require_mfa +true$`, `(?m)^default_acr_values +` + config.ACRPhishingResistant + " " + config.ACRMFA + `$`} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("client show does not match %s:\n%s", re, text)
		}
	}

	if stderr := c.want(exitError, "", "client", "add", "--id", "bad", "--public", "--redirect-uri", "https://app.example/cb",
		"--audience", "https://api.example.com", "--default-acr-value", "mfa"); !strings.Contains(stderr, "--default-acr-value[0]") ||
		!strings.Contains(stderr, config.ACRMFA) {
		t.Errorf("a wrong acr value:\n%s", stderr)
	}

	updated := decode[admin.Client](t, c.ok("", "client", "update", "--output", "json", "--require-mfa=false",
		"--default-acr-value", config.ACRPassword, "app"))
	if updated.RequireMFA || !slices.Equal(updated.DefaultACRValues, []string{config.ACRPassword}) {
		t.Errorf("client update: %+v", updated)
	}
	cleared := decode[admin.Client](t, c.ok("", "client", "update", "--output", "json", "--clear", "default-acr-value", "app"))
	if cleared.DefaultACRValues == nil || len(cleared.DefaultACRValues) != 0 {
		t.Errorf("after --clear default-acr-value: %v", cleared.DefaultACRValues)
	}
	c.want(exitUsage, "", "client", "update", "--clear", "default-acr-value", "--default-acr-value", config.ACRMFA, "app")
}
