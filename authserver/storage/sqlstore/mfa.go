package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/authserver-dev/authserver/authserver/storage"
)

// This file holds users' second factors (storage.MFAStore): passkeys, the
// TOTP authenticator and recovery codes. Each table's user_id references
// users ON DELETE CASCADE (see 0008), so deleting a user deletes them; a
// write for an unknown user fails on that foreign key and is reported as
// storage.ErrNotFound.

const (
	webAuthnCols = `id, user_id, label, credential, created_at, last_used_at`
	totpCols     = `user_id, secret, created_at, confirmed_at, last_step`
)

type mfaQueries struct {
	userExists string

	createCredential, getCredential, listCredentials           string
	updateCredential, renameCredential, deleteCredential       string
	deleteUserCredentials                                      string
	putTOTP, getTOTP, useTOTPStep, deleteTOTP                  string
	deleteCodes, insertCode, useCode, codeExists, countUnspent string
}

func newMFAQueries(r func(string) string) mfaQueries {
	return mfaQueries{
		userExists: r(`SELECT COUNT(*) FROM users WHERE id = ?`),

		createCredential: r(`INSERT INTO webauthn_credentials (` + webAuthnCols + `) VALUES (?, ?, ?, ?, ?, ?)`),
		getCredential:    r(`SELECT ` + webAuthnCols + ` FROM webauthn_credentials WHERE id = ?`),
		// id breaks ties so that passkeys made in one microsecond still
		// list in a stable order.
		listCredentials: r(`SELECT ` + webAuthnCols + ` FROM webauthn_credentials WHERE user_id = ?
			ORDER BY created_at, id`),
		// The user is a condition of every change: a credential id is not
		// a secret (the browser is told it), so a request naming another
		// user's passkey must match no row.
		updateCredential:      r(`UPDATE webauthn_credentials SET credential = ?, last_used_at = ? WHERE user_id = ? AND id = ?`),
		renameCredential:      r(`UPDATE webauthn_credentials SET label = ? WHERE user_id = ? AND id = ?`),
		deleteCredential:      r(`DELETE FROM webauthn_credentials WHERE user_id = ? AND id = ?`),
		deleteUserCredentials: r(`DELETE FROM webauthn_credentials WHERE user_id = ?`),

		// A new enrolment replaces every column, last_step included: the
		// steps of the old secret mean nothing for the new one.
		putTOTP: r(`INSERT INTO totp_secrets (` + totpCols + `) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (user_id) DO UPDATE SET
				secret = excluded.secret,
				created_at = excluded.created_at,
				confirmed_at = excluded.confirmed_at,
				last_step = excluded.last_step`),
		getTOTP: r(`SELECT ` + totpCols + ` FROM totp_secrets WHERE user_id = ?`),
		// One statement both checks and records the step: the row lock
		// (PostgreSQL) or the single writer (SQLite) makes each concurrent
		// UPDATE see the last_step the one before it set, so of concurrent
		// uses of one code exactly one matches.
		useTOTPStep: r(`UPDATE totp_secrets SET last_step = ?, confirmed_at = COALESCE(confirmed_at, ?)
			WHERE user_id = ? AND last_step < ?`),
		deleteTOTP: r(`DELETE FROM totp_secrets WHERE user_id = ?`),

		deleteCodes: r(`DELETE FROM recovery_codes WHERE user_id = ?`),
		insertCode:  r(`INSERT INTO recovery_codes (user_id, code_hash, created_at, used_at) VALUES (?, ?, ?, NULL)`),
		// As for TOTP steps and authorization codes: one conditional UPDATE
		// picks the single winner.
		useCode:      r(`UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL`),
		codeExists:   r(`SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND code_hash = ?`),
		countUnspent: r(`SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL`),
	}
}

func scanWebAuthnCredential(r row) (storage.WebAuthnCredential, error) {
	var c storage.WebAuthnCredential
	err := r.Scan(&c.ID, &c.UserID, &c.Label, &c.Credential, timeCol{&c.CreatedAt}, timeCol{&c.LastUsedAt})
	return c, err
}

func scanTOTP(r row) (storage.TOTP, error) {
	var t storage.TOTP
	err := r.Scan(&t.UserID, &t.Secret, timeCol{&t.CreatedAt}, timeCol{&t.ConfirmedAt}, &t.LastStep)
	return t, err
}

// errZeroTime refuses a use without a clock: a NULL used_at is "unspent",
// so binding it would let a recovery code be spent again and again.
var errZeroTime = errors.New("sqlstore: zero time (the caller must pass its clock)")

// CreateWebAuthnCredential implements storage.MFAStore. The credential id
// is the primary key, so a taken id, of this user or another, is
// storage.ErrConflict; an unknown user is storage.ErrNotFound.
func (s *Store) CreateWebAuthnCredential(ctx context.Context, c storage.WebAuthnCredential) error {
	_, err := s.w.ExecContext(ctx, s.q.mfa.createCredential,
		c.ID, c.UserID, c.Label, string(c.Credential), timeArg(c.CreatedAt), timeArg(c.LastUsedAt))
	return s.mfaWriteError("create webauthn credential", err)
}

// GetWebAuthnCredential implements storage.MFAStore.
func (s *Store) GetWebAuthnCredential(ctx context.Context, id string) (storage.WebAuthnCredential, error) {
	c, err := scanWebAuthnCredential(s.r.QueryRowContext(ctx, s.q.mfa.getCredential, id))
	if err != nil {
		return storage.WebAuthnCredential{}, notFound("get webauthn credential", err)
	}
	return c, nil
}

// ListWebAuthnCredentials implements storage.MFAStore: oldest CreatedAt
// first.
func (s *Store) ListWebAuthnCredentials(ctx context.Context, userID string) ([]storage.WebAuthnCredential, error) {
	return list(ctx, s.r, "list webauthn credentials", s.q.mfa.listCredentials, scanWebAuthnCredential, userID)
}

// UpdateWebAuthnCredential implements storage.MFAStore; another user's
// passkey is storage.ErrNotFound and stays as it was.
func (s *Store) UpdateWebAuthnCredential(ctx context.Context, userID, id string, credential []byte, lastUsed time.Time) error {
	return s.execOne(ctx, "update webauthn credential", s.q.mfa.updateCredential,
		string(credential), timeArg(lastUsed), userID, id)
}

// RenameWebAuthnCredential implements storage.MFAStore; another user's
// passkey is storage.ErrNotFound and stays as it was.
func (s *Store) RenameWebAuthnCredential(ctx context.Context, userID, id, label string) error {
	return s.execOne(ctx, "rename webauthn credential", s.q.mfa.renameCredential, label, userID, id)
}

// DeleteWebAuthnCredential implements storage.MFAStore; another user's
// passkey is storage.ErrNotFound and stays.
func (s *Store) DeleteWebAuthnCredential(ctx context.Context, userID, id string) error {
	return s.execOne(ctx, "delete webauthn credential", s.q.mfa.deleteCredential, userID, id)
}

// PutTOTP implements storage.MFAStore: every field of t is stored as given,
// replacing the user's authenticator if there is one, so that a new
// enrolment (zero ConfirmedAt and LastStep) is unconfirmed again. An
// unknown user is storage.ErrNotFound.
func (s *Store) PutTOTP(ctx context.Context, t storage.TOTP) error {
	_, err := s.w.ExecContext(ctx, s.q.mfa.putTOTP,
		t.UserID, t.Secret, timeArg(t.CreatedAt), timeArg(t.ConfirmedAt), t.LastStep)
	return s.mfaWriteError("put totp", err)
}

// GetTOTP implements storage.MFAStore.
func (s *Store) GetTOTP(ctx context.Context, userID string) (storage.TOTP, error) {
	t, err := scanTOTP(s.r.QueryRowContext(ctx, s.q.mfa.getTOTP, userID))
	if err != nil {
		return storage.TOTP{}, notFound("get totp", err)
	}
	return t, nil
}

// UseTOTPStep implements storage.MFAStore with one conditional UPDATE (see
// useTOTPStep). When it changes no row, a read tells
// storage.ErrAlreadyUsed (the authenticator is there, so the step was not
// above LastStep) from storage.ErrNotFound. A zero now is refused: it would
// accept the code without confirming the authenticator.
func (s *Store) UseTOTPStep(ctx context.Context, userID string, step int64, now time.Time) error {
	if now.IsZero() {
		return errZeroTime
	}
	res, err := s.w.ExecContext(ctx, s.q.mfa.useTOTPStep, step, timeArg(now), userID, step)
	if n, err := affected(res, err); err != nil {
		return failed("use totp step", err)
	} else if n == 1 {
		return nil
	}
	// The UPDATE has returned, so a winner, if any, has committed: the row
	// it read is there, only its last_step has moved.
	if _, err := s.GetTOTP(ctx, userID); err != nil {
		return err
	}
	return storage.ErrAlreadyUsed
}

// DeleteTOTP implements storage.MFAStore.
func (s *Store) DeleteTOTP(ctx context.Context, userID string) error {
	return s.execOne(ctx, "delete totp", s.q.mfa.deleteTOTP, userID)
}

// ReplaceRecoveryCodes implements storage.MFAStore in one transaction, so
// that a failure leaves the old codes working. An unknown user is
// storage.ErrNotFound, a hash given twice storage.ErrConflict; either
// changes nothing.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string, now time.Time) error {
	q := s.q.mfa
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := userExists(ctx, tx, q.userExists, userID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, q.deleteCodes, userID); err != nil {
			return err
		}
		for _, h := range hashes {
			if _, err := tx.ExecContext(ctx, q.insertCode, userID, h, timeArg(now)); err != nil {
				return err
			}
		}
		return nil
	})
	return s.mfaWriteError("replace recovery codes", err)
}

// UseRecoveryCode implements storage.MFAStore with one conditional UPDATE;
// when it changes no row, a read tells storage.ErrAlreadyUsed (the code is
// there, spent) from storage.ErrNotFound. A zero now is refused: used_at
// NULL is "unspent", so the code would stay usable.
func (s *Store) UseRecoveryCode(ctx context.Context, userID, hash string, now time.Time) error {
	if now.IsZero() {
		return errZeroTime
	}
	res, err := s.w.ExecContext(ctx, s.q.mfa.useCode, timeArg(now), userID, hash)
	if n, err := affected(res, err); err != nil {
		return failed("use recovery code", err)
	} else if n == 1 {
		return nil
	}
	var exists int
	if err := s.r.QueryRowContext(ctx, s.q.mfa.codeExists, userID, hash).Scan(&exists); err != nil {
		return failed("use recovery code", err)
	}
	if exists == 0 {
		return storage.ErrNotFound
	}
	return storage.ErrAlreadyUsed
}

// CountRecoveryCodes implements storage.MFAStore.
func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, s.q.mfa.countUnspent, userID).Scan(&n); err != nil {
		return 0, failed("count recovery codes", err)
	}
	return n, nil
}

// DeleteMFA implements storage.MFAStore in one transaction: an
// administrator's reset never leaves half of the factors. An unknown user
// is storage.ErrNotFound (an operator's typo is told); a user without
// factors is not an error.
func (s *Store) DeleteMFA(ctx context.Context, userID string) error {
	q := s.q.mfa
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := userExists(ctx, tx, q.userExists, userID); err != nil {
			return err
		}
		for _, query := range []string{q.deleteUserCredentials, q.deleteTOTP, q.deleteCodes} {
			if _, err := tx.ExecContext(ctx, query, userID); err != nil {
				return err
			}
		}
		return nil
	})
	return s.mfaWriteError("delete mfa", err)
}

// userExists is storage.ErrNotFound when there is no user with this id.
func userExists(ctx context.Context, tx *sql.Tx, query, userID string) error {
	var n int
	if err := tx.QueryRowContext(ctx, query, userID).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return storage.ErrNotFound
	}
	return nil
}

// mfaWriteError maps the error of a write: a duplicate key is
// storage.ErrConflict, a missing user (the foreign key) storage.ErrNotFound.
func (s *Store) mfaWriteError(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrNotFound):
		return err
	case s.d.uniqueViolation(err):
		return storage.ErrConflict
	case foreignKeyViolation(err):
		return storage.ErrNotFound
	default:
		return failed(op, err)
	}
}
