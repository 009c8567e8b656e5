package admin_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/admin"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/config"
)

// What the tests store as a user's factors. The credential record and the
// sealed TOTP secret stand for what package mfa stores: the service must
// never show them.
const (
	credentialRecord = `{"publicKey":"pQECAyYgASFYIBrZ-SECRET-LOOKING-RECORD"}`
	sealedSecret     = "sealed-totp-secret-never-shown"
)

// passkey stores a passkey of the user, made at the fixture's clock.
func (f *fixture) passkey(userID, id, label string) {
	f.t.Helper()
	err := f.store.CreateWebAuthnCredential(f.ctx, storage.WebAuthnCredential{ID: id, UserID: userID, Label: label,
		Credential: []byte(credentialRecord), CreatedAt: f.clock.Now()})
	if err != nil {
		f.t.Fatal(err)
	}
}

// totp stores an unconfirmed TOTP authenticator of the user.
func (f *fixture) totp(userID string) {
	f.t.Helper()
	if err := f.store.PutTOTP(f.ctx, storage.TOTP{UserID: userID, Secret: sealedSecret, CreatedAt: f.clock.Now()}); err != nil {
		f.t.Fatal(err)
	}
}

// recoveryCodes stores n recovery codes of the user and returns their hashes.
func (f *fixture) recoveryCodes(userID string, n int) []string {
	f.t.Helper()
	hashes := make([]string, n)
	for i := range hashes {
		hashes[i] = storage.Hash(userID + "-code-" + string(rune('a'+i)))
	}
	if err := f.store.ReplaceRecoveryCodes(f.ctx, userID, hashes, f.clock.Now()); err != nil {
		f.t.Fatal(err)
	}
	return hashes
}

func (f *fixture) factors(userID string) admin.Factors {
	f.t.Helper()
	got, err := f.svc.ListFactors(f.ctx, userID)
	if err != nil {
		f.t.Fatalf("ListFactors: %v", err)
	}
	return got
}

func passkeyIDs(fs admin.Factors) []string {
	var ids []string
	for _, p := range fs.Passkeys {
		ids = append(ids, p.ID)
	}
	return ids
}

func TestListFactors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.createUser("dave", "dave-password")

	none := f.factors(u.ID)
	if none.Passkeys == nil || len(none.Passkeys) != 0 || none.TOTP != nil || none.RecoveryCodesLeft != 0 {
		t.Errorf("a user without factors: %+v; want an empty list, no TOTP, no codes", none)
	}
	if b, _ := json.Marshal(none); string(b) != `{"passkeys":[],"recovery_codes_left":0}` {
		t.Errorf("JSON of no factors: %s", b)
	}

	created := f.clock.Now()
	f.passkey(u.ID, "cred-laptop", "Laptop")
	f.clock.Add(time.Minute)
	f.passkey(u.ID, "cred-phone", "Phone")
	used := f.clock.Now().Add(time.Hour)
	if err := f.store.UpdateWebAuthnCredential(f.ctx, u.ID, "cred-laptop", []byte(credentialRecord), used); err != nil {
		t.Fatal(err)
	}
	f.totp(u.ID)
	hashes := f.recoveryCodes(u.ID, 10)
	if err := f.store.UseRecoveryCode(f.ctx, u.ID, hashes[3], f.clock.Now()); err != nil {
		t.Fatal(err)
	}

	got := f.factors(u.ID)
	if ids := passkeyIDs(got); !slices.Equal(ids, []string{"cred-laptop", "cred-phone"}) {
		t.Errorf("passkeys %v, want oldest first", ids)
	}
	if p := got.Passkeys[0]; p.Label != "Laptop" || !p.CreatedAt.Equal(created) || !p.LastUsedAt.Equal(used) {
		t.Errorf("laptop passkey = %+v", p)
	}
	if p := got.Passkeys[1]; !p.LastUsedAt.IsZero() {
		t.Errorf("a passkey never used has last_used_at %v", p.LastUsedAt)
	}
	if got.TOTP == nil || got.TOTP.Confirmed || !got.TOTP.CreatedAt.Equal(f.clock.Now()) {
		t.Errorf("TOTP = %+v; want one, unconfirmed", got.TOTP)
	}
	if got.RecoveryCodesLeft != 9 {
		t.Errorf("%d recovery codes left, want 9", got.RecoveryCodesLeft)
	}

	// A first right code confirms the authenticator.
	if err := f.store.UseTOTPStep(f.ctx, u.ID, 1000, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if got := f.factors(u.ID); got.TOTP == nil || !got.TOTP.Confirmed {
		t.Errorf("TOTP after a first code = %+v; want confirmed", got.TOTP)
	}

	// Nothing that proves a factor is ever shown.
	b, err := json.Marshal(f.factors(u.ID))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range append([]string{credentialRecord, "pQECAy", sealedSecret}, hashes...) {
		if strings.Contains(string(b), secret) {
			t.Errorf("the factors show %q: %s", secret, b)
		}
	}
	for _, name := range []string{`"last_used_at"`, `"totp":{"created_at"`, `"confirmed":true`, `"recovery_codes_left":9`} {
		if !strings.Contains(string(b), name) {
			t.Errorf("the factors' JSON lacks %s: %s", name, b)
		}
	}

	_, err = f.svc.ListFactors(f.ctx, "nobody")
	wantKind(t, err, admin.KindNotFound)
	if lines := f.events("mfa.removed"); len(lines) != 0 {
		t.Errorf("listing logged %v", lines)
	}
}

// Removing a passkey removes that one only, of that user only, and ends
// every session of the user: a session does not record which passkey
// signed it in.
func TestRemovePasskeyEndsTheSessions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.createClient(webClient("billing"))
	u := f.createUser("dave", "dave-password")
	other := f.createUser("erin", "erin-password")
	f.passkey(u.ID, "cred-laptop", "Laptop")
	f.passkey(u.ID, "cred-phone", "Phone")
	f.passkey(other.ID, "cred-erin", "Erin's key")
	s1, s2 := f.session(u.ID, 0), f.session(u.ID, time.Minute)
	otherSession := f.session(other.ID, 0)
	fam, tok := f.family("billing", u.ID, s1, "openid")

	// Another user's passkey is none of dave's.
	wantKind(t, f.svc.RemovePasskey(f.ctx, u.ID, "cred-erin"), admin.KindNotFound)
	wantKind(t, f.svc.RemovePasskey(f.ctx, u.ID, "cred-none"), admin.KindNotFound)
	wantKind(t, f.svc.RemovePasskey(f.ctx, "nobody", "cred-laptop"), admin.KindNotFound)
	if !f.sessionLives(s1) || len(f.factors(other.ID).Passkeys) != 1 {
		t.Fatal("a refused removal changed something")
	}

	if err := f.svc.RemovePasskey(f.ctx, u.ID, "cred-laptop"); err != nil {
		t.Fatal(err)
	}
	if ids := passkeyIDs(f.factors(u.ID)); !slices.Equal(ids, []string{"cred-phone"}) {
		t.Errorf("passkeys after the removal: %v", ids)
	}
	if f.sessionLives(s1) || f.sessionLives(s2) {
		t.Error("a session of the user lives on after a passkey was removed")
	}
	if !f.sessionLives(otherSession) {
		t.Error("another user's session ended")
	}
	f.wantRevoked(fam, tok, true)
	ev := f.wantEvent("mfa.removed", 1)
	if len(ev) == 1 && (ev[0].Str("factor") != "passkey" || ev[0].Str("passkey_id") != "cred-laptop" || ev[0].Str("user_id") != u.ID || ev[0].Str("username") != "dave") {
		t.Errorf("mfa.removed = %s", ev[0].Raw)
	}
	f.wantEvent("session.ended", 2)
	f.noSecretsLogged(credentialRecord)
}

func TestRemoveTOTP(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.createUser("dave", "dave-password")
	wantKind(t, f.svc.RemoveTOTP(f.ctx, u.ID), admin.KindNotFound)

	f.totp(u.ID)
	f.recoveryCodes(u.ID, 10)
	f.passkey(u.ID, "cred-laptop", "Laptop")
	sid := f.session(u.ID, 0)
	if err := f.svc.RemoveTOTP(f.ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	got := f.factors(u.ID)
	if got.TOTP != nil || got.RecoveryCodesLeft != 10 || len(got.Passkeys) != 1 {
		t.Errorf("after removing the TOTP authenticator: %+v; want the passkey and the codes kept", got)
	}
	if f.sessionLives(sid) {
		t.Error("the session lives on")
	}
	if ev := f.wantEvent("mfa.removed", 1); len(ev) == 1 && ev[0].Str("factor") != "totp" {
		t.Errorf("mfa.removed = %s", ev[0].Raw)
	}
	wantKind(t, f.svc.RemoveTOTP(f.ctx, u.ID), admin.KindNotFound)
	f.noSecretsLogged(sealedSecret)

	// With the last factor gone, the recovery codes go too: alone they
	// would make every sign-in spend one (as /account does).
	if err := f.svc.RemovePasskey(f.ctx, u.ID, "cred-laptop"); err != nil {
		t.Fatal(err)
	}
	if got := f.factors(u.ID); got.RecoveryCodesLeft != 0 || len(got.Passkeys) != 0 {
		t.Errorf("after removing the last factor: %+v; want no recovery codes left", got)
	}
}

// A reset removes every factor and the recovery codes, and ends the
// sessions; refresh tokens of offline_access outlive it as they outlive a
// sign-out.
func TestResetFactors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.createClient(webClient("billing"))
	u := f.createUser("dave", "dave-password")
	f.passkey(u.ID, "cred-laptop", "Laptop")
	f.passkey(u.ID, "cred-phone", "Phone")
	f.totp(u.ID)
	hashes := f.recoveryCodes(u.ID, 10)
	sid := f.session(u.ID, 0)
	online, onlineTok := f.family("billing", u.ID, sid, "openid")
	offline, offlineTok := f.family("billing", u.ID, sid, "openid offline_access")

	if err := f.svc.ResetFactors(f.ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	got := f.factors(u.ID)
	if len(got.Passkeys) != 0 || got.TOTP != nil || got.RecoveryCodesLeft != 0 {
		t.Errorf("after the reset: %+v", got)
	}
	if _, err := f.store.GetWebAuthnCredential(f.ctx, "cred-phone"); err == nil {
		t.Error("a passkey is still stored")
	}
	if err := f.store.UseRecoveryCode(f.ctx, u.ID, hashes[0], f.clock.Now()); err == nil {
		t.Error("a recovery code still works")
	}
	if f.sessionLives(sid) {
		t.Error("the session lives on")
	}
	f.wantRevoked(online, onlineTok, true)
	f.wantRevoked(offline, offlineTok, false)
	if ev := f.wantEvent("mfa.reset", 1); len(ev) == 1 && (ev[0].Str("user_id") != u.ID || ev[0].Str("username") != "dave") {
		t.Errorf("mfa.reset = %s", ev[0].Raw)
	}
	f.wantEvent("session.ended", 1)

	// Nothing left to reset: done all the same.
	if err := f.svc.ResetFactors(f.ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	f.wantEvent("mfa.reset", 2)
	wantKind(t, f.svc.ResetFactors(f.ctx, "nobody"), admin.KindNotFound)
}

// The file declares users, not their factors: an operator lists, removes
// and resets the factors of a file-owned user. Whether the user must use
// one is the file's.
func TestFactorsOfFileOwnedUsers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice := f.alice.ID
	f.passkey(alice, "cred-alice", "Alice's key")
	f.totp(alice)

	if got := f.factors(alice); len(got.Passkeys) != 1 || got.TOTP == nil {
		t.Errorf("alice's factors: %+v", got)
	}
	if err := f.svc.RemovePasskey(f.ctx, alice, "cred-alice"); err != nil {
		t.Errorf("RemovePasskey of a file-owned user: %v", err)
	}
	if err := f.svc.RemoveTOTP(f.ctx, alice); err != nil {
		t.Errorf("RemoveTOTP of a file-owned user: %v", err)
	}
	if err := f.svc.ResetFactors(f.ctx, alice); err != nil {
		t.Errorf("ResetFactors of a file-owned user: %v", err)
	}
	on := true
	_, err := f.svc.UpdateUser(f.ctx, alice, admin.UserPatch{RequireMFA: &on})
	if e := wantKind(t, err, admin.KindFileOwned); !strings.Contains(e.Message, "edit the file") {
		t.Errorf("refusal %q", e.Message)
	}
	if st, _ := f.store.GetUser(f.ctx, alice); st.RequireMFA {
		t.Error("a refused patch required MFA of alice")
	}
}

func TestUserRequireMFA(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u, err := f.svc.CreateUser(f.ctx, admin.NewUser{User: admin.User{Username: "dave", RequireMFA: true}, Password: "dave-password"})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := f.store.GetUser(f.ctx, u.ID); !u.RequireMFA || !st.RequireMFA {
		t.Errorf("created with require_mfa: %v, stored %v", u.RequireMFA, st.RequireMFA)
	}
	sid := f.session(u.ID, 0)

	off := false
	got, err := f.svc.UpdateUser(f.ctx, u.ID, admin.UserPatch{RequireMFA: &off})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := f.store.GetUser(f.ctx, u.ID); got.RequireMFA || st.RequireMFA {
		t.Errorf("after require_mfa false: %v, stored %v", got.RequireMFA, st.RequireMFA)
	}
	ev := f.wantEvent("user.updated", 1)
	if len(ev) == 1 {
		if fields, _ := ev[0].Fields["fields"].([]any); len(fields) != 1 || fields[0] != "require_mfa" {
			t.Errorf("user.updated fields = %v", ev[0].Fields["fields"])
		}
	}
	// The next authorization asks for the second step; the session is not ended.
	if !f.sessionLives(sid) {
		t.Error("changing require_mfa ended a session")
	}
	if b, _ := json.Marshal(got); !strings.Contains(string(b), `"require_mfa":false`) {
		t.Errorf("the user's JSON lacks require_mfa: %s", b)
	}
}

func TestClientRequireMFAAndDefaultACRValues(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	nc := webClient("billing")
	nc.RequireMFA = true
	nc.DefaultACRValues = []string{config.ACRMFA}
	cl, _ := f.createClient(nc)
	if !cl.RequireMFA || !slices.Equal(cl.DefaultACRValues, []string{config.ACRMFA}) {
		t.Errorf("created %+v", cl)
	}
	if st, _ := f.store.GetClient(f.ctx, "billing"); !st.RequireMFA || !slices.Equal(st.DefaultACRValues, []string{config.ACRMFA}) {
		t.Errorf("stored require_mfa %v, default_acr_values %v", st.RequireMFA, st.DefaultACRValues)
	}
	plain, _ := f.createClient(webClient("plain"))
	if b, _ := json.Marshal(plain); !strings.Contains(string(b), `"require_mfa":false,"default_acr_values":[]`) {
		t.Errorf("JSON of a client without them: %s", b)
	}

	bad := webClient("bad")
	bad.DefaultACRValues = []string{"urn:authserver:acr:pwd"}
	_, _, err := f.svc.CreateClient(f.ctx, bad)
	wantProblem(t, err, "default_acr_values[0]")

	off, acr := false, []string{config.ACRPhishingResistant}
	got, err := f.svc.UpdateClient(f.ctx, "billing", admin.ClientPatch{RequireMFA: &off, DefaultACRValues: &acr})
	if err != nil {
		t.Fatal(err)
	}
	if got.RequireMFA || !slices.Equal(got.DefaultACRValues, acr) {
		t.Errorf("patched %+v", got)
	}
	if ev := f.wantEvent("client.updated", 1); len(ev) == 1 {
		if fields, _ := ev[0].Fields["fields"].([]any); len(fields) != 2 || fields[0] != "require_mfa" || fields[1] != "default_acr_values" {
			t.Errorf("client.updated fields = %v", ev[0].Fields["fields"])
		}
	}
	wrong := []string{"mfa"}
	_, err = f.svc.UpdateClient(f.ctx, "billing", admin.ClientPatch{DefaultACRValues: &wrong})
	wantProblem(t, err, "default_acr_values[0]")
	none := []string{}
	if got, err = f.svc.UpdateClient(f.ctx, "billing", admin.ClientPatch{DefaultACRValues: &none}); err != nil || len(got.DefaultACRValues) != 0 {
		t.Errorf("clearing default_acr_values: %+v, %v", got.DefaultACRValues, err)
	}

	// The file's client is the file's.
	on := true
	_, err = f.svc.UpdateClient(f.ctx, "demo-web", admin.ClientPatch{RequireMFA: &on})
	wantKind(t, err, admin.KindFileOwned)
}

// require_mfa is the operator's policy for a client: a registered client
// replacing its metadata (RFC 7592) does not lift it.
func TestRegisteredClientKeepsRequireMFA(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	reg, _, _, err := f.svc.RegisterClient(f.ctx, webClient(""))
	if err != nil {
		t.Fatal(err)
	}
	on, acr := true, []string{config.ACRMFA}
	if _, err := f.svc.UpdateClient(f.ctx, reg.ID, admin.ClientPatch{RequireMFA: &on, DefaultACRValues: &acr}); err != nil {
		t.Fatal(err)
	}
	replaced := webClient(reg.ID)
	replaced.Name = "Renamed"
	got, err := f.svc.ReplaceRegisteredClient(f.ctx, reg.ID, replaced)
	if err != nil {
		t.Fatal(err)
	}
	if !got.RequireMFA || got.Name != "Renamed" || !slices.Equal(got.DefaultACRValues, acr) {
		t.Errorf("after RFC 7592 replace: require_mfa %v, default_acr_values %q, name %q", got.RequireMFA, got.DefaultACRValues, got.Name)
	}
}
