package mfa_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/authserver-dev/authserver/authserver/mfa"
	"github.com/authserver-dev/authserver/authserver/storage"
)

var alice = mfa.User{ID: "sub-alice", Name: "alice", DisplayName: "Alice Example"}

// enrol registers a's passkey for user and returns its record.
func enrol(t *testing.T, s *mfa.Service, user mfa.User, a *authenticator, existing ...storage.WebAuthnCredential) storage.WebAuthnCredential {
	t.Helper()
	opts, state, err := s.BeginRegistration(user, existing)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.FinishRegistration(t.Context(), user, state, a.create(opts))
	if err != nil {
		t.Fatalf("FinishRegistration: %v", err)
	}
	return rec
}

// lookupIn finds a credential among recs, as GetWebAuthnCredential would.
func lookupIn(recs ...storage.WebAuthnCredential) func(string) (storage.WebAuthnCredential, error) {
	return func(id string) (storage.WebAuthnCredential, error) {
		for _, r := range recs {
			if r.ID == id {
				return r, nil
			}
		}
		return storage.WebAuthnCredential{}, storage.ErrNotFound
	}
}

// TestPasskeyCeremonies enrols a passkey, signs in with it alone, then as
// a second step, and checks the options say what the issue requires.
func TestPasskeyCeremonies(t *testing.T) {
	t.Parallel()
	s, _ := newService(t)
	a := newAuthenticator(t)

	older := newAuthenticator(t)
	existing := enrol(t, s, alice, older)
	opts, state, err := s.BeginRegistration(alice, []storage.WebAuthnCredential{existing})
	if err != nil {
		t.Fatal(err)
	}
	o := parseOptions(t, opts)
	sel := o.PublicKey.AuthenticatorSelection
	if sel.ResidentKey != "required" || !sel.RequireResidentKey || sel.UserVerification != "required" {
		t.Errorf("authenticatorSelection %+v: want a resident key and user verification required", sel)
	}
	if o.PublicKey.Attestation != "none" && o.PublicKey.Attestation != "" {
		t.Errorf("attestation %q, want none", o.PublicKey.Attestation)
	}
	if o.PublicKey.RP.ID != testRPID || o.PublicKey.User.ID != b64.EncodeToString([]byte(alice.ID)) {
		t.Errorf("rp.id %q user.id %q", o.PublicKey.RP.ID, o.PublicKey.User.ID)
	}
	if len(o.PublicKey.ExcludeCredentials) != 1 || o.PublicKey.ExcludeCredentials[0].ID != existing.ID {
		t.Errorf("excludeCredentials %+v, want the existing passkey %s", o.PublicKey.ExcludeCredentials, existing.ID)
	}
	rec, err := s.FinishRegistration(t.Context(), alice, state, a.create(opts))
	if err != nil {
		t.Fatal(err)
	}
	if rec.ID != b64.EncodeToString(a.id) || rec.UserID != alice.ID || rec.Label != "" || !json.Valid(rec.Credential) {
		t.Fatalf("record %+v", rec)
	}

	// A passkey alone.
	opts, state, err = s.BeginDiscoverableLogin()
	if err != nil {
		t.Fatal(err)
	}
	o = parseOptions(t, opts)
	if o.PublicKey.UserVerification != "required" || len(o.PublicKey.AllowCredentials) != 0 || o.PublicKey.RPID != testRPID {
		t.Errorf("discoverable options %s", opts)
	}
	got, err := s.FinishDiscoverableLogin(t.Context(), state, a.get(opts), lookupIn(existing, rec))
	if err != nil {
		t.Fatal(err)
	}
	if got.Credential.UserID != alice.ID || got.Credential.ID != rec.ID || !got.UserVerified || got.BackupEligible ||
		got.Factor() != mfa.FactorHardwarePasskey {
		t.Errorf("assertion %+v", got)
	}
	if !slices.Equal(mfa.AMRFor(false, got.Factor()), []string{"hwk", "user", "mfa"}) {
		t.Errorf("amr %v", mfa.AMRFor(false, got.Factor()))
	}
	rec = got.Credential

	// The second step of a known user.
	opts, state, err = s.BeginLogin(alice, []storage.WebAuthnCredential{existing, rec})
	if err != nil {
		t.Fatal(err)
	}
	o = parseOptions(t, opts)
	if len(o.PublicKey.AllowCredentials) != 2 || o.PublicKey.UserVerification != "required" {
		t.Errorf("second-step options %s", opts)
	}
	got, err = s.FinishLogin(t.Context(), alice, []storage.WebAuthnCredential{existing, rec}, state, a.get(opts))
	if err != nil {
		t.Fatal(err)
	}
	if got.Credential.ID != rec.ID || got.Credential.UserID != alice.ID || !got.UserVerified {
		t.Errorf("assertion %+v", got)
	}
	if _, _, err := s.BeginLogin(alice, nil); err == nil {
		t.Error("BeginLogin without passkeys succeeded")
	}
}

// TestSyncedPasskey: a backup-eligible passkey counts as swk; one whose
// counter stays zero (as synced passkeys' do) signs in again and again.
func TestSyncedPasskey(t *testing.T) {
	t.Parallel()
	s, _ := newService(t)
	a := newAuthenticator(t)
	a.flags |= flagBE | flagBS
	a.fixed = true // count stays 0
	rec := enrol(t, s, alice, a)
	for range 2 {
		opts, state, err := s.BeginDiscoverableLogin()
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.FinishDiscoverableLogin(t.Context(), state, a.get(opts), lookupIn(rec))
		if err != nil {
			t.Fatal(err)
		}
		if !got.BackupEligible || !got.BackupState || got.Factor() != mfa.FactorSyncedPasskey {
			t.Errorf("assertion %+v", got)
		}
		if acr := mfa.ACRFor(mfa.AMRFor(true, got.Factor())); acr != mfa.ACRPhishingResistant {
			t.Errorf("acr %s", acr)
		}
		rec = got.Credential
	}
}

// TestAttestationFormats: none, packed (self) and fido-u2f registrations
// are accepted.
func TestAttestationFormats(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"none", "packed", "fido-u2f"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			s, _ := newService(t)
			a := newAuthenticator(t)
			a.format = format
			rec := enrol(t, s, alice, a)
			opts, state, err := s.BeginLogin(alice, []storage.WebAuthnCredential{rec})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.FinishLogin(t.Context(), alice, []storage.WebAuthnCredential{rec}, state, a.get(opts)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRegistrationRefusals: the response must come from one of our
// origins, for our RP id, with user verification, for the ceremony's user.
func TestRegistrationRefusals(t *testing.T) {
	t.Parallel()
	s, _ := newService(t)
	tests := []struct {
		name   string
		change func(a *authenticator)
	}{
		{"wrong origin", func(a *authenticator) { a.origin = "https://login.example.com.evil.example" }},
		{"http origin", func(a *authenticator) { a.origin = "http://login.example.com" }},
		{"wrong rp id", func(a *authenticator) { a.rpID = "evil.example" }},
		{"parent domain rp id", func(a *authenticator) { a.rpID = "example.com" }},
		{"no user verification", func(a *authenticator) { a.flags = flagUP }},
		{"no user presence", func(a *authenticator) { a.flags = flagUV }},
		{"backup state without eligibility", func(a *authenticator) { a.flags |= flagBS }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newAuthenticator(t)
			tc.change(a)
			opts, state, err := s.BeginRegistration(alice, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.FinishRegistration(t.Context(), alice, state, a.create(opts)); !errors.Is(err, mfa.ErrRefused) {
				t.Errorf("FinishRegistration = %v, want ErrRefused", err)
			}
		})
	}
	t.Run("garbage", func(t *testing.T) {
		_, state, _ := s.BeginRegistration(alice, nil)
		if _, err := s.FinishRegistration(t.Context(), alice, state, []byte(`{"id":"x"}`)); !errors.Is(err, mfa.ErrRefused) {
			t.Errorf("FinishRegistration = %v, want ErrRefused", err)
		}
	})
}

// TestLoginRefusals: the same rules at sign-in, both kinds, plus an
// unknown, removed or someone else's passkey.
func TestLoginRefusals(t *testing.T) {
	t.Parallel()
	s, _ := newService(t)
	bob := mfa.User{ID: "sub-bob", Name: "bob"}
	tests := []struct {
		name   string
		change func(a *authenticator)
	}{
		{"wrong origin", func(a *authenticator) { a.origin = "https://evil.example" }},
		{"wrong rp id", func(a *authenticator) { a.rpID = "evil.example" }},
		{"no user verification", func(a *authenticator) { a.flags = flagUP }},
		{"backup eligibility changed", func(a *authenticator) { a.flags |= flagBE }},
		{"another key", func(a *authenticator) { a.key = newAuthenticator(t).key }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newAuthenticator(t)
			rec := enrol(t, s, alice, a)
			tc.change(a)
			opts, state, err := s.BeginDiscoverableLogin()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.FinishDiscoverableLogin(t.Context(), state, a.get(opts), lookupIn(rec)); !errors.Is(err, mfa.ErrRefused) {
				t.Errorf("discoverable: %v, want ErrRefused", err)
			}
			opts, state, err = s.BeginLogin(alice, []storage.WebAuthnCredential{rec})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.FinishLogin(t.Context(), alice, []storage.WebAuthnCredential{rec}, state, a.get(opts)); !errors.Is(err, mfa.ErrRefused) {
				t.Errorf("second step: %v, want ErrRefused", err)
			}
		})
	}

	a := newAuthenticator(t)
	rec := enrol(t, s, alice, a)
	t.Run("removed passkey", func(t *testing.T) {
		opts, state, _ := s.BeginDiscoverableLogin()
		_, err := s.FinishDiscoverableLogin(t.Context(), state, a.get(opts), lookupIn())
		if !errors.Is(err, mfa.ErrRefused) || !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("FinishDiscoverableLogin = %v, want ErrRefused and ErrNotFound", err)
		}
	})
	t.Run("record of another user", func(t *testing.T) {
		// The store says the credential is bob's; the authenticator says
		// alice's: trust neither.
		theirs := rec
		theirs.UserID = bob.ID
		opts, state, _ := s.BeginDiscoverableLogin()
		if _, err := s.FinishDiscoverableLogin(t.Context(), state, a.get(opts), lookupIn(theirs)); !errors.Is(err, mfa.ErrRefused) {
			t.Errorf("FinishDiscoverableLogin = %v, want ErrRefused", err)
		}
	})
	t.Run("second step with another user's passkey", func(t *testing.T) {
		bobsKey := newAuthenticator(t)
		enrol(t, s, bob, bobsKey)
		opts, state, _ := s.BeginLogin(alice, []storage.WebAuthnCredential{rec})
		if _, err := s.FinishLogin(t.Context(), alice, []storage.WebAuthnCredential{rec}, state, bobsKey.get(opts)); !errors.Is(err, mfa.ErrRefused) {
			t.Errorf("bob's passkey for alice: %v, want ErrRefused", err)
		}
	})
	t.Run("second step with a passkey removed since", func(t *testing.T) {
		other := newAuthenticator(t)
		otherRec := enrol(t, s, alice, other, rec)
		opts, state, _ := s.BeginLogin(alice, []storage.WebAuthnCredential{rec, otherRec})
		if _, err := s.FinishLogin(t.Context(), alice, []storage.WebAuthnCredential{rec}, state, other.get(opts)); !errors.Is(err, mfa.ErrRefused) {
			t.Errorf("FinishLogin = %v, want ErrRefused", err)
		}
	})
}

// TestSignCount: an increasing counter is stored; one that goes back or
// stays (a cloned authenticator) is refused, in both kinds of sign-in.
func TestSignCount(t *testing.T) {
	t.Parallel()
	s, _ := newService(t)
	a := newAuthenticator(t)
	rec := enrol(t, s, alice, a) // count 1
	login := func(rec storage.WebAuthnCredential) (mfa.Assertion, error) {
		opts, state, err := s.BeginLogin(alice, []storage.WebAuthnCredential{rec})
		if err != nil {
			t.Fatal(err)
		}
		return s.FinishLogin(t.Context(), alice, []storage.WebAuthnCredential{rec}, state, a.get(opts))
	}
	got, err := login(rec) // count 2
	if err != nil {
		t.Fatal(err)
	}
	var stored struct {
		Authenticator struct{ SignCount uint32 } `json:"authenticator"`
	}
	if err := json.Unmarshal(got.Credential.Credential, &stored); err != nil || stored.Authenticator.SignCount != 2 {
		t.Fatalf("stored sign count %d (%v), want 2", stored.Authenticator.SignCount, err)
	}
	rec = got.Credential
	for _, count := range []uint32{1, 2} { // back, and the same again
		a.count, a.fixed = count, true
		if _, err := login(rec); !errors.Is(err, mfa.ErrRefused) {
			t.Errorf("sign count %d after 2: %v, want ErrRefused", count, err)
		}
		opts, state, _ := s.BeginDiscoverableLogin()
		if _, err := s.FinishDiscoverableLogin(t.Context(), state, a.get(opts), lookupIn(rec)); !errors.Is(err, mfa.ErrRefused) {
			t.Errorf("discoverable, sign count %d after 2: %v, want ErrRefused", count, err)
		}
	}
	a.count, a.fixed = 10, false
	if _, err := login(rec); err != nil {
		t.Errorf("sign count 11 after 2: %v", err)
	}
}

// TestCeremonyState: a state works once, for its purpose and user, within
// its lifetime, and not after any change to it.
func TestCeremonyState(t *testing.T) {
	t.Parallel()
	s, c := newService(t)
	a := newAuthenticator(t)
	rec := enrol(t, s, alice, a)
	creds := []storage.WebAuthnCredential{rec}

	t.Run("replayed", func(t *testing.T) {
		// A passkey whose counter stays zero, as synced ones do: only the
		// state stops the replay.
		z := newAuthenticator(t)
		z.fixed = true
		zrec := enrol(t, s, alice, z)
		opts, state, _ := s.BeginDiscoverableLogin()
		resp := z.get(opts)
		got, err := s.FinishDiscoverableLogin(t.Context(), state, resp, lookupIn(zrec))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.FinishDiscoverableLogin(t.Context(), state, resp, lookupIn(got.Credential)); !errors.Is(err, mfa.ErrInvalidState) {
			t.Errorf("replayed: %v, want ErrInvalidState", err)
		}
		zcreds := []storage.WebAuthnCredential{got.Credential}
		opts, state, _ = s.BeginLogin(alice, zcreds)
		resp = z.get(opts)
		if _, err := s.FinishLogin(t.Context(), alice, zcreds, state, resp); err != nil {
			t.Fatal(err)
		}
		if _, err := s.FinishLogin(t.Context(), alice, zcreds, state, resp); !errors.Is(err, mfa.ErrInvalidState) {
			t.Errorf("replayed second step: %v, want ErrInvalidState", err)
		}
	})
	t.Run("replayed registration", func(t *testing.T) {
		b := newAuthenticator(t)
		opts, state, _ := s.BeginRegistration(alice, creds)
		resp := b.create(opts)
		if _, err := s.FinishRegistration(t.Context(), alice, state, resp); err != nil {
			t.Fatal(err)
		}
		if _, err := s.FinishRegistration(t.Context(), alice, state, resp); !errors.Is(err, mfa.ErrInvalidState) {
			t.Errorf("replayed: %v, want ErrInvalidState", err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		opts, state, _ := s.BeginLogin(alice, creds)
		resp := a.get(opts)
		c.Advance(mfa.StateLifetime)
		defer c.Advance(-mfa.StateLifetime)
		if _, err := s.FinishLogin(t.Context(), alice, creds, state, resp); !errors.Is(err, mfa.ErrInvalidState) {
			t.Errorf("after %v: %v, want ErrInvalidState", mfa.StateLifetime, err)
		}
	})
	t.Run("purpose", func(t *testing.T) {
		// Each state finishes only the ceremony it began.
		_, reg, _ := s.BeginRegistration(alice, creds)
		_, login, _ := s.BeginLogin(alice, creds)
		_, disc, _ := s.BeginDiscoverableLogin()
		resp := []byte(`{}`)
		if _, err := s.FinishLogin(t.Context(), alice, creds, reg, resp); !errors.Is(err, mfa.ErrInvalidState) {
			t.Errorf("registration state at FinishLogin: %v", err)
		}
		if _, err := s.FinishDiscoverableLogin(t.Context(), login, resp, lookupIn(rec)); !errors.Is(err, mfa.ErrInvalidState) {
			t.Errorf("login state at FinishDiscoverableLogin: %v", err)
		}
		if _, err := s.FinishRegistration(t.Context(), alice, disc, resp); !errors.Is(err, mfa.ErrInvalidState) {
			t.Errorf("discoverable state at FinishRegistration: %v", err)
		}
		if _, err := s.FinishLogin(t.Context(), alice, creds, disc, resp); !errors.Is(err, mfa.ErrInvalidState) {
			t.Errorf("discoverable state at FinishLogin: %v", err)
		}
	})
	t.Run("another user", func(t *testing.T) {
		bob := mfa.User{ID: "sub-bob", Name: "bob"}
		opts, state, _ := s.BeginRegistration(alice, nil)
		if _, err := s.FinishRegistration(t.Context(), bob, state, newAuthenticator(t).create(opts)); !errors.Is(err, mfa.ErrInvalidState) {
			t.Errorf("alice's registration finished for bob: %v", err)
		}
	})
	t.Run("tampered", func(t *testing.T) {
		opts, state, _ := s.BeginLogin(alice, creds)
		resp := a.get(opts)
		for i := range state {
			b := []byte(state)
			b[i] = map[bool]byte{true: 'A', false: 'B'}[b[i] != 'A']
			if _, err := s.FinishLogin(t.Context(), alice, creds, string(b), resp); !errors.Is(err, mfa.ErrInvalidState) {
				t.Fatalf("state changed at %d: %v", i, err)
			}
		}
	})
	t.Run("another key", func(t *testing.T) {
		other, _ := newServiceKey(t, keyB)
		opts, state, _ := other.BeginLogin(alice, creds)
		if _, err := s.FinishLogin(t.Context(), alice, creds, state, a.get(opts)); !errors.Is(err, mfa.ErrInvalidState) {
			t.Errorf("a state of another key: %v", err)
		}
	})
}

// TestNewChecksConfig: each missing setting is refused with what to set.
func TestNewChecksConfig(t *testing.T) {
	t.Parallel()
	st := replayStoreOf(t)
	good := mfa.Config{RPID: testRPID, RPName: "x", Origins: []string{testOrigin}, Key: testKey, Replay: st}
	if _, err := mfa.New(good); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(*mfa.Config){
		"short key":   func(c *mfa.Config) { c.Key = testKey[:31] },
		"no rp id":    func(c *mfa.Config) { c.RPID = "" },
		"no rp name":  func(c *mfa.Config) { c.RPName = "" },
		"no origins":  func(c *mfa.Config) { c.Origins = nil },
		"bad origin":  func(c *mfa.Config) { c.Origins = []string{"login.example.com"} },
		"origin path": func(c *mfa.Config) { c.Origins = []string{testOrigin + "/auth"} },
		"no replay":   func(c *mfa.Config) { c.Replay = nil },
		"bad rp id":   func(c *mfa.Config) { c.RPID = "https://login.example.com" },
	} {
		cfg := good
		change(&cfg)
		if _, err := mfa.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}
