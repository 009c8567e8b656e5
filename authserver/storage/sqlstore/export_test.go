package sqlstore

import "context"

// OpenAtVersion opens a store whose schema is migrated only up to version,
// like a database in the field that ran an older release, so that a test
// can fill it and then Migrate it to the current schema.
func OpenAtVersion(ctx context.Context, driver, dsn string, version int) (*Store, error) {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return nil, err
	}
	s, err := connect(ctx, driver, dsn, Options{})
	if err != nil {
		return nil, err
	}
	if err := s.apply(ctx, ms[:version]); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Exec runs a statement as it is, for writing rows in an old schema that the
// store's current queries no longer fit.
func (s *Store) Exec(ctx context.Context, query string, args ...any) error {
	_, err := s.w.ExecContext(ctx, s.d.rebind(query), args...)
	return err
}

// LatestVersion is the schema version a fresh Open migrates to: the number
// of embedded migration files.
func LatestVersion() int {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		panic(err)
	}
	return len(ms)
}
