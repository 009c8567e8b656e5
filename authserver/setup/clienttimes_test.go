package setup_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/setup"
	"github.com/authserver-dev/authserver/authserver/storage/sqlstore"
	"github.com/authserver-dev/authserver/config"
)

// A file client records when it was created and last changed: a restart
// that changes nothing keeps UpdatedAt, a changed entry moves it, and
// CreatedAt stays.
func TestSeedRecordsClientTimes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := config.Default()
	cfg.Storage.DSN = filepath.Join(t.TempDir(), "authserver.db")
	cfg.Passwords = config.Passwords{MemoryKiB: 64, Iterations: 1, Parallelism: 1}
	store, err := sqlstore.Open(ctx, "sqlite", cfg.Storage.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	seed := func() (created, updated time.Time) {
		t.Helper()
		opts := setup.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }}
		if err := setup.Seed(ctx, store, cfg, opts); err != nil {
			t.Fatalf("Seed: %v", err)
		}
		c, err := store.GetClient(ctx, "demo-web")
		if err != nil {
			t.Fatal(err)
		}
		return c.CreatedAt, c.UpdatedAt
	}
	start := now
	created, updated := seed()
	if !created.Equal(start) || !updated.Equal(start) {
		t.Fatalf("first start: created %v, updated %v; want both %v", created, updated, start)
	}
	now = now.Add(time.Hour)
	if created, updated = seed(); !created.Equal(start) || !updated.Equal(start) {
		t.Fatalf("restart without a change: created %v, updated %v; want both %v", created, updated, start)
	}
	now = now.Add(time.Hour)
	cfg.Clients[0].Name = "Renamed"
	if created, updated = seed(); !created.Equal(start) || !updated.Equal(now) {
		t.Fatalf("changed entry: created %v, updated %v; want %v and %v", created, updated, start, now)
	}
}
