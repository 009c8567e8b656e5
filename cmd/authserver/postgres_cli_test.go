package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authserver-dev/authserver/authserver/storage/pgtest"
	"github.com/authserver-dev/authserver/authserver/storage/sqlstore"
)

// On PostgreSQL the database is a schema: an empty one (a wrong
// search_path, a new database) is refused as a missing database, left
// empty, and named without the DSN's password.
func TestMissingPostgresSchemaIsRefusedNotCreated(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Open(t).Schema(t)
	// A password the message must not repeat; a server that trusts the
	// connection ignores it, one that checks passwords has one in the DSN.
	const secret = "hunter2-not-shown"
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if _, has := u.User.Password(); !has {
			u.User = url.UserPassword(u.User.Username(), secret)
			dsn = u.String()
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "authserver.yaml")
	yaml := fmt.Sprintf(`storage: {driver: postgres, dsn: %q}
signing: {key_encryption_key_file: %s}
passwords: {memory_kib: 64, iterations: 1, parallelism: 1}
observability: {metrics_listen: "off"}
`, dsn, filepath.Join(dir, "kek"))
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &cli{t: t, path: path}
	for _, args := range [][]string{{"client", "list"}, {"user", "list"}, {"keys", "list"}} {
		stderr := c.want(exitError, "", args...)
		if !strings.Contains(stderr, "no database at ") || !strings.Contains(stderr, "its schema has not been created") ||
			!strings.Contains(stderr, "run `authserver migrate` or check --config") {
			t.Errorf("%q: %s", args, stderr)
		}
		if strings.Contains(stderr, secret) {
			t.Errorf("%q: the message shows the DSN's password: %s", args, stderr)
		}
	}
	if ok, err := sqlstore.Initialized(context.Background(), "postgres", dsn); err != nil || ok {
		t.Fatalf("after the refusals the schema is initialized=%v (%v), want still empty", ok, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "kek")); !os.IsNotExist(err) {
		t.Errorf("a refused keys list made a key-encryption key: %v", err)
	}
	c.ok("", "migrate")
	if ok, err := sqlstore.Initialized(context.Background(), "postgres", dsn); err != nil || !ok {
		t.Fatalf("after migrate: initialized=%v (%v)", ok, err)
	}
	c.ok("", "client", "list")
}
