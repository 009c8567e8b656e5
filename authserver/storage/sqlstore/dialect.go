package sqlstore

import (
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect is everything that differs between the databases. Queries are
// written once with ? placeholders; the rest of the SQL (ON CONFLICT ... DO
// UPDATE, RETURNING, the column types of the migrations) is common to SQLite
// 3.35+ and PostgreSQL.
type dialect struct {
	name string
	// rebind turns ? placeholders into the database's own; it runs once per
	// query when the store is built, never per call.
	rebind func(query string) string
	// migrationLock is run first in each migration's transaction so that two
	// processes starting at once apply each migration exactly once. SQLite
	// needs none: its transactions begin IMMEDIATE, which already excludes
	// every other writer of the file.
	migrationLock string
	// keysLock, run in a transaction, holds the signing-key lock until that
	// transaction ends (see Store.LockSigningKeys). Empty for SQLite.
	keysLock string
	// uniqueViolation reports whether err is a primary-key or unique
	// constraint failure.
	uniqueViolation func(err error) bool
}

var sqliteDialect = dialect{
	name:   "sqlite",
	rebind: func(q string) string { return q },
	uniqueViolation: func(err error) bool {
		var e *sqlite.Error
		if !errors.As(err, &e) {
			return false
		}
		return e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
	},
}

// migrationLockKey is an arbitrary constant shared by every process that
// migrates this schema: "authsrv" in ASCII, written in decimal because
// PostgreSQL before 16 has no hexadecimal literals.
const migrationLockKey = "27432215569986166"

// keysLockKey is the advisory lock of signing-key decisions ("authkey").
const keysLockKey = "27432215567607161"

var postgresDialect = dialect{
	name:          "postgres",
	rebind:        dollarPlaceholders,
	migrationLock: "SELECT pg_advisory_xact_lock(" + migrationLockKey + ")",
	keysLock:      "SELECT pg_advisory_xact_lock(" + keysLockKey + ")",
	uniqueViolation: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && e.Code == "23505" // unique_violation
	},
}

// dollarPlaceholders numbers the ? placeholders of q as $1, $2, ... It skips
// quoted literals and identifiers so that a ? inside them stays as it is.
func dollarPlaceholders(q string) string {
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
