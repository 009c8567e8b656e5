package sqlstore

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestSQLiteSynchronous checks that storage.sqlite_synchronous reaches the
// connection that commits: it decides what a power cut can lose.
func TestSQLiteSynchronous(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		level string
		want  string // PRAGMA synchronous reads back a number
	}{
		{"", "2"}, // the default is FULL
		{"full", "2"},
		{"normal", "1"},
	} {
		t.Run("level="+tc.level, func(t *testing.T) {
			t.Parallel()
			s, err := OpenWith(t.Context(), "sqlite", filepath.Join(t.TempDir(), "s.db"), Options{SQLiteSynchronous: tc.level})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var got string
			if err := s.w.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("PRAGMA synchronous = %s, want %s", got, tc.want)
			}
		})
	}
	if _, err := OpenWith(t.Context(), "sqlite", filepath.Join(t.TempDir(), "s.db"), Options{SQLiteSynchronous: "off"}); err == nil || !strings.Contains(err.Error(), `"off"`) {
		t.Errorf("synchronous=off: got %v, want an error naming the level", err)
	}
}

// TestSQLiteFileModes checks that a new database, its -wal and -shm files
// and its directory are private to the server's user even under a umask
// that would let everyone read them: they hold every client, user and
// (sealed) key. Not parallel: the umask belongs to the whole process.
func TestSQLiteFileModes(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "auth.db")
	s, err := Open(t.Context(), "sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for name, want := range map[string]os.FileMode{
		dir:           0o700,
		path:          0o600,
		path + "-wal": 0o600,
		path + "-shm": 0o600,
	} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %04o, want %04o", filepath.Base(name), got, want)
		}
	}
}
