package sqlstore

import (
	"database/sql"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

func TestDollarPlaceholders(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"None", `SELECT 1`, `SELECT 1`},
		{"Several", `UPDATE t SET a = ? WHERE b = ? AND c > ?`, `UPDATE t SET a = $1 WHERE b = $2 AND c > $3`},
		{"TenOrMore", strings.Repeat("?,", 10) + "?", "$1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11"},
		{"InStringLiteral", `SELECT '?', ? FROM t WHERE x = 'it''s ?'`, `SELECT '?', $1 FROM t WHERE x = 'it''s ?'`},
		{"InQuotedIdentifier", `SELECT "a?b" FROM t WHERE c = ?`, `SELECT "a?b" FROM t WHERE c = $1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := dollarPlaceholders(tc.in); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	for _, tc := range []struct {
		name     string
		files    fs.FS
		versions []int // nil: an error is expected
	}{
		{"Embedded", migrationFiles, []int{1, 2, 3, 4, 5, 6, 7, 8}},
		{"SortedNumerically", fstest.MapFS{
			"migrations/0010_j.sql": file("j"), "migrations/0002_b.sql": file("b"), "migrations/0001_a.sql": file("a"),
			"migrations/0003_c.sql": file("c"), "migrations/0004_d.sql": file("d"), "migrations/0005_e.sql": file("e"),
			"migrations/0006_f.sql": file("f"), "migrations/0007_g.sql": file("g"), "migrations/0008_h.sql": file("h"),
			"migrations/0009_i.sql": file("i"),
		}, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"Gap", fstest.MapFS{"migrations/0001_a.sql": file("a"), "migrations/0003_c.sql": file("c")}, nil},
		{"Duplicate", fstest.MapFS{"migrations/0001_a.sql": file("a"), "migrations/01_b.sql": file("b")}, nil},
		{"NoNumber", fstest.MapFS{"migrations/init.sql": file("a")}, nil},
		{"Zero", fstest.MapFS{"migrations/0000_a.sql": file("a")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := loadMigrations(tc.files)
			if tc.versions == nil {
				if err == nil {
					t.Fatalf("loaded %d migrations, want an error", len(ms))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, m := range ms {
				got = append(got, m.version)
			}
			if !reflect.DeepEqual(got, tc.versions) {
				t.Fatalf("versions %v, want %v", got, tc.versions)
			}
		})
	}
}

// TestSQLitePragmas checks that the DSN options reach both pools: WAL is what
// lets readers run beside the writer, and busy_timeout what makes a second
// process on the same file wait instead of failing.
func TestSQLitePragmas(t *testing.T) {
	s, err := Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		pool   string
		db     *sql.DB
		pragma string
		want   string
	}{
		{"writer", s.w, "journal_mode", "wal"},
		{"writer", s.w, "busy_timeout", "5000"},
		{"writer", s.w, "foreign_keys", "1"},
		{"writer", s.w, "synchronous", "2"}, // FULL, the default
		{"reader", s.r, "journal_mode", "wal"},
		{"reader", s.r, "busy_timeout", "5000"},
		{"reader", s.r, "query_only", "1"},
	} {
		t.Run(tc.pool+"/"+tc.pragma, func(t *testing.T) {
			var got string
			if err := tc.db.QueryRowContext(t.Context(), "PRAGMA "+tc.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("PRAGMA %s = %q, want %q", tc.pragma, got, tc.want)
			}
		})
	}
}
