package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/cmd/authserver/internal/proctest"
)

// These tests drive the administration commands against a database that
// `serve` runs on, as an operator does, for the audit findings "Removed
// clients and users keep working" and "A new password ends nothing".

const ownedAppSecret = "owned-app-secret-0123456789abcdefgh"

// ownershipConfig writes a configuration declaring client app and user carol,
// and returns its path and the issuer.
func ownershipConfig(t *testing.T) (string, string) {
	t.Helper()
	addr := proctest.FreeAddr(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "authserver.yaml")
	yaml := fmt.Sprintf(`listen: %s
storage:
  dsn: %s
passwords: {memory_kib: 64, iterations: 1, parallelism: 1}
observability: {metrics_listen: "off"}
clients:
  - id: app
    secret: %s
    grant_types: [password, refresh_token]
    scopes: [openid, offline_access]
    audience: [https://api.example.com]
users:
  - username: carol
    password: carol-password
`, addr, filepath.Join(dir, "data", "auth.db"), ownedAppSecret)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, "http://" + addr
}

// startServe runs `serve --config path` until the returned stop is called
// (or the test ends), once /healthz answers.
func startServe(t *testing.T, path, issuer string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", path}, strings.NewReader(""), io.Discard, io.Discard)
	}()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
	t.Cleanup(stop)
	for {
		if resp, err := http.Get(issuer + "/healthz"); err == nil {
			resp.Body.Close()
			return stop
		}
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("serve exited: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func tokenClient(issuer, id, secret string) *oauth2.Config {
	return &oauth2.Config{ClientID: id, ClientSecret: secret, Scopes: []string{"openid", "offline_access"},
		Endpoint: oauth2.Endpoint{TokenURL: issuer + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
}

func passwordRT(t *testing.T, oc *oauth2.Config, user, pw string) string {
	t.Helper()
	tok, err := oc.PasswordCredentialsToken(context.Background(), user, pw)
	if err != nil {
		t.Fatalf("password grant for %s at %s: %v", user, oc.ClientID, err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	return tok.RefreshToken
}

func refreshErr(oc *oauth2.Config, rt string) string {
	_, err := oc.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt}).Token()
	var re *oauth2.RetrieveError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &re):
		return re.ErrorCode
	}
	return err.Error()
}

// mustRefuse runs a command that must be refused as a conflict (exit 4:
// the entry is the configuration file's) with a message containing want.
func mustRefuse(t *testing.T, stdin, want string, args ...string) {
	t.Helper()
	code, _, stderr := runFull(t, stdin, args...)
	if code != exitConflict || !strings.Contains(stderr, want) {
		t.Errorf("%q: exit %d, stderr %q; want exit %d saying %q", args, code, stderr, exitConflict, want)
	}
}

// addedSecret is the secret that `client add` prints on its last line.
func addedSecret(t *testing.T, stdout string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) < 2 {
		t.Fatalf("client add printed no secret:\n%s", stdout)
	}
	return lines[len(lines)-1]
}

func TestRemovedClientsAndUsersKeepWorkingCLI(t *testing.T) {
	t.Parallel()
	path, issuer := ownershipConfig(t)
	stop := startServe(t, path, issuer)

	// Entries of the file are the file's.
	declared := "is declared in " + path + "; edit the file instead"
	mustRefuse(t, "", "client app "+declared, "client", "remove", "--config", path, "app")
	mustRefuse(t, "", "client app "+declared, "client", "add", "--config", path, "--id", "app", "--grant", "password")
	mustRefuse(t, "", "user carol "+declared, "user", "remove", "--config", path, "carol")
	mustRefuse(t, "carol-other-password\n", "user carol "+declared, "user", "add", "--config", path, "carol")
	app := tokenClient(issuer, "app", ownedAppSecret)
	passwordRT(t, app, "carol", "carol-password") // still there

	// A client made with the CLI: removing it revokes its tokens, even for
	// a client registered again under the same id.
	addArgs := []string{"client", "add", "--config", path, "--id", "extra", "--grant", "password", "--grant", "refresh_token",
		"--scope", "openid", "--scope", "offline_access", "--audience", "https://api.example.com"}
	out, err := runCmd(t, "", addArgs...)
	if err != nil {
		t.Fatal(err)
	}
	extra := tokenClient(issuer, "extra", addedSecret(t, out))
	oldRT := passwordRT(t, extra, "carol", "carol-password")
	if _, err := runCmd(t, "", "client", "remove", "--config", path, "extra"); err != nil {
		t.Fatal(err)
	}
	if out, err = runCmd(t, "", addArgs...); err != nil {
		t.Fatal(err)
	}
	extra = tokenClient(issuer, "extra", addedSecret(t, out))
	if got := refreshErr(extra, oldRT); got != "invalid_grant" {
		t.Errorf("refresh token of the removed client, under its new registration: %q, want invalid_grant", got)
	}

	// It survives restarts with a file that does not name it...
	for range 2 {
		stop()
		stop = startServe(t, path, issuer)
	}
	rt := passwordRT(t, extra, "carol", "carol-password")
	if got := refreshErr(extra, rt); got != "" {
		t.Errorf("the CLI's client after restarts: %s", got)
	}
	// ...and once removed with the CLI, a restart does not bring it back.
	if _, err := runCmd(t, "", "client", "remove", "--config", path, "extra"); err != nil {
		t.Fatal(err)
	}
	stop()
	startServe(t, path, issuer)
	list, err := runCmd(t, "", "client", "list", "--config", path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(list, "extra") || !strings.Contains(list, "app") {
		t.Errorf("clients after the restart:\n%s", list)
	}
	if _, err := extra.PasswordCredentialsToken(context.Background(), "carol", "carol-password"); err == nil {
		t.Error("the removed client authenticates after a restart")
	}
}

// The embedded demo configuration owns its entries as a file would.
func TestRemovedClientsAndUsersKeepWorkingDemoCLI(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("AUTHSERVER_CONFIG", "")
	if code, _, stderr := runFull(t, "", "migrate"); code != 0 {
		t.Fatalf("migrate: exit %d, %s", code, stderr)
	}
	for _, args := range [][]string{{"client", "remove", "demo-web"}, {"client", "update", "--name", "x", "demo-web"}} {
		code, _, stderr := runFull(t, "", args...)
		if code != exitConflict || !strings.Contains(stderr, "is declared in the embedded demo configuration") {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr)
		}
	}
}

func TestANewPasswordEndsNothingCLI(t *testing.T) {
	t.Parallel()
	path, issuer := ownershipConfig(t)
	startServe(t, path, issuer)
	app := tokenClient(issuer, "app", ownedAppSecret)

	// A file user's password is the file's: the old one would come back at
	// the next start.
	mustRefuse(t, "carol-new-password\n", "user carol is declared in "+path+"; edit the file instead",
		"user", "passwd", "--config", path, "carol")
	passwordRT(t, app, "carol", "carol-password")

	if _, err := runCmd(t, "dave-password\n", "user", "add", "--config", path, "dave"); err != nil {
		t.Fatal(err)
	}
	daveRT := passwordRT(t, app, "dave", "dave-password")
	carolRT := passwordRT(t, app, "carol", "carol-password")
	if _, err := runCmd(t, "dave-new-password\n", "user", "passwd", "--config", path, "dave"); err != nil {
		t.Fatal(err)
	}
	if got := refreshErr(app, daveRT); got != "invalid_grant" {
		t.Errorf("refresh token from before the password change: %q, want invalid_grant", got)
	}
	if _, err := app.PasswordCredentialsToken(context.Background(), "dave", "dave-password"); err == nil {
		t.Error("the old password still works")
	}
	passwordRT(t, app, "dave", "dave-new-password")
	if got := refreshErr(app, carolRT); got != "" {
		t.Errorf("another user's refresh token: %s", got)
	}
}

// Secrets that `client add` generates carry 256 random bits, so they pass
// the 32-character rule with room to spare and a SHA-256 of them is enough.
func TestWeakSecretsAcceptedNotFromTheCLI(t *testing.T) {
	t.Parallel()
	path, _ := ownershipConfig(t)
	migrated(t, path)
	seen := map[string]bool{}
	for _, id := range []string{"one", "two"} {
		out, err := runCmd(t, "", "client", "add", "--config", path, "--id", id, "--grant", "client_credentials",
			"--scope", "api.read", "--audience", "https://api.example.com")
		if err != nil {
			t.Fatal(err)
		}
		secret := addedSecret(t, out)
		if b, err := base64.RawURLEncoding.DecodeString(secret); err != nil || len(b) != 32 {
			t.Errorf("generated secret %q: %d bytes (%v), want 32", secret, len(b), err)
		}
		if seen[secret] {
			t.Error("the same secret twice")
		}
		seen[secret] = true
	}
}
