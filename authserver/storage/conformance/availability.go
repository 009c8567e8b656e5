package conformance

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/storage"
)

// availabilityCases are Ping and the storage.ErrUnavailable contract. An
// operation whose context deadline has passed is the one outage every
// backend can be given in a test: it must read as "try again", never as a
// missing record or a replay. Backends test real outages (a cut connection)
// in their own tests.
var availabilityCases = []testCase{
	{"PingAnswers", func(t *testing.T, s storage.Store) {
		mustOK(t, "Ping", s.Ping(context.Background()))
	}},
	{"PassedDeadlineIsUnavailable", func(t *testing.T, s storage.Store) {
		bg := context.Background()
		mustOK(t, "UpsertClient", s.UpsertClient(bg, fullClient("c1")))
		mustOK(t, "CreateAuthCode", s.CreateAuthCode(bg, authCode("code-1", at(time.Minute))))
		mustOK(t, "CreateRefreshToken", s.CreateRefreshToken(bg, refreshToken("rt-1", "fam-1")))
		pushed := storage.PushedRequest{URIHash: storage.Hash("par-1"), ClientID: "c1", CreatedAt: t0, ExpiresAt: at(time.Minute)}
		mustOK(t, "CreatePushedRequest", s.CreatePushedRequest(bg, pushed))
		alice, err := s.UpsertUser(bg, user("alice"))
		mustOK(t, "UpsertUser", err)
		mustOK(t, "CreateWebAuthnCredential", s.CreateWebAuthnCredential(bg, passkey("cred-1", alice.ID, t0)))
		mustOK(t, "PutTOTP", s.PutTOTP(bg, totp(alice.ID, t0)))
		codes := recoveryHashes("code", 2)
		mustOK(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(bg, alice.ID, codes, t0))

		ctx, cancel := context.WithDeadline(bg, time.Now().Add(-time.Second))
		defer cancel()
		calls := []struct {
			name string
			call func() error
		}{
			{"Ping", func() error { return s.Ping(ctx) }},
			{"GetClient", func() error { _, err := s.GetClient(ctx, "c1"); return err }},
			{"GetUserByUsername", func() error { _, err := s.GetUserByUsername(ctx, "nobody"); return err }},
			{"ConsumeAuthCode", func() error {
				_, err := s.ConsumeAuthCode(ctx, storage.Hash("code-1"), redemption(authCode("code-1", at(time.Minute)), "fam-x"), t0)
				return err
			}},
			{"CreateSession", func() error { return s.CreateSession(ctx, session("sess-1")) }},
			{"GetSession", func() error { _, err := s.GetSession(ctx, storage.Hash("sess-1"), t0); return err }},
			{"GetRefreshToken", func() error { _, err := s.GetRefreshToken(ctx, storage.Hash("rt-1")); return err }},
			{"RotateRefreshToken", func() error {
				_, err := s.RotateRefreshToken(ctx, storage.Hash("rt-1"), refreshToken("rt-2", "fam-1"), t0)
				return err
			}},
			{"RevokeFamily", func() error { return s.RevokeFamily(ctx, "fam-1", t0) }},
			{"FamilyRevoked", func() error { _, err := s.FamilyRevoked(ctx, "fam-1"); return err }},
			{"AccessTokenRevoked", func() error { _, err := s.AccessTokenRevoked(ctx, "jti"); return err }},
			{"ListSigningKeys", func() error { _, err := s.ListSigningKeys(ctx); return err }},
			{"DeleteUser", func() error { return s.DeleteUser(ctx, "nobody", t0) }},
			{"SetUserDisabled", func() error { return s.SetUserDisabled(ctx, "nobody", true, t0) }},
			{"ListUserSessions", func() error { _, err := s.ListUserSessions(ctx, "user-1", t0); return err }},
			{"UseRegistrationToken", func() error { _, err := s.UseRegistrationToken(ctx, storage.Hash("reg-1"), t0); return err }},
			{"ListRegistrationTokens", func() error { _, err := s.ListRegistrationTokens(ctx, t0); return err }},
			{"DeleteRegistrationToken", func() error { return s.DeleteRegistrationToken(ctx, "reg-1") }},
			{"CreatePushedRequest", func() error {
				r := pushed
				r.URIHash = storage.Hash("par-2")
				return s.CreatePushedRequest(ctx, r)
			}},
			{"GetPushedRequest", func() error { _, err := s.GetPushedRequest(ctx, pushed.URIHash, "c1", t0); return err }},
			{"SpendPushedRequest", func() error { return s.SpendPushedRequest(ctx, pushed.URIHash, "c1", t0) }},
			{"SeenOnce", func() error { _, err := s.SeenOnce(ctx, storage.Hash("jti-1"), at(time.Minute), t0); return err }},
			{"CreateWebAuthnCredential", func() error { return s.CreateWebAuthnCredential(ctx, passkey("cred-2", alice.ID, t0)) }},
			{"GetWebAuthnCredential", func() error { _, err := s.GetWebAuthnCredential(ctx, "cred-1"); return err }},
			{"ListWebAuthnCredentials", func() error { _, err := s.ListWebAuthnCredentials(ctx, alice.ID); return err }},
			{"UpdateWebAuthnCredential", func() error {
				return s.UpdateWebAuthnCredential(ctx, alice.ID, "cred-1", []byte(`{}`), at(time.Minute))
			}},
			{"RenameWebAuthnCredential", func() error { return s.RenameWebAuthnCredential(ctx, alice.ID, "cred-1", "x") }},
			{"DeleteWebAuthnCredential", func() error { return s.DeleteWebAuthnCredential(ctx, alice.ID, "cred-1") }},
			{"PutTOTP", func() error { return s.PutTOTP(ctx, totp(alice.ID, at(time.Minute))) }},
			{"GetTOTP", func() error { _, err := s.GetTOTP(ctx, alice.ID); return err }},
			{"UseTOTPStep", func() error { return s.UseTOTPStep(ctx, alice.ID, 1, t0) }},
			{"DeleteTOTP", func() error { return s.DeleteTOTP(ctx, alice.ID) }},
			{"ReplaceRecoveryCodes", func() error { return s.ReplaceRecoveryCodes(ctx, alice.ID, nil, t0) }},
			{"UseRecoveryCode", func() error { return s.UseRecoveryCode(ctx, alice.ID, codes[0], t0) }},
			{"CountRecoveryCodes", func() error { _, err := s.CountRecoveryCodes(ctx, alice.ID); return err }},
			{"DeleteMFA", func() error { return s.DeleteMFA(ctx, alice.ID) }},
		}
		for _, c := range calls {
			err := c.call()
			if !errors.Is(err, storage.ErrUnavailable) {
				t.Errorf("%s after its deadline: got %v, want an error wrapping storage.ErrUnavailable", c.name, err)
			}
			for _, wrong := range []error{storage.ErrNotFound, storage.ErrAlreadyUsed, storage.ErrConflict} {
				if errors.Is(err, wrong) {
					t.Errorf("%s after its deadline reads as %v", c.name, wrong)
				}
			}
		}
		// Nothing was consumed or rotated by the failed calls.
		_, err = s.ConsumeAuthCode(bg, storage.Hash("code-1"), redemption(authCode("code-1", at(time.Minute)), "fam-1"), t0)
		mustOK(t, "ConsumeAuthCode afterwards", err)
		_, err = s.RotateRefreshToken(bg, storage.Hash("rt-1"), refreshToken("rt-2", "fam-1"), t0)
		mustOK(t, "RotateRefreshToken afterwards", err)
		mustOK(t, "SpendPushedRequest afterwards", s.SpendPushedRequest(bg, pushed.URIHash, "c1", t0))
		wasSeen, err := s.SeenOnce(bg, storage.Hash("jti-1"), at(time.Minute), t0)
		if err != nil || wasSeen {
			t.Errorf("SeenOnce afterwards = %v, %v; want false: a failed call recorded the id", wasSeen, err)
		}
		mustPasskey(t, s, passkey("cred-1", alice.ID, t0))
		mustTOTP(t, s, totp(alice.ID, t0))
		mustOK(t, "UseTOTPStep afterwards", s.UseTOTPStep(bg, alice.ID, 1, t0))
		mustOK(t, "UseRecoveryCode afterwards", s.UseRecoveryCode(bg, alice.ID, codes[0], t0))
		mustUnspent(t, s, alice.ID, 1)
	}},
	{"NotFoundIsNotUnavailable", func(t *testing.T, s storage.Store) {
		_, err := s.GetClient(context.Background(), "unknown")
		mustErr(t, "GetClient(unknown)", err, storage.ErrNotFound)
		if errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("a missing record reads as unavailable: %v", err)
		}
	}},
}
