package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/authserver/storage/pgtest"
)

// waitPing pings until the store answers, a bounded number of times.
func waitPing(t *testing.T, s storage.Store) {
	t.Helper()
	var err error
	for range 100 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = s.Ping(ctx)
		cancel()
		if err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the store did not come back: %v", err)
}

// TestPostgresOutageIsUnavailable cuts the database off under an open store
// (a proxy that closes every connection and refuses new ones): every
// operation must report storage.ErrUnavailable, not a plain error or a
// missing record; when the database is reachable again the same store works
// without being reopened.
func TestPostgresOutageIsUnavailable(t *testing.T) {
	t.Parallel()
	pg := pgtest.Open(t)
	dsn := pg.Schema(t)
	proxy := pgtest.NewProxy(t, dsn)
	s := openStore(t, "postgres", proxy.DSN(dsn))
	ctx := context.Background()
	client := storage.Client{ID: "web", RedirectURIs: []string{"https://app.example/cb"}}
	if err := s.UpsertClient(ctx, client); err != nil {
		t.Fatal(err)
	}

	proxy.Stop()
	checks := []struct {
		name string
		call func() error
	}{
		{"Ping", func() error { return s.Ping(ctx) }},
		{"GetClient", func() error { _, err := s.GetClient(ctx, "web"); return err }},
		{"GetSession", func() error { _, err := s.GetSession(ctx, storage.Hash("x"), time.Now()); return err }},
		{"CreateSession", func() error {
			return s.CreateSession(ctx, storage.Session{IDHash: storage.Hash("s"), UserID: "u", AuthTime: time.Now(), CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)})
		}},
		{"RevokeFamily", func() error { return s.RevokeFamily(ctx, "f", time.Now()) }},
		{"ListSigningKeys", func() error { _, err := s.ListSigningKeys(ctx); return err }},
		// Neither may read a cut connection as an answer: "not seen" would
		// let a replayed proof through, "not found" refuse a live request.
		{"SeenOnce", func() error {
			_, err := s.SeenOnce(ctx, storage.Hash("jti"), time.Now().Add(time.Minute), time.Now())
			return err
		}},
		{"SpendPushedRequest", func() error { return s.SpendPushedRequest(ctx, storage.Hash("urn"), "web", time.Now()) }},
	}
	for _, c := range checks {
		if err := c.call(); !errors.Is(err, storage.ErrUnavailable) || errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrAlreadyUsed) {
			t.Errorf("%s during the outage: got %v, want storage.ErrUnavailable", c.name, err)
		}
	}

	proxy.Start()
	waitPing(t, s)
	if got, err := s.GetClient(ctx, "web"); err != nil || got.ID != "web" {
		t.Fatalf("GetClient after recovery: %+v %v", got, err)
	}
}

// TestPostgresTerminatedBackendsAreUnavailable kills every server process of
// the store's pool with pg_terminate_backend, as an administrator or a
// failover does, while one read is waiting inside the database: that read
// fails with storage.ErrUnavailable (the server's 57P01), the idle
// connections are replaced without anyone noticing, and the same store
// works afterwards.
func TestPostgresTerminatedBackendsAreUnavailable(t *testing.T) {
	t.Parallel()
	pg := pgtest.Open(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	app := "sqlstore-test-" + hex.EncodeToString(b[:])
	dsn := pg.Schema(t)
	s := openStore(t, "postgres", pgtest.WithParam(t, dsn, "application_name", app))
	ctx := context.Background()
	locker, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close()
	// lockClients makes reads of the clients table wait inside the
	// database (another session holds it) until the returned transaction
	// ends, and waitFor waits until n of the store's sessions wait for it.
	lockClients := func() *sql.Tx {
		tx, err := locker.Begin()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec("LOCK TABLE clients IN ACCESS EXCLUSIVE MODE"); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	waitFor := func(want int) {
		t.Helper()
		for range 500 {
			var n int
			if err := locker.QueryRow(`SELECT count(*) FROM pg_stat_activity
				WHERE application_name = $1 AND wait_event_type = 'Lock'`, app).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n >= want {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("fewer than %d reads ever waited for the lock", want)
	}

	// Hold several connections at once, so that the pool keeps idle ones
	// for pg_terminate_backend to kill too: four reads waiting for the lock
	// each need a connection of their own, whatever the machine's speed.
	tx := lockClients()
	errs := make(chan error, 4)
	for range 4 {
		go func() { _, err := s.GetClient(ctx, "none"); errs <- err }()
	}
	waitFor(4)
	_ = tx.Rollback()
	for range 4 {
		if err := <-errs; !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("read before the outage: %v, want ErrNotFound", err)
		}
	}

	// Make one read wait inside the database, then cut every session.
	tx = lockClients()
	defer tx.Rollback() //nolint:errcheck
	blocked := make(chan error, 1)
	go func() { _, err := s.GetClient(ctx, "web"); blocked <- err }()
	waitFor(1)

	res, err := pg.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1 AND pid <> pg_backend_pid()`, app)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n < 2 {
		t.Fatalf("terminated %d backends of the store, want the waiting one and idle ones", n)
	}
	if err := <-blocked; !errors.Is(err, storage.ErrUnavailable) || errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("read cut by pg_terminate_backend: got %v, want storage.ErrUnavailable", err)
	}
	_ = tx.Rollback()

	for range 8 {
		_, err := s.GetClient(ctx, "none")
		if !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, storage.ErrUnavailable) {
			t.Fatalf("after pg_terminate_backend: %v, want ErrNotFound or ErrUnavailable", err)
		}
	}
	waitPing(t, s)
	if _, err := s.GetClient(ctx, "none"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("after recovery: %v", err)
	}
}
