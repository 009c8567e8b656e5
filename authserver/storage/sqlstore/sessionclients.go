package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/authserver-dev/authserver/authserver/storage"
)

// This file holds the clients of each login session
// (storage.SessionClientStore), the outbox of back-channel logout.

const sessionClientCols = `sid, client_id, user_id, created_at, expires_at`

type sessionClientQueries struct {
	record, takeSession, takeEnded, purge string
}

func newSessionClientQueries(r func(string) string) sessionClientQueries {
	return sessionClientQueries{
		record: r(`INSERT INTO session_clients (` + sessionClientCols + `) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (sid, client_id) DO NOTHING`),
		// A DELETE ... RETURNING is the claim: a row deleted by one
		// statement is returned by no other, on PostgreSQL (a concurrent
		// DELETE waits for the row lock, then skips the row it finds gone)
		// as on SQLite (one writer).
		takeSession: r(`DELETE FROM session_clients WHERE sid = ? RETURNING ` + sessionClientCols),
		takeEnded: r(`DELETE FROM session_clients WHERE (sid, client_id) IN (
				SELECT sid, client_id FROM session_clients
				WHERE expires_at > ? AND NOT EXISTS (SELECT 1 FROM sessions WHERE sessions.id_hash = session_clients.sid)
				LIMIT ?)
			RETURNING ` + sessionClientCols),
		purge: r(`DELETE FROM session_clients WHERE (sid, client_id) IN (
				SELECT sid, client_id FROM session_clients WHERE expires_at <= ? LIMIT ?)`),
	}
}

func scanSessionClient(r row) (storage.SessionClient, error) {
	var sc storage.SessionClient
	err := r.Scan(&sc.SessionID, &sc.ClientID, &sc.UserID, timeCol{&sc.CreatedAt}, timeCol{&sc.ExpiresAt})
	return sc, err
}

// RecordSessionClient implements storage.SessionClientStore.
func (s *Store) RecordSessionClient(ctx context.Context, sc storage.SessionClient) error {
	_, err := s.w.ExecContext(ctx, s.q.sessionClients.record, sc.SessionID, sc.ClientID, sc.UserID,
		timeArg(sc.CreatedAt), timeArg(sc.ExpiresAt))
	if err != nil {
		return failed("record session client", err)
	}
	return nil
}

// TakeSessionClients implements storage.SessionClientStore. The session's
// expired records are deleted too: nobody will ever be told about them.
func (s *Store) TakeSessionClients(ctx context.Context, sessionID string, now time.Time) ([]storage.SessionClient, error) {
	taken, err := list(ctx, s.w, "take session clients", s.q.sessionClients.takeSession, scanSessionClient, sessionID)
	if err != nil {
		return nil, err
	}
	live := taken[:0]
	for _, sc := range taken {
		if sc.ExpiresAt.After(now) {
			live = append(live, sc)
		}
	}
	return live, nil
}

// TakeEndedSessionClients implements storage.SessionClientStore.
func (s *Store) TakeEndedSessionClients(ctx context.Context, now time.Time, limit int) ([]storage.SessionClient, error) {
	if limit <= 0 {
		// SQLite reads a negative LIMIT as no limit at all.
		return nil, errors.New("sqlstore: take ended session clients: limit must be positive")
	}
	return list(ctx, s.w, "take ended session clients", s.q.sessionClients.takeEnded, scanSessionClient, timeArg(now), limit)
}
