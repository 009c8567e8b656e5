package sqlstore

import (
	"context"
	"time"

	"github.com/authserver-dev/authserver/authserver/storage"
)

// This file holds the initial access tokens of dynamic client registration
// (storage.RegistrationTokenStore).

const registrationTokenCols = `id, token_hash, description, uses_left, created_at, expires_at`

type registrationTokenQueries struct {
	create, use, list, delete, purge string
}

func newRegistrationTokenQueries(r func(string) string) registrationTokenQueries {
	return registrationTokenQueries{
		create: r(`INSERT INTO registration_tokens (` + registrationTokenCols + `) VALUES (?, ?, ?, ?, ?, ?)`),
		// One statement spends the use: the row lock (PostgreSQL) or the
		// single writer (SQLite) makes each concurrent UPDATE see the
		// uses_left the one before left, so no more succeed than it had.
		use: r(`UPDATE registration_tokens SET uses_left = uses_left - 1
			WHERE token_hash = ? AND uses_left > 0 AND expires_at > ?
			RETURNING ` + registrationTokenCols),
		list: r(`SELECT ` + registrationTokenCols + ` FROM registration_tokens
			WHERE uses_left > 0 AND expires_at > ? ORDER BY created_at DESC, id`),
		delete: r(`DELETE FROM registration_tokens WHERE id = ?`),
		// A NULL expiry is the zero time, which use never accepts.
		purge: r(`DELETE FROM registration_tokens WHERE id IN (SELECT id FROM registration_tokens
			WHERE expires_at IS NULL OR expires_at <= ? OR uses_left <= 0 LIMIT ?)`),
	}
}

func scanRegistrationToken(r row) (storage.RegistrationToken, error) {
	var t storage.RegistrationToken
	err := r.Scan(&t.ID, &t.TokenHash, &t.Description, &t.UsesLeft, timeCol{&t.CreatedAt}, timeCol{&t.ExpiresAt})
	return t, err
}

// CreateRegistrationToken stores t; storage.ErrConflict if its ID or hash
// exists.
func (s *Store) CreateRegistrationToken(ctx context.Context, t storage.RegistrationToken) error {
	return s.insert(ctx, "create registration token", s.q.regTokens.create, []any{
		t.ID, t.TokenHash, t.Description, t.UsesLeft, timeArg(t.CreatedAt), timeArg(t.ExpiresAt)})
}

// UseRegistrationToken spends one use with a single conditional UPDATE and
// returns the token as it is after the use. An unknown, expired or used-up
// token matches no row: storage.ErrNotFound, and nothing changes.
func (s *Store) UseRegistrationToken(ctx context.Context, tokenHash string, now time.Time) (storage.RegistrationToken, error) {
	t, err := scanRegistrationToken(s.w.QueryRowContext(ctx, s.q.regTokens.use, tokenHash, timeArg(now)))
	if err != nil {
		return storage.RegistrationToken{}, notFound("use registration token", err)
	}
	return t, nil
}

// ListRegistrationTokens returns the tokens with a use left and ExpiresAt
// after now, newest CreatedAt first.
func (s *Store) ListRegistrationTokens(ctx context.Context, now time.Time) ([]storage.RegistrationToken, error) {
	return list(ctx, s.r, "list registration tokens", s.q.regTokens.list, scanRegistrationToken, timeArg(now))
}

// DeleteRegistrationToken deletes the token with this ID; storage.ErrNotFound
// when there is none, so that a mistyped id on the command line is told.
func (s *Store) DeleteRegistrationToken(ctx context.Context, id string) error {
	return s.execOne(ctx, "delete registration token", s.q.regTokens.delete, id)
}
