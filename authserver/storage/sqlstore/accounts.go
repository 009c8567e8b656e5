package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/keys"
)

// This file holds the long-lived records: clients, users and signing keys.

// UpsertClient creates the client or replaces every field but CreatedAt of
// the one with the same id and owner. The owner check is in the statement's
// ON CONFLICT clause, so that a concurrent start and CLI command cannot
// both think they own the row; a client of another owner is
// storage.ErrConflict.
func (s *Store) UpsertClient(ctx context.Context, c storage.Client) error {
	if err := checkOwner(c.Owner); err != nil {
		return err
	}
	res, err := s.w.ExecContext(ctx, s.q.upsertClient, clientArgs(c)...)
	if err != nil {
		return failed("upsert client", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return failed("upsert client", err)
	} else if n == 0 {
		return storage.ErrConflict
	}
	return nil
}

// CreateClient inserts a new client; a taken id is storage.ErrConflict (the
// primary key decides, so concurrent creates cannot both succeed).
func (s *Store) CreateClient(ctx context.Context, c storage.Client) error {
	if err := checkOwner(c.Owner); err != nil {
		return err
	}
	return s.insert(ctx, "create client", s.q.createClient, clientArgs(c))
}

// checkOwner refuses an owner that no reader would understand.
func checkOwner(o storage.Owner) error {
	switch o {
	case storage.OwnerDatabase, storage.OwnerFile, storage.OwnerUnknown:
		return nil
	}
	return fmt.Errorf("sqlstore: unknown owner %q", o)
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

// DeleteClient deletes the client and, in the same transaction, what it was
// issued: its authorization codes, and every refresh-token family named by
// its tokens or redeemed codes, revoked as RevokeFamily does. A client id can
// be registered again later; a token of the removed client must not become
// the new one's. storage.ErrNotFound for an unknown id.
func (s *Store) DeleteClient(ctx context.Context, id string, now time.Time) error {
	return s.withGrants(ctx, "delete client", cascade{s.q.deleteClient, []any{id}}, []cascade{
		{s.q.revokeClientFamilies, []any{now.UnixMicro(), id, id}},
		{s.q.deleteClientFamilyTokens, []any{id}},
		{s.q.deleteClientAuthCodes, []any{id}},
	})
}

// cascade is one statement run after the record it follows from.
type cascade struct {
	query string
	args  []any
}

// withGrants runs first, the change to a client or user, and then the
// statements that end what it was issued, in one transaction. first runs
// before the rest so that an unknown id, which it finds no row for, stops
// everything with storage.ErrNotFound.
func (s *Store) withGrants(ctx context.Context, op string, first cascade, then []cascade) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, first.query, first.args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return storage.ErrNotFound
		}
		for _, st := range then {
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
		return failed(op, err)
	}
}

// UpsertUser creates the user or updates the one with the same Username,
// keeping its ID and CreatedAt. A new user with an empty ID gets a random
// 128-bit hex ID. A new username with the ID of another user is
// storage.ErrConflict, and so is an existing user of another owner.
func (s *Store) UpsertUser(ctx context.Context, u storage.User) (storage.User, error) {
	if err := checkOwner(u.Owner); err != nil {
		return storage.User{}, err
	}
	if u.ID == "" {
		// Only used when the username is new; on update the stored ID wins.
		u.ID = randomID()
	}
	stored, err := scanUser(s.w.QueryRowContext(ctx, s.q.upsertUser, userArgs(u)...))
	if err != nil {
		if s.d.uniqueViolation(err) || errors.Is(err, sql.ErrNoRows) {
			// No row: the ON CONFLICT's owner check left the user alone.
			return storage.User{}, storage.ErrConflict
		}
		return storage.User{}, failed("upsert user", err)
	}
	return stored, nil
}

// CreateUser inserts a new user; a taken username or id is
// storage.ErrConflict.
func (s *Store) CreateUser(ctx context.Context, u storage.User) (storage.User, error) {
	if err := checkOwner(u.Owner); err != nil {
		return storage.User{}, err
	}
	if u.ID == "" {
		u.ID = randomID()
	}
	stored, err := scanUser(s.w.QueryRowContext(ctx, s.q.createUser, userArgs(u)...))
	if err != nil {
		if s.d.uniqueViolation(err) {
			return storage.User{}, storage.ErrConflict
		}
		return storage.User{}, failed("create user", err)
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
	return s.withGrants(ctx, "delete user", cascade{s.q.deleteUser, []any{id}}, s.userGrants(id, now))
}

// SetUserPassword changes the user's hash and, in the same transaction,
// ends what the old password gave (userGrants): a password is changed because
// it may be known to someone else, who must keep no session or token.
// storage.ErrNotFound for an unknown id.
func (s *Store) SetUserPassword(ctx context.Context, id, passwordHash string, now time.Time) error {
	return s.withGrants(ctx, "set user password",
		cascade{s.q.setUserPassword, []any{passwordHash, timeArg(now), id}}, s.userGrants(id, now))
}

// SetUserDisabled sets the user's flag and UpdatedAt. Disabling ends, in
// the same transaction, everything the user holds (userGrants), as a
// password change does: an administrator disables an account to lock its
// holder out now, not at the next sign-in. Enabling only clears the flag.
// storage.ErrNotFound for an unknown id.
func (s *Store) SetUserDisabled(ctx context.Context, id string, disabled bool, now time.Time) error {
	var then []cascade
	if disabled {
		then = s.userGrants(id, now)
	}
	return s.withGrants(ctx, "set user disabled",
		cascade{s.q.setUserDisabled, []any{disabled, timeArg(now), id}}, then)
}

// userGrants ends everything issued to the user: login sessions deleted,
// refresh-token families revoked (recorded at now, tokens deleted) and
// authorization codes deleted. Families are revoked before the tokens and
// codes that name them are deleted. Not timeArg: a revocation is recorded
// even with a zero clock, as in RevokeFamily.
func (s *Store) userGrants(id string, now time.Time) []cascade {
	return []cascade{
		{s.q.deleteUserSessions, []any{id}},
		{s.q.revokeUserFamilies, []any{now.UnixMicro(), id, id}},
		{s.q.deleteUserFamilyTokens, []any{id}},
		{s.q.deleteUserAuthCodes, []any{id}},
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
