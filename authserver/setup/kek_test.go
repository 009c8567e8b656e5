package setup_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/setup"
	"github.com/authserver-dev/authserver/authserver/storage/pgtest"
	"github.com/authserver-dev/authserver/config"
	"github.com/authserver-dev/authserver/keys"
)

// env serves AUTHSERVER_KEY_ENCRYPTION_KEY = kek (none when kek is nil).
func env(kek []byte) func(string) string {
	return func(name string) string {
		if name == keys.KEKEnv && kek != nil {
			return base64.StdEncoding.EncodeToString(kek)
		}
		return ""
	}
}

func randomKEK(seed byte) []byte {
	k := make([]byte, keys.KEKSize)
	for i := range k {
		k[i] = seed ^ byte(i*7)
	}
	return k
}

func open(t *testing.T, cfg config.Config, getenv func(string) string) (*setup.App, error) {
	t.Helper()
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	app, err := setup.Open(context.Background(), cfg, setup.Options{Getenv: getenv})
	if err == nil {
		t.Cleanup(func() { app.Close() })
	}
	return app, err
}

// mustOpenThenClose starts once, which creates and seals the signing keys.
func mustOpenThenClose(t *testing.T, cfg config.Config, getenv func(string) string) {
	t.Helper()
	app, err := open(t, cfg, getenv)
	if err != nil {
		t.Fatal(err)
	}
	app.Close()
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("started, want an error")
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error does not say %q:\n%v", p, err)
		}
	}
}

// A lost key-encryption-key file is never replaced by a new one while the
// database holds keys sealed with the old: the server stops, names the
// file and the variable, and says how to recover.
func TestMissingKEKFileWithSealedKeysIsRefused(t *testing.T) {
	t.Parallel()
	cfg := authtest.TestConfig(t.TempDir())
	mustOpenThenClose(t, cfg, nil)
	if err := os.Remove(cfg.KEKFile()); err != nil {
		t.Fatal(err)
	}
	_, err := open(t, cfg, nil)
	wantErr(t, err, cfg.KEKFile(), keys.KEKEnv, "refusing to create a new key-encryption key", "Restore", "backup", "DELETE FROM signing_keys")
	if _, err := os.Stat(cfg.KEKFile()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a new key-encryption-key file was written: %v", err)
	}

	// The documented way out when the key is lost for good works: delete
	// the signing keys, start again.
	db, err := sql.Open("sqlite", cfg.Storage.DSN)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec("DELETE FROM signing_keys;")
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	mustOpenThenClose(t, cfg, nil)

	// The same when the keys were sealed under the variable and it is
	// missing now.
	cfg = authtest.TestConfig(t.TempDir())
	mustOpenThenClose(t, cfg, env(randomKEK(1)))
	_, err = open(t, cfg, nil)
	wantErr(t, err, keys.KEKEnv, cfg.KEKFile(), "DELETE FROM signing_keys")
	if _, err := os.Stat(cfg.KEKFile()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a new key-encryption-key file was written: %v", err)
	}
}

// A key-encryption key that does not open the stored keys stops the
// server with an error that says which source it came from.
func TestWrongKEKNamesItsSource(t *testing.T) {
	t.Parallel()
	cfg := authtest.TestConfig(t.TempDir())
	mustOpenThenClose(t, cfg, env(randomKEK(1)))
	_, err := open(t, cfg, env(randomKEK(2)))
	wantErr(t, err, "do not open", "environment variable "+keys.KEKEnv, "DELETE FROM signing_keys")

	// Sealed under the file; the file replaced by another key.
	cfg = authtest.TestConfig(t.TempDir())
	mustOpenThenClose(t, cfg, nil)
	if err := os.WriteFile(cfg.KEKFile(), []byte(base64.StdEncoding.EncodeToString(randomKEK(3))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = open(t, cfg, nil)
	wantErr(t, err, "do not open", "file "+cfg.KEKFile(), "DELETE FROM signing_keys")
	if !errors.Is(err, keys.ErrWrongKEK) {
		t.Errorf("error does not wrap keys.ErrWrongKEK: %v", err)
	}
}

// With PostgreSQL the key-encryption key may come from a file too; the
// variable still wins over it; with neither, the error names both.
func TestPostgresKEKSources(t *testing.T) {
	t.Parallel()
	pg := pgtest.Open(t)
	base := func(t *testing.T) config.Config {
		cfg := authtest.TestConfig(t.TempDir())
		cfg.Storage = config.Storage{Driver: "postgres", DSN: pg.Schema(t)}
		return cfg
	}

	t.Run("file", func(t *testing.T) {
		t.Parallel()
		cfg := base(t)
		cfg.Signing.KeyEncryptionKeyFile = filepath.Join(t.TempDir(), "secrets", "kek")
		mustOpenThenClose(t, cfg, nil)
		fi, err := os.Stat(cfg.Signing.KeyEncryptionKeyFile)
		if err != nil {
			t.Fatalf("no key-encryption-key file: %v", err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %04o, want 0600", fi.Mode().Perm())
		}
		// A second replica with the same file opens the same keys.
		if _, err := open(t, cfg, nil); err != nil {
			t.Fatalf("second start with the same file: %v", err)
		}
	})
	t.Run("variable wins", func(t *testing.T) {
		t.Parallel()
		cfg := base(t)
		cfg.Signing.KeyEncryptionKeyFile = filepath.Join(t.TempDir(), "kek")
		kek := randomKEK(4)
		mustOpenThenClose(t, cfg, env(kek))
		if _, err := os.Stat(cfg.Signing.KeyEncryptionKeyFile); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the file was written although the variable is set: %v", err)
		}
		// A file with another key does not matter while the variable is set.
		os.WriteFile(cfg.Signing.KeyEncryptionKeyFile, []byte(base64.StdEncoding.EncodeToString(randomKEK(5))), 0o600)
		if _, err := open(t, cfg, env(kek)); err != nil {
			t.Fatalf("variable and a different file: %v", err)
		}
	})
	t.Run("neither", func(t *testing.T) {
		t.Parallel()
		cfg := base(t)
		cfg.Signing.KeyEncryptionKeyFile = ""
		_, err := open(t, cfg, nil)
		wantErr(t, err, keys.KEKEnv, "signing.key_encryption_key_file")
	})
}
