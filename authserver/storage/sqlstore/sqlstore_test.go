package sqlstore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/authserver/storage/conformance"
	"github.com/authserver-dev/authserver/authserver/storage/pgtest"
	"github.com/authserver-dev/authserver/authserver/storage/sqlstore"
	"github.com/authserver-dev/authserver/keys"
)

// schemaVersion is the number of files in migrations/.
var schemaVersion = sqlstore.LatestVersion()

func TestSQLite(t *testing.T) {
	conformance.Run(t, func(t *testing.T) storage.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "authserver.db"))
	})
}

func TestPostgres(t *testing.T) {
	pg := pgtest.Open(t)
	conformance.Run(t, func(t *testing.T) storage.Store {
		return openStore(t, "postgres", pg.Schema(t))
	})
}

func openStore(t testing.TB, driver, dsn string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), driver, dsn)
	if err != nil {
		t.Fatalf("Open(%s): %v", driver, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func openSQLite(t testing.TB, path string) *sqlstore.Store {
	t.Helper()
	return openStore(t, "sqlite", path)
}

// backend opens stores on one fresh database; Open may be called again to
// open the same database a second time.
type backend struct {
	name string
	dsn  func(t *testing.T) string
}

func backends() []backend {
	return []backend{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "authserver.db") }},
		{"postgres", func(t *testing.T) string { return pgtest.Open(t).Schema(t) }},
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			dsn := b.dsn(t)
			first := openStore(t, b.name, dsn)
			c := storage.Client{ID: "web", RedirectURIs: []string{"https://app.example/cb"}}
			if err := first.UpsertClient(t.Context(), c); err != nil {
				t.Fatal(err)
			}
			second := openStore(t, b.name, dsn) // while the first is open
			if err := second.Migrate(t.Context()); err != nil {
				t.Fatalf("Migrate again: %v", err)
			}
			for i, s := range []*sqlstore.Store{first, second} {
				v, err := s.SchemaVersion(t.Context())
				if err != nil || v != schemaVersion {
					t.Fatalf("store %d: SchemaVersion = %d, %v; want %d", i, v, err, schemaVersion)
				}
			}
			got, err := second.GetClient(t.Context(), "web")
			if err != nil || got.RedirectURIs[0] != c.RedirectURIs[0] {
				t.Fatalf("data written before the second Open: %+v, %v", got, err)
			}
		})
	}
}

// oldRow is a statement that writes data into a database of an older
// schema version.
type oldRow struct {
	query string
	args  []any
}

// upgradeFrom makes the database at dsn one of schema version v holding
// rows, as a database in the field, then opens it with this binary (which
// migrates it) and checks that it reached the current version.
func upgradeFrom(t *testing.T, driver, dsn string, v int, rows []oldRow) *sqlstore.Store {
	t.Helper()
	old, err := sqlstore.OpenAtVersion(t.Context(), driver, dsn, v)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { old.Close() })
	for _, q := range rows {
		if err := old.Exec(t.Context(), q.query, q.args...); err != nil {
			t.Fatalf("%s: %v", q.query, err)
		}
	}
	s := openStore(t, driver, dsn)
	if got, err := s.SchemaVersion(t.Context()); err != nil || got != schemaVersion {
		t.Fatalf("SchemaVersion = %d, %v; want %d", got, err, schemaVersion)
	}
	return s
}

// TestMigrateFromVersion1 upgrades a database that ran only 0001 and holds
// data, as databases in the field do: the rows must survive, and the new
// columns must read as their defaults (a client may not introspect; a spent
// token stays spent).
func TestMigrateFromVersion1(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			dsn := b.dsn(t)
			tokenHash := storage.Hash("old token")
			s := upgradeFrom(t, b.name, dsn, 1, []oldRow{
				{`INSERT INTO clients (id, name, skip_consent) VALUES (?, ?, ?)`, []any{"legacy", "Legacy", true}},
				{`INSERT INTO refresh_tokens (token_hash, family_id, user_id, expires_at, spent_at, family_expires_at)
					VALUES (?, ?, ?, ?, ?, ?)`, []any{tokenHash, "F", "u", int64(1e15), int64(2e6), int64(1e15)}},
			})
			c, err := s.GetClient(t.Context(), "legacy")
			if err != nil || c.Name != "Legacy" || !c.SkipConsent || c.CanIntrospect {
				t.Fatalf("client written before the migration: %+v, %v", c, err)
			}
			rt, err := s.GetRefreshToken(t.Context(), tokenHash)
			if err != nil || !rt.SpentAt.Equal(time.UnixMicro(2e6)) {
				t.Fatalf("token spent before the migration: %+v, %v", rt, err)
			}
		})
	}
}

// TestMigrateFromVersion5 upgrades a database of the release before
// administration: its users come out enabled, its sessions with no
// User-Agent or IP, its clients with no registration access token, and it
// can keep registration tokens.
func TestMigrateFromVersion5(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			dsn := b.dsn(t)
			sessionHash := storage.Hash("old session")
			s := upgradeFrom(t, b.name, dsn, 5, []oldRow{
				{`INSERT INTO clients (id, name, owner) VALUES (?, ?, ?)`, []any{"legacy", "Legacy", "file"}},
				{`INSERT INTO users (id, username, owner) VALUES (?, ?, ?)`, []any{"u1", "alice", "database"}},
				{`INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
					[]any{sessionHash, "u1", int64(1e6), int64(1e15)}},
			})
			c, err := s.GetClient(t.Context(), "legacy")
			if err != nil || c.Name != "Legacy" || c.RegistrationTokenHash != "" {
				t.Fatalf("client written before the migration: %+v, %v", c, err)
			}
			u, err := s.GetUser(t.Context(), "u1")
			if err != nil || u.Username != "alice" || u.Disabled {
				t.Fatalf("user written before the migration: %+v, %v", u, err)
			}
			sessions, err := s.ListUserSessions(t.Context(), "u1", time.UnixMicro(2e6))
			if err != nil || len(sessions) != 1 || sessions[0].IDHash != sessionHash ||
				sessions[0].UserAgent != "" || sessions[0].IP != "" {
				t.Fatalf("sessions written before the migration: %+v, %v", sessions, err)
			}
			rt := storage.RegistrationToken{ID: "r", TokenHash: storage.Hash("r"), UsesLeft: 1,
				CreatedAt: time.UnixMicro(1e6).UTC(), ExpiresAt: time.UnixMicro(1e15).UTC()}
			if err := s.CreateRegistrationToken(t.Context(), rt); err != nil {
				t.Fatalf("CreateRegistrationToken after the migration: %v", err)
			}
		})
	}
}

// TestZeroClockFailsClosed: a caller that forgets the clock passes the
// zero time, which binds NULL. The one-time records must then refuse
// rather than accept: no pushed request is found or spent, and an id
// recorded before stays seen, no recovery code is spent (it would stay
// usable) and no TOTP step is used.
func TestZeroClockFailsClosed(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			s := openStore(t, b.name, b.dsn(t))
			ctx := t.Context()
			now := time.Now()
			if err := s.UpsertClient(ctx, storage.Client{ID: "web"}); err != nil {
				t.Fatal(err)
			}
			r := storage.PushedRequest{URIHash: storage.Hash("urn"), ClientID: "web", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
			if err := s.CreatePushedRequest(ctx, r); err != nil {
				t.Fatal(err)
			}
			if _, err := s.GetPushedRequest(ctx, r.URIHash, "web", time.Time{}); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("GetPushedRequest with a zero clock: %v, want ErrNotFound", err)
			}
			if err := s.SpendPushedRequest(ctx, r.URIHash, "web", time.Time{}); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("SpendPushedRequest with a zero clock: %v, want ErrNotFound", err)
			}
			if err := s.SpendPushedRequest(ctx, r.URIHash, "web", now); err != nil {
				t.Errorf("SpendPushedRequest afterwards: %v", err)
			}
			id := storage.Hash("jti")
			if seen, err := s.SeenOnce(ctx, id, now.Add(time.Minute), now); err != nil || seen {
				t.Fatalf("first SeenOnce = %v, %v", seen, err)
			}
			if seen, err := s.SeenOnce(ctx, id, now.Add(time.Minute), time.Time{}); err != nil || !seen {
				t.Errorf("SeenOnce of a recorded id with a zero clock = %v, %v; want true", seen, err)
			}
			if _, err := s.SeenOnce(ctx, storage.Hash("other"), time.Time{}, now); err == nil {
				t.Errorf("SeenOnce with a zero expiry recorded an id that would be forgotten at once")
			}

			// A spent recovery code is used_at NOT NULL: a zero clock would
			// spend it as NULL, leaving it usable again and again. A TOTP
			// step with a zero clock would be accepted without confirming.
			u, err := s.UpsertUser(ctx, storage.User{Username: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			code := storage.Hash("recovery code")
			if err := s.ReplaceRecoveryCodes(ctx, u.ID, []string{code}, now); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if err := s.UseRecoveryCode(ctx, u.ID, code, time.Time{}); err == nil {
					t.Errorf("UseRecoveryCode with a zero clock succeeded")
				}
			}
			if err := s.UseRecoveryCode(ctx, u.ID, code, now); err != nil {
				t.Errorf("UseRecoveryCode afterwards: %v", err)
			}
			if err := s.PutTOTP(ctx, storage.TOTP{UserID: u.ID, Secret: "sealed", CreatedAt: now}); err != nil {
				t.Fatal(err)
			}
			if err := s.UseTOTPStep(ctx, u.ID, 1, time.Time{}); err == nil {
				t.Errorf("UseTOTPStep with a zero clock succeeded")
			}
			if got, err := s.GetTOTP(ctx, u.ID); err != nil || got.LastStep != 0 || !got.ConfirmedAt.IsZero() {
				t.Errorf("TOTP after a zero-clock use: %+v, %v; want it untouched", got, err)
			}
		})
	}
}

// TestMigrateFromVersion6 upgrades a database of the release before
// sender-constrained tokens: its clients keep authenticating as before (no
// recorded method, so by secret or as public), nothing is bound to a DPoP
// key or a resource, and it can keep pushed requests and seen ids.
func TestMigrateFromVersion6(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			dsn := b.dsn(t)
			codeHash, tokenHash := storage.Hash("old code"), storage.Hash("old token")
			s := upgradeFrom(t, b.name, dsn, 6, []oldRow{
				{`INSERT INTO clients (id, name, secret_hash, owner) VALUES (?, ?, ?, ?)`,
					[]any{"confidential", "Confidential", storage.Hash("secret"), "file"}},
				{`INSERT INTO clients (id, name, owner) VALUES (?, ?, ?)`, []any{"public", "Public", "file"}},
				{`INSERT INTO auth_codes (code_hash, client_id, user_id, redirect_uri, created_at, expires_at)
					VALUES (?, ?, ?, ?, ?, ?)`, []any{codeHash, "public", "u", "https://app.example/cb", int64(1e6), int64(1e15)}},
				{`INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, expires_at, family_expires_at)
					VALUES (?, ?, ?, ?, ?, ?)`, []any{tokenHash, "F", "public", "u", int64(1e15), int64(1e15)}},
			})
			for _, tc := range []struct {
				id      string
				methods []string
				public  bool
			}{
				{"confidential", []string{storage.AuthSecretBasic, storage.AuthSecretPost}, false},
				{"public", []string{storage.AuthNone}, true},
			} {
				c, err := s.GetClient(t.Context(), tc.id)
				if err != nil || c.TokenEndpointAuthMethod != "" || c.JWKS != "" || c.JWKSURI != "" ||
					c.RequirePAR || c.DPoPBound || c.Profile != "" {
					t.Fatalf("client written before the migration: %+v, %v", c, err)
				}
				if got := c.AuthMethods(); !slices.Equal(got, tc.methods) || c.Public() != tc.public {
					t.Errorf("client %s: AuthMethods %q, Public %v; want %q, %v", tc.id, got, c.Public(), tc.methods, tc.public)
				}
			}
			code, err := s.ConsumeAuthCode(t.Context(), codeHash,
				storage.CodeRedemption{ClientID: "public", RedirectURI: "https://app.example/cb", FamilyID: "G"}, time.UnixMicro(2e6))
			if err != nil || code.DPoPJKT != "" || code.Resource != "" {
				t.Fatalf("code written before the migration: %+v, %v", code, err)
			}
			rt, err := s.GetRefreshToken(t.Context(), tokenHash)
			if err != nil || rt.DPoPJKT != "" || rt.Resource != "" {
				t.Fatalf("token written before the migration: %+v, %v", rt, err)
			}
			pr := storage.PushedRequest{URIHash: storage.Hash("urn"), ClientID: "public",
				Params:    map[string][]string{"scope": {"openid"}},
				CreatedAt: time.UnixMicro(1e6).UTC(), ExpiresAt: time.UnixMicro(1e15).UTC()}
			if err := s.CreatePushedRequest(t.Context(), pr); err != nil {
				t.Fatalf("CreatePushedRequest after the migration: %v", err)
			}
			if seen, err := s.SeenOnce(t.Context(), storage.Hash("jti"), time.UnixMicro(1e15), time.UnixMicro(2e6)); err != nil || seen {
				t.Fatalf("SeenOnce after the migration = %v, %v; want false", seen, err)
			}
		})
	}
}

// TestMigrateFromVersion7 upgrades a database of the release before
// second factors: nobody is required to use one, clients have no default
// acr_values, the sessions, codes and refresh tokens made before name no
// methods (they were password sign-ins), and its users can enrol factors.
func TestMigrateFromVersion7(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			dsn := b.dsn(t)
			sessionHash, codeHash, tokenHash := storage.Hash("old session"), storage.Hash("old code"), storage.Hash("old token")
			s := upgradeFrom(t, b.name, dsn, 7, []oldRow{
				{`INSERT INTO clients (id, name, owner) VALUES (?, ?, ?)`, []any{"legacy", "Legacy", "file"}},
				{`INSERT INTO users (id, username, owner) VALUES (?, ?, ?)`, []any{"u1", "alice", "database"}},
				{`INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
					[]any{sessionHash, "u1", int64(1e6), int64(1e15)}},
				{`INSERT INTO auth_codes (code_hash, client_id, user_id, redirect_uri, created_at, expires_at)
					VALUES (?, ?, ?, ?, ?, ?)`, []any{codeHash, "legacy", "u1", "https://app.example/cb", int64(1e6), int64(1e15)}},
				{`INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, expires_at, family_expires_at)
					VALUES (?, ?, ?, ?, ?, ?)`, []any{tokenHash, "F", "legacy", "u1", int64(1e15), int64(1e15)}},
			})
			c, err := s.GetClient(t.Context(), "legacy")
			if err != nil || c.RequireMFA || c.DefaultACRValues != nil {
				t.Fatalf("client written before the migration: %+v, %v", c, err)
			}
			u, err := s.GetUser(t.Context(), "u1")
			if err != nil || u.RequireMFA {
				t.Fatalf("user written before the migration: %+v, %v", u, err)
			}
			sess, err := s.GetSession(t.Context(), sessionHash, time.UnixMicro(2e6))
			if err != nil || sess.AMR != nil {
				t.Fatalf("session written before the migration: %+v, %v", sess, err)
			}
			code, err := s.ConsumeAuthCode(t.Context(), codeHash,
				storage.CodeRedemption{ClientID: "legacy", RedirectURI: "https://app.example/cb", FamilyID: "G"}, time.UnixMicro(2e6))
			if err != nil || code.AMR != nil {
				t.Fatalf("code written before the migration: %+v, %v", code, err)
			}
			rt, err := s.GetRefreshToken(t.Context(), tokenHash)
			if err != nil || rt.AMR != nil {
				t.Fatalf("token written before the migration: %+v, %v", rt, err)
			}
			now := time.UnixMicro(3e6).UTC()
			if err := s.CreateWebAuthnCredential(t.Context(), storage.WebAuthnCredential{ID: "cred", UserID: "u1",
				Label: "key", Credential: []byte(`{}`), CreatedAt: now}); err != nil {
				t.Fatalf("CreateWebAuthnCredential after the migration: %v", err)
			}
			if err := s.PutTOTP(t.Context(), storage.TOTP{UserID: "u1", Secret: "sealed", CreatedAt: now}); err != nil {
				t.Fatalf("PutTOTP after the migration: %v", err)
			}
			if err := s.UseTOTPStep(t.Context(), "u1", 1, now); err != nil {
				t.Fatalf("UseTOTPStep after the migration: %v", err)
			}
			if err := s.ReplaceRecoveryCodes(t.Context(), "u1", []string{storage.Hash("code")}, now); err != nil {
				t.Fatalf("ReplaceRecoveryCodes after the migration: %v", err)
			}
		})
	}
}

// TestPurgeKeepsRevocationWhileFamilyHasTokens covers what the contract
// leaves to the backend: a token stored into a family after the family was
// revoked (a code replay racing the winning redemption) is hidden only by the
// revocation record, so that record must outlive the token.
func TestPurgeKeepsRevocationWhileFamilyHasTokens(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			s := openStore(t, b.name, b.dsn(t))
			ctx := t.Context()
			t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			if err := s.RevokeFamily(ctx, "F", t0); err != nil {
				t.Fatal(err)
			}
			late := storage.RefreshToken{TokenHash: storage.Hash("late"), FamilyID: "F",
				CreatedAt: t0, ExpiresAt: t0.Add(48 * time.Hour), FamilyExpiresAt: t0.Add(48 * time.Hour)}
			if err := s.CreateRefreshToken(ctx, late); err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				name        string
				now         time.Time
				wantRevoked bool
			}{
				// The revocation is old enough, but the family's token lives.
				{"TokenLive", t0.Add(24 * time.Hour), true},
				// The token expires and goes first; the revocation follows.
				{"TokenExpired", t0.Add(48 * time.Hour), false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					if _, err := s.PurgeExpired(ctx, tc.now, time.Time{}, tc.now, 100); err != nil {
						t.Fatal(err)
					}
					revoked, err := s.FamilyRevoked(ctx, "F")
					if err != nil || revoked != tc.wantRevoked {
						t.Fatalf("FamilyRevoked = %v, %v; want %v", revoked, err, tc.wantRevoked)
					}
					if _, err := s.GetRefreshToken(ctx, late.TokenHash); !errors.Is(err, storage.ErrNotFound) {
						t.Fatalf("token of the revoked family: GetRefreshToken error %v, want ErrNotFound", err)
					}
				})
			}
		})
	}
}

func TestPurgeExpiredRejectsNonPositiveLimit(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "authserver.db"))
	for _, tc := range []struct {
		name  string
		limit int
	}{
		{"Zero", 0},
		// SQLite would read LIMIT -1 as no limit at all.
		{"Negative", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.PurgeExpired(t.Context(), time.Now(), time.Now(), time.Now(), tc.limit); err == nil {
				t.Errorf("PurgeExpired(limit=%d) succeeded", tc.limit)
			}
		})
	}
}

func TestConcurrentOpen(t *testing.T) {
	const processes = 4
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			dsn := b.dsn(t)
			stores := make([]*sqlstore.Store, processes)
			errs := make([]error, processes)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range processes {
				wg.Go(func() {
					<-start
					stores[i], errs[i] = sqlstore.Open(context.Background(), b.name, dsn)
				})
			}
			close(start)
			wg.Wait()
			for i, s := range stores {
				if s != nil {
					t.Cleanup(func() { s.Close() })
				}
				if errs[i] != nil {
					t.Fatalf("Open %d: %v", i, errs[i])
				}
				v, err := s.SchemaVersion(t.Context())
				if err != nil || v != schemaVersion {
					t.Fatalf("store %d: SchemaVersion = %d, %v; want %d", i, v, err, schemaVersion)
				}
			}
		})
	}
}

func TestOpenSQLiteDSN(t *testing.T) {
	for _, tc := range []struct {
		name string
		dsn  func(dir string) string
		file string // relative to dir; "" for none
	}{
		{"PlainPathInNewDirectories", func(d string) string { return filepath.Join(d, "a", "b", "x.db") }, "a/b/x.db"},
		{"FileURI", func(d string) string { return "file:" + filepath.Join(d, "y.db") }, "y.db"},
		{"FileURIWithParams", func(d string) string { return "file:" + filepath.Join(d, "new", "z.db") + "?cache=private" }, "new/z.db"},
		{"Memory", func(string) string { return ":memory:" }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openSQLite(t, tc.dsn(dir))
			if _, err := s.UpsertUser(t.Context(), storage.User{Username: "alice"}); err != nil {
				t.Fatalf("write: %v", err)
			}
			if _, err := s.GetUserByUsername(t.Context(), "alice"); err != nil {
				t.Fatalf("read back: %v", err)
			}
			if tc.file == "" {
				return
			}
			if _, err := os.Stat(filepath.Join(dir, tc.file)); err != nil {
				t.Fatalf("database file: %v", err)
			}
			parent, err := os.Stat(filepath.Dir(filepath.Join(dir, tc.file)))
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Dir(tc.file) != "." && parent.Mode().Perm() != 0o700 {
				t.Errorf("created directory mode %v, want 0700", parent.Mode().Perm())
			}
		})
	}
}

func TestOpenUnknownDriver(t *testing.T) {
	if _, err := sqlstore.Open(t.Context(), "mysql", "x"); err == nil {
		t.Fatal("Open(mysql) succeeded")
	}
}

// Benchmarks. Run with: go test -run '^$' -bench . ./authserver/storage/sqlstore
// ns/op is the full call, commit included, on a real file in t.TempDir().

func BenchmarkConsumeAuthCode(b *testing.B) {
	s := openSQLite(b, filepath.Join(b.TempDir(), "bench.db"))
	ctx := context.Background()
	now := time.Now()
	hashes := make([]string, b.N)
	for i := range hashes {
		hashes[i] = storage.Hash(rand.Text())
		err := s.CreateAuthCode(ctx, storage.AuthCode{CodeHash: hashes[i], ClientID: "web", UserID: "u",
			CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.ConsumeAuthCode(ctx, hashes[i], storage.CodeRedemption{ClientID: "web", FamilyID: "family"}, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRotateRefreshToken(b *testing.B) {
	s := openSQLite(b, filepath.Join(b.TempDir(), "bench.db"))
	ctx := context.Background()
	now := time.Now()
	token := func(hash string) storage.RefreshToken {
		return storage.RefreshToken{TokenHash: hash, FamilyID: "family", ClientID: "web", UserID: "u",
			CreatedAt: now, ExpiresAt: now.Add(time.Hour), FamilyExpiresAt: now.Add(24 * time.Hour)}
	}
	current := storage.Hash(rand.Text())
	if err := s.CreateRefreshToken(ctx, token(current)); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		next := storage.Hash(rand.Text())
		if _, err := s.RotateRefreshToken(ctx, current, token(next), now); err != nil {
			b.Fatal(err)
		}
		current = next
	}
}

// racingStore is one replica's store. Its inserts of signing keys wait (up
// to a bound) until every replica has looked at the key set twice — which,
// without a cross-process lock, lets every replica decide that no key exists
// and create its own.
type racingStore struct {
	*sqlstore.Store
	lists *atomic.Int32
	all   int
}

func (s racingStore) ListSigningKeys(ctx context.Context) ([]keys.Record, error) {
	s.lists.Add(1)
	return s.Store.ListSigningKeys(ctx)
}

func (s racingStore) InsertSigningKey(ctx context.Context, r keys.Record) error {
	for i := 0; i < 100 && int(s.lists.Load()) < 2*s.all; i++ {
		time.Sleep(2 * time.Millisecond) // bounded wait, no assertion on time
	}
	return s.Store.InsertSigningKey(ctx, r)
}

// Replicas starting at once on an empty PostgreSQL database make one signing
// key per algorithm, and every replica signs with it at once, before any
// reload: the key-set decision runs under an advisory lock.
func TestReplicasStartingTogetherShareOneKey(t *testing.T) {
	dsn := pgtest.Open(t).Schema(t)
	kek := make([]byte, keys.KEKSize)
	const replicas = 4
	var lists atomic.Int32
	managers := make([]*keys.Manager, replicas)
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	for i := range replicas {
		store := racingStore{openStore(t, "postgres", dsn), &lists, replicas} // one store per process
		managers[i] = keys.NewManager(store, kek, []string{keys.EdDSA}, keys.Options{})
	}
	for i := range replicas {
		wg.Go(func() { errs[i] = managers[i].Load(context.Background()) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, m := range managers {
		if n := len(m.PublicKeys()); n != 1 {
			t.Errorf("replica %d publishes %d keys; want one", i, n)
		}
		if string(m.JWKS()) != string(managers[0].JWKS()) {
			t.Errorf("replica %d publishes another JWKS than replica 0", i)
		}
	}
}
