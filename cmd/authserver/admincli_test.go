package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authserver-dev/authserver/authserver/admin"
	"github.com/authserver-dev/authserver/authserver/setup"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/config"
)

// These tests drive the administration commands through run(), as main
// does, on a configuration file (writeConfig: client cli and user carol)
// and a SQLite database in t.TempDir().

// cli runs commands on one configuration.
type cli struct {
	t            *testing.T
	path, issuer string
}

// newCLI writes a configuration and creates its database, as an operator
// does with `authserver migrate`.
func newCLI(t *testing.T, extra string) *cli {
	t.Helper()
	path, issuer := writeConfig(t, extra)
	return &cli{t: t, path: migrated(t, path), issuer: issuer}
}

// run runs one command with --config and returns its exit status and
// streams.
func (c *cli) run(stdin string, args ...string) (code int, stdout, stderr string) {
	c.t.Helper()
	return runFull(c.t, stdin, append([]string{"--config", c.path}, args...)...)
}

// ok runs a command that must succeed and returns its standard output.
func (c *cli) ok(stdin string, args ...string) string {
	c.t.Helper()
	code, stdout, stderr := c.run(stdin, args...)
	if code != 0 {
		c.t.Fatalf("%q: exit %d, stderr:\n%s", args, code, stderr)
	}
	return stdout
}

// want runs a command that must exit with code and returns its standard
// error.
func (c *cli) want(code int, stdin string, args ...string) string {
	c.t.Helper()
	got, stdout, stderr := c.run(stdin, args...)
	if got != code {
		c.t.Fatalf("%q: exit %d, want %d; stdout:\n%s\nstderr:\n%s", args, got, code, stdout, stderr)
	}
	return stderr
}

// decode parses one JSON document into T, refusing names T does not have:
// the names are what scripts depend on.
func decode[T any](t *testing.T, doc string) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not a %T: %v\n%s", v, err, doc)
	}
	if dec.More() {
		t.Fatalf("more than one JSON document:\n%s", doc)
	}
	return v
}

// clientJSON is what client add and rotate-secret print with --output json.
type clientJSON struct {
	admin.Client
	ClientSecret string `json:"client_secret"`
}

// provider serves the provider of c's configuration on a loopback
// httptest server, on the same database as the commands, as a running
// `serve` would; it returns the token endpoint.
func (c *cli) provider() string {
	c.t.Helper()
	cfg, err := config.Load(c.path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	app, err := setup.Open(context.Background(), cfg, setup.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		c.t.Fatal(err)
	}
	srv := httptest.NewServer(app.Server)
	c.t.Cleanup(func() {
		srv.Close()
		app.Close()
	})
	return srv.URL + "/token"
}

// store opens the database of c's configuration directly, to make what
// only a browser would otherwise make (sessions, consent).
func (c *cli) store() storage.Store {
	c.t.Helper()
	cfg, err := config.Load(c.path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	st, err := setup.OpenStore(context.Background(), cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { st.Close() })
	return st
}

// Each class of outcome has its exit status, on real commands: 0 done,
// 1 error (invalid input), 2 usage mistake, 3 not found, 4 conflict.
func TestAdminExitCodes(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "")
	c.ok("", "client", "add", "--id", "app", "--public", "--redirect-uri", "https://app.example/cb", "--audience", "https://api.example.com")
	c.ok("dave-password\n", "user", "add", "dave")
	for _, tc := range []struct {
		code  int
		stdin string
		args  []string
		// in stderr
		want string
	}{
		{0, "", []string{"client", "list"}, ""},
		{0, "", []string{"client", "show", "app"}, ""},
		{0, "", []string{"client", "show", "app", "--output", "json"}, ""}, // flags after the arguments too
		{exitNotFound, "", []string{"client", "show", "--", "-app"}, `no client "-app"`},

		{exitError, "", []string{"client", "add", "--id", "bad", "--redirect-uri", "http://evil.example/cb", "--audience", "https://api.example.com"}, "--redirect-uri[0]"},
		{exitError, "", []string{"client", "add", "--id", "bad", "--redirect-uri", "https://bad.example/cb", "--grant", "implicit", "--audience", "https://api.example.com"}, "--grant"},
		{exitError, "", []string{"client", "rotate-secret", "app"}, "public"},
		{exitError, "short\n", []string{"user", "passwd", "dave"}, "at least 8"},

		{exitUsage, "", []string{"client", "show"}, "client show needs ID"},
		{exitUsage, "", []string{"client", "show", "app", "extra"}, "takes one ID"},
		{exitUsage, "", []string{"client", "add", "--redirect-uri", "https://x.example/cb"}, "--id is required"},
		{exitUsage, "", []string{"client", "add", "--id", "x", "--audience", ""}, "empty value"},
		{exitUsage, "", []string{"client", "list", "--output", "yaml"}, "want text or json"},
		{exitUsage, "", []string{"client", "update", "app"}, "nothing to change"},
		{exitUsage, "", []string{"client", "update", "--clear", "colour", "app"}, "--clear colour"},
		{exitUsage, "", []string{"client", "update", "--clear", "audience", "--audience", "https://x", "app"}, "exclude each other"},
		{exitUsage, "", []string{"user", "update", "dave"}, "nothing to change"},
		{exitUsage, "", []string{"session", "end", "dave"}, "or --all"},
		{exitUsage, "", []string{"session", "end", "--all", "dave", "sid"}, "not both"},
		{exitUsage, "", []string{"session", "end", "--except", "sid", "dave", "sid"}, "--except goes with --all"},
		{exitUsage, "", []string{"session", "end", "dave", "sid", "more"}, "takes USERNAME [SESSION_ID]"},
		{exitUsage, "", []string{"grant", "revoke", "dave"}, "needs USERNAME CLIENT_ID"},
		{exitUsage, "", []string{"registration-token", "frob"}, `unknown command "registration-token frob"`},

		{exitNotFound, "", []string{"client", "show", "nope"}, `no client "nope"`},
		{exitNotFound, "", []string{"client", "update", "--name", "x", "nope"}, "nope"},
		{exitNotFound, "", []string{"client", "remove", "nope"}, "nope"},
		{exitNotFound, "", []string{"client", "rotate-secret", "nope"}, "nope"},
		{exitNotFound, "", []string{"user", "show", "nope"}, `no user "nope"`},
		{exitNotFound, "nope-password\n", []string{"user", "passwd", "nope"}, "nope"},
		{exitNotFound, "", []string{"user", "disable", "nope"}, "nope"},
		{exitNotFound, "", []string{"session", "list", "nope"}, "nope"},
		{exitNotFound, "", []string{"session", "end", "dave", "no-such-session"}, ""},
		{exitNotFound, "", []string{"grant", "revoke", "dave", "app"}, ""},
		{exitNotFound, "", []string{"registration-token", "delete", "nope"}, ""},

		{exitConflict, "", []string{"client", "add", "--id", "app", "--public", "--redirect-uri", "https://app.example/cb", "--audience", "https://api.example.com"}, "exists"},
		{exitConflict, "", []string{"client", "add", "--id", "cli", "--grant", "password", "--audience", "https://api.example.com"}, "client cli is declared in " + c.path},
		{exitConflict, "dave-password\n", []string{"user", "add", "dave"}, "exists"},
		{exitConflict, "carol-password\n", []string{"user", "add", "carol"}, "user carol is declared in " + c.path},
	} {
		code, stdout, stderr := c.run(tc.stdin, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr:\n%s\nwant exit %d with %q", tc.args, code, stderr, tc.code, tc.want)
		}
		if tc.code == exitUsage && (stdout != "" || !strings.Contains(stderr, "Usage: authserver")) {
			t.Errorf("%q: a usage mistake prints the usage on stderr only; stdout %q", tc.args, stdout)
		}
		if tc.code != 0 && tc.code != exitUsage && !strings.HasPrefix(stderr, "authserver: ") {
			t.Errorf("%q: stderr %q, want the message after authserver:", tc.args, stderr)
		}
	}
	// A refused add changed nothing.
	if got := decode[admin.Client](t, c.ok("", "client", "show", "--output", "json", "app")); !got.Public {
		t.Errorf("the refused second add replaced app: %+v", got)
	}
}

// Every field of a clients entry has its flag; client add refuses an
// existing id; show prints every field, in text and JSON; update changes
// only the fields whose flags are given.
func TestClientAddShowUpdate(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "")
	add := []string{"client", "add", "--output", "json", "--id", "full", "--name", "Full App",
		"--redirect-uri", "https://full.example/cb", "--redirect-uri", "https://full.example/cb2",
		"--post-logout-redirect-uri", "https://full.example/bye",
		"--grant", "authorization_code", "--grant", "refresh_token",
		"--scope", "openid", "--scope", "profile", "--scope", "offline_access",
		"--audience", "https://api.example.com", "--audience", "https://other.example.com",
		"--skip-consent", "--allow-introspection", "--id-token-alg", "RS256",
		"--backchannel-logout-uri", "https://full.example/bcl", "--backchannel-logout-session-required"}
	added := decode[clientJSON](t, c.ok("", add...))
	want := admin.Client{ID: "full", Name: "Full App",
		RedirectURIs:           []string{"https://full.example/cb", "https://full.example/cb2"},
		PostLogoutRedirectURIs: []string{"https://full.example/bye"},
		GrantTypes:             []string{"authorization_code", "refresh_token"},
		Scopes:                 []string{"openid", "profile", "offline_access"},
		Audience:               []string{"https://api.example.com", "https://other.example.com"},
		SkipConsent:            true, AllowIntrospection: true, IDTokenSignedResponseAlg: "RS256",
		BackchannelLogoutURI: "https://full.example/bcl", BackchannelLogoutSessionRequired: true,
		DefaultACRValues: []string{}, Owner: "database", CreatedAt: added.CreatedAt, UpdatedAt: added.UpdatedAt}
	if !reflect.DeepEqual(added.Client, want) {
		t.Errorf("client add --output json:\n got %+v\nwant %+v", added.Client, want)
	}
	if len(added.ClientSecret) < 43 {
		t.Errorf("client_secret %q, want a generated secret", added.ClientSecret)
	}
	before := decode[admin.Client](t, c.ok("", "client", "show", "--output", "json", "full"))
	if !reflect.DeepEqual(before, added.Client) {
		t.Errorf("client show --output json:\n got %+v\nwant %+v", before, added.Client)
	}
	text := c.ok("", "client", "show", "full")
	for _, line := range []string{"id  ", "name  ", "redirect_uris  ", "post_logout_redirect_uris  ", "grant_types  ", "scopes  ", "audience  ",
		"skip_consent  ", "allow_introspection  ", "id_token_signed_response_alg  ", "backchannel_logout_uri  ",
		"backchannel_logout_session_required  ", "token_endpoint_auth_method  ", "jwks  ", "jwks_uri  ",
		"require_pushed_authorization_requests  ", "dpop_bound_access_tokens  ", "profile  ", "require_mfa  ", "default_acr_values  ",
		"owner  ", "created_at  "} {
		if !strings.Contains(text, "\n"+line) && !strings.HasPrefix(text, line) {
			t.Errorf("client show lacks the field %q:\n%s", strings.TrimSpace(line), text)
		}
	}
	if !strings.Contains(text, "https://full.example/cb https://full.example/cb2") || !strings.Contains(text, "RS256") {
		t.Errorf("client show:\n%s", text)
	}

	// An existing id is a conflict, and the client stays as it was.
	c.want(exitConflict, "", add...)
	if got := decode[admin.Client](t, c.ok("", "client", "show", "--output", "json", "full")); !reflect.DeepEqual(got, before) {
		t.Errorf("a refused add changed the client:\n got %+v\nwant %+v", got, before)
	}

	// Update: a name, a list replaced, a bool turned off; nothing else.
	after := decode[admin.Client](t, c.ok("", "client", "update", "--output", "json", "--name", "Renamed",
		"--scope", "openid", "--scope", "offline_access", "--skip-consent=false", "full"))
	expect := before
	expect.Name, expect.Scopes, expect.SkipConsent, expect.UpdatedAt = "Renamed", []string{"openid", "offline_access"}, false, after.UpdatedAt
	if !reflect.DeepEqual(after, expect) {
		t.Errorf("after client update:\n got %+v\nwant %+v", after, expect)
	}
	if got := decode[admin.Client](t, c.ok("", "client", "show", "--output", "json", "full")); !reflect.DeepEqual(got, after) {
		t.Errorf("client show after the update:\n got %+v\nwant %+v", got, after)
	}
	// --clear empties a list; a list the rules need cannot be emptied, and
	// the refusal names the flag.
	cleared := decode[admin.Client](t, c.ok("", "client", "update", "--output", "json", "--clear", "post-logout-redirect-uri", "full"))
	if len(cleared.PostLogoutRedirectURIs) != 0 || !reflect.DeepEqual(cleared.RedirectURIs, before.RedirectURIs) {
		t.Errorf("after --clear post-logout-redirect-uri: %+v", cleared)
	}
	if stderr := c.want(exitError, "", "client", "update", "--clear", "audience", "full"); !strings.Contains(stderr, "--audience") ||
		!strings.Contains(stderr, "tokens.default_audience") {
		t.Errorf("clearing the audience without tokens.default_audience:\n%s", stderr)
	}
	if stderr := c.want(exitError, "", "client", "update", "--redirect-uri", "http://evil.example/cb", "full"); !strings.Contains(stderr, "--redirect-uri[0]") {
		t.Errorf("an http redirect URI:\n%s", stderr)
	}

	// List: the client with its owner, in text and JSON.
	list := decode[[]admin.Client](t, c.ok("", "client", "list", "--output", "json"))
	ids := map[string]string{}
	for _, cl := range list {
		ids[cl.ID] = cl.Owner
	}
	// cli is declared in the file but the server never started: only the
	// database's client is stored.
	if !reflect.DeepEqual(ids, map[string]string{"full": "database"}) {
		t.Errorf("client list --output json: %v", ids)
	}
	if out := c.ok("", "client", "list"); !strings.Contains(out, "full  ") || !strings.Contains(out, "confidential") {
		t.Errorf("client list:\n%s", out)
	}
	// An empty list is [] in JSON, not null.
	c.ok("", "client", "remove", "full")
	if out := strings.TrimSpace(c.ok("", "client", "list", "--output", "json")); out != "[]" {
		t.Errorf("empty client list: %q", out)
	}
}

// rotate-secret: the old secret is refused and the new one accepted at the
// real token endpoint, at once.
func TestClientRotateSecret(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "")
	tokenURL := c.provider()
	added := decode[clientJSON](t, c.ok("", "client", "add", "--output", "json", "--id", "svc", "--grant", "client_credentials",
		"--scope", "api.read", "--audience", "https://api.example.com"))
	cc := func(secret string) error {
		_, err := (&clientcredentials.Config{ClientID: "svc", ClientSecret: secret, TokenURL: tokenURL, Scopes: []string{"api.read"},
			AuthStyle: oauth2.AuthStyleInHeader}).Token(context.Background())
		return err
	}
	if err := cc(added.ClientSecret); err != nil {
		t.Fatalf("the secret client add printed: %v", err)
	}
	rotated := decode[clientJSON](t, c.ok("", "client", "rotate-secret", "--output", "json", "svc"))
	if rotated.ID != "svc" || len(rotated.ClientSecret) < 43 || rotated.ClientSecret == added.ClientSecret {
		t.Fatalf("rotate-secret --output json: %+v", rotated)
	}
	var re *oauth2.RetrieveError
	if err := cc(added.ClientSecret); !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
		t.Errorf("the old secret after rotate-secret: %v, want invalid_client", err)
	}
	if err := cc(rotated.ClientSecret); err != nil {
		t.Errorf("the new secret: %v", err)
	}
	// The text form prints the secret on its last line, once.
	out := c.ok("", "client", "rotate-secret", "svc")
	if err := cc(addedSecret(t, out)); err != nil {
		t.Errorf("the secret of rotate-secret's text output: %v\n%s", err, out)
	}
	if err := cc(rotated.ClientSecret); err == nil {
		t.Error("the secret before the second rotation still works")
	}
}

// What the configuration file declares is the file's: every change here is
// refused with exit 4, and says where to make it.
func TestFileOwnedRefusalsExitFour(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "")
	c.provider() // the server started once: cli and carol are in the database
	declared := "is declared in " + c.path + "; edit the file instead"
	for _, tc := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"client", "add", "--id", "cli", "--grant", "password", "--audience", "https://api.example.com"}, "client cli " + declared},
		{"", []string{"client", "update", "--name", "x", "cli"}, "client cli " + declared},
		{"", []string{"client", "rotate-secret", "cli"}, "client cli " + declared},
		{"", []string{"client", "remove", "cli"}, "client cli " + declared},
		{"carol-password\n", []string{"user", "add", "carol"}, "user carol " + declared},
		{"", []string{"user", "update", "--name", "x", "carol"}, "user carol " + declared},
		{"carol-new-password\n", []string{"user", "passwd", "carol"}, "user carol " + declared},
		{"", []string{"user", "disable", "carol"}, "user carol " + declared},
		{"", []string{"user", "remove", "carol"}, "user carol " + declared},
	} {
		if stderr := c.want(exitConflict, tc.stdin, tc.args...); !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: stderr %q, want %q", tc.args, stderr, tc.want)
		}
	}
	u := decode[admin.User](t, c.ok("", "user", "show", "--output", "json", "carol"))
	if u.Owner != "file" || u.Disabled || u.Name != "" {
		t.Errorf("carol after the refusals: %+v", u)
	}
	// Sessions and grants are not entries of the file: they can be listed.
	c.ok("", "session", "list", "carol")
}

// Without a database, the administration commands refuse to run and create
// nothing: not the file, not its directory, not a key-encryption key.
func TestMissingDatabaseIsRefusedNotCreated(t *testing.T) {
	t.Parallel()
	path, _ := writeConfig(t, "")
	c := &cli{t: t, path: path}
	db := filepath.Join(filepath.Dir(path), "data", "auth.db")
	want := "no database at " + db + "; run `authserver migrate` or check --config"
	for _, tc := range []struct {
		stdin string
		args  []string
	}{
		{"", []string{"client", "list"}},
		{"", []string{"client", "add", "--id", "app", "--public", "--redirect-uri", "https://app.example/cb", "--audience", "https://api.example.com"}},
		{"", []string{"client", "show", "cli"}},
		{"dave-password\n", []string{"user", "add", "dave"}},
		{"", []string{"user", "list"}},
		{"", []string{"session", "list", "carol"}},
		{"", []string{"grant", "list", "carol"}},
		{"", []string{"keys", "list"}},
		{"", []string{"keys", "rotate"}},
		{"", []string{"registration-token", "create"}},
	} {
		if stderr := c.want(exitError, tc.stdin, tc.args...); !strings.Contains(stderr, want) {
			t.Errorf("%q: stderr %q, want %q", tc.args, stderr, want)
		}
	}
	if _, err := os.Stat(filepath.Dir(db)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused commands created %s: %v", filepath.Dir(db), err)
	}
	// check-config reads no database and is not refused.
	c.ok("", "check-config")
	// migrate creates it; then the commands run.
	c.ok("", "migrate")
	c.ok("", "client", "list")
}

// The embedded demo configuration keeps its database under ./data: run
// from another folder, a command must not make an empty one there.
func TestMissingDatabaseIsRefusedDemo(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("AUTHSERVER_CONFIG", "")
	code, _, stderr := runFull(t, "", "user", "list")
	abs, _ := filepath.Abs("data/authserver.db")
	if code != exitError || !strings.Contains(stderr, "no database at "+abs+"; run `authserver migrate` or check --config") {
		t.Errorf("user list without a database: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat("data"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused command created ./data: %v", err)
	}
}

// Passwords come from standard input when it is not a terminal; the rules
// are the service's; the password never shows in the output; and the
// result is what the token endpoint sees.
func TestUserCommandsAtTheTokenEndpoint(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "")
	tokenURL := c.provider()
	signIn := func(user, pw string) error {
		oc := &oauth2.Config{ClientID: "cli", ClientSecret: "cli-secret-cli-secret-cli-secret",
			Endpoint: oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInHeader}, Scopes: []string{"openid"}}
		_, err := oc.PasswordCredentialsToken(context.Background(), user, pw)
		return err
	}
	code, stdout, stderr := c.run("dave-password-1\n", "user", "add", "--output", "json", "--email", "dave@example.com", "dave")
	if code != 0 {
		t.Fatalf("user add: exit %d\n%s", code, stderr)
	}
	if strings.Contains(stdout+stderr, "dave-password-1") {
		t.Errorf("the password shows in the output:\n%s\n%s", stdout, stderr)
	}
	dave := decode[admin.User](t, stdout)
	if dave.Username != "dave" || dave.Email != "dave@example.com" || dave.ID == "" || dave.Owner != "database" {
		t.Errorf("user add --output json: %+v", dave)
	}
	if err := signIn("dave", "dave-password-1"); err != nil {
		t.Fatalf("the password from standard input: %v", err)
	}

	if stderr := c.want(exitError, "short\n", "user", "add", "erin"); !strings.Contains(stderr, "at least 8") {
		t.Errorf("a short password: %s", stderr)
	}
	if stderr := c.want(exitError, "", "user", "add", "erin"); !strings.Contains(stderr, "no password on standard input") {
		t.Errorf("no password: %s", stderr)
	}
	c.want(exitNotFound, "", "user", "show", "erin")

	// passwd: the old password stops working, the new one works.
	if out := c.ok("dave-password-2\n", "user", "passwd", "dave"); !strings.Contains(out, "sessions ended") {
		t.Errorf("user passwd: %s", out)
	}
	if err := signIn("dave", "dave-password-1"); err == nil {
		t.Error("the old password works after user passwd")
	}
	if err := signIn("dave", "dave-password-2"); err != nil {
		t.Fatalf("the new password: %v", err)
	}

	// disable and enable.
	c.ok("", "user", "disable", "dave")
	if got := decode[admin.User](t, c.ok("", "user", "show", "--output", "json", "dave")); !got.Disabled {
		t.Errorf("user show after disable: %+v", got)
	}
	if err := signIn("dave", "dave-password-2"); err == nil {
		t.Error("a disabled user signs in")
	}
	c.ok("", "user", "enable", "dave")
	if err := signIn("dave", "dave-password-2"); err != nil {
		t.Errorf("after user enable: %v", err)
	}

	// update changes only what is given.
	before := decode[admin.User](t, c.ok("", "user", "show", "--output", "json", "dave"))
	after := decode[admin.User](t, c.ok("", "user", "update", "--output", "json", "--name", "Dave D", "--email-verified",
		"--claims", `{"locale":"fr-FR"}`, "dave"))
	expect := before
	expect.Name, expect.EmailVerified, expect.Claims.Locale, expect.UpdatedAt = "Dave D", true, "fr-FR", after.UpdatedAt
	if !reflect.DeepEqual(after, expect) {
		t.Errorf("after user update:\n got %+v\nwant %+v", after, expect)
	}
	if stderr := c.want(exitError, "", "user", "update", "--email", "not-an-address", "dave"); !strings.Contains(stderr, "--email") {
		t.Errorf("a bad email: %s", stderr)
	}
	text := c.ok("", "user", "show", "dave")
	for _, want := range []string{"username ", "dave@example.com", "Dave D", "claims.locale ", "fr-FR", "email_verified ", "enabled"} {
		if !strings.Contains(text, want) {
			t.Errorf("user show lacks %q:\n%s", want, text)
		}
	}
	users := decode[[]admin.User](t, c.ok("", "user", "list", "--output", "json"))
	if len(users) != 2 || users[0].Username != "carol" || users[0].Owner != "file" || users[1].Username != "dave" {
		t.Errorf("user list --output json: %+v", users)
	}
	if out := c.ok("", "user", "remove", "dave"); !strings.Contains(out, "removed") {
		t.Errorf("user remove: %s", out)
	}
	if err := signIn("dave", "dave-password-2"); err == nil {
		t.Error("a removed user signs in")
	}
}

// keys rotate publishes a next key; a second rotation before its publish
// lead (24h by default) would make relying parties reject its tokens, so
// it is refused without --force, and with --force it says what they see.
func TestKeysRotateNeedsForceBeforePublishLead(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "")
	listed := decode[[]admin.Key](t, c.ok("", "keys", "list", "--output", "json"))
	if len(listed) == 0 || listed[0].State != "active" {
		t.Fatalf("keys list --output json: %+v", listed)
	}
	first := decode[admin.Rotation](t, c.ok("", "keys", "rotate", "--output", "json"))
	if len(first.Created) != len(listed) || len(first.Promoted) != 0 || first.Warning != "" {
		t.Fatalf("first rotation: %+v", first)
	}
	stderr := c.want(exitConflict, "", "keys", "rotate")
	if !strings.Contains(stderr, "--force") || !strings.Contains(stderr, "publish lead") {
		t.Errorf("an early promotion: %s", stderr)
	}
	if now := decode[[]admin.Key](t, c.ok("", "keys", "list", "--output", "json")); !reflect.DeepEqual(now, first.After) {
		t.Errorf("the refused rotation changed the keys:\n%+v\n%+v", now, first.After)
	}
	code, stdout, stderr := c.run("", "keys", "rotate", "--force")
	if code != 0 {
		t.Fatalf("keys rotate --force: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"promoted ", "retired ", "KID", "\nwarning: promoted before the end of its publish lead", "reject the tokens"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("keys rotate --force output lacks %q:\n%s", want, stdout)
		}
	}
	for _, k := range first.Created {
		if !strings.Contains(stdout, "promoted "+k.ID) {
			t.Errorf("the next key %s was not promoted:\n%s", k.ID, stdout)
		}
	}
}

// registration-token create prints the token once; list shows the token's
// record, never the token.
func TestRegistrationTokens(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "")
	code, stdout, stderr := c.run("", "registration-token", "create", "--uses", "3", "--ttl", "2h", "--description", "for the CI")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	token := addedSecret(t, stdout)
	if len(token) < 43 || !strings.Contains(stdout, "shown once") {
		t.Fatalf("registration-token create:\n%s", stdout)
	}
	if !strings.Contains(stderr, "only with registration.mode: initial_access_token") || !strings.Contains(stderr, "registration_mode=off") {
		t.Errorf("no warning that registration is off: %q", stderr)
	}
	created := decode[registrationTokenCreated](t, c.ok("", "registration-token", "create", "--output", "json"))
	if created.Token == "" || created.Token == token || created.UsesLeft != 1 || created.ID == "" {
		t.Errorf("registration-token create --output json: %+v", created)
	}
	if d := time.Until(created.ExpiresAt); d < 23*time.Hour || d > 25*time.Hour {
		t.Errorf("the default ttl: expires in %v, want 24h", d)
	}

	text := c.ok("", "registration-token", "list")
	listed := decode[[]admin.RegistrationToken](t, c.ok("", "registration-token", "list", "--output", "json"))
	if strings.Contains(text, token) || strings.Contains(text, created.Token) {
		t.Errorf("registration-token list shows a token:\n%s", text)
	}
	if len(listed) != 2 || !strings.Contains(text, "for the CI") || !strings.Contains(text, created.ID) {
		t.Fatalf("registration-token list:\n%s\n%+v", text, listed)
	}
	var ci admin.RegistrationToken
	for _, rt := range listed {
		if rt.Description == "for the CI" {
			ci = rt
		}
	}
	if ci.UsesLeft != 3 || !strings.Contains(stdout, ci.ID) {
		t.Errorf("the CI's token: %+v", ci)
	}
	c.ok("", "registration-token", "delete", ci.ID)
	c.want(exitNotFound, "", "registration-token", "delete", ci.ID)
	if listed = decode[[]admin.RegistrationToken](t, c.ok("", "registration-token", "list", "--output", "json")); len(listed) != 1 || listed[0].ID != created.ID {
		t.Errorf("after delete: %+v", listed)
	}
	if stderr := c.want(exitError, "", "registration-token", "create", "--uses", "0"); !strings.Contains(stderr, "--uses") {
		t.Errorf("--uses 0: %s", stderr)
	}
}

// session list/end and grant list/revoke on a user with two sessions and a
// grant.
func TestSessionsAndGrants(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "")
	dave := decode[admin.User](t, c.ok("dave-password\n", "user", "add", "--output", "json", "dave"))
	c.ok("", "client", "add", "--id", "app", "--public", "--redirect-uri", "https://app.example/cb", "--audience", "https://api.example.com")
	st := c.store()
	ctx := context.Background()
	now := time.Now()
	var ids []string
	for i, ua := range []string{"Firefox", "Chromium", "curl"} {
		s := storage.Session{IDHash: storage.Hash("cookie-" + ua), UserID: dave.ID, AuthTime: now, CreatedAt: now.Add(time.Duration(i) * time.Second),
			ExpiresAt: now.Add(time.Hour), UserAgent: ua, IP: "192.0.2.1"}
		if err := st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.IDHash)
	}
	if _, err := st.GrantConsent(ctx, dave.ID, "app", "openid profile", now); err != nil {
		t.Fatal(err)
	}

	sessions := decode[[]admin.Session](t, c.ok("", "session", "list", "--output", "json", "dave"))
	if len(sessions) != 3 || sessions[0].ID != ids[2] || sessions[0].UserAgent != "curl" || sessions[0].IP != "192.0.2.1" {
		t.Fatalf("session list --output json: %+v", sessions)
	}
	if text := c.ok("", "session", "list", "dave"); !strings.Contains(text, ids[0]) || !strings.Contains(text, "Firefox") {
		t.Errorf("session list:\n%s", text)
	}
	c.ok("", "session", "end", "dave", ids[0])
	c.want(exitNotFound, "", "session", "end", "dave", ids[0])
	if out := c.ok("", "session", "end", "--all", "--except", ids[1], "dave"); !strings.Contains(out, "1 session(s) of dave ended") {
		t.Errorf("session end --all --except: %s", out)
	}
	sessions = decode[[]admin.Session](t, c.ok("", "session", "list", "--output", "json", "dave"))
	if len(sessions) != 1 || sessions[0].ID != ids[1] {
		t.Errorf("after ending two: %+v", sessions)
	}
	if _, err := st.GetSession(ctx, ids[0], time.Now()); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the ended session is still in the store: %v", err)
	}

	grants := decode[[]admin.Grant](t, c.ok("", "grant", "list", "--output", "json", "dave"))
	if len(grants) != 1 || grants[0].ClientID != "app" || !reflect.DeepEqual(grants[0].Scopes, []string{"openid", "profile"}) {
		t.Fatalf("grant list --output json: %+v", grants)
	}
	if text := c.ok("", "grant", "list", "dave"); !strings.Contains(text, "openid profile") {
		t.Errorf("grant list:\n%s", text)
	}
	c.ok("", "grant", "revoke", "dave", "app")
	if out := strings.TrimSpace(c.ok("", "grant", "list", "--output", "json", "dave")); out != "[]" {
		t.Errorf("grant list after revoke: %s", out)
	}
	if _, err := st.GetConsent(ctx, dave.ID, "app"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the revoked grant is still in the store: %v", err)
	}
	c.want(exitNotFound, "", "grant", "revoke", "dave", "app")
}

// The audit events of the commands go to stderr, by=cli, and never carry
// a secret the command printed.
func TestAdminAuditOnStderr(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "log: {format: json}\n")
	code, stdout, stderr := c.run("", "client", "add", "--id", "svc", "--grant", "client_credentials", "--scope", "api.read",
		"--audience", "https://api.example.com")
	if code != 0 {
		t.Fatal(stderr)
	}
	_, rotated, rotErr := c.run("", "client", "rotate-secret", "svc")
	_, token, tokErr := c.run("", "registration-token", "create")
	var events []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(stderr+rotErr+tokErr), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["event"] != nil {
			events = append(events, rec)
		}
	}
	var names []string
	for _, e := range events {
		names = append(names, e["event"].(string))
		if e["by"] != "cli" {
			t.Errorf("event %v by %v, want cli", e["event"], e["by"])
		}
	}
	if !reflect.DeepEqual(names, []string{"client.created", "client.secret_rotated", "registration_token.created"}) {
		t.Errorf("events %v", names)
	}
	for what, secret := range map[string]string{"client secret": addedSecret(t, stdout), "rotated secret": addedSecret(t, rotated),
		"initial access token": addedSecret(t, token)} {
		if strings.Contains(stderr+rotErr+tokErr, secret) {
			t.Errorf("the log carries the %s", what)
		}
	}
}
