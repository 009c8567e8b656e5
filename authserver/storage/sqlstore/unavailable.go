package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/authserver-dev/authserver/authserver/storage"
)

// This file is the one place that decides which database errors mean "the
// database is not there right now" (storage.ErrUnavailable) rather than "this
// request is wrong" or "we have a bug". Every method of Store reports its
// errors through failed, so the decision is made once, here.

// opError is a failed store operation. It wraps the driver's error and, when
// the database was unreachable, storage.ErrUnavailable too.
type opError struct {
	op          string
	err         error
	unavailable bool
}

func (e *opError) Error() string { return "sqlstore: " + e.op + ": " + e.err.Error() }

func (e *opError) Unwrap() []error {
	if e.unavailable {
		return []error{e.err, storage.ErrUnavailable}
	}
	return []error{e.err}
}

// failed wraps the error of operation op (a few words, e.g. "get client").
func failed(op string, err error) error {
	return &opError{op: op, err: err, unavailable: unavailable(err)}
}

// unavailable reports whether err means the database could not be reached or
// went away, so that the same request could succeed shortly:
//
//   - PostgreSQL's own verdicts: SQLSTATE class 08 (connection exception),
//     57P01/57P02/57P03 (admin shutdown, crash shutdown, cannot connect now:
//     a restart, a failover or pg_terminate_backend), 53300 (too many
//     connections);
//   - the connection failing under the driver: a failed connect, a closed or
//     reset socket, an unexpected EOF, database/sql's driver.ErrBadConn;
//   - the operation's context deadline (a database too slow to answer is, to
//     the client, not there);
//   - SQLite's SQLITE_BUSY: another process held the file's lock for longer
//     than busy_timeout.
//
// Any other server error (a constraint, a syntax error, a wrong password in
// the DSN) is not: trying again would fail the same way.
func unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		// The server answered, so the code is the whole story; a failed
		// authentication inside a ConnectError stays an error.
		switch pg.Code {
		case "57P01", "57P02", "57P03", "53300":
			return true
		}
		return strings.HasPrefix(pg.Code, "08")
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()&0xff == sqlite3.SQLITE_BUSY
	}
	var (
		connect *pgconn.ConnectError
		netErr  net.Error
	)
	switch {
	case errors.As(err, &connect),
		errors.As(err, &netErr),
		errors.Is(err, driver.ErrBadConn),
		errors.Is(err, sql.ErrConnDone),
		errors.Is(err, pgconn.ErrConnClosed),
		errors.Is(err, net.ErrClosed),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE),
		errors.Is(err, context.DeadlineExceeded),
		pgconn.Timeout(err):
		return true
	}
	return false
}

// Ping checks that the database answers a query, within ctx's deadline. It
// runs a statement rather than database/sql's PingContext, which a pooled
// connection may answer without asking the server. It uses the read pool,
// so that on SQLite it does not queue behind the writer.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return failed("ping", err)
	}
	return nil
}
