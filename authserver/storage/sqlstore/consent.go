package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/authserver-dev/authserver/authserver/storage"
)

// This file holds remembered consent (storage.ConsentStore). The grant's
// foreign keys to users and clients delete it with either (see 0005).

const consentCols = `user_id, client_id, scope, created_at, updated_at`

type consentQueries struct {
	get, lock, insert, update, listUser string
	// RevokeConsent: the grant, then what it allowed, in one transaction.
	delete, revokeFamilies, deleteFamilyTokens, deleteCodes string
}

func newConsentQueries(r func(string) string) consentQueries {
	return consentQueries{
		get: r(`SELECT ` + consentCols + ` FROM consent_grants WHERE user_id = ? AND client_id = ?`),
		// lock, insert and update are GrantConsent's read-modify-write.
		lock: r(`UPDATE consent_grants SET updated_at = updated_at WHERE user_id = ? AND client_id = ?
			RETURNING ` + consentCols),
		insert: r(`INSERT INTO consent_grants (` + consentCols + `) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (user_id, client_id) DO NOTHING`),
		update:   r(`UPDATE consent_grants SET scope = ?, updated_at = ? WHERE user_id = ? AND client_id = ?`),
		listUser: r(`SELECT ` + consentCols + ` FROM consent_grants WHERE user_id = ? ORDER BY client_id`),
		delete:   r(`DELETE FROM consent_grants WHERE user_id = ? AND client_id = ?`),
		// As DeleteUser's cascade, narrowed to one client: the families of
		// the pair's tokens and those recorded on its redeemed codes (a
		// redemption may have committed before its first refresh token is
		// stored).
		revokeFamilies: r(`INSERT INTO revoked_families (family_id, revoked_at)
			SELECT family_id, CAST(? AS BIGINT) FROM (
				SELECT family_id FROM refresh_tokens WHERE user_id = ? AND client_id = ?
				UNION
				SELECT family_id FROM auth_codes WHERE user_id = ? AND client_id = ? AND family_id <> ''
			) AS f WHERE true
			ON CONFLICT (family_id) DO NOTHING`),
		deleteFamilyTokens: r(`DELETE FROM refresh_tokens WHERE family_id IN
			(SELECT family_id FROM refresh_tokens WHERE user_id = ? AND client_id = ?)`),
		deleteCodes: r(`DELETE FROM auth_codes WHERE user_id = ? AND client_id = ?`),
	}
}

func scanConsent(r row) (storage.ConsentGrant, error) {
	var g storage.ConsentGrant
	err := r.Scan(&g.UserID, &g.ClientID, &g.Scope, timeCol{&g.CreatedAt}, timeCol{&g.UpdatedAt})
	return g, err
}

// GetConsent implements storage.ConsentStore.
func (s *Store) GetConsent(ctx context.Context, userID, clientID string) (storage.ConsentGrant, error) {
	g, err := scanConsent(s.r.QueryRowContext(ctx, s.q.consent.get, userID, clientID))
	if err != nil {
		return storage.ConsentGrant{}, notFound("get consent", err)
	}
	return g, nil
}

// GrantConsent implements storage.ConsentStore as a read-modify-write in one
// transaction that first locks the grant's row: an UPDATE that changes
// nothing but, on PostgreSQL, holds the row until commit and returns its
// latest version (SQLite's write transactions exclude each other anyway).
// Concurrent grants for one pair so queue on the row and each merges into
// what the one before it stored. When there is no row yet, two first grants
// may race to insert it; the loser's insert does nothing and it goes round
// once more, to find the row and merge into it.
func (s *Store) GrantConsent(ctx context.Context, userID, clientID, scope string, now time.Time) (storage.ConsentGrant, error) {
	stored := time.UnixMicro(now.UnixMicro()).UTC() // as a read returns it
	q := s.q.consent
	for range 3 {
		var g storage.ConsentGrant
		done := false
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			old, err := scanConsent(tx.QueryRowContext(ctx, q.lock, userID, clientID))
			if errors.Is(err, sql.ErrNoRows) {
				g = storage.ConsentGrant{UserID: userID, ClientID: clientID, Scope: unionScope("", scope),
					CreatedAt: stored, UpdatedAt: stored}
				n, err := affected(tx.ExecContext(ctx, q.insert, g.UserID, g.ClientID, g.Scope, now.UnixMicro(), now.UnixMicro()))
				done = n == 1
				return err
			}
			if err != nil {
				return err
			}
			g, done = old, true
			if merged := unionScope(old.Scope, scope); merged != old.Scope {
				g.Scope, g.UpdatedAt = merged, stored
				_, err = tx.ExecContext(ctx, q.update, merged, now.UnixMicro(), userID, clientID)
			}
			return err
		})
		switch {
		case foreignKeyViolation(err):
			return storage.ConsentGrant{}, storage.ErrNotFound
		case err != nil:
			return storage.ConsentGrant{}, failed("grant consent", err)
		case done:
			return g, nil
		}
	}
	return storage.ConsentGrant{}, failed("grant consent", errors.New("the grant was deleted and created again during the change"))
}

// ListUserConsents implements storage.ConsentStore.
func (s *Store) ListUserConsents(ctx context.Context, userID string) ([]storage.ConsentGrant, error) {
	return list(ctx, s.r, "list user consents", s.q.consent.listUser, scanConsent, userID)
}

// RevokeConsent implements storage.ConsentStore: the grant's row first, so
// that a missing grant is storage.ErrNotFound and changes nothing, then the
// families (revoked before the tokens and codes that name them are deleted).
// Not timeArg: a revocation is recorded even with a zero clock, as in
// RevokeFamily.
func (s *Store) RevokeConsent(ctx context.Context, userID, clientID string, now time.Time) error {
	q := s.q.consent
	return s.withGrants(ctx, "revoke consent", cascade{q.delete, []any{userID, clientID}}, []cascade{
		{q.revokeFamilies, []any{now.UnixMicro(), userID, clientID, userID, clientID}},
		{q.deleteFamilyTokens, []any{userID, clientID}},
		{q.deleteCodes, []any{userID, clientID}},
	})
}

// unionScope is have followed by the scopes of add it lacks, each once.
func unionScope(have, add string) string {
	out := strings.Fields(have)
	for _, sc := range strings.Fields(add) {
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return strings.Join(out, " ")
}

func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// foreignKeyViolation reports whether err is a foreign-key failure: the grant
// names a user or client that does not exist.
func foreignKeyViolation(err error) bool {
	if err == nil {
		return false
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503" // foreign_key_violation
}
