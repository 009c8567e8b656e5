package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/authserver-dev/authserver/authserver/storage"
)

// This file holds the pushed authorization requests of RFC 9126
// (storage.PushedRequestStore) and the one-time identifiers of DPoP proofs
// and client assertions (storage.ReplayStore).

const pushedRequestCols = `uri_hash, client_id, params, created_at, expires_at, used_at`

type pushedRequestQueries struct {
	create, get, spend, purge string
}

func newPushedRequestQueries(r func(string) string) pushedRequestQueries {
	return pushedRequestQueries{
		create: r(`INSERT INTO pushed_requests (` + pushedRequestCols + `) VALUES (?, ?, ?, ?, ?, ?)`),
		// The client and the expiry are conditions of the read, so that
		// another client's request and an expired one, spent or not, look
		// the same as an unknown one. A zero now binds NULL and matches
		// nothing.
		get: r(`SELECT ` + pushedRequestCols + ` FROM pushed_requests
			WHERE uri_hash = ? AND client_id = ? AND expires_at > ?`),
		// One statement decides the winner, as for codes: the row lock
		// (PostgreSQL) or the single writer (SQLite) makes every later
		// UPDATE see used_at set.
		spend: r(`UPDATE pushed_requests SET used_at = ?
			WHERE uri_hash = ? AND client_id = ? AND used_at IS NULL AND expires_at > ?`),
		purge: r(`DELETE FROM pushed_requests WHERE uri_hash IN (SELECT uri_hash FROM pushed_requests
			WHERE expires_at <= ? LIMIT ?)`),
	}
}

// paramsArg is the request's parameters as one JSON object of string
// arrays, '{}' for none.
func paramsArg(p map[string][]string) string {
	if len(p) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(p) // a map of string slices always marshals
	return string(b)
}

// paramsCol scans paramsArg's JSON; an empty object reads back as nil, as
// an empty list does.
type paramsCol struct{ p *map[string][]string }

func (c paramsCol) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("sqlstore: params column holds %T, want text", src)
	}
	var p map[string][]string
	if err := json.Unmarshal(b, &p); err != nil {
		return failed("params column", err)
	}
	if len(p) == 0 {
		p = nil
	}
	*c.p = p
	return nil
}

func scanPushedRequest(r row) (storage.PushedRequest, error) {
	var p storage.PushedRequest
	err := r.Scan(&p.URIHash, &p.ClientID, paramsCol{&p.Params}, timeCol{&p.CreatedAt}, timeCol{&p.ExpiresAt},
		timeCol{&p.UsedAt})
	return p, err
}

// CreatePushedRequest stores r; storage.ErrConflict if its hash exists. The
// request belongs to its client: deleting the client deletes it (ON DELETE
// CASCADE), and an unknown client is an error of the foreign key.
func (s *Store) CreatePushedRequest(ctx context.Context, r storage.PushedRequest) error {
	return s.insert(ctx, "create pushed request", s.q.pushed.create, []any{
		r.URIHash, r.ClientID, paramsArg(r.Params), timeArg(r.CreatedAt), timeArg(r.ExpiresAt), timeArg(r.UsedAt)})
}

// GetPushedRequest returns the client's request with this hash while
// ExpiresAt is after now: storage.ErrNotFound when there is none (unknown,
// another client's or expired, spent or not), storage.ErrAlreadyUsed when
// it was spent. It changes nothing: a reload of the login page reads it
// again.
func (s *Store) GetPushedRequest(ctx context.Context, uriHash, clientID string, now time.Time) (storage.PushedRequest, error) {
	p, err := scanPushedRequest(s.r.QueryRowContext(ctx, s.q.pushed.get, uriHash, clientID, timeArg(now)))
	if err != nil {
		return storage.PushedRequest{}, notFound("get pushed request", err)
	}
	if !p.UsedAt.IsZero() {
		return storage.PushedRequest{}, storage.ErrAlreadyUsed
	}
	return p, nil
}

// SpendPushedRequest marks the request used at now with one conditional
// UPDATE, so that of concurrent spends exactly one changes the row. When it
// changes none, a read tells storage.ErrAlreadyUsed (spent, still live)
// from storage.ErrNotFound (as GetPushedRequest).
func (s *Store) SpendPushedRequest(ctx context.Context, uriHash, clientID string, now time.Time) error {
	n := timeArg(now)
	res, err := s.w.ExecContext(ctx, s.q.pushed.spend, n, uriHash, clientID, n)
	if err != nil {
		return failed("spend pushed request", err)
	}
	if changed, err := res.RowsAffected(); err != nil {
		return failed("spend pushed request", err)
	} else if changed == 1 {
		return nil
	}
	// The UPDATE has returned, so a winner, if any, has committed and this
	// read sees its used_at.
	_, err = s.GetPushedRequest(ctx, uriHash, clientID, now)
	if err == nil {
		// Unspent and live, yet the UPDATE matched nothing: only a clock
		// that went backwards between the two statements does this.
		return storage.ErrNotFound
	}
	if errors.Is(err, storage.ErrAlreadyUsed) || errors.Is(err, storage.ErrNotFound) {
		return err
	}
	return failed("spend pushed request", err)
}

type replayQueries struct {
	seen, purge string
}

func newReplayQueries(r func(string) string) replayQueries {
	return replayQueries{
		// One statement both checks and records: a new id is inserted, an
		// expired one is taken over, and a live one is left alone, which
		// RETURNING then gives no row for. Of concurrent calls with one id,
		// PostgreSQL makes all but one wait for the first's row and then
		// re-check the WHERE against it (live: no update); SQLite runs them
		// one after another. So exactly one sees a row.
		seen: r(`INSERT INTO seen_jtis (id, expires_at) VALUES (?, ?)
			ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at
			WHERE seen_jtis.expires_at <= ?
			RETURNING id`),
		purge: r(`DELETE FROM seen_jtis WHERE id IN (SELECT id FROM seen_jtis
			WHERE expires_at <= ? LIMIT ?)`),
	}
}

// SeenOnce records id until expiresAt and reports whether a record of it
// was already there and live at now (ExpiresAt after now). A zero expiresAt
// is refused: the id would be forgotten at once. A zero now binds NULL, for
// which no record counts as expired: the call fails closed (true) for an id
// recorded before.
func (s *Store) SeenOnce(ctx context.Context, id string, expiresAt, now time.Time) (bool, error) {
	if expiresAt.IsZero() {
		return false, errors.New("sqlstore: seen once: zero expiry")
	}
	var got string
	err := s.w.QueryRowContext(ctx, s.q.replay.seen, id, timeArg(expiresAt), timeArg(now)).Scan(&got)
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, sql.ErrNoRows):
		return true, nil
	default:
		return false, failed("seen once", err)
	}
}
