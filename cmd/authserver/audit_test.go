package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/observe/observetest"
	"github.com/authserver-dev/authserver/authserver/setup"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/cmd/authserver/internal/proctest"
	"github.com/authserver-dev/authserver/config"
)

// runLogged runs the command line with its standard error (the process log,
// in the configured log.format) going to logs, and returns its standard
// output.
func runLogged(ctx context.Context, logs *observetest.Logs, stdin string, args ...string) (string, error) {
	var out strings.Builder
	err := run(ctx, args, strings.NewReader(stdin), &out, logs)
	return out.String(), err
}

// secrets collects every secret the test used, to look for in the log.
type secrets map[string]string // what -> value

func (s secrets) add(what, value string) {
	if value == "" {
		panic("empty secret " + what) // the flow did not produce it: a bug in the test
	}
	s[what] = value
	// A JWT leaks as well by its payload or signature alone.
	if parts := strings.Split(value, "."); len(parts) == 3 {
		s[what+" (payload)"] = parts[1]
		s[what+" (signature)"] = parts[2]
	}
}

// TestNoSecretIsEverLogged runs the real provider from a configuration file
// with a JSON log, and the whole life of its credentials: a failed and a
// successful sign-in, the code exchange and a replay of the code, a refresh
// and a replay of the spent refresh token, the password grant, revocation,
// logout, a key rotation and the administration commands. Then it looks for
// every password, client secret, code, token and cookie value in every log
// line: none may appear. Each audit event must have been logged at least once.
func TestNoSecretIsEverLogged(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	addr, metricsAddr := proctest.FreeAddr(t), proctest.FreeAddr(t)
	issuer := "http://" + addr
	const redirect = "http://127.0.0.1:7781/cb"
	s := secrets{}
	s.add("web client secret", "web-secret-0123456789-abcdefghij")
	s.add("cli client secret", "cli-secret-0123456789-abcdefghij")
	s.add("carol's password", "carol-pass-0123456789")
	s.add("a wrong password", "wrong-pass-0123456789")
	// The web client authenticates with HTTP Basic: its header value leaks
	// the secret as well.
	s.add("web client Basic credentials", base64.StdEncoding.EncodeToString([]byte("web:"+url.QueryEscape(s["web client secret"]))))
	cfgPath := filepath.Join(dir, "authserver.yaml")
	yaml := fmt.Sprintf(`listen: %s
storage:
  dsn: %s
passwords: {memory_kib: 64, iterations: 1, parallelism: 1}
signing: {key_check_interval: 200ms}
observability: {metrics_listen: %q}
log: {format: json, level: info}
clients:
  - id: web
    secret: %s
    redirect_uris: [%s]
    post_logout_redirect_uris: [http://127.0.0.1:7781/]
    grant_types: [authorization_code, refresh_token]
    scopes: [openid, profile, offline_access]
    audience: [https://api.example.com]
  - id: cli
    secret: %s
    grant_types: [password, refresh_token]
    scopes: [openid, profile, offline_access]
    audience: [https://api.example.com]
users:
  - username: carol
    password: %s
`, addr, filepath.Join(dir, "data", "auth.db"), metricsAddr, s["web client secret"], redirect, s["cli client secret"], s["carol's password"])
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &observetest.Logs{}
	defer func() {
		if t.Failed() {
			t.Logf("provider log:\n%s", logs)
		}
	}()

	done := make(chan error, 1)
	go func() {
		_, err := runLogged(ctx, logs, "", "serve", "--config", cfgPath)
		done <- err
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	waitServing(t, issuer, done)

	// The browser: a failed sign-in, then the code flow with consent.
	p := &authtest.Provider{URL: issuer}
	jar, _ := cookiejar.New(nil)
	b := p.Browser(t)
	b.Jar = jar
	web := &oauth2.Config{ClientID: "web", ClientSecret: s["web client secret"], RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{AuthURL: issuer + "/authorize", TokenURL: issuer + "/token", AuthStyle: oauth2.AuthStyleInHeader},
		Scopes:   []string{"openid", "profile", "offline_access"}}
	verifier := oauth2.GenerateVerifier()
	s.add("PKCE verifier", verifier)
	authURL := web.AuthCodeURL("state-audit", oauth2.S256ChallengeOption(verifier))
	login := authtest.Get(t, b, authURL)
	if pg := login.Submit(t, b, url.Values{"username": {"carol"}, "password": {s["a wrong password"]}}); pg.Status != http.StatusUnauthorized {
		t.Fatalf("wrong password: status %d", pg.Status)
	}
	loc := p.SignIn(t, b, authURL, "carol", s["carol's password"], "allow")
	code := loc.Query().Get("code")
	s.add("authorization code", code)
	for _, ck := range jar.Cookies(mustURL(t, issuer)) {
		s.add("cookie "+ck.Name, ck.Value)
	}
	if _, ok := s["cookie authserver_session"]; !ok {
		t.Fatal("no session cookie after signing in")
	}

	tok, err := web.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	idToken, _ := tok.Extra("id_token").(string)
	s.add("access token (code)", tok.AccessToken)
	s.add("refresh token (code)", tok.RefreshToken)
	s.add("ID token (code)", idToken)
	if _, err := web.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err == nil {
		t.Fatal("a replayed code was accepted")
	}

	// A second sign-in's tokens: refreshed once, then the spent token replayed.
	code2 := p.SignIn(t, b, web.AuthCodeURL("state-2", oauth2.S256ChallengeOption(verifier)), "carol", s["carol's password"], "allow").Query().Get("code")
	s.add("authorization code 2", code2)
	tok2, err := web.Exchange(ctx, code2, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange 2: %v", err)
	}
	s.add("refresh token 2", tok2.RefreshToken)
	refreshed, err := web.TokenSource(ctx, &oauth2.Token{RefreshToken: tok2.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	s.add("access token (refreshed)", refreshed.AccessToken)
	s.add("refresh token (rotated)", refreshed.RefreshToken)
	s.add("ID token (refreshed)", refreshed.Extra("id_token").(string))
	// Rotate once more, so that replaying tok2 (two rotations old) is reuse
	// even inside the grace window, which forgives only the latest retry.
	again, err := web.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshed.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("second refresh: %v", err)
	}
	s.add("access token (refreshed twice)", again.AccessToken)
	s.add("refresh token (rotated twice)", again.RefreshToken)
	if _, err := web.TokenSource(ctx, &oauth2.Token{RefreshToken: tok2.RefreshToken}).Token(); err == nil {
		t.Fatal("a spent refresh token was accepted")
	}

	// The password grant, and revocation of what it issued.
	cli := &oauth2.Config{ClientID: "cli", ClientSecret: s["cli client secret"], Scopes: []string{"openid", "offline_access"},
		Endpoint: oauth2.Endpoint{TokenURL: issuer + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	ptok, err := cli.PasswordCredentialsToken(ctx, "carol", s["carol's password"])
	if err != nil {
		t.Fatalf("password grant: %v", err)
	}
	s.add("access token (password)", ptok.AccessToken)
	s.add("refresh token (password)", ptok.RefreshToken)
	if _, err := cli.PasswordCredentialsToken(ctx, "carol", s["a wrong password"]); err == nil {
		t.Fatal("password grant with a wrong password succeeded")
	}
	for _, token := range []string{ptok.AccessToken, ptok.RefreshToken} {
		resp, err := http.PostForm(issuer+"/revoke", url.Values{"token": {token}, "client_id": {"cli"}, "client_secret": {s["cli client secret"]}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("revocation: %d", resp.StatusCode)
		}
	}
	// A bearer token in a header is not logged either.
	req, _ := http.NewRequest(http.MethodGet, issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+refreshed.AccessToken)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}

	// Logout with the ID token as the hint (it travels in the query).
	pg := authtest.Get(t, b, issuer+"/logout?"+url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"http://127.0.0.1:7781/"}}.Encode())
	if pg.Location == nil {
		t.Fatalf("logout did not return to the client: %d\n%s", pg.Status, pg.Body)
	}

	// The administration commands, against the running server's database.
	out, err := runLogged(ctx, logs, "", "client", "add", "--config", cfgPath, "--id", "new-app", "--redirect-uri", "https://new.example/cb", "--audience", "https://api.example.com")
	if err != nil {
		t.Fatalf("client add: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	s.add("new-app's generated secret", lines[len(lines)-1])
	s.add("dave's password", "dave-pass-0123456789")
	s.add("dave's new password", "dave-new-pass-0123456789")
	for _, c := range []struct {
		stdin string
		args  []string
	}{
		{s["dave's password"] + "\n", []string{"user", "add", "--config", cfgPath, "dave"}},
		{s["dave's new password"] + "\n", []string{"user", "passwd", "--config", cfgPath, "dave"}},
	} {
		if _, err := runLogged(ctx, logs, c.stdin, c.args...); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
	}
	if _, err := cli.PasswordCredentialsToken(ctx, "dave", s["dave's new password"]); err != nil {
		t.Fatalf("password grant for the new user: %v", err)
	}
	out, err = runLogged(ctx, logs, "", "client", "rotate-secret", "--config", cfgPath, "new-app")
	if err != nil {
		t.Fatalf("client rotate-secret: %v", err)
	}
	lines = strings.Split(strings.TrimSpace(out), "\n")
	s.add("new-app's rotated secret", lines[len(lines)-1])
	out, err = runLogged(ctx, logs, "", "registration-token", "create", "--config", cfgPath, "--description", "audit")
	if err != nil {
		t.Fatalf("registration-token create: %v", err)
	}
	lines = strings.Split(strings.TrimSpace(out), "\n")
	s.add("initial access token", lines[len(lines)-1])
	rtID := strings.Fields(lines[0])[2] // "registration token ID created: ..."
	// A TOTP authenticator of dave's, as /account stores it, to remove.
	s.add("dave's sealed TOTP secret", "sealed-totp-secret-0123456789")
	fileCfg, err := config.Load(cfgPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := setup.OpenStore(ctx, fileCfg)
	if err != nil {
		t.Fatal(err)
	}
	dave, err := st.GetUserByUsername(ctx, "dave")
	if err == nil {
		err = st.PutTOTP(ctx, storage.TOTP{UserID: dave.ID, Secret: s["dave's sealed TOTP secret"], CreatedAt: time.Now()})
	}
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"user", "factor-remove", "--config", cfgPath, "dave", "totp"},
		{"user", "factors-reset", "--config", cfgPath, "carol"},
		{"client", "update", "--config", cfgPath, "--name", "New App", "new-app"},
		{"user", "update", "--config", cfgPath, "--name", "Dave", "dave"},
		{"user", "disable", "--config", cfgPath, "dave"},
		{"user", "enable", "--config", cfgPath, "dave"},
		{"grant", "revoke", "--config", cfgPath, "carol", "web"},
		{"registration-token", "delete", "--config", cfgPath, rtID},
	} {
		if _, err := runLogged(ctx, logs, "", args...); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	for _, args := range [][]string{
		{"user", "remove", "--config", cfgPath, "dave"},
		{"client", "remove", "--config", cfgPath, "new-app"},
		{"keys", "rotate", "--config", cfgPath},
	} {
		if _, err := runLogged(ctx, logs, "", args...); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	// The server notices the rotation at its next key check.
	for deadline := time.Now().Add(20 * time.Second); !logged(logs, observe.EventKeysRotated); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the server never logged keys.rotated after `keys rotate`")
		}
	}
	// The metrics listener serves this provider's own registry.
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatalf("metrics listener: %v", err)
	}
	m := observetest.Parse(t, resp.Body)
	resp.Body.Close()
	if m.Value("authserver_refresh_reuse_detected_total") != 1 || m.Value("authserver_revocations_total") != 2 ||
		m.Value("authserver_logins_total", "outcome", "failed") != 2 {
		t.Errorf("metrics after the flow: reuse %v, revocations %v, failed logins %v", m.Value("authserver_refresh_reuse_detected_total"),
			m.Value("authserver_revocations_total"), m.Value("authserver_logins_total", "outcome", "failed"))
	}

	all := logs.String()
	parsed := logs.Lines(t) // every line is JSON
	for what, value := range s {
		if strings.Contains(all, value) {
			for _, l := range parsed {
				if strings.Contains(l.Raw, value) {
					t.Errorf("%s appears in the log: %s", what, l.Raw)
					break
				}
			}
		}
	}
	// Nothing that looks like a query string reached the log.
	if q := regexp.MustCompile(`[?&](code|refresh_token|id_token_hint|access_token|password|client_secret)=`).FindString(all); q != "" {
		t.Errorf("a query or form parameter %q was logged", q)
	}
	if n := len(observetest.Where(parsed, "msg", "request")); n < 15 {
		t.Errorf("only %d access-log lines: is the log captured?", n)
	}
	var missing []string
	for _, ev := range observe.Events {
		// Throttling has its own tests (authserver/throttle_test.go), and so
		// have the registration endpoint and the admin API
		// (authserver/registration, authserver/adminapi), the second step of
		// sign-in (authserver/signin_mfa_test.go: mfa.failed,
		// mfa.recovery_code_used) and enrolment on /account
		// (authserver/account_mfa_test.go: mfa.enrolled,
		// mfa.recovery_codes_generated), which need a browser ceremony or
		// a code computed from a secret this binary test never sees.
		switch ev {
		case observe.EventClientRegistered, observe.EventAdminDenied, observe.EventMFAFailed, observe.EventRecoveryCodeUsed,
			observe.EventMFAEnrolled, observe.EventMFARecoveryCodesGenerated:
			continue
		}
		if strings.HasPrefix(ev, "throttle.") {
			continue
		}
		if !logged(logs, ev) {
			missing = append(missing, ev)
		}
	}
	if len(missing) > 0 {
		t.Errorf("audit events never logged: %s", strings.Join(missing, ", "))
	}
	for _, l := range parsed {
		if l.Str("event") != "" && (l.Str("level") != "AUDIT" || !slices.Contains(observe.Events, l.Str("event"))) {
			t.Errorf("event line with level %q and an unlisted event name? %s", l.Str("level"), l.Raw)
		}
	}
}

func logged(logs *observetest.Logs, event string) bool {
	return strings.Contains(logs.String(), `"event":"`+event+`"`)
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// waitServing waits until the server answers /healthz, or fails if serve
// exits first (putting its result back for the deferred wait).
func waitServing(t *testing.T, issuer string, done chan error) {
	t.Helper()
	for {
		resp, err := http.Get(issuer + "/healthz")
		if err == nil {
			resp.Body.Close()
			return
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("serve exited: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
