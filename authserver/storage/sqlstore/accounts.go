package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"time"

	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/keys"
)

// This file holds the long-lived records: clients, users and signing keys.

// UpsertClient creates the client or replaces every field but CreatedAt.
func (s *Store) UpsertClient(ctx context.Context, c storage.Client) error {
	if _, err := s.w.ExecContext(ctx, s.q.upsertClient, clientArgs(c)...); err != nil {
		return failed("upsert client", err)
	}
	return nil
}

// GetClient returns storage.ErrNotFound for an unknown id.
func (s *Store) GetClient(ctx context.Context, id string) (storage.Client, error) {
	c, err := scanClient(s.r.QueryRowContext(ctx, s.q.getClient, id))
	if err != nil {
		return storage.Client{}, notFound("get client", err)
	}
	return c, nil
}

// ListClients returns every client ordered by id.
func (s *Store) ListClients(ctx context.Context) ([]storage.Client, error) {
	return list(ctx, s.r, "list clients", s.q.listClients, scanClient)
}

// DeleteClient returns storage.ErrNotFound for an unknown id.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.execOne(ctx, "delete client", s.q.deleteClient, id)
}

// UpsertUser creates the user or updates the one with the same Username,
// keeping its ID and CreatedAt. A new user with an empty ID gets a random
// 128-bit hex ID. A new username with the ID of another user is
// storage.ErrConflict.
func (s *Store) UpsertUser(ctx context.Context, u storage.User) (storage.User, error) {
	if u.ID == "" {
		// Only used when the username is new; on update the stored ID wins.
		u.ID = randomID()
	}
	stored, err := scanUser(s.w.QueryRowContext(ctx, s.q.upsertUser, userArgs(u)...))
	if err != nil {
		if s.d.uniqueViolation(err) {
			return storage.User{}, storage.ErrConflict
		}
		return storage.User{}, failed("upsert user", err)
	}
	return stored, nil
}

// GetUser returns storage.ErrNotFound for an unknown id.
func (s *Store) GetUser(ctx context.Context, id string) (storage.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, s.q.getUser, id))
	if err != nil {
		return storage.User{}, notFound("get user", err)
	}
	return u, nil
}

// GetUserByUsername returns storage.ErrNotFound for an unknown username.
func (s *Store) GetUserByUsername(ctx context.Context, username string) (storage.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, s.q.getUserByUsername, username))
	if err != nil {
		return storage.User{}, notFound("get user", err)
	}
	return u, nil
}

// ListUsers returns every user ordered by username.
func (s *Store) ListUsers(ctx context.Context) ([]storage.User, error) {
	return list(ctx, s.r, "list users", s.q.listUsers, scanUser)
}

// DeleteUser deletes the user and, in the same transaction, everything
// issued to them: their login sessions, their authorization codes, and every
// refresh-token family named by their tokens or redeemed codes, revoked as
// RevokeFamily does (recorded at now, tokens deleted). The codes count
// because a redemption may have committed before its first refresh token is
// stored, and an unused code would otherwise still buy tokens for a deleted
// subject. It returns storage.ErrNotFound for an unknown id, like
// DeleteClient: both are operator commands, where a typo should be told.
func (s *Store) DeleteUser(ctx context.Context, id string, now time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// The user first, so that an unknown id stops before anything else.
		res, err := tx.ExecContext(ctx, s.q.deleteUser, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return storage.ErrNotFound
		}
		// Families are revoked before their tokens and codes, which name
		// them, are deleted. Not timeArg: a revocation is recorded even with
		// a zero clock, as in RevokeFamily.
		for _, st := range []struct {
			query string
			args  []any
		}{
			{s.q.deleteUserSessions, []any{id}},
			{s.q.revokeUserFamilies, []any{now.UnixMicro(), id, id}},
			{s.q.deleteUserFamilyTokens, []any{id}},
			{s.q.deleteUserAuthCodes, []any{id}},
		} {
			if _, err := tx.ExecContext(ctx, st.query, st.args...); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrNotFound):
		return err
	default:
		return failed("delete user", err)
	}
}

// ListSigningKeys returns every key, oldest first.
func (s *Store) ListSigningKeys(ctx context.Context) ([]keys.Record, error) {
	return list(ctx, s.r, "list signing keys", s.q.listSigningKeys, scanSigningKey)
}

// InsertSigningKey stores a new key; an existing ID is storage.ErrConflict.
func (s *Store) InsertSigningKey(ctx context.Context, r keys.Record) error {
	return s.insert(ctx, "insert signing key", s.q.insertSigningKey, signingKeyArgs(r))
}

// UpdateSigningKey replaces State, ActivatesAt, RetiredAt and ExpiresAt of
// the key r.ID (CreatedAt and the key material never change);
// storage.ErrNotFound if there is no such key.
func (s *Store) UpdateSigningKey(ctx context.Context, r keys.Record) error {
	return s.execOne(ctx, "update signing key", s.q.updateSigningKey,
		string(r.State), timeArg(r.ActivatesAt), timeArg(r.RetiredAt), timeArg(r.ExpiresAt), r.ID)
}

// DeleteSigningKey removes the key. Deleting an unknown key is not an error:
// replicas pruning expired keys at the same time must not fail each other.
func (s *Store) DeleteSigningKey(ctx context.Context, id string) error {
	if _, err := s.w.ExecContext(ctx, s.q.deleteSigningKey, id); err != nil {
		return failed("delete signing key", err)
	}
	return nil
}

// execOne runs a statement by key and reports storage.ErrNotFound when it
// touched no row.
func (s *Store) execOne(ctx context.Context, op, query string, args ...any) error {
	res, err := s.w.ExecContext(ctx, query, args...)
	if err != nil {
		return failed(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return failed(op, err)
	}
	if n == 0 {
		return storage.ErrNotFound
	}
	return nil
}

// list runs a query and scans every row.
func list[T any](ctx context.Context, db *sql.DB, op, query string, scan func(row) (T, error), args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, failed(op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, failed(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, failed(op, err)
	}
	return out, nil
}

// randomID returns 128 random bits in hex.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
