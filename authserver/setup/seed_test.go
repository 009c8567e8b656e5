package setup_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/password"
	"github.com/authserver-dev/authserver/authserver/setup"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/config"
)

// These tests restart a provider on one SQLite file with an edited
// configuration, as an operator does, and check what the file's entries
// (storage.OwnerFile) and the CLI's (storage.OwnerDatabase) become.

// leavingSecret is the secret of the client that a test removes from the file.
const leavingSecret = "leaving-secret-0123456789abcdefghij"

// restartable is one provider address whose process restarts: each start
// opens a new setup.App on the same database, behind the same URL, so that
// a browser's cookies and a client's tokens carry over as they would.
type restartable struct {
	t   *testing.T
	srv *httptest.Server
	app atomic.Pointer[setup.App]
	cfg config.Config // the issuer and database every start shares
}

func newRestartable(t *testing.T) *restartable {
	r := &restartable{t: t}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.app.Load().Server.ServeHTTP(w, req)
	}))
	r.cfg = authtest.TestConfig(t.TempDir())
	r.cfg.Issuer = "http://" + r.srv.Listener.Addr().String()
	r.cfg.Listen = r.srv.Listener.Addr().String()
	r.cfg.Clients = append(r.cfg.Clients, config.Client{ID: "leaving", Secret: leavingSecret,
		GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"openid", "offline_access"}})
	r.cfg.Users = append(r.cfg.Users, config.User{Username: "dora", Password: "dora-password"})
	r.srv.Start()
	t.Cleanup(func() {
		r.srv.Close()
		if a := r.app.Load(); a != nil {
			_ = a.Close()
		}
	})
	return r
}

// start stops the running provider, if any, and starts one with cfg
// (r.cfg changed by the test), returning setup.Open's error.
func (r *restartable) start(cfg config.Config) error {
	r.t.Helper()
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		r.t.Fatalf("test configuration: %v", err)
	}
	if old := r.app.Load(); old != nil {
		_ = old.Close()
		r.app.Store(nil)
	}
	app, err := setup.Open(context.Background(), cfg, setup.Options{ConfigSource: "/etc/authserver/test.yaml", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	r.app.Store(app)
	return nil
}

func (r *restartable) mustStart(cfg config.Config) {
	r.t.Helper()
	if err := r.start(cfg); err != nil {
		r.t.Fatalf("start: %v", err)
	}
}

func (r *restartable) oauth(clientID, secret string) *oauth2.Config {
	return &oauth2.Config{ClientID: clientID, ClientSecret: secret,
		Endpoint: oauth2.Endpoint{TokenURL: r.cfg.Issuer + "/token", AuthStyle: oauth2.AuthStyleInHeader},
		Scopes:   []string{"openid", "offline_access"}}
}

// refresh redeems a refresh token once.
func refresh(oc *oauth2.Config, rt string) error {
	_, err := oc.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt}).Token()
	return err
}

// refreshToken signs in with the password grant and returns the refresh token.
func refreshToken(t *testing.T, oc *oauth2.Config, user, pw string) string {
	t.Helper()
	tok, err := oc.PasswordCredentialsToken(context.Background(), user, pw)
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	return tok.RefreshToken
}

// oauthError returns the OAuth error code of a refused token request.
func oauthError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

func without[T any](list []T, drop func(T) bool) []T {
	return slices.DeleteFunc(slices.Clone(list), drop)
}

// demoWeb is the demo client as its tests use it.
func (r *restartable) demoWeb() *oauth2.Config {
	i := slices.IndexFunc(r.cfg.Clients, func(c config.Client) bool { return c.ID == "demo-web" })
	return r.oauth("demo-web", r.cfg.Clients[i].Secret)
}

func TestRemovedClientsAndUsersKeepWorking(t *testing.T) {
	t.Parallel()
	r := newRestartable(t)
	r.mustStart(r.cfg)
	leaving, demo := r.oauth("leaving", leavingSecret), r.demoWeb()
	leavingRT := refreshToken(t, leaving, "alice", "alice-password")
	doraRT := refreshToken(t, demo, "dora", "dora-password")
	aliceRT := refreshToken(t, demo, "alice", "alice-password")

	// The operator deletes the client and the user from the file and restarts.
	cfg := r.cfg
	cfg.Clients = without(cfg.Clients, func(c config.Client) bool { return c.ID == "leaving" })
	cfg.Users = without(cfg.Users, func(u config.User) bool { return u.Username == "dora" })
	r.mustStart(cfg)

	if _, err := leaving.PasswordCredentialsToken(context.Background(), "alice", "alice-password"); oauthError(err) != "invalid_client" {
		t.Errorf("the removed client still authenticates: %v", err)
	}
	if err := refresh(leaving, leavingRT); err == nil {
		t.Error("the removed client's refresh token still works")
	}
	if _, err := demo.PasswordCredentialsToken(context.Background(), "dora", "dora-password"); oauthError(err) != "invalid_grant" {
		t.Errorf("the removed user still signs in: %v", err)
	}
	if err := refresh(demo, doraRT); oauthError(err) != "invalid_grant" {
		t.Errorf("the removed user's refresh token: %v, want invalid_grant", err)
	}
	if err := refresh(demo, aliceRT); err != nil {
		t.Errorf("a declared user's refresh token stopped working: %v", err)
	}
	store := r.app.Load().Store
	if _, err := store.GetClient(context.Background(), "leaving"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("removed client still stored: %v", err)
	}
	if got, err := store.GetClient(context.Background(), "demo-web"); err != nil || got.Owner != storage.OwnerFile {
		t.Errorf("declared client: owner %q, %v; want file", got.Owner, err)
	}

	// Declared again, they come back as new entries, without the old grants.
	r.mustStart(r.cfg)
	if err := refresh(leaving, leavingRT); err == nil {
		t.Error("the re-declared client's old refresh token works again")
	}
	if _, err := leaving.PasswordCredentialsToken(context.Background(), "dora", "dora-password"); err != nil {
		t.Errorf("re-declared client and user: %v", err)
	}
}

// A client made with the CLI is the database's: restarts with a file that
// does not name it keep it, and a file that names it is refused, naming both.
func TestRemovedClientsAndUsersKeepWorkingNotForDatabaseEntries(t *testing.T) {
	t.Parallel()
	r := newRestartable(t)
	r.mustStart(r.cfg)
	ctx := context.Background()
	store := r.app.Load().Store
	cliClient := storage.Client{ID: "made-with-cli", SecretHash: storage.Hash(leavingSecret),
		GrantTypes: []string{"password"}, Scopes: []string{"openid", "offline_access"}, Audience: []string{"https://api.example.com"}}
	if err := store.UpsertClient(ctx, cliClient); err != nil {
		t.Fatal(err)
	}
	if _, err := store.UpsertUser(ctx, storage.User{Username: "cli-user", PasswordHash: "$2a$04$abcdefghijklmnopqrstuu5Q0dGRdSPJDLRV7yTMt5wTC2nQNNYlW"}); err != nil {
		t.Fatal(err)
	}
	r.mustStart(r.cfg)
	r.mustStart(r.cfg)
	store = r.app.Load().Store
	if got, err := store.GetClient(ctx, "made-with-cli"); err != nil || got.Owner != storage.OwnerDatabase {
		t.Fatalf("the CLI's client after two restarts: %+v, %v", got, err)
	}
	if _, err := store.GetUserByUsername(ctx, "cli-user"); err != nil {
		t.Fatalf("the CLI's user after two restarts: %v", err)
	}
	if _, err := r.oauth("made-with-cli", leavingSecret).PasswordCredentialsToken(ctx, "alice", "alice-password"); err != nil {
		t.Fatalf("the CLI's client stopped working: %v", err)
	}

	collide := r.cfg
	collide.Clients = append(slices.Clone(collide.Clients), config.Client{ID: "made-with-cli", Secret: leavingSecret,
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"api.read"}})
	collide.Users = append(slices.Clone(collide.Users), config.User{Username: "cli-user", Password: "from-the-file"})
	err := r.start(collide)
	if err == nil {
		t.Fatal("a file entry over a database-owned one started")
	}
	for _, want := range []string{"/etc/authserver/test.yaml", "client made-with-cli", "user cli-user", "created with the CLI"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("collision error does not say %q: %v", want, err)
		}
	}
	// Nothing was changed: the CLI's client still has its own grants.
	r.mustStart(r.cfg)
	if got, _ := r.app.Load().Store.GetClient(ctx, "made-with-cli"); !slices.Equal(got.GrantTypes, []string{"password"}) {
		t.Errorf("the refused start overwrote the CLI's client: %+v", got)
	}
}

// A database from before ownership was recorded: the next start adopts what
// its file declares, and keeps (as the database's) what it does not.
func TestRemovedClientsAndUsersKeepWorkingAfterAnUpgrade(t *testing.T) {
	t.Parallel()
	r := newRestartable(t)
	r.mustStart(r.cfg)
	ctx := context.Background()
	c, err := r.app.Load().Store.GetClient(ctx, "demo-web")
	if err != nil {
		t.Fatal(err)
	}
	c.ID = "old-cli-client"
	if err := r.app.Load().Store.UpsertClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	// What migration 0004 makes of the rows it finds.
	db, err := sql.Open("sqlite", r.cfg.Storage.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `UPDATE clients SET owner = 'unknown'`); err != nil {
		t.Fatal(err)
	}
	var store storage.Store
	r.mustStart(r.cfg)
	store = r.app.Load().Store
	for id, want := range map[string]storage.Owner{"demo-web": storage.OwnerFile, "old-cli-client": storage.OwnerDatabase} {
		if got, err := store.GetClient(ctx, id); err != nil || got.Owner != want {
			t.Errorf("%s after the upgrade: owner %q, %v; want %q", id, got.Owner, err, want)
		}
	}
}

func TestANewPasswordEndsNothingInTheFile(t *testing.T) {
	t.Parallel()
	r := newRestartable(t)
	r.mustStart(r.cfg)
	demo := r.demoWeb()
	aliceRT := refreshToken(t, demo, "alice", "alice-password")
	p := &authtest.Provider{URL: r.cfg.Issuer, Server: r.srv}
	b := p.Browser(t)
	authURL := r.cfg.Issuer + "/authorize?" + strings.Join([]string{"response_type=code", "client_id=demo-web",
		"redirect_uri=" + authtest.DemoRedirect, "scope=openid", "state=s", "code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		"code_challenge_method=S256"}, "&")
	p.SignIn(t, b, authURL, "alice", "alice-password", "allow")
	if pg := authtest.Get(t, b, authURL); strings.Contains(pg.Body, `name="password"`) {
		t.Fatal("no session after signing in")
	}

	// Restarting with the same password changes nothing.
	r.mustStart(r.cfg)
	if pg := authtest.Get(t, b, authURL); strings.Contains(pg.Body, `name="password"`) {
		t.Fatal("a restart with the same password ended the session")
	}

	// Nor do new argon2 parameters: the hash is upgraded, the password is
	// the same.
	cfg := r.cfg
	cfg.Passwords.Iterations++
	r.mustStart(cfg)
	if pg := authtest.Get(t, b, authURL); strings.Contains(pg.Body, `name="password"`) {
		t.Fatal("new hash parameters ended the session")
	}
	if u, err := r.app.Load().Store.GetUserByUsername(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	} else if got, err := password.ParamsOf(u.PasswordHash); err != nil || got.Iterations != cfg.Passwords.Iterations {
		t.Errorf("hash parameters after the restart: %+v, %v; want %d iterations", got, err, cfg.Passwords.Iterations)
	}

	cfg.Users = slices.Clone(cfg.Users)
	for i := range cfg.Users {
		if cfg.Users[i].Username == "alice" {
			cfg.Users[i].Password = "alice-new-password"
		}
	}
	r.mustStart(cfg)
	if err := refresh(demo, aliceRT); oauthError(err) != "invalid_grant" {
		t.Errorf("refresh token from before the password change: %v, want invalid_grant", err)
	}
	if pg := authtest.Get(t, b, authURL); !strings.Contains(pg.Body, `name="password"`) {
		t.Errorf("the session from before the password change goes on (status %d)", pg.Status)
	}
	if _, err := demo.PasswordCredentialsToken(context.Background(), "alice", "alice-password"); err == nil {
		t.Error("the old password still works")
	}
	if _, err := demo.PasswordCredentialsToken(context.Background(), "alice", "alice-new-password"); err != nil {
		t.Errorf("the new password: %v", err)
	}
}
