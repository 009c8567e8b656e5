package conformance

import (
	"fmt"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/storage"
)

// This file specifies what issue 12 (passkeys, TOTP, recovery codes,
// acr/amr) asks of a store: who must use a second factor, the methods a
// sign-in used carried from the session to its codes and refresh tokens,
// and storage.MFAStore. Every second factor belongs to one user: a request
// naming another user's record must neither see nor change it, and a
// one-time use (a TOTP step, a recovery code) succeeds once however many
// race for it.

// ---- who must use a second factor, and what a sign-in used ----

// Every amr value of RFC 8176 that the server uses, so that each round
// trip carries them all.
var amrMFA = []string{"pwd", "otp", "hwk", "swk", "user", "mfa"}

func mfaClient(id string) storage.Client {
	c := fullClient(id)
	c.RequireMFA = true
	c.DefaultACRValues = []string{"urn:authserver:acr:mfa", "urn:authserver:acr:phishing-resistant"}
	return c
}

var signInMethodCases = []testCase{
	{"UserRequireMFA", func(t *testing.T, s storage.Store) {
		want := user("alice")
		want.RequireMFA = true
		got, err := s.UpsertUser(t.Context(), want)
		mustOK(t, "upsert", err)
		if !got.RequireMFA {
			t.Fatalf("UpsertUser returned RequireMFA false")
		}
		read, err := s.GetUser(t.Context(), got.ID)
		mustOK(t, "get", err)
		mustEqual(t, "user", read, got)

		// The upsert replaces it, both ways: an operator lifting the
		// requirement must see it lifted.
		want.RequireMFA = false
		got, err = s.UpsertUser(t.Context(), want)
		mustOK(t, "upsert cleared", err)
		read, err = s.GetUserByUsername(t.Context(), "alice")
		mustOK(t, "get by username", err)
		if got.RequireMFA || read.RequireMFA {
			t.Fatalf("RequireMFA after clearing: returned %v, stored %v", got.RequireMFA, read.RequireMFA)
		}

		created := user("bob")
		created.RequireMFA = true
		got, err = s.CreateUser(t.Context(), created)
		mustOK(t, "create", err)
		users, err := s.ListUsers(t.Context())
		mustOK(t, "list", err)
		if len(users) != 2 || users[1].ID != got.ID || !users[1].RequireMFA || users[0].RequireMFA {
			t.Fatalf("listed users %+v: want alice without, bob with RequireMFA", users)
		}
	}},
	{"ClientRequireMFAAndDefaultACRValues", func(t *testing.T, s storage.Store) {
		for name, write := range map[string]func(storage.Client) error{
			"upsert": func(c storage.Client) error { return s.UpsertClient(t.Context(), c) },
			"create": func(c storage.Client) error { return s.CreateClient(t.Context(), c) },
		} {
			want := mfaClient(name)
			mustOK(t, name, write(want))
			got, err := s.GetClient(t.Context(), name)
			mustOK(t, "get "+name, err)
			mustEqual(t, "client "+name, got, want)
		}
		list, err := s.ListClients(t.Context())
		mustOK(t, "list", err)
		mustEqual(t, "listed clients", list, []storage.Client{mfaClient("create"), mfaClient("upsert")})

		// The upsert clears both: a client leaving the requirement must not
		// keep sending its users through a second step.
		cleared := fullClient("upsert")
		mustOK(t, "upsert cleared", s.UpsertClient(t.Context(), cleared))
		got, err := s.GetClient(t.Context(), "upsert")
		mustOK(t, "get cleared", err)
		if got.RequireMFA || got.DefaultACRValues != nil {
			t.Fatalf("cleared client: RequireMFA %v, DefaultACRValues %q; want false, nil", got.RequireMFA, got.DefaultACRValues)
		}
	}},
	{"SessionAMR", func(t *testing.T, s storage.Store) {
		want := session("s1")
		want.AMR = amrMFA
		mustOK(t, "create", s.CreateSession(t.Context(), want))
		got, err := s.GetSession(t.Context(), want.IDHash, at(time.Minute))
		mustOK(t, "get", err)
		mustEqual(t, "session", got, want)
		list, err := s.ListUserSessions(t.Context(), want.UserID, at(time.Minute))
		mustOK(t, "list", err)
		mustEqual(t, "listed sessions", list, []storage.Session{want})

		// No methods (a session from before they were recorded) reads back
		// as none, not as an empty string.
		none := session("s2")
		none.AMR = []string{}
		mustOK(t, "create without amr", s.CreateSession(t.Context(), none))
		got, err = s.GetSession(t.Context(), none.IDHash, at(time.Minute))
		mustOK(t, "get without amr", err)
		if got.AMR != nil {
			t.Fatalf("AMR of a session without methods = %q, want nil", got.AMR)
		}
	}},
	{"AuthCodeAMR", func(t *testing.T, s storage.Store) {
		c := authCode("code", at(time.Minute))
		c.AMR = []string{"pwd", "otp", "mfa"}
		mustOK(t, "create", s.CreateAuthCode(t.Context(), c))
		got, err := s.ConsumeAuthCode(t.Context(), c.CodeHash, redemption(c, "F"), at(time.Second))
		mustOK(t, "consume", err)
		mustEqual(t, "AMR of the redeemed code", got.AMR, c.AMR)
		// A replay's record names the same methods.
		got, err = s.ConsumeAuthCode(t.Context(), c.CodeHash, redemption(c, "G"), at(2*time.Second))
		mustErr(t, "replay", err, storage.ErrAlreadyUsed)
		mustEqual(t, "AMR of the replayed code", got.AMR, c.AMR)
	}},
	{"RefreshTokenAMR", func(t *testing.T, s storage.Store) {
		first := refreshToken("rt-1", "F")
		first.AMR = []string{"hwk", "user"}
		mustOK(t, "create", s.CreateRefreshToken(t.Context(), first))
		got, err := s.GetRefreshToken(t.Context(), first.TokenHash)
		mustOK(t, "get", err)
		mustEqual(t, "token", got, first)

		// Rotation: the old record comes back with its methods, and the
		// next token keeps what it was given.
		next := refreshToken("rt-2", "F")
		next.AMR = first.AMR
		old, err := s.RotateRefreshToken(t.Context(), first.TokenHash, next, at(time.Minute))
		mustOK(t, "rotate", err)
		mustEqual(t, "AMR of the rotated token", old.AMR, first.AMR)
		got, err = s.GetRefreshToken(t.Context(), next.TokenHash)
		mustOK(t, "get next", err)
		mustEqual(t, "next token", got, next)
		list, err := s.ListSessionRefreshTokens(t.Context(), next.SessionID)
		mustOK(t, "list", err)
		mustEqual(t, "listed tokens", list, []storage.RefreshToken{next})

		// A replay of the spent token reports it with its methods.
		old, err = s.RotateRefreshToken(t.Context(), first.TokenHash, refreshToken("rt-3", "F"), at(2*time.Minute))
		mustErr(t, "replay", err, storage.ErrAlreadyUsed)
		mustEqual(t, "AMR of the replayed token", old.AMR, first.AMR)
	}},
}

// ---- fixtures of the second factors ----

// mfaUsers stores alice and bob and returns their ids.
func mfaUsers(t *testing.T, s storage.Store) (alice, bob string) {
	t.Helper()
	a, err := s.UpsertUser(t.Context(), user("alice"))
	mustOK(t, "upsert alice", err)
	b, err := s.UpsertUser(t.Context(), user("bob"))
	mustOK(t, "upsert bob", err)
	return a.ID, b.ID
}

// passkey is a credential as the WebAuthn library records it (JSON, with
// non-ASCII in it so that the column is shown to keep bytes as given).
func passkey(id, userID string, created time.Time) storage.WebAuthnCredential {
	return storage.WebAuthnCredential{
		ID:     id,
		UserID: userID,
		Label:  "Laptop — Touch ID ü " + id,
		Credential: []byte(`{"id":"` + id + `","publicKey":"pQECAyYgASFYIMKj","attestationType":"none",` +
			`"flags":{"userPresent":true,"userVerified":true,"backupEligible":true,"backupState":false},` +
			`"authenticator":{"AAGUID":"AAAAAAAAAAAAAAAAAAAAAA==","signCount":0,"note":"ünï"}}`),
		CreatedAt: created,
	}
}

func mustPasskey(t *testing.T, s storage.Store, want storage.WebAuthnCredential) {
	t.Helper()
	got, err := s.GetWebAuthnCredential(t.Context(), want.ID)
	mustOK(t, "get passkey "+want.ID, err)
	mustEqual(t, "passkey "+want.ID, got, want)
}

func totp(userID string, created time.Time) storage.TOTP {
	return storage.TOTP{UserID: userID, Secret: "v1.sealed.bm9uY2U.Y2lwaGVydGV4dA-of-" + userID, CreatedAt: created}
}

func mustTOTP(t *testing.T, s storage.Store, want storage.TOTP) {
	t.Helper()
	got, err := s.GetTOTP(t.Context(), want.UserID)
	mustOK(t, "get totp", err)
	mustEqual(t, "totp", got, want)
}

func recoveryHashes(prefix string, n int) []string {
	hashes := make([]string, n)
	for i := range hashes {
		hashes[i] = storage.Hash(fmt.Sprintf("%s-%02d", prefix, i))
	}
	return hashes
}

func mustUnspent(t *testing.T, s storage.Store, userID string, want int) {
	t.Helper()
	n, err := s.CountRecoveryCodes(t.Context(), userID)
	mustOK(t, "count recovery codes", err)
	if n != want {
		t.Fatalf("CountRecoveryCodes = %d, want %d", n, want)
	}
}

// ---- passkeys ----

var passkeyCases = []testCase{
	{"CreateGet", func(t *testing.T, s storage.Store) {
		alice, _ := mfaUsers(t, s)
		want := passkey("cred-1", alice, at(0))
		mustOK(t, "create", s.CreateWebAuthnCredential(t.Context(), want))
		mustPasskey(t, s, want) // LastUsedAt: zero until first used
		_, err := s.GetWebAuthnCredential(t.Context(), "unknown")
		mustErr(t, "get unknown", err, storage.ErrNotFound)
	}},
	{"TakenIDIsConflict", func(t *testing.T, s storage.Store) {
		// The id is what a discoverable sign-in finds the user by: another
		// user registering it must not take the passkey over.
		alice, bob := mfaUsers(t, s)
		want := passkey("cred-1", alice, at(0))
		mustOK(t, "create", s.CreateWebAuthnCredential(t.Context(), want))
		mustErr(t, "create for bob", s.CreateWebAuthnCredential(t.Context(), passkey("cred-1", bob, at(time.Second))), storage.ErrConflict)
		mustErr(t, "create again", s.CreateWebAuthnCredential(t.Context(), passkey("cred-1", alice, at(time.Second))), storage.ErrConflict)
		mustPasskey(t, s, want)
	}},
	{"UnknownUserIsNotFound", func(t *testing.T, s storage.Store) {
		mustErr(t, "create", s.CreateWebAuthnCredential(t.Context(), passkey("cred-1", "nobody", at(0))), storage.ErrNotFound)
		_, err := s.GetWebAuthnCredential(t.Context(), "cred-1")
		mustErr(t, "get", err, storage.ErrNotFound)
	}},
	{"ListPerUserOldestFirst", func(t *testing.T, s storage.Store) {
		alice, bob := mfaUsers(t, s)
		second, first, third := passkey("b", alice, at(time.Second)), passkey("c", alice, at(0)), passkey("a", alice, at(2*time.Second))
		bobs := passkey("d", bob, at(-time.Hour))
		for _, c := range []storage.WebAuthnCredential{second, first, bobs, third} {
			mustOK(t, "create "+c.ID, s.CreateWebAuthnCredential(t.Context(), c))
		}
		list, err := s.ListWebAuthnCredentials(t.Context(), alice)
		mustOK(t, "list alice", err)
		mustEqual(t, "alice's passkeys", list, []storage.WebAuthnCredential{first, second, third})
		list, err = s.ListWebAuthnCredentials(t.Context(), bob)
		mustOK(t, "list bob", err)
		mustEqual(t, "bob's passkeys", list, []storage.WebAuthnCredential{bobs})
		list, err = s.ListWebAuthnCredentials(t.Context(), "nobody")
		mustOK(t, "list nobody", err)
		if len(list) != 0 {
			t.Fatalf("passkeys of an unknown user: %+v", list)
		}
	}},
	{"UpdateOnlyTheOwners", func(t *testing.T, s storage.Store) {
		alice, bob := mfaUsers(t, s)
		want := passkey("cred-1", alice, at(0))
		mustOK(t, "create", s.CreateWebAuthnCredential(t.Context(), want))
		counted := []byte(`{"id":"cred-1","authenticator":{"signCount":7}}`)

		// Bob's session naming Alice's credential (its id is no secret)
		// must not move her sign count or last use.
		mustErr(t, "update by bob", s.UpdateWebAuthnCredential(t.Context(), bob, "cred-1", counted, at(time.Hour)), storage.ErrNotFound)
		mustPasskey(t, s, want)
		mustErr(t, "update unknown", s.UpdateWebAuthnCredential(t.Context(), alice, "unknown", counted, at(time.Hour)), storage.ErrNotFound)

		mustOK(t, "update", s.UpdateWebAuthnCredential(t.Context(), alice, "cred-1", counted, at(time.Hour)))
		want.Credential, want.LastUsedAt = counted, at(time.Hour)
		mustPasskey(t, s, want) // label and CreatedAt as they were
	}},
	{"RenameOnlyTheOwners", func(t *testing.T, s storage.Store) {
		alice, bob := mfaUsers(t, s)
		want := passkey("cred-1", alice, at(0))
		mustOK(t, "create", s.CreateWebAuthnCredential(t.Context(), want))
		mustErr(t, "rename by bob", s.RenameWebAuthnCredential(t.Context(), bob, "cred-1", "mine now"), storage.ErrNotFound)
		mustPasskey(t, s, want)
		mustErr(t, "rename unknown", s.RenameWebAuthnCredential(t.Context(), alice, "unknown", "x"), storage.ErrNotFound)
		mustOK(t, "rename", s.RenameWebAuthnCredential(t.Context(), alice, "cred-1", "YubiKey 5 — blue"))
		want.Label = "YubiKey 5 — blue"
		mustPasskey(t, s, want)
	}},
	{"DeleteOnlyTheOwners", func(t *testing.T, s storage.Store) {
		alice, bob := mfaUsers(t, s)
		want, other := passkey("cred-1", alice, at(0)), passkey("cred-2", alice, at(time.Second))
		mustOK(t, "create", s.CreateWebAuthnCredential(t.Context(), want))
		mustOK(t, "create other", s.CreateWebAuthnCredential(t.Context(), other))
		mustErr(t, "delete by bob", s.DeleteWebAuthnCredential(t.Context(), bob, "cred-1"), storage.ErrNotFound)
		mustPasskey(t, s, want)
		mustOK(t, "delete", s.DeleteWebAuthnCredential(t.Context(), alice, "cred-1"))
		_, err := s.GetWebAuthnCredential(t.Context(), "cred-1")
		mustErr(t, "get deleted", err, storage.ErrNotFound)
		mustErr(t, "delete again", s.DeleteWebAuthnCredential(t.Context(), alice, "cred-1"), storage.ErrNotFound)
		mustPasskey(t, s, other)
	}},
	{"DeletedWithTheUser", func(t *testing.T, s storage.Store) {
		alice, bob := mfaUsers(t, s)
		mustOK(t, "create alice's", s.CreateWebAuthnCredential(t.Context(), passkey("cred-1", alice, at(0))))
		bobs := passkey("cred-2", bob, at(0))
		mustOK(t, "create bob's", s.CreateWebAuthnCredential(t.Context(), bobs))
		mustOK(t, "put totp", s.PutTOTP(t.Context(), totp(alice, at(0))))
		mustOK(t, "replace codes", s.ReplaceRecoveryCodes(t.Context(), alice, recoveryHashes("a", 3), at(0)))

		mustOK(t, "delete alice", s.DeleteUser(t.Context(), alice, at(time.Hour)))
		_, err := s.GetWebAuthnCredential(t.Context(), "cred-1")
		mustErr(t, "get alice's passkey", err, storage.ErrNotFound)
		_, err = s.GetTOTP(t.Context(), alice)
		mustErr(t, "get alice's totp", err, storage.ErrNotFound)
		mustUnspent(t, s, alice, 0)
		mustPasskey(t, s, bobs)

		// The id is free again: the row is gone, not hidden.
		mustOK(t, "create the id for bob", s.CreateWebAuthnCredential(t.Context(), passkey("cred-1", bob, at(time.Hour))))
	}},
}

// ---- TOTP ----

var totpCases = []testCase{
	{"PutGet", func(t *testing.T, s storage.Store) {
		alice, _ := mfaUsers(t, s)
		_, err := s.GetTOTP(t.Context(), alice)
		mustErr(t, "get before put", err, storage.ErrNotFound)
		want := totp(alice, at(0))
		mustOK(t, "put", s.PutTOTP(t.Context(), want))
		mustTOTP(t, s, want) // unconfirmed, no step used
		mustErr(t, "put for an unknown user", s.PutTOTP(t.Context(), totp("nobody", at(0))), storage.ErrNotFound)
	}},
	{"UseConfirmsAndRefusesReplay", func(t *testing.T, s storage.Store) {
		alice, bob := mfaUsers(t, s)
		want := totp(alice, at(0))
		mustOK(t, "put", s.PutTOTP(t.Context(), want))
		bobs := totp(bob, at(0))
		mustOK(t, "put bob's", s.PutTOTP(t.Context(), bobs))

		mustOK(t, "first code", s.UseTOTPStep(t.Context(), alice, 1000, at(30*time.Second)))
		want.ConfirmedAt, want.LastStep = at(30*time.Second), 1000
		mustTOTP(t, s, want)
		mustTOTP(t, s, bobs) // another user's authenticator is its own

		// The same code again, or one of an earlier step (accepted within
		// the clock-skew window), is a replay.
		mustErr(t, "same step", s.UseTOTPStep(t.Context(), alice, 1000, at(31*time.Second)), storage.ErrAlreadyUsed)
		mustErr(t, "older step", s.UseTOTPStep(t.Context(), alice, 999, at(31*time.Second)), storage.ErrAlreadyUsed)
		mustTOTP(t, s, want)

		// A later step is accepted; confirmation keeps its first time.
		mustOK(t, "later step", s.UseTOTPStep(t.Context(), alice, 1002, at(90*time.Second)))
		want.LastStep = 1002
		mustTOTP(t, s, want)
		// Once a later step was accepted, an unused earlier one counts as
		// used too: only the highest is remembered.
		mustErr(t, "skipped step", s.UseTOTPStep(t.Context(), alice, 1001, at(91*time.Second)), storage.ErrAlreadyUsed)
		mustTOTP(t, s, want)

		mustErr(t, "unknown user", s.UseTOTPStep(t.Context(), "nobody", 1000, at(0)), storage.ErrNotFound)
	}},
	{"PutReplacesUnconfirmed", func(t *testing.T, s storage.Store) {
		alice, _ := mfaUsers(t, s)
		mustOK(t, "put", s.PutTOTP(t.Context(), totp(alice, at(0))))
		mustOK(t, "confirm", s.UseTOTPStep(t.Context(), alice, 5000, at(time.Minute)))

		// A new enrolment: a new secret, unconfirmed until its first code,
		// whose steps start again (the old secret's mean nothing for it).
		again := totp(alice, at(time.Hour))
		again.Secret = "v1.sealed.bmV3.bmV3IHNlY3JldA"
		mustOK(t, "put again", s.PutTOTP(t.Context(), again))
		mustTOTP(t, s, again)
		mustOK(t, "first code of the new secret", s.UseTOTPStep(t.Context(), alice, 1, at(time.Hour+time.Minute)))
		again.ConfirmedAt, again.LastStep = at(time.Hour+time.Minute), 1
		mustTOTP(t, s, again)

		// Every field is stored as given.
		full := storage.TOTP{UserID: alice, Secret: "v1.sealed.x", CreatedAt: at(2 * time.Hour),
			ConfirmedAt: at(3 * time.Hour), LastStep: 1 << 40}
		mustOK(t, "put full", s.PutTOTP(t.Context(), full))
		mustTOTP(t, s, full)
	}},
	{"ConcurrentUsesOfOneCode", func(t *testing.T, s storage.Store) {
		alice, _ := mfaUsers(t, s)
		mustOK(t, "put", s.PutTOTP(t.Context(), totp(alice, at(0))))
		for round := range raceRounds {
			step := int64(2000 + round)
			now := at(time.Duration(round+1) * 30 * time.Second)
			oneWinner(t, round, race(concurrency, func(int) error {
				return s.UseTOTPStep(t.Context(), alice, step, now)
			}))
			got, err := s.GetTOTP(t.Context(), alice)
			mustOK(t, "get", err)
			if got.LastStep != step || !got.ConfirmedAt.Equal(at(30*time.Second)) {
				t.Fatalf("round %d: LastStep %d, ConfirmedAt %v; want %d, %v", round, got.LastStep, got.ConfirmedAt, step, at(30*time.Second))
			}
		}
	}},
	{"Delete", func(t *testing.T, s storage.Store) {
		alice, bob := mfaUsers(t, s)
		mustOK(t, "put", s.PutTOTP(t.Context(), totp(alice, at(0))))
		bobs := totp(bob, at(0))
		mustOK(t, "put bob's", s.PutTOTP(t.Context(), bobs))
		mustOK(t, "delete", s.DeleteTOTP(t.Context(), alice))
		_, err := s.GetTOTP(t.Context(), alice)
		mustErr(t, "get deleted", err, storage.ErrNotFound)
		mustErr(t, "use deleted", s.UseTOTPStep(t.Context(), alice, 1, at(time.Minute)), storage.ErrNotFound)
		mustErr(t, "delete again", s.DeleteTOTP(t.Context(), alice), storage.ErrNotFound)
		mustTOTP(t, s, bobs)
	}},
}

// ---- recovery codes ----

var recoveryCodeCases = []testCase{
	{"UseOnce", func(t *testing.T, s storage.Store) {
		alice, bob := mfaUsers(t, s)
		mustUnspent(t, s, alice, 0)
		hashes := recoveryHashes("alice", 10)
		mustOK(t, "replace", s.ReplaceRecoveryCodes(t.Context(), alice, hashes, at(0)))
		mustUnspent(t, s, alice, 10)

		mustOK(t, "use", s.UseRecoveryCode(t.Context(), alice, hashes[3], at(time.Minute)))
		mustUnspent(t, s, alice, 9)
		mustErr(t, "reuse", s.UseRecoveryCode(t.Context(), alice, hashes[3], at(2*time.Minute)), storage.ErrAlreadyUsed)
		mustErr(t, "unknown", s.UseRecoveryCode(t.Context(), alice, storage.Hash("guess"), at(2*time.Minute)), storage.ErrNotFound)
		// A code is its user's: bob cannot spend alice's, spent or not.
		mustErr(t, "bob with alice's unspent code", s.UseRecoveryCode(t.Context(), bob, hashes[4], at(2*time.Minute)), storage.ErrNotFound)
		mustErr(t, "bob with alice's spent code", s.UseRecoveryCode(t.Context(), bob, hashes[3], at(2*time.Minute)), storage.ErrNotFound)
		mustUnspent(t, s, alice, 9)
		mustUnspent(t, s, bob, 0)
		mustOK(t, "alice's other code", s.UseRecoveryCode(t.Context(), alice, hashes[4], at(3*time.Minute)))
		mustUnspent(t, s, alice, 8)
	}},
	{"ReplaceDeletesThePrevious", func(t *testing.T, s storage.Store) {
		alice, bob := mfaUsers(t, s)
		old := recoveryHashes("old", 10)
		mustOK(t, "replace", s.ReplaceRecoveryCodes(t.Context(), alice, old, at(0)))
		mustOK(t, "use", s.UseRecoveryCode(t.Context(), alice, old[0], at(time.Minute)))
		bobs := recoveryHashes("bob", 2)
		mustOK(t, "replace bob's", s.ReplaceRecoveryCodes(t.Context(), bob, bobs, at(0)))

		fresh := recoveryHashes("new", 10)
		mustOK(t, "regenerate", s.ReplaceRecoveryCodes(t.Context(), alice, fresh, at(time.Hour)))
		mustUnspent(t, s, alice, 10)
		for name, h := range map[string]string{"old spent": old[0], "old unspent": old[1]} {
			mustErr(t, name, s.UseRecoveryCode(t.Context(), alice, h, at(2*time.Hour)), storage.ErrNotFound)
		}
		mustOK(t, "use a new one", s.UseRecoveryCode(t.Context(), alice, fresh[9], at(2*time.Hour)))
		mustUnspent(t, s, bob, 2)

		mustOK(t, "replace with none", s.ReplaceRecoveryCodes(t.Context(), alice, nil, at(3*time.Hour)))
		mustUnspent(t, s, alice, 0)
		mustErr(t, "use after none", s.UseRecoveryCode(t.Context(), alice, fresh[0], at(3*time.Hour)), storage.ErrNotFound)
	}},
	{"FailedReplaceKeepsTheOldCodes", func(t *testing.T, s storage.Store) {
		// One transaction: a replacement that fails half way (here on a
		// hash given twice) must not leave the user without codes.
		alice, _ := mfaUsers(t, s)
		old := recoveryHashes("old", 3)
		mustOK(t, "replace", s.ReplaceRecoveryCodes(t.Context(), alice, old, at(0)))
		twice := storage.Hash("twice")
		mustErr(t, "replace with a duplicate", s.ReplaceRecoveryCodes(t.Context(), alice, []string{storage.Hash("once"), twice, twice}, at(time.Hour)),
			storage.ErrConflict)
		mustUnspent(t, s, alice, 3)
		mustErr(t, "use a code of the failed replacement", s.UseRecoveryCode(t.Context(), alice, storage.Hash("once"), at(time.Hour)), storage.ErrNotFound)
		mustOK(t, "use an old code", s.UseRecoveryCode(t.Context(), alice, old[0], at(time.Hour)))
	}},
	{"UnknownUserIsNotFound", func(t *testing.T, s storage.Store) {
		mustErr(t, "replace", s.ReplaceRecoveryCodes(t.Context(), "nobody", recoveryHashes("x", 2), at(0)), storage.ErrNotFound)
		mustErr(t, "use", s.UseRecoveryCode(t.Context(), "nobody", storage.Hash("x-00"), at(0)), storage.ErrNotFound)
		mustUnspent(t, s, "nobody", 0)
	}},
	{"ConcurrentUsesOfOneCode", func(t *testing.T, s storage.Store) {
		alice, _ := mfaUsers(t, s)
		hashes := recoveryHashes("race", raceRounds)
		mustOK(t, "replace", s.ReplaceRecoveryCodes(t.Context(), alice, hashes, at(0)))
		for round, h := range hashes {
			oneWinner(t, round, race(concurrency, func(int) error {
				return s.UseRecoveryCode(t.Context(), alice, h, at(time.Minute))
			}))
			mustUnspent(t, s, alice, raceRounds-round-1)
		}
	}},
}

// ---- an administrator's reset ----

var mfaResetCases = []testCase{
	{"DeleteMFAClearsEveryFactor", func(t *testing.T, s storage.Store) {
		alice, bob := mfaUsers(t, s)
		for _, id := range []string{"a1", "a2"} {
			mustOK(t, "create "+id, s.CreateWebAuthnCredential(t.Context(), passkey(id, alice, at(0))))
		}
		mustOK(t, "put totp", s.PutTOTP(t.Context(), totp(alice, at(0))))
		mustOK(t, "replace codes", s.ReplaceRecoveryCodes(t.Context(), alice, recoveryHashes("a", 10), at(0)))
		bobsKey, bobsTOTP := passkey("b1", bob, at(0)), totp(bob, at(0))
		mustOK(t, "create bob's", s.CreateWebAuthnCredential(t.Context(), bobsKey))
		mustOK(t, "put bob's totp", s.PutTOTP(t.Context(), bobsTOTP))
		mustOK(t, "replace bob's codes", s.ReplaceRecoveryCodes(t.Context(), bob, recoveryHashes("b", 10), at(0)))

		mustOK(t, "delete mfa", s.DeleteMFA(t.Context(), alice))
		list, err := s.ListWebAuthnCredentials(t.Context(), alice)
		mustOK(t, "list", err)
		if len(list) != 0 {
			t.Fatalf("passkeys left after DeleteMFA: %+v", list)
		}
		_, err = s.GetTOTP(t.Context(), alice)
		mustErr(t, "get totp", err, storage.ErrNotFound)
		mustUnspent(t, s, alice, 0)
		_, err = s.GetUser(t.Context(), alice)
		mustOK(t, "the user stays", err)

		mustPasskey(t, s, bobsKey)
		mustTOTP(t, s, bobsTOTP)
		mustUnspent(t, s, bob, 10)

		mustOK(t, "delete mfa of a user without factors", s.DeleteMFA(t.Context(), alice))
		mustErr(t, "delete mfa of an unknown user", s.DeleteMFA(t.Context(), "nobody"), storage.ErrNotFound)
	}},
}

// mfaTimeCases are timeCases for the second factors: an instant in another
// zone with nanoseconds comes back in UTC, truncated to the microsecond.
func mfaTimeCases(in time.Time, check func(t *testing.T, field string, got time.Time)) []testCase {
	return []testCase{
		{"WebAuthnCredential", func(t *testing.T, s storage.Store) {
			alice, _ := mfaUsers(t, s)
			mustOK(t, "create", s.CreateWebAuthnCredential(t.Context(), passkey("c", alice, in)))
			mustOK(t, "update", s.UpdateWebAuthnCredential(t.Context(), alice, "c", []byte(`{}`), in))
			got, err := s.GetWebAuthnCredential(t.Context(), "c")
			mustOK(t, "get", err)
			check(t, "CreatedAt", got.CreatedAt)
			check(t, "LastUsedAt", got.LastUsedAt)
			list, err := s.ListWebAuthnCredentials(t.Context(), alice)
			mustOK(t, "list", err)
			if len(list) != 1 {
				t.Fatalf("got %d passkeys, want 1", len(list))
			}
			check(t, "listed CreatedAt", list[0].CreatedAt)
		}},
		{"TOTP", func(t *testing.T, s storage.Store) {
			alice, _ := mfaUsers(t, s)
			mustOK(t, "put", s.PutTOTP(t.Context(), totp(alice, in)))
			mustOK(t, "use", s.UseTOTPStep(t.Context(), alice, 1, in))
			got, err := s.GetTOTP(t.Context(), alice)
			mustOK(t, "get", err)
			check(t, "CreatedAt", got.CreatedAt)
			check(t, "ConfirmedAt", got.ConfirmedAt)
		}},
	}
}
