package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/storage"
)

// A user's second factors (passkeys, the TOTP authenticator, recovery
// codes) are the user's own, whoever owns the entry: the configuration
// file declares users, never their factors. So these operations work on
// file-owned users too, as sessions do; whether a user must use a second
// factor (RequireMFA) is a field of the entry, and so the file's.
//
// Removing a factor ends every session of the user. An operator removes
// one because it is lost or stolen, and a session records which methods
// signed it in (amr), not which passkey: any session might rest on the
// removed one. Refresh tokens of offline_access outlive it, as they
// outlive a sign-out (storage.EndSession); disabling the user or a new
// password ends those too.

// ListFactors returns the user's second factors; KindNotFound for an
// unknown user. It shows no key, secret or code.
func (s *Service) ListFactors(ctx context.Context, userID string) (Factors, error) {
	if _, err := s.GetUser(ctx, userID); err != nil {
		return Factors{}, err
	}
	creds, err := s.o.Store.ListWebAuthnCredentials(ctx, userID)
	if err != nil {
		return Factors{}, err
	}
	f := Factors{Passkeys: make([]Passkey, len(creds))}
	for i, c := range creds {
		f.Passkeys[i] = Passkey{ID: c.ID, Label: c.Label, CreatedAt: c.CreatedAt, LastUsedAt: c.LastUsedAt}
	}
	switch t, err := s.o.Store.GetTOTP(ctx, userID); {
	case err == nil:
		f.TOTP = &TOTPInfo{CreatedAt: t.CreatedAt, Confirmed: !t.ConfirmedAt.IsZero()}
	case !errors.Is(err, storage.ErrNotFound):
		return Factors{}, err
	}
	if f.RecoveryCodesLeft, err = s.o.Store.CountRecoveryCodes(ctx, userID); err != nil {
		return Factors{}, err
	}
	return f, nil
}

// RemovePasskey removes the user's passkey with this credential id and
// ends the user's sessions. KindNotFound when the user has no such
// passkey (another user's is none of theirs). Audit: mfa.removed
// (factor passkey), then session.ended for each session.
func (s *Service) RemovePasskey(ctx context.Context, userID, id string) error {
	u, err := s.GetUser(ctx, userID)
	if err != nil {
		return err
	}
	if err := s.o.Store.DeleteWebAuthnCredential(ctx, userID, id); err != nil {
		return notFound(err, fmt.Sprintf("user %s has no passkey %q (see their factors)", u.Username, id))
	}
	s.audit(ctx, observe.EventMFARemoved, slog.String("username", u.Username), slog.String("user_id", u.ID),
		slog.String("factor", "passkey"), slog.String("passkey_id", id))
	if err := s.dropOrphanRecoveryCodes(ctx, userID); err != nil {
		return err
	}
	return s.endAllSessions(ctx, userID)
}

// RemoveTOTP removes the user's TOTP authenticator, confirmed or not, and
// ends the user's sessions. Recovery codes stay while a passkey remains.
// KindNotFound when the
// user has none. Audit: mfa.removed (factor totp), then session.ended.
func (s *Service) RemoveTOTP(ctx context.Context, userID string) error {
	u, err := s.GetUser(ctx, userID)
	if err != nil {
		return err
	}
	if err := s.o.Store.DeleteTOTP(ctx, userID); err != nil {
		return notFound(err, fmt.Sprintf("user %s has no TOTP authenticator", u.Username))
	}
	s.audit(ctx, observe.EventMFARemoved, slog.String("username", u.Username), slog.String("user_id", u.ID),
		slog.String("factor", "totp"))
	if err := s.dropOrphanRecoveryCodes(ctx, userID); err != nil {
		return err
	}
	return s.endAllSessions(ctx, userID)
}

// dropOrphanRecoveryCodes deletes the user's recovery codes once no
// passkey and no confirmed authenticator is left, as /account does:
// recovery codes stand in for a second factor, and alone they would make
// every sign-in spend one.
func (s *Service) dropOrphanRecoveryCodes(ctx context.Context, userID string) error {
	passkeys, err := s.o.Store.ListWebAuthnCredentials(ctx, userID)
	if err != nil || len(passkeys) > 0 {
		return err
	}
	switch t, err := s.o.Store.GetTOTP(ctx, userID); {
	case err == nil && !t.ConfirmedAt.IsZero():
		return nil
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		return err
	}
	return s.o.Store.ReplaceRecoveryCodes(ctx, userID, nil, s.o.Now())
}

// ResetFactors removes every passkey, the TOTP authenticator and the
// recovery codes of the user in one transaction (storage DeleteMFA), for a
// user who lost them, and ends the user's sessions, whose sign-in level
// is gone with them. A user with no factor is reset all the same. The
// user then signs in with the password alone, or, when RequireMFA, only
// to /account, to enrol a factor again. Audit: mfa.reset, then
// session.ended for each session.
func (s *Service) ResetFactors(ctx context.Context, userID string) error {
	u, err := s.GetUser(ctx, userID)
	if err != nil {
		return err
	}
	if err := s.o.Store.DeleteMFA(ctx, userID); err != nil {
		return notFound(err, fmt.Sprintf("no user with id %q", userID))
	}
	s.audit(ctx, observe.EventMFAReset, slog.String("username", u.Username), slog.String("user_id", u.ID))
	return s.endAllSessions(ctx, userID)
}

// endAllSessions ends every session of the user after a factor went.
func (s *Service) endAllSessions(ctx context.Context, userID string) error {
	if _, err := s.EndSessions(ctx, userID, ""); err != nil {
		return fmt.Errorf("the factor was removed, but ending the user's sessions failed; end them again: %w", err)
	}
	return nil
}
