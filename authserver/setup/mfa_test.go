package setup_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/setup"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/authserver/storage/sqlstore"
	"github.com/authserver-dev/authserver/config"
)

// require_mfa of users and clients and a client's default_acr_values are
// stored as the file says; turning them off in the file turns them off;
// a start that changes nothing keeps updated_at.
func TestSeedStoresRequireMFAAndDefaultACRValues(t *testing.T) {
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
	seed := func() (storage.Client, storage.User) {
		t.Helper()
		if err := setup.Seed(ctx, store, cfg, setup.Options{Now: func() time.Time { return now }}); err != nil {
			t.Fatalf("Seed: %v", err)
		}
		c, err := store.GetClient(ctx, "demo-web")
		if err != nil {
			t.Fatal(err)
		}
		u, err := store.GetUserByUsername(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		return c, u
	}

	c, u := seed()
	if c.RequireMFA || len(c.DefaultACRValues) != 0 || u.RequireMFA {
		t.Fatalf("the demo requires MFA: client %v %v, user %v", c.RequireMFA, c.DefaultACRValues, u.RequireMFA)
	}

	now = now.Add(time.Hour)
	cfg.Clients[0].RequireMFA = true
	cfg.Clients[0].DefaultACRValues = []string{config.ACRPhishingResistant, config.ACRMFA}
	cfg.Users[0].RequireMFA = true
	c, u = seed()
	if !c.RequireMFA || !slices.Equal(c.DefaultACRValues, cfg.Clients[0].DefaultACRValues) || !c.UpdatedAt.Equal(now) {
		t.Errorf("client after the change: require_mfa %v, default_acr_values %v, updated %v", c.RequireMFA, c.DefaultACRValues, c.UpdatedAt)
	}
	if !u.RequireMFA || !u.UpdatedAt.Equal(now) {
		t.Errorf("user after the change: require_mfa %v, updated %v", u.RequireMFA, u.UpdatedAt)
	}

	// The same file again is no change.
	changed := now
	now = now.Add(time.Hour)
	c, u = seed()
	if !c.UpdatedAt.Equal(changed) || !u.UpdatedAt.Equal(changed) {
		t.Errorf("a start that changes nothing moved updated_at: client %v, user %v; want %v", c.UpdatedAt, u.UpdatedAt, changed)
	}

	// Off again.
	cfg.Clients[0].RequireMFA, cfg.Clients[0].DefaultACRValues, cfg.Users[0].RequireMFA = false, nil, false
	c, u = seed()
	if c.RequireMFA || len(c.DefaultACRValues) != 0 || u.RequireMFA || !u.UpdatedAt.Equal(now) {
		t.Errorf("after turning it off: client %v %v, user %v (updated %v)", c.RequireMFA, c.DefaultACRValues, u.RequireMFA, u.UpdatedAt)
	}
}
