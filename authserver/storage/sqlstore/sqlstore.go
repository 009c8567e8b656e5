// Package sqlstore is the SQL backend of storage.Store: one implementation over
// database/sql that serves SQLite (modernc.org/sqlite, pure Go, the embedded
// default) and PostgreSQL (pgx through its database/sql driver). The two
// differ only by a dialect value: placeholder style, the migration lock and
// how a unique violation is recognised. The schema is versioned SQL embedded
// from migrations/.
//
// The one-time records are consumed by single conditional statements (UPDATE
// ... WHERE used_at IS NULL ... RETURNING), so that of any number of
// concurrent redemptions exactly one succeeds on either database and on any
// number of replicas.
//
// It imports storage and keys, and must not import authserver or anything
// above it.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/keys"
)

var _ storage.Store = (*Store)(nil)

// Store is a storage.Store on SQLite or PostgreSQL. It is safe for concurrent
// use.
type Store struct {
	d dialect
	// w runs every write and every transaction; r runs plain reads. They are
	// the same pool on PostgreSQL. On SQLite w has one connection, so writers
	// queue in Go rather than spin in SQLite's busy handler, while WAL lets
	// the readers of r run beside it.
	w, r *sql.DB
	q    queries
	// keysMu serialises signing-key decisions within this process; on
	// PostgreSQL an advisory lock extends that to every replica.
	keysMu sync.Mutex
}

var _ keys.Locker = (*Store)(nil)

// LockSigningKeys runs fn while no other holder of the lock runs, so that
// replicas starting or rotating keys at once decide once. On PostgreSQL it
// holds a transaction-scoped advisory lock on one connection while fn's own
// statements use others; an SQLite file belongs to one process, where the
// mutex is enough.
func (s *Store) LockSigningKeys(ctx context.Context, fn func(context.Context) error) error {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	if s.d.keysLock == "" {
		return fn(ctx)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return failed("lock signing keys", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.ExecContext(ctx, s.d.keysLock); err != nil {
		return failed("lock signing keys", err)
	}
	if err := fn(ctx); err != nil {
		return err
	}
	return tx.Commit()
}

// Options tune a backend beyond its DSN. The zero value is the safe default.
type Options struct {
	// SQLiteSynchronous is SQLite's synchronous pragma: "full" (or "", the
	// default: a committed transaction survives a power cut, at the cost of
	// an fsync of the WAL per commit) or "normal" (the WAL is synced only at
	// checkpoints: a power cut may lose the last transactions, but the file is
	// never corrupted). PostgreSQL ignores it.
	SQLiteSynchronous string
}

// Open connects to the database, applies pending migrations and returns the
// store, with the default Options. driver is "sqlite" (dsn: a file path or a
// "file:" URI; the file is created 0600 and its missing parent directories
// 0700) or "postgres" (dsn: a pgx connection string).
func Open(ctx context.Context, driver, dsn string) (*Store, error) {
	return OpenWith(ctx, driver, dsn, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, driver, dsn string, o Options) (*Store, error) {
	s, err := connect(ctx, driver, dsn, o)
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// connect opens the pools and checks that the database answers, without
// migrating.
func connect(ctx context.Context, driver, dsn string, o Options) (*Store, error) {
	var (
		s   *Store
		err error
	)
	switch driver {
	case "sqlite":
		s, err = openSQLite(dsn, o)
	case "postgres":
		s, err = openPostgres(dsn)
	default:
		return nil, fmt.Errorf("sqlstore: unknown driver %q (want sqlite or postgres)", driver)
	}
	if err != nil {
		return nil, err
	}
	if err := ping(ctx, s.w, driver); err != nil {
		s.Close()
		return nil, failed("connect "+driver, err)
	}
	return s, nil
}

// sqliteBusyRetries bound how long ping waits for a SQLite file that another
// process is creating: its first connection sets journal_mode=WAL, which
// needs the file to itself and answers SQLITE_BUSY without consulting
// busy_timeout while another connection migrates it.
const (
	sqliteBusyRetries = 50
	sqliteBusyWait    = 100 * time.Millisecond
)

// ping opens the first connection; for SQLite it tries again, a bounded
// number of times, while the file is busy.
func ping(ctx context.Context, db *sql.DB, driver string) error {
	for i := 0; ; i++ {
		err := db.PingContext(ctx)
		var se *sqlite.Error
		if err == nil || driver != "sqlite" || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || i == sqliteBusyRetries {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(sqliteBusyWait):
		}
	}
}

func newStore(d dialect, w, r *sql.DB) *Store {
	return &Store{d: d, w: w, r: r, q: newQueries(d)}
}

// sqlitePragmas are set on every writer connection. busy_timeout covers other
// processes on the same file; synchronous is Options.SQLiteSynchronous (see
// there for what each level can lose).
func sqlitePragmas(o Options) ([]string, error) {
	var sync string
	switch o.SQLiteSynchronous {
	case "", "full":
		sync = "FULL"
	case "normal":
		sync = "NORMAL"
	default:
		return nil, fmt.Errorf("sqlstore: unknown sqlite synchronous level %q (want full or normal)", o.SQLiteSynchronous)
	}
	return []string{
		"_pragma=busy_timeout(5000)",
		"_pragma=journal_mode(WAL)",
		"_pragma=foreign_keys(1)",
		"_pragma=synchronous(" + sync + ")",
	}, nil
}

func openSQLite(dsn string, o Options) (*Store, error) {
	if dsn == "" {
		return nil, errors.New("sqlstore: empty sqlite dsn")
	}
	pragmas, err := sqlitePragmas(o)
	if err != nil {
		return nil, err
	}
	path, _, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
	if strings.HasPrefix(path, "///") { // file:///abs/path
		path = path[2:]
	}
	memory := path == ":memory:" || path == "" || strings.Contains(dsn, "mode=memory")
	if !memory {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("sqlstore: create directory for %s: %w", path, err)
		}
		if err := createPrivate(path); err != nil {
			return nil, fmt.Errorf("sqlstore: create %s: %w", path, err)
		}
	}
	withParams := func(params ...string) string {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		return dsn + sep + strings.Join(params, "&")
	}
	// Every transaction here writes, so it starts with BEGIN IMMEDIATE: a
	// deferred one that upgrades from read to write can fail with SQLITE_BUSY
	// without waiting, which busy_timeout cannot help.
	w, err := sql.Open("sqlite", withParams(append(pragmas, "_txlock=immediate")...))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	if memory {
		// Each connection to :memory: is its own database, so one connection
		// must serve reads too.
		return newStore(sqliteDialect, w, w), nil
	}
	r, err := sql.Open("sqlite", withParams("_pragma=busy_timeout(5000)", "_pragma=foreign_keys(1)", "_query_only=1"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	return newStore(sqliteDialect, w, r), nil
}

// postgresConnectTimeout bounds a connection attempt when the DSN does not
// (connect_timeout): without it, a database host that drops packets holds
// every request for the operating system's TCP timeout, minutes, instead of
// answering 503 "try again" in seconds.
const postgresConnectTimeout = 5 * time.Second

// createPrivate creates an empty database file with mode 0600 if there is
// none. SQLite would create it 0644 less the umask, readable by every local
// user; it opens an empty file as a new database, and creates the -wal and
// -shm files with the mode of the database file, so all three stay private.
// An existing file keeps its mode: the operator may have chosen it.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

func openPostgres(dsn string) (*Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open postgres: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = postgresConnectTimeout
	}
	db := stdlib.OpenDB(*cfg)
	// Bounded so that several replicas stay under the server's
	// max_connections (100 by default); idle connections are recycled so
	// that a failover or a PgBouncer restart is picked up. A connection the
	// server dropped is discarded when next used (pgx's stdlib pings one that
	// sat idle over a second and reports a closed one as driver.ErrBadConn,
	// on which database/sql dials again), so the pool recovers from an
	// outage by itself; the request that met the dead connection gets
	// storage.ErrUnavailable (see unavailable.go).
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(10)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(time.Hour)
	return newStore(postgresDialect, db, db), nil
}

// Close closes the connection pools.
func (s *Store) Close() error {
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// inTx runs fn in a write transaction and commits it when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback() // fn's error is the one worth reporting
		return err
	}
	return tx.Commit()
}
