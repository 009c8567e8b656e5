package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/authserver-dev/authserver/authserver/storage"
)

// TestUnavailableClassifiesOutagesOnly checks the one decision between "try
// again" and "server error" on the errors drivers really return. The
// PostgreSQL tests in outage_test.go provoke the real ones.
func TestUnavailableClassifiesOutagesOnly(t *testing.T) {
	t.Parallel()
	dialErr := &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "refused"}}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"admin shutdown (pg_terminate_backend)", &pgconn.PgError{Severity: "FATAL", Code: "57P01"}, true},
		{"crash shutdown", &pgconn.PgError{Code: "57P02"}, true},
		{"cannot connect now (starting up)", &pgconn.PgError{Code: "57P03"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"connection failure class 08", &pgconn.PgError{Code: "08006"}, true},
		{"wrapped 08", fmt.Errorf("tx: %w", &pgconn.PgError{Code: "08003"}), true},
		{"connect error", &pgconn.ConnectError{}, true},
		{"dial error", dialErr, true},
		{"refused", fmt.Errorf("x: %w", syscall.ECONNREFUSED), true},
		{"reset", syscall.ECONNRESET, true},
		{"bad conn", driver.ErrBadConn, true},
		{"conn done", sql.ErrConnDone, true},
		{"conn closed", fmt.Errorf("x: %w", pgconn.ErrConnClosed), true},
		{"unexpected EOF", io.ErrUnexpectedEOF, true},
		{"store deadline", context.DeadlineExceeded, true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"syntax error", &pgconn.PgError{Code: "42601"}, false},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, false},
		{"no rows", sql.ErrNoRows, false},
		{"client went away", context.Canceled, false},
		{"plain error", errors.New("boom"), false},
		{"nil", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := unavailable(tc.err); got != tc.want {
				t.Errorf("unavailable(%v) = %v, want %v", tc.err, got, tc.want)
			}
			if tc.err == nil {
				return
			}
			err := failed("op", tc.err)
			if got := errors.Is(err, storage.ErrUnavailable); got != tc.want {
				t.Errorf("errors.Is(failed(%v), ErrUnavailable) = %v, want %v", tc.err, got, tc.want)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("failed(%v) no longer wraps the driver's error", tc.err)
			}
		})
	}
}
