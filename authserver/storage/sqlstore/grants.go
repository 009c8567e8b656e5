package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/authserver-dev/authserver/authserver/storage"
)

// This file holds the short-lived records of a grant: authorization codes,
// login sessions and refresh tokens. Every `now` is bound through timeArg, so
// a zero now is NULL and matches nothing: a caller that forgets the clock
// fails closed.

// CreateAuthCode stores a new code; storage.ErrConflict if the hash exists.
func (s *Store) CreateAuthCode(ctx context.Context, c storage.AuthCode) error {
	return s.insert(ctx, "create auth code", s.q.createAuthCode, authCodeArgs(c))
}

// ConsumeAuthCode marks the code used by r.FamilyID with one conditional
// UPDATE whose conditions include r's client, redirect URI and PKCE
// challenge, so that of concurrent redemptions exactly one gets a row back
// and a request that does not match the code changes nothing. When the
// UPDATE matches nothing, a second read tells a replay of the code's own
// client (storage.ErrAlreadyUsed, with the record and the winner's FamilyID)
// from every other case (storage.ErrNotFound): unknown, expired, or not
// matching r, used or not. A used code stays a replay after it expires: RFC
// 6749 §4.1.2 asks to revoke what it issued whenever it comes back.
func (s *Store) ConsumeAuthCode(ctx context.Context, codeHash string, r storage.CodeRedemption, now time.Time) (storage.AuthCode, error) {
	n := timeArg(now)
	c, err := scanAuthCode(s.w.QueryRowContext(ctx, s.q.consumeAuthCode, n, r.FamilyID, codeHash, n,
		r.ClientID, r.RedirectURI, r.CodeChallenge, r.DPoPJKT))
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return storage.AuthCode{}, failed("consume auth code", err)
	}
	// The UPDATE has returned, so a winner, if any, has committed and this
	// read sees its used_at and family_id.
	c, err = scanAuthCode(s.r.QueryRowContext(ctx, s.q.getAuthCode, codeHash))
	if err != nil {
		return storage.AuthCode{}, notFound("consume auth code", err)
	}
	if c.ClientID != r.ClientID || c.RedirectURI != r.RedirectURI || c.CodeChallenge != r.CodeChallenge ||
		(c.DPoPJKT != "" && c.DPoPJKT != r.DPoPJKT) {
		return storage.AuthCode{}, storage.ErrNotFound // someone else's code, or not proving its key
	}
	if !c.UsedAt.IsZero() {
		return c, storage.ErrAlreadyUsed
	}
	return storage.AuthCode{}, storage.ErrNotFound // expired
}

// CreateSession stores a new login session; storage.ErrConflict if the hash
// exists. The User-Agent is stored bounded (see userAgentArg).
func (s *Store) CreateSession(ctx context.Context, sess storage.Session) error {
	return s.insert(ctx, "create session", s.q.createSession, sessionArgs(sess))
}

// GetSession returns storage.ErrNotFound for an unknown session or one whose
// ExpiresAt is not after now.
func (s *Store) GetSession(ctx context.Context, idHash string, now time.Time) (storage.Session, error) {
	sess, err := scanSession(s.r.QueryRowContext(ctx, s.q.getSession, idHash, timeArg(now)))
	if err != nil {
		return storage.Session{}, notFound("get session", err)
	}
	return sess, nil
}

// ListUserSessions returns the user's sessions whose ExpiresAt is after
// now, newest CreatedAt first.
func (s *Store) ListUserSessions(ctx context.Context, userID string, now time.Time) ([]storage.Session, error) {
	return list(ctx, s.r, "list user sessions", s.q.listUserSessions, scanSession, userID, timeArg(now))
}

// DeleteSession removes the session. An unknown one is not an error, so
// that logging out twice (or from two tabs) succeeds.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	if _, err := s.w.ExecContext(ctx, s.q.deleteSession, idHash); err != nil {
		return failed("delete session", err)
	}
	return nil
}

// CreateRefreshToken stores a new token; storage.ErrConflict if the hash
// exists.
func (s *Store) CreateRefreshToken(ctx context.Context, t storage.RefreshToken) error {
	return s.insert(ctx, "create refresh token", s.q.createRefreshToken, refreshTokenArgs(t))
}

// GetRefreshToken returns the token, spent or not; storage.ErrNotFound when
// it is unknown or its family is revoked. It does not look at expiry: it
// has no clock, and the caller checks ExpiresAt and FamilyExpiresAt.
func (s *Store) GetRefreshToken(ctx context.Context, tokenHash string) (storage.RefreshToken, error) {
	t, err := scanRefreshToken(s.r.QueryRowContext(ctx, s.q.getRefreshToken, tokenHash))
	if err != nil {
		return storage.RefreshToken{}, notFound("get refresh token", err)
	}
	return t, nil
}

// RotateRefreshToken marks oldHash spent at now and stores next, in one
// transaction whose first statement is the conditional UPDATE that picks the
// single winner. On success it returns the old record as now stored (SpentAt
// set). A spent old token gives its record and storage.ErrAlreadyUsed; an
// unknown one, one of a revoked family, or one past ExpiresAt or
// FamilyExpiresAt gives storage.ErrNotFound; an existing next.TokenHash gives
// storage.ErrConflict. In every error case nothing is stored.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash string, next storage.RefreshToken, now time.Time) (storage.RefreshToken, error) {
	n := timeArg(now)
	var old storage.RefreshToken
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		old, err = scanRefreshToken(tx.QueryRowContext(ctx, s.q.spendRefreshToken, n, oldHash, n, n))
		if errors.Is(err, sql.ErrNoRows) {
			old, err = s.whyNotSpendable(ctx, tx, oldHash)
			return err
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q.createRefreshToken, refreshTokenArgs(next)...)
		return err
	})
	switch {
	case err == nil:
		return old, nil
	case errors.Is(err, storage.ErrAlreadyUsed):
		return old, err
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrConflict):
		return storage.RefreshToken{}, err
	case s.d.uniqueViolation(err):
		return storage.RefreshToken{}, storage.ErrConflict
	default:
		return storage.RefreshToken{}, failed("rotate refresh token", err)
	}
}

// whyNotSpendable reads the token that spendRefreshToken did not match and
// returns the error that explains it: storage.ErrNotFound when it is unknown,
// of a revoked family or expired, else its record and storage.ErrAlreadyUsed.
func (s *Store) whyNotSpendable(ctx context.Context, tx *sql.Tx, tokenHash string) (storage.RefreshToken, error) {
	var (
		t    storage.RefreshToken
		live bool
	)
	err := tx.QueryRowContext(ctx, s.q.getRefreshTokenState, tokenHash).Scan(append(refreshTokenDest(&t), &live)...)
	switch {
	case errors.Is(err, sql.ErrNoRows), err == nil && !live:
		return storage.RefreshToken{}, storage.ErrNotFound
	case err != nil:
		return storage.RefreshToken{}, err
	case !t.SpentAt.IsZero():
		return t, storage.ErrAlreadyUsed
	default: // expired
		return storage.RefreshToken{}, storage.ErrNotFound
	}
}

// ListSessionRefreshTokens returns the unspent tokens bound to the session
// whose family is not revoked, oldest first. Expiry is not checked (there is
// no clock); revoking the family of an expired token is harmless. An empty
// sessionID lists nothing: it would otherwise match every token issued
// without a session.
func (s *Store) ListSessionRefreshTokens(ctx context.Context, sessionID string) ([]storage.RefreshToken, error) {
	if sessionID == "" {
		return nil, nil
	}
	return list(ctx, s.r, "list session refresh tokens", s.q.listSessionRefreshTokens, scanRefreshToken, sessionID)
}

// RevokeFamily records the revocation (kept even for a family that has no
// token yet, see notRevoked) and deletes the family's tokens. Revoking twice
// keeps the first revoked_at.
func (s *Store) RevokeFamily(ctx context.Context, familyID string, now time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// Not timeArg: a revocation is recorded even with a zero clock.
		if _, err := tx.ExecContext(ctx, s.q.revokeFamily, familyID, now.UnixMicro()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q.deleteFamilyTokens, familyID)
		return err
	})
	if err != nil {
		return failed("revoke family", err)
	}
	return nil
}

// FamilyRevoked reports whether RevokeFamily was called for the family.
func (s *Store) FamilyRevoked(ctx context.Context, familyID string) (bool, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, s.q.familyRevoked, familyID).Scan(&n); err != nil {
		return false, failed("family revoked", err)
	}
	return n > 0, nil
}

// insert runs an INSERT and maps a duplicate key to storage.ErrConflict.
func (s *Store) insert(ctx context.Context, op, query string, args []any) error {
	if _, err := s.w.ExecContext(ctx, query, args...); err != nil {
		if s.d.uniqueViolation(err) {
			return storage.ErrConflict
		}
		return failed(op, err)
	}
	return nil
}
