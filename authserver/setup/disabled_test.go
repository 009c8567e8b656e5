package setup_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/observe/observetest"
	"github.com/authserver-dev/authserver/authserver/setup"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/authserver/storage/sqlstore"
	"github.com/authserver-dev/authserver/config"
)

// A user the file disables is disabled at the next start, with what they
// held ended as storage SetUserDisabled ends it; enabling them again gives
// nothing back; and a start that changes nothing records nothing.
func TestSeedDisablesAndEnablesUsers(t *testing.T) {
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
	logs := &observetest.Logs{}
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	seed := func() storage.User {
		t.Helper()
		opts := setup.Options{Logger: observe.NewLogger(logs, "json", "info"), Now: func() time.Time { return now }}
		if err := setup.Seed(ctx, store, cfg, opts); err != nil {
			t.Fatalf("Seed: %v", err)
		}
		u, err := store.GetUserByUsername(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	events := func(name string) []observetest.Line {
		return observetest.Where(logs.Lines(t), "event", name)
	}

	alice := seed()
	if alice.Disabled {
		t.Fatal("alice starts disabled")
	}
	sid := storage.Hash("alice's session")
	if err := store.CreateSession(ctx, storage.Session{IDHash: sid, UserID: alice.ID, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	tok := storage.Hash("alice's refresh token")
	if err := store.CreateRefreshToken(ctx, storage.RefreshToken{TokenHash: tok, FamilyID: "fam-1", ClientID: "demo-web", UserID: alice.ID,
		Scope: "openid offline_access", SessionID: sid, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour), FamilyExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}

	now = now.Add(time.Hour)
	cfg.Users[0].Disabled = true
	alice = seed()
	if !alice.Disabled || !alice.UpdatedAt.Equal(now) {
		t.Errorf("after disabling in the file: disabled %v, updated %v", alice.Disabled, alice.UpdatedAt)
	}
	if _, err := store.GetSession(ctx, sid, now); err == nil {
		t.Error("the session of a disabled user lives on")
	}
	if revoked, _ := store.FamilyRevoked(ctx, "fam-1"); !revoked {
		t.Error("the refresh family of a disabled user lives on")
	}
	if ev := events("user.disabled"); len(ev) != 1 || ev[0].Str("by") != "configuration" || ev[0].Str("user_id") != alice.ID {
		t.Errorf("user.disabled events: %v", ev)
	}

	// The same file again: nothing changes, not even updated_at.
	updated := alice.UpdatedAt
	now = now.Add(time.Hour)
	if alice = seed(); !alice.Disabled || !alice.UpdatedAt.Equal(updated) || len(events("user.disabled")) != 1 {
		t.Errorf("a start with the same file: disabled %v, updated %v (was %v), %d events", alice.Disabled, alice.UpdatedAt, updated, len(events("user.disabled")))
	}

	cfg.Users[0].Disabled = false
	if alice = seed(); alice.Disabled {
		t.Error("alice is still disabled")
	}
	if ev := events("user.enabled"); len(ev) != 1 || ev[0].Str("by") != "configuration" {
		t.Errorf("user.enabled events: %v", ev)
	}
	if revoked, _ := store.FamilyRevoked(ctx, "fam-1"); !revoked {
		t.Error("enabling gave the revoked family back")
	}
}
