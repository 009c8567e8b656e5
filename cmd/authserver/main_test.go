package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/cmd/authserver/internal/proctest"
)

// writeConfig writes a configuration file for a provider on a free loopback
// port with its data under a temporary directory, and returns its path and
// issuer.
func writeConfig(t *testing.T, extra string) (string, string) {
	t.Helper()
	addr := proctest.FreeAddr(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "authserver.yaml")
	if !strings.Contains(extra, "observability:") {
		// Tests run side by side: none may take the default metrics port.
		extra += "observability: {metrics_listen: \"off\"}\n"
	}
	yaml := fmt.Sprintf(`listen: %s
storage:
  dsn: %s
passwords: {memory_kib: 64, iterations: 1, parallelism: 1}
clients:
  - id: cli
    secret: cli-secret-cli-secret-cli-secret
    grant_types: [password]
    scopes: [openid, profile]
    audience: [https://api.example.com]
users:
  - username: carol
    password: carol-password
%s`, addr, filepath.Join(dir, "data", "auth.db"), extra)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, "http://" + addr
}

// migrated creates the database of the configuration at path, as an
// operator does with `authserver migrate` before the administration
// commands, which refuse to create one.
func migrated(t *testing.T, path string) string {
	t.Helper()
	if out, err := runCmd(t, "", "migrate", "--config", path); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	return path
}

func runCmd(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out strings.Builder
	err := run(context.Background(), args, strings.NewReader(stdin), &out, io.Discard)
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
		done <- run(ctx, args, strings.NewReader(""), io.Discard, io.Discard)
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
	oc := &oauth2.Config{ClientID: "cli", ClientSecret: "cli-secret-cli-secret-cli-secret",
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
		{"", []string{"client", "add", "--config", path, "--id", "new-app", "--redirect-uri", "https://new.example/cb", "--audience", "https://api.example.com"}, "secret (shown once", false},
		{"", []string{"client", "add", "--config", path, "--id", "bad-app", "--redirect-uri", "http://evil.example/cb"}, "", true},
		{"", []string{"client", "list", "--config", path}, "new-app", false},
		{"dave-password\n", []string{"user", "add", "--config", path, "--email", "dave@example.com", "dave"}, "user dave added", false},
		{"dave-password\n", []string{"user", "add", "--config", path, "dave"}, "", true},
		{"short\n", []string{"user", "passwd", "--config", path, "dave"}, "", true},
		{"new-dave-password\n", []string{"user", "passwd", "--config", path, "dave"}, "user dave has a new password", false},
		{"", []string{"user", "list", "--config", path}, "dave@example.com", false},
		{"", []string{"user", "remove", "--config", path, "dave"}, "", false},
		{"", []string{"client", "remove", "--config", path, "new-app"}, "", false},
		{"", []string{"keys", "list", "--config", path}, "active", false},
		{"", []string{"keys", "rotate", "--config", path}, "next", false},
		// The next key was published a moment ago: promoting it needs --force.
		{"", []string{"keys", "rotate", "--config", path}, "", true},
		{"", []string{"keys", "rotate", "--force", "--config", path}, "retired", false},
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
	addr := proctest.FreeAddr(t)
	t.Setenv("AUTHSERVER_LISTEN", addr)
	t.Setenv("AUTHSERVER_CONFIG", "")
	stop := serveFor(t, "", "http://"+addr)
	defer stop()
	oc := &oauth2.Config{ClientID: "demo-web", ClientSecret: "demo-web-secret-not-for-production",
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

// runFull runs the command line as main does and returns the exit status
// and both streams.
func runFull(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut strings.Builder
	code = exitCode(run(context.Background(), args, strings.NewReader(stdin), &out, &errOut), &errOut)
	return code, out.String(), errOut.String()
}

// Every command and subcommand prints its usage on stdout and exits 0 for
// each way of asking, before reading any configuration: a broken file must
// not hide the help that would fix it.
func TestHelpExitsZeroForEveryCommand(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "absent.yaml")
	root := "Usage: authserver [COMMAND]"
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--help"}, root},
		{[]string{"-h"}, root},
		{[]string{"-help"}, root},
		{[]string{"help"}, root},
		{[]string{"help", "--help"}, root},
		{[]string{"--config", missing, "--help"}, root},
	}
	leaves := []string{"serve", "migrate", "check-config", "version", "keys list", "keys rotate",
		"client add", "client show", "client list", "client update", "client remove", "client rotate-secret",
		"user add", "user show", "user list", "user update", "user passwd", "user disable", "user enable", "user remove",
		"session list", "session end", "grant list", "grant revoke",
		"registration-token create", "registration-token list", "registration-token delete"}
	for _, name := range leaves {
		words := strings.Fields(name)
		want := "Usage: authserver " + name
		cases = append(cases,
			struct {
				args []string
				want string
			}{append([]string{"help"}, words...), want},
			struct {
				args []string
				want string
			}{append(slices.Clone(words), "--help"), want},
			struct {
				args []string
				want string
			}{append(slices.Clone(words), "-h"), want},
			struct {
				args []string
				want string
			}{append([]string{"--config", missing}, append(slices.Clone(words), "--help")...), want},
			struct {
				args []string
				want string
			}{append(slices.Clone(words), "--config", missing, "-h"), want},
		)
	}
	for _, group := range []string{"keys", "client", "user", "session", "grant", "registration-token"} {
		want := "Usage: authserver " + group + " COMMAND"
		cases = append(cases,
			struct {
				args []string
				want string
			}{[]string{group, "--help"}, want},
			struct {
				args []string
				want string
			}{[]string{"help", group}, want},
		)
	}
	for _, tc := range cases {
		code, stdout, stderr := runFull(t, "", tc.args...)
		if code != 0 || !strings.HasPrefix(stdout, tc.want) || stderr != "" {
			t.Errorf("%q: exit %d, stdout %.60q, stderr %q; want exit 0 and stdout starting %q", tc.args, code, stdout, stderr, tc.want)
		}
	}
	// A leaf's usage lists its own flags.
	_, stdout, _ := runFull(t, "", "serve", "--help")
	if !strings.Contains(stdout, "-dev-tls") || !strings.Contains(stdout, "-config FILE") {
		t.Errorf("serve usage lacks its flags:\n%s", stdout)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		code, stdout, stderr := runFull(t, "", args...)
		if code != 0 || stderr != "" {
			t.Fatalf("%q: exit %d, stderr %q", args, code, stderr)
		}
		for _, want := range []string{"authserver ", "\nrevision: ", "\ntime: ", "\nmodified: ", "\ngo: "} {
			if !strings.Contains(stdout, want) {
				t.Errorf("%q: output lacks %q:\n%s", args, want, stdout)
			}
		}
	}
}

// Mistakes on the command line exit 2 with the usage on stderr, before
// anything is opened.
func TestUsageMistakesExitTwo(t *testing.T) {
	t.Parallel()
	path, _ := writeConfig(t, "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"frobnicate", "--config", path}, "Usage: authserver [COMMAND]"},
		{[]string{"client"}, "Usage: authserver client COMMAND"},
		{[]string{"client", "frob", "--config", path}, `unknown command "client frob"`},
		{[]string{"serve", "--bogus", "--config", path}, "Usage: authserver serve"},
		{[]string{"user", "add", "--config", path}, "user add needs USERNAME"},
		{[]string{"keys", "list", "extra", "--config", path}, "takes no arguments"},
		{[]string{"help", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"client", "list", "--config"}, "--config"},
	} {
		code, stdout, stderr := runFull(t, "", tc.args...)
		if code != 2 || stdout != "" || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "Usage: ") {
			t.Errorf("%q: exit %d, stdout %q, stderr:\n%s\nwant exit 2 and usage with %q on stderr", tc.args, code, stdout, stderr, tc.want)
		}
	}
}

func TestConfigFlagBeforeOrAfterCommand(t *testing.T) {
	t.Parallel()
	path, _ := writeConfig(t, "")
	migrated(t, path)
	for _, args := range [][]string{
		{"--config", path, "check-config"},
		{"check-config", "--config", path},
		{"check-config", "--config=" + path},
		{"-config", path, "check-config"},
		{"user", "--config", path, "list"},
		{"user", "list", "--config", path},
	} {
		out, err := runCmd(t, "", args...)
		if err != nil || !strings.Contains(out, "carol") && !strings.Contains(out, "USERNAME") || strings.Contains(out, "alice") {
			t.Errorf("%q: err %v, output:\n%s", args, err, out)
		}
	}
}

func TestCheckConfig(t *testing.T) {
	t.Parallel()
	path, issuer := writeConfig(t, `storage:
  driver: postgres
  dsn: postgres://authserver:hunter2-secret@127.0.0.1:1/authserver?sslmode=disable
`)
	// writeConfig's storage section comes first; this one replaces it.
	body, _ := os.ReadFile(path)
	body = []byte(strings.Replace(string(body), "storage:\n  dsn:", "# storage:\n#  dsn:", 1))
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runFull(t, "", "check-config", "--config", path)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"issuer            " + issuer, "postgres postgres://authserver:xxxxx@127.0.0.1:1/authserver", "ES256, RS256",
		"cli", "grants password", "users             1: carol", "configuration is valid"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "hunter2") || strings.Contains(stdout, "cli-secret") || strings.Contains(stdout, "carol-password") {
		t.Errorf("summary shows a secret:\n%s", stdout)
	}

	// Decoding and validation problems, all in one run.
	bad, _ := writeConfig(t, `tokens: {auth_code_ttl: 1h, access_token_ttl: soon}
colour: blue
signing: {algorithms: HS256}
`)
	code, stdout, stderr = runFull(t, "", "check-config", "--config", bad)
	if code != 1 || stdout != "" {
		t.Fatalf("exit %d, stdout %q", code, stdout)
	}
	for _, want := range []string{`unknown key "colour"`, "tokens.access_token_ttl must be a duration", "tokens.auth_code_ttl", `signing.algorithms[0]: unknown algorithm "HS256"`} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestMaskDSN(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://u:pw@h:5432/db?sslmode=disable": "postgres://u:xxxxx@h:5432/db?sslmode=disable",
		"postgres://u@h/db?password=pw":             "postgres://u@h/db?password=xxxxx",
		"host=h user=u password=pw dbname=d":        "host=h user=u password=xxxxx dbname=d",
		"host=h password='p w' dbname=d":            "host=h password=xxxxx dbname=d",
		"./data/authserver.db":                      "./data/authserver.db",
		"postgres://u@h/db":                         "postgres://u@h/db",
	} {
		if got := maskDSN(in); got != want {
			t.Errorf("maskDSN(%q) = %q, want %q", in, got, want)
		}
	}
}

// The embedded demo (published secrets) starts only on loopback; a file with
// the same issuer is the operator's own decision.
func TestDemoRefusesNonLoopbackIssuer(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("AUTHSERVER_CONFIG", "")
	t.Setenv("AUTHSERVER_ISSUER", "https://auth.example.com")
	// A cancelled context: were the demo not refused, serve would stop at
	// once and exit 0 instead of hanging the test.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, args := range [][]string{{"serve"}, {}, {"check-config"}} {
		var errOut strings.Builder
		code := exitCode(run(ctx, args, strings.NewReader(""), io.Discard, &errOut), &errOut)
		stderr := errOut.String()
		if code != 1 || !strings.Contains(stderr, "Write a configuration file") || !strings.Contains(stderr, "authserver check-config --config FILE") {
			t.Errorf("%q: exit %d, stderr:\n%s", args, code, stderr)
		}
	}
	if _, err := os.Stat("data"); !os.IsNotExist(err) {
		t.Errorf("the refused demo created its data directory: %v", err)
	}
	t.Setenv("AUTHSERVER_ISSUER", "")
	t.Setenv("AUTHSERVER_LISTEN", "0.0.0.0:9096")
	if code, _, stderr := runFull(t, "", "check-config"); code != 1 || !strings.Contains(stderr, "only on loopback") {
		t.Errorf("demo on every interface: exit %d, stderr:\n%s", code, stderr)
	}
	t.Setenv("AUTHSERVER_LISTEN", "")

	path, _ := writeConfig(t, "")
	t.Setenv("AUTHSERVER_ISSUER", "https://auth.example.com")
	if code, stdout, stderr := runFull(t, "", "check-config", "--config", path); code != 0 || !strings.Contains(stdout, "https://auth.example.com") {
		t.Errorf("a file with a public issuer: exit %d, stderr:\n%s", code, stderr)
	}
}

// With a configuration file the database holds what the file names and
// nothing of the demo.
func TestConfigFileSeedsOnlyWhatItNames(t *testing.T) {
	t.Parallel()
	path, issuer := writeConfig(t, "")
	serveFor(t, path, issuer)()
	clients, err := runCmd(t, "", "client", "list", "--config", path)
	if err != nil {
		t.Fatal(err)
	}
	users, err := runCmd(t, "", "user", "list", "--config", path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(clients, "\n"); n != 2 || !strings.Contains(clients, "cli ") {
		t.Errorf("clients:\n%s\nwant the header and cli", clients)
	}
	if n := strings.Count(users, "\n"); n != 2 || !strings.Contains(users, "carol ") {
		t.Errorf("users:\n%s\nwant the header and carol", users)
	}
}

// `client add` without --audience needs tokens.default_audience, and says so
// in the flags' names.
func TestClientAddNeedsAnAudience(t *testing.T) {
	t.Parallel()
	path, _ := writeConfig(t, "")
	migrated(t, path)
	_, err := runCmd(t, "", "client", "add", "--config", path, "--id", "app", "--redirect-uri", "https://app.example.com/cb")
	if err == nil || !strings.Contains(err.Error(), "--audience") || !strings.Contains(err.Error(), "tokens.default_audience") {
		t.Fatalf("err = %v, want one naming --audience and tokens.default_audience", err)
	}
	if _, err := runCmd(t, "", "client", "add", "--config", path, "--id", "app", "--redirect-uri", "https://app.example.com/cb",
		"--audience", "https://api.example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := runCmd(t, "", "client", "add", "--config", path, "--id", "app", "--redirect-uri", "https://app.example.com/cb",
		"--audience", "https://api.example.com"); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("adding app twice: %v", err)
	}
}

// Each administration command logs its audit event to the process log, and
// no secret it handled: not the generated client secret, not a password.
func TestAdminCommandsAreAudited(t *testing.T) {
	t.Parallel()
	path, _ := writeConfig(t, "log: {format: json}\n")
	migrated(t, path)
	var logs strings.Builder
	step := func(stdin string, args ...string) string {
		t.Helper()
		var out strings.Builder
		if err := run(context.Background(), append(args, "--config", path), strings.NewReader(stdin), &out, &logs); err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		return out.String()
	}
	out := step("", "client", "add", "--id", "new-app", "--redirect-uri", "https://new.example/cb", "--audience", "https://api.example.com")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	secret := lines[len(lines)-1]
	if len(secret) < 40 {
		t.Fatalf("no secret in the output:\n%s", out)
	}
	step("first-password-dave\n", "user", "add", "dave")
	step("second-password-dave\n", "user", "passwd", "dave")
	step("", "user", "remove", "dave")
	step("", "client", "remove", "new-app")

	events := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if ev, _ := rec["event"].(string); ev != "" {
			if rec["level"] != "AUDIT" {
				t.Errorf("%s logged at level %v", ev, rec["level"])
			}
			events[ev] = rec
		}
	}
	for ev, attr := range map[string]string{"client.created": "client_id", "client.removed": "client_id",
		"user.created": "user_id", "user.password_changed": "user_id", "user.removed": "user_id"} {
		rec, ok := events[ev]
		if !ok || rec[attr] == "" || rec[attr] == nil {
			t.Errorf("event %s with %s missing from the log:\n%s", ev, attr, logs.String())
		}
		if ok && rec["by"] != "cli" {
			t.Errorf("event %s by %v, want by=cli", ev, rec["by"])
		}
	}
	if events["client.created"]["client_id"] != "new-app" || events["user.created"]["username"] != "dave" {
		t.Errorf("events name the wrong client or user: %v", events)
	}
	for _, s := range []string{secret, "first-password-dave", "second-password-dave"} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("the log contains the secret %q:\n%s", s, logs.String())
		}
	}
}

// check-config makes the start's deep check of client keys: a private key
// published in a client's jwks is refused there, not only at the next start.
func TestCheckConfigRefusesPrivateClientKeys(t *testing.T) {
	t.Parallel()
	path, _ := writeConfig(t, "")
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	body = []byte(strings.Replace(string(body), "clients:\n", `clients:
  - id: signer
    token_endpoint_auth_method: private_key_jwt
    grant_types: [client_credentials]
    audience: [https://api.example.com]
    jwks:
      keys:
        - {kty: EC, crv: P-256, kid: k1, use: sig, x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", d: "jpsQnnGQmL-YBIffH1136cLyXIp_JN7m_ROfr1Y6n8Q"}
`, 1))
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runFull(t, "", "check-config", "--config", path)
	if code != 1 || stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "jwks.keys[0]") || !strings.Contains(stderr, "private") {
		t.Errorf("stderr does not name the private key in jwks.keys[0]:\n%s", stderr)
	}
}
