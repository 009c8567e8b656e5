// Package pgtest gives tests a fresh PostgreSQL schema on the database named
// by AUTHSERVER_TEST_POSTGRES_DSN. Without it a test is skipped, except when
// CI=true: there a missing database fails the run instead of passing it by
// skipping. It is a test helper; nothing in the product imports it.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Env names the DSN of the test database.
const Env = "AUTHSERVER_TEST_POSTGRES_DSN"

// DB is the test database.
type DB struct {
	dsn   string
	admin *sql.DB
}

// Open connects to the test database, or skips (fails in CI) without one.
func Open(t testing.TB) *DB {
	t.Helper()
	dsn := os.Getenv(Env)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is empty but CI=true: the PostgreSQL tests must run in CI", Env)
		}
		t.Skipf("%s is not set", Env)
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("open %s: %v", Env, err)
	}
	t.Cleanup(func() { admin.Close() })
	if err := admin.PingContext(context.Background()); err != nil {
		t.Fatalf("connect to %s: %v", Env, err)
	}
	return &DB{dsn: dsn, admin: admin}
}

// Schema creates a schema, drops it when t ends, and returns a DSN whose
// search_path points at it, so tests share one database without seeing each
// other's rows.
func (db *DB) Schema(t testing.TB) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	if _, err := db.admin.Exec("CREATE SCHEMA " + name); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := db.admin.Exec("DROP SCHEMA " + name + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return WithParam(t, db.dsn, "search_path", name)
}

// Exec runs a statement as the administrator of the test database.
func (db *DB) Exec(query string, args ...any) (sql.Result, error) {
	return db.admin.Exec(query, args...)
}

// WithParam adds a server setting to a URL or key=value DSN.
func WithParam(t testing.TB, dsn, key, value string) string {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " " + key + "=" + value
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse %s: %v", Env, err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}
