package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/authserver-dev/authserver/authserver/storage"
)

// This file holds the throttle counters (storage.ThrottleStore).

type throttleQueries struct {
	get, recordFailure, reset, purge string
}

func newThrottleQueries(r func(string) string) throttleQueries {
	return throttleQueries{
		get: r(`SELECT failures, last_failure_at FROM throttle WHERE throttle_key = ? AND expires_at > ?`),
		// One statement, so concurrent failures on any number of replicas
		// all count: a live row is incremented in place, a stale one (past
		// its expiry or quiet since resetBefore) starts again from one.
		recordFailure: r(`INSERT INTO throttle (throttle_key, failures, last_failure_at, expires_at) VALUES (?, 1, ?, ?)
			ON CONFLICT (throttle_key) DO UPDATE SET
				failures = CASE WHEN throttle.expires_at <= excluded.last_failure_at OR throttle.last_failure_at < ?
					THEN 1 ELSE throttle.failures + 1 END,
				last_failure_at = excluded.last_failure_at,
				expires_at = excluded.expires_at
			RETURNING failures, last_failure_at`),
		reset: r(`DELETE FROM throttle WHERE throttle_key = ?`),
		purge: r(`DELETE FROM throttle WHERE throttle_key IN (SELECT throttle_key FROM throttle WHERE expires_at <= ? LIMIT ?)`),
	}
}

// GetThrottle implements storage.ThrottleStore.
func (s *Store) GetThrottle(ctx context.Context, key string, now time.Time) (storage.ThrottleState, error) {
	var st storage.ThrottleState
	err := s.r.QueryRowContext(ctx, s.q.throttle.get, key, timeArg(now)).Scan(&st.Failures, timeCol{&st.LastFailure})
	if errors.Is(err, sql.ErrNoRows) {
		return storage.ThrottleState{}, nil
	}
	if err != nil {
		return storage.ThrottleState{}, failed("get throttle", err)
	}
	return st, nil
}

// RecordThrottleFailure implements storage.ThrottleStore.
func (s *Store) RecordThrottleFailure(ctx context.Context, key string, now, expiresAt, resetBefore time.Time) (storage.ThrottleState, error) {
	var st storage.ThrottleState
	err := s.w.QueryRowContext(ctx, s.q.throttle.recordFailure, key, timeArg(now), timeArg(expiresAt), timeArg(resetBefore)).
		Scan(&st.Failures, timeCol{&st.LastFailure})
	if err != nil {
		return storage.ThrottleState{}, failed("record throttle failure", err)
	}
	return st, nil
}

// ResetThrottle implements storage.ThrottleStore.
func (s *Store) ResetThrottle(ctx context.Context, key string) error {
	if _, err := s.w.ExecContext(ctx, s.q.throttle.reset, key); err != nil {
		return failed("reset throttle", err)
	}
	return nil
}
