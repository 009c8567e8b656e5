package admin_test

import (
	"context"
	"crypto/rand"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/admin"
	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/observe/observetest"
	"github.com/authserver-dev/authserver/authserver/password"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/authserver/storage/sqlstore"
	"github.com/authserver-dev/authserver/config"
	"github.com/authserver-dev/authserver/keys"
)

// These tests run the service on a real SQLite file and real signing keys,
// with the demo configuration's entries stored as setup.Seed stores them,
// and read its audit events from a JSON log.

// source is the configuration's name in refusals.
const source = "/etc/authserver/test.yaml"

// actor is who performs the operations of the tests.
const actor = "admin_api:ops-console"

// Entries stored as file-owned that the configuration no longer declares:
// the file the server last started with had them.
const (
	legacyClient = "retired-app"
	legacyUser   = "carol"
)

// clock is the fixture's Options.Now (and the key manager's), moved by the
// tests instead of sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	t     *testing.T
	ctx   context.Context
	svc   *admin.Service
	opts  admin.Options
	store *sqlstore.Store
	clock *clock
	logs  *observetest.Logs
	// alice is the configuration's user (file-owned, declared).
	alice storage.User
}

// newFixture opens a fresh database with the demo configuration's entries
// (demo-web and alice, declared) and a legacy file-owned client and user,
// and returns the service on it. mutate changes the Options first.
func newFixture(t *testing.T, mutate ...func(*admin.Options)) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Storage.DSN = filepath.Join(dir, "authserver.db")
	// Cheap hashes: the tests hash many passwords under the race detector.
	cfg.Passwords = config.Passwords{MemoryKiB: 64, Iterations: 1, Parallelism: 1}
	cfg.Signing.Algorithms, cfg.Signing.IDTokenAlgorithm = []string{"ES256"}, "ES256"
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test configuration: %v", err)
	}
	store, err := sqlstore.Open(ctx, "sqlite", cfg.Storage.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	clk := &clock{t: time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)}
	kek := make([]byte, keys.KEKSize)
	_, _ = rand.Read(kek)
	km := keys.NewManager(store, kek, cfg.Signing.Algorithms, keys.Options{Now: clk.Now, Schedule: keys.Schedule{
		RotationPeriod: cfg.Signing.RotationPeriod.Std(), PublishLead: cfg.Signing.PublishLead.Std(), RetireAfter: 20 * time.Minute,
	}})
	if err := km.Load(ctx); err != nil {
		t.Fatal(err)
	}
	logs := &observetest.Logs{}
	o := admin.Options{Store: store, Config: cfg, Keys: km, Logger: observe.NewLogger(logs, "json", "info"),
		Now: clk.Now, ConfigSource: source}
	for _, m := range mutate {
		m(&o)
	}
	f := &fixture{t: t, ctx: admin.WithActor(ctx, actor), svc: admin.New(o), opts: o, store: store, clock: clk, logs: logs}
	f.seedFile()
	return f
}

// seedFile stores the configuration's clients and users as file-owned, as
// setup.Seed does, and the legacy entries.
func (f *fixture) seedFile() {
	f.t.Helper()
	now := f.clock.Now()
	for _, c := range append(f.opts.Config.Clients, config.Client{ID: legacyClient, Secret: "legacy-secret-0123456789abcdefghijkl",
		RedirectURIs: []string{"https://legacy.example.com/cb"}, GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid"}}) {
		err := f.store.UpsertClient(f.ctx, storage.Client{ID: c.ID, Owner: storage.OwnerFile, SecretHash: storage.Hash(c.Secret), Name: c.Name,
			RedirectURIs: c.RedirectURIs, GrantTypes: c.GrantTypes, Scopes: c.Scopes, CreatedAt: now, UpdatedAt: now})
		if err != nil {
			f.t.Fatal(err)
		}
	}
	for _, u := range append(f.opts.Config.Users, config.User{Username: legacyUser, Password: "carol-password"}) {
		hash, err := password.Hash(u.Password, password.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1})
		if err != nil {
			f.t.Fatal(err)
		}
		saved, err := f.store.UpsertUser(f.ctx, storage.User{Username: u.Username, Owner: storage.OwnerFile, PasswordHash: hash,
			Email: u.Email, Name: u.Name, CreatedAt: now, UpdatedAt: now})
		if err != nil {
			f.t.Fatal(err)
		}
		if u.Username == "alice" {
			f.alice = saved
		}
	}
}

// webClient is a valid confidential client with a redirect URI.
func webClient(id string) admin.NewClient {
	return admin.NewClient{Client: admin.Client{ID: id, RedirectURIs: []string{"https://app.example.com/cb"},
		GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{"openid", "offline_access"}}}
}

func (f *fixture) createClient(c admin.NewClient) (admin.Client, string) {
	f.t.Helper()
	cl, secret, err := f.svc.CreateClient(f.ctx, c)
	if err != nil {
		f.t.Fatalf("CreateClient %s: %v", c.ID, err)
	}
	return cl, secret
}

func (f *fixture) createUser(username, pw string) admin.User {
	f.t.Helper()
	u, err := f.svc.CreateUser(f.ctx, admin.NewUser{User: admin.User{Username: username, Email: username + "@example.com"}, Password: pw})
	if err != nil {
		f.t.Fatalf("CreateUser %s: %v", username, err)
	}
	return u
}

// session stores a login session of the user created at the fixture's
// clock plus age, and returns its id.
func (f *fixture) session(userID string, age time.Duration) string {
	f.t.Helper()
	now := f.clock.Now().Add(age)
	id := storage.Hash(rand.Text())
	err := f.store.CreateSession(f.ctx, storage.Session{IDHash: id, UserID: userID, AuthTime: now, CreatedAt: now,
		ExpiresAt: now.Add(12 * time.Hour), UserAgent: "test-browser", IP: "192.0.2.7"})
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

// family issues a refresh token of the user to the client, bound to
// sessionID ("" for none), and returns its family id and token hash.
func (f *fixture) family(clientID, userID, sessionID, scope string) (familyID, tokenHash string) {
	f.t.Helper()
	now := f.clock.Now()
	familyID, tokenHash = rand.Text(), storage.Hash(rand.Text())
	err := f.store.CreateRefreshToken(f.ctx, storage.RefreshToken{TokenHash: tokenHash, FamilyID: familyID, ClientID: clientID, UserID: userID,
		Scope: scope, SessionID: sessionID, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour), FamilyExpiresAt: now.Add(24 * time.Hour)})
	if err != nil {
		f.t.Fatal(err)
	}
	return familyID, tokenHash
}

// wantRevoked checks that the family is revoked and its token unusable.
func (f *fixture) wantRevoked(familyID, tokenHash string, revoked bool) {
	f.t.Helper()
	got, err := f.store.FamilyRevoked(f.ctx, familyID)
	if err != nil {
		f.t.Fatal(err)
	}
	_, terr := f.store.GetRefreshToken(f.ctx, tokenHash)
	if got != revoked || errors.Is(terr, storage.ErrNotFound) != revoked {
		f.t.Errorf("family revoked = %v, GetRefreshToken err = %v; want revoked %v", got, terr, revoked)
	}
}

// sessionLives reports whether the session is still stored.
func (f *fixture) sessionLives(id string) bool {
	f.t.Helper()
	_, err := f.store.GetSession(f.ctx, id, f.clock.Now())
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		f.t.Fatal(err)
	}
	return err == nil
}

// events are the audit events of this name logged so far.
func (f *fixture) events(name string) []observetest.Line {
	return observetest.Where(f.logs.Lines(f.t), "event", name)
}

// wantEvent checks that exactly n events of this name were logged, each
// by the tests' actor, and returns them.
func (f *fixture) wantEvent(name string, n int) []observetest.Line {
	f.t.Helper()
	got := f.events(name)
	if len(got) != n {
		f.t.Errorf("%d %s events, want %d; log:\n%s", len(got), name, n, f.logs.String())
	}
	for _, l := range got {
		if l.Str("by") != actor {
			f.t.Errorf("%s event by %q, want %q: %s", name, l.Str("by"), actor, l.Raw)
		}
		if l.Str("level") != "AUDIT" {
			f.t.Errorf("%s event at level %q: %s", name, l.Str("level"), l.Raw)
		}
	}
	return got
}

// noSecretsLogged checks that none of the values appears in the log.
func (f *fixture) noSecretsLogged(values ...string) {
	f.t.Helper()
	log := f.logs.String()
	for _, v := range values {
		if v != "" && strings.Contains(log, v) {
			f.t.Errorf("the log holds a secret or hash %q:\n%s", v, log)
		}
	}
}

// wantKind checks the kind of an error of the service.
func wantKind(t *testing.T, err error, kind admin.Kind) *admin.Error {
	t.Helper()
	var e *admin.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want an *admin.Error of kind %d", err, err, kind)
	}
	if e.Kind != kind {
		t.Fatalf("error kind = %d, want %d: %v", e.Kind, kind, err)
	}
	return e
}

// wantProblem checks that err is KindInvalid with a problem about field.
func wantProblem(t *testing.T, err error, field string) {
	t.Helper()
	e := wantKind(t, err, admin.KindInvalid)
	if !slices.ContainsFunc(e.Problems, func(p config.Problem) bool { return p.Field == field }) {
		t.Errorf("no problem about %s in:\n%v", field, err)
	}
	for _, p := range e.Problems {
		if strings.Contains(p.Field, "[0].") && (strings.HasPrefix(p.Field, "clients") || strings.HasPrefix(p.Field, "users")) ||
			strings.Contains(p.Message, "clients[0]") || strings.Contains(p.Message, "users[0]") {
			t.Errorf("problem names the configuration's entry, not the field: %v", p)
		}
	}
}
