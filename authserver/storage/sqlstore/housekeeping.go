package sqlstore

import (
	"context"
	"errors"
	"time"
)

// This file holds access-token revocations and the purge of dead records.

// RevokeAccessToken records the jti until expiresAt. Revoking again is not
// an error and never shortens the record's life. A zero expiresAt is kept
// forever: without a known expiry, purging the record could make the token
// usable again.
func (s *Store) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error {
	if _, err := s.w.ExecContext(ctx, s.q.revokeAccessToken, jti, timeArg(expiresAt)); err != nil {
		return failed("revoke access token", err)
	}
	return nil
}

// AccessTokenRevoked reports whether RevokeAccessToken recorded the jti and
// the record was not purged yet. It does not look at expiry: an expired
// token is refused for that reason already.
func (s *Store) AccessTokenRevoked(ctx context.Context, jti string) (bool, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, s.q.accessTokenRevoked, jti).Scan(&n); err != nil {
		return false, failed("access token revoked", err)
	}
	return n > 0, nil
}

// PurgeExpired deletes at most limit rows of each kind and returns how many
// it deleted in all. A row is dead when:
//   - a code, session or refresh token has ExpiresAt (for a token, or
//     FamilyExpiresAt) not after now: no read accepts it any more;
//   - a refresh token was spent before spentBefore: past the reuse grace
//     window and past the time a replay of it is worth detecting;
//   - an access-token revocation, a throttle counter or a session's client
//     record has an expiry not after now;
//   - a registration token has an expiry not after now or no use left;
//   - a pushed request or a seen id has an expiry not after now;
//   - a family revocation was recorded before revokedBefore and no token of
//     the family is left (see purgeFamilyRevocations).
//
// Each kind is its own statement rather than one transaction, so that a
// batch holds the SQLite writer or PostgreSQL row locks only briefly. A zero
// spentBefore or revokedBefore binds NULL and deletes nothing of that kind;
// a zero now deletes only records that have no expiry at all.
func (s *Store) PurgeExpired(ctx context.Context, now, spentBefore, revokedBefore time.Time, limit int) (int, error) {
	if limit <= 0 {
		// SQLite reads a negative LIMIT as no limit at all.
		return 0, errors.New("sqlstore: purge expired: limit must be positive")
	}
	n := timeArg(now)
	total := 0
	for _, st := range []struct {
		kind  string
		query string
		args  []any
	}{
		{"auth codes", s.q.purgeAuthCodes, []any{n, limit}},
		{"sessions", s.q.purgeSessions, []any{n, limit}},
		{"refresh tokens", s.q.purgeRefreshTokens, []any{n, n, timeArg(spentBefore), limit}},
		{"access token revocations", s.q.purgeAccessTokenRevocations, []any{n, limit}},
		{"family revocations", s.q.purgeFamilyRevocations, []any{timeArg(revokedBefore), limit}},
		{"throttle counters", s.q.throttle.purge, []any{n, limit}},
		{"session clients", s.q.sessionClients.purge, []any{n, limit}},
		{"registration tokens", s.q.regTokens.purge, []any{n, limit}},
		{"pushed requests", s.q.pushed.purge, []any{n, limit}},
		{"seen ids", s.q.replay.purge, []any{n, limit}},
	} {
		res, err := s.w.ExecContext(ctx, st.query, st.args...)
		if err != nil {
			return total, failed("purge "+st.kind, err)
		}
		deleted, err := res.RowsAffected()
		if err != nil {
			return total, failed("purge "+st.kind, err)
		}
		total += int(deleted)
	}
	return total, nil
}
