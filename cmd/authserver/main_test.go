package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// writeConfig writes a configuration file for a provider on a free loopback
// port with its data under a temporary directory, and returns its path and
// issuer.
func writeConfig(t *testing.T, extra string) (string, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "authserver.yaml")
	yaml := fmt.Sprintf(`listen: %s
storage:
  dsn: %s
passwords: {memory_kib: 64, iterations: 1, parallelism: 1}
clients:
  - id: cli
    secret: cli-secret-cli-secret
    grant_types: [password]
    scopes: [openid, profile]
users:
  - username: carol
    password: carol-password
%s`, addr, filepath.Join(dir, "data", "auth.db"), extra)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, "http://" + addr
}

func runCmd(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out strings.Builder
	err := run(context.Background(), args, strings.NewReader(stdin), &out, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return out.String(), err
}

func TestInvalidConfigReportsEveryProblemBeforeListening(t *testing.T) {
	path, _ := writeConfig(t, `tokens: {auth_code_ttl: 1h}
colour: blue
`)
	_, err := runCmd(t, "", "serve", "--config", path)
	if err == nil {
		t.Fatal("serve started with an invalid configuration")
	}
	for _, want := range []string{`unknown key "colour"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	path, _ = writeConfig(t, `tokens: {auth_code_ttl: 1h}
signing: {algorithms: [HS256]}
`)
	_, err = runCmd(t, "", "serve", "--config", path)
	if err == nil || !strings.Contains(err.Error(), "tokens.auth_code_ttl") || !strings.Contains(err.Error(), "signing.algorithms") {
		t.Fatalf("want both problems named, got %v", err)
	}
}

// serveFor runs `authserver serve` until stop is called.
func serveFor(t *testing.T, path, issuer string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	args := []string{"serve"}
	if path != "" {
		args = append(args, "--config", path)
	}
	go func() {
		done <- run(ctx, args, strings.NewReader(""), io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	for i := 0; ; i++ {
		resp, err := http.Get(issuer + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
}

// A restart reuses the database and the signing keys: a token issued before
// it is still accepted after it.
func TestRestartKeepsDataAndKeys(t *testing.T) {
	path, issuer := writeConfig(t, "")
	stop := serveFor(t, path, issuer)
	oc := &oauth2.Config{ClientID: "cli", ClientSecret: "cli-secret-cli-secret",
		Endpoint: oauth2.Endpoint{TokenURL: issuer + "/token"}, Scopes: []string{"openid", "profile"}}
	tok, err := oc.PasswordCredentialsToken(context.Background(), "carol", "carol-password")
	if err != nil {
		t.Fatal(err)
	}
	stop()

	stop = serveFor(t, path, issuer)
	defer stop()
	req, _ := http.NewRequest(http.MethodGet, issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token from before the restart: %d", resp.StatusCode)
	}
}

func TestAdminCommands(t *testing.T) {
	path, _ := writeConfig(t, "")
	steps := []struct {
		stdin string
		args  []string
		want  string
		fails bool
	}{
		{"", []string{"migrate", "--config", path}, "schema at version", false},
		{"", []string{"client", "add", "--config", path, "--id", "new-app", "--redirect-uri", "https://new.example/cb"}, "secret (shown once", false},
		{"", []string{"client", "add", "--config", path, "--id", "bad-app", "--redirect-uri", "http://evil.example/cb"}, "", true},
		{"", []string{"client", "list", "--config", path}, "new-app", false},
		{"dave-password\n", []string{"user", "add", "--config", path, "--email", "dave@example.com", "dave"}, "user dave saved", false},
		{"dave-password\n", []string{"user", "add", "--config", path, "dave"}, "", true},
		{"short\n", []string{"user", "passwd", "--config", path, "dave"}, "", true},
		{"new-dave-password\n", []string{"user", "passwd", "--config", path, "dave"}, "user dave saved", false},
		{"", []string{"user", "list", "--config", path}, "dave@example.com", false},
		{"", []string{"user", "remove", "--config", path, "dave"}, "", false},
		{"", []string{"client", "remove", "--config", path, "new-app"}, "", false},
		{"", []string{"keys", "list", "--config", path}, "active", false},
		{"", []string{"keys", "rotate", "--config", path}, "next", false},
		{"", []string{"keys", "rotate", "--config", path}, "retired", false},
		{"", []string{"frobnicate", "--config", path}, "", true},
	}
	for _, s := range steps {
		out, err := runCmd(t, s.stdin, s.args...)
		if (err != nil) != s.fails || !strings.Contains(out, s.want) {
			t.Fatalf("%v: err %v, output:\n%s", s.args, err, out)
		}
	}
	out, _ := runCmd(t, "", "user", "list", "--config", path)
	if strings.Contains(out, "dave") {
		t.Fatalf("removed user still listed:\n%s", out)
	}
}

// With no configuration at all the provider runs the embedded demo: SQLite
// and keys under ./data, the demo client and user seeded.
func TestZeroConfigDemo(t *testing.T) {
	t.Chdir(t.TempDir())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv("AUTHSERVER_LISTEN", addr)
	t.Setenv("AUTHSERVER_CONFIG", "")
	stop := serveFor(t, "", "http://"+addr)
	defer stop()
	oc := &oauth2.Config{ClientID: "demo-web", ClientSecret: "demo-secret",
		Endpoint: oauth2.Endpoint{TokenURL: "http://" + addr + "/token"}, Scopes: []string{"openid"}}
	if _, err := oc.PasswordCredentialsToken(context.Background(), "alice", "alice-password"); err != nil {
		t.Fatalf("demo user with the demo client: %v", err)
	}
	for _, f := range []string{"data/authserver.db", "data/key-encryption-key"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// `authserver keys rotate` changes the database; a running server publishes
// the new key at its next key check, without a restart.
func TestKeysRotateReachesRunningServer(t *testing.T) {
	path, issuer := writeConfig(t, "signing: {key_check_interval: 1s, jwks_max_age: 1m}\n")
	stop := serveFor(t, path, issuer)
	defer stop()
	before := publishedKids(t, issuer)
	if _, err := runCmd(t, "", "keys", "rotate", "--config", path); err != nil {
		t.Fatal(err)
	}
	// Wait for the server's next key check; bounded, so a broken pick-up
	// fails instead of hanging.
	for i := 0; i < 200; i++ {
		if after := publishedKids(t, issuer); len(after) == 2*len(before) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the running server never published the next keys (still %d keys)", len(publishedKids(t, issuer)))
}

func publishedKids(t *testing.T, issuer string) []string {
	t.Helper()
	resp, err := http.Get(issuer + "/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}
