package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// Initialized reports whether the database that driver and dsn name has
// been created: for SQLite, whether its file exists (an in-memory database
// always counts, there is nothing to create); for PostgreSQL, whether the
// schema the connection sees has schema_migrations with a version above 0.
// Unlike Open it creates and migrates nothing, so the administration
// commands can refuse to work on a database that a mistyped path or a
// missing search_path would otherwise create empty.
func Initialized(ctx context.Context, driver, dsn string) (bool, error) {
	switch driver {
	case "sqlite":
		return sqliteExists(dsn)
	case "postgres":
		return postgresInitialized(ctx, dsn)
	}
	return false, fmt.Errorf("sqlstore: unknown driver %q (want sqlite or postgres)", driver)
}

// sqliteExists reads the path out of dsn as openSQLite does.
func sqliteExists(dsn string) (bool, error) {
	path, _, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
	if strings.HasPrefix(path, "///") { // file:///abs/path
		path = path[2:]
	}
	if path == ":memory:" || path == "" || strings.Contains(dsn, "mode=memory") {
		return true, nil
	}
	switch _, err := os.Stat(path); {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("sqlstore: %w", err)
	}
}

func postgresInitialized(ctx context.Context, dsn string) (bool, error) {
	s, err := openPostgres(dsn)
	if err != nil {
		return false, err
	}
	defer s.Close()
	// to_regclass resolves the name on the search_path, as every query of
	// the store does, and is NULL (no error) when there is no such table.
	var table sql.NullString
	if err := s.r.QueryRowContext(ctx, `SELECT to_regclass('schema_migrations')::text`).Scan(&table); err != nil {
		return false, failed("look for schema_migrations", err)
	}
	if !table.Valid {
		return false, nil
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		return false, err
	}
	return v > 0, nil
}
