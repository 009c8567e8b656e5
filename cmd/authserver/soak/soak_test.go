// Package soak is a bounded soak test of the real authserver binary: two
// processes on one PostgreSQL database, driven by concurrent code flows,
// refreshes and introspections round-robin across both, while one of them
// is killed with SIGKILL and started again. It has no code of its own.
package soak_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/observe/observetest"
	"github.com/authserver-dev/authserver/authserver/storage/pgtest"
	"github.com/authserver-dev/authserver/cmd/authserver/internal/proctest"
)

// The load is bounded by time, not by counts, so the test takes the same
// wall time on a slow machine; nothing asserts on how long anything took.
const (
	workers = 8
	// warmUp is the load before the kill, afterKill the load after it.
	warmUp    = 8 * time.Second
	afterKill = 12 * time.Second
)

const (
	clientID     = "soak-web"
	clientSecret = "soak-web-secret-0123456789abcdef"
	redirectURI  = "http://127.0.0.1:1/cb"
	introspector = "soak-api"
	apiSecret    = "soak-api-secret-0123456789abcdefghijklmnop"
	username     = "soak-user"
	password     = "soak-password"
)

// replica is one authserver process, restartable on the same port.
type replica struct {
	name, bin, config, base string
	env                     []string
	log                     *observetest.Logs // both runs' output
	proc                    *proctest.Process
	// down is set from just before a kill until the restarted process is
	// ready: only then may a request to it fail without an answer.
	down atomic.Bool
}

// start runs the replica until the test ends and waits until it is ready.
func (r *replica) start(t *testing.T) {
	t.Helper()
	r.proc = proctest.Start(t, r.bin, []string{"serve", "--config", r.config}, r.env, r.log)
	r.proc.AwaitOK(t, http.DefaultClient, r.base+"/readyz")
}

// kill sends SIGKILL to this replica's process (and nothing else) and waits
// for it to exit.
func (r *replica) kill() {
	r.down.Store(true)
	r.proc.Kill()
}

func TestSoakTwoReplicasOneKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test; runs without -short")
	}
	dsn := pgtest.Open(t).Schema(t)
	dir := t.TempDir()
	bin := proctest.Build(t)

	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env := []string{"AUTHSERVER_KEY_ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(key)} // shared by both
	addrs := []string{proctest.FreeAddr(t), proctest.FreeAddr(t)}
	issuer := "http://" + addrs[0] // as behind a balancer: one issuer for both
	var replicas []*replica
	for i, addr := range addrs {
		cfg := filepath.Join(dir, fmt.Sprintf("replica%d.yaml", i))
		yaml := fmt.Sprintf(`issuer: %s
listen: %s
storage:
  driver: postgres
  dsn: %q
passwords: {memory_kib: 64, iterations: 1, parallelism: 1}
tokens:
  # A refresh whose answer died with the killed replica is retried with the
  # spent token; the grace window lets that retry through.
  refresh_reuse_grace: 30s
observability:
  metrics_listen: "off"
log:
  level: warn
clients:
  - id: %s
    secret: %s
    redirect_uris: [%s]
    grant_types: [authorization_code, refresh_token]
    scopes: [openid, offline_access]
    audience: [https://api.example]
    skip_consent: true
  - id: %s
    secret: %s
    grant_types: [client_credentials]
    scopes: [api.read]
    audience: [https://api.example]
    allow_introspection: true
users:
  - username: %s
    password: %s
`, issuer, addr, dsn, clientID, clientSecret, redirectURI, introspector, apiSecret, username, password)
		if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		r := &replica{name: fmt.Sprintf("replica %d", i), bin: bin, config: cfg, base: "http://" + addr, env: env, log: &observetest.Logs{}}
		replicas = append(replicas, r)
	}
	for _, r := range replicas {
		r.start(t)
	}

	s := &soak{t: t, replicas: replicas, transport: &http.Transport{MaxIdleConnsPerHost: workers * 2}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.work(w, stop)
		}()
	}
	time.Sleep(warmUp)
	victim := replicas[1]
	victim.kill()
	t.Logf("killed %s after %d operations", victim.name, s.ops.Load())
	victim.start(t)
	s.transport.CloseIdleConnections()
	victim.down.Store(false)
	time.Sleep(afterKill)
	close(stop)
	wg.Wait()

	// The workers are done: what they handed out no longer changes. The
	// checks below append to s.access again, so they read these copies.
	s.mu.Lock()
	families, access, failures := s.families, s.access, s.failures
	s.mu.Unlock()
	t.Logf("%d operations, %d sign-ins, %d families, %d access tokens; %d requests lost with the killed replica",
		s.ops.Load(), s.signIns.Load(), len(families), len(access), s.lost.Load())
	for _, err := range failures {
		t.Errorf("during the load: %v", err)
	}
	if s.lost.Load() == 0 {
		t.Log("no request was in flight on the killed replica")
	}
	if len(families) < workers {
		t.Fatalf("only %d sign-ins completed: the load did not run", len(families))
	}

	// Afterwards: every access token a client received is active, and every
	// refresh family continues, on whichever replica is asked.
	var bad atomic.Int64
	check := func(items int, fn func(i int) error) {
		var cw sync.WaitGroup
		next := atomic.Int64{}
		for range 4 {
			cw.Add(1)
			go func() {
				defer cw.Done()
				for i := int(next.Add(1) - 1); i < items; i = int(next.Add(1) - 1) {
					if err := fn(i); err != nil {
						if bad.Add(1) <= 20 {
							t.Error(err)
						}
					}
				}
			}()
		}
		cw.Wait()
	}
	check(len(access), func(i int) error {
		active, err := s.introspect(access[i])
		if err == nil && !active {
			err = errors.New("inactive")
		}
		if err != nil {
			return fmt.Errorf("access token %d of %d after the soak: %v", i, len(access), err)
		}
		return nil
	})
	check(len(families), func(i int) error {
		if _, err := s.refresh(families[i]); err != nil {
			return fmt.Errorf("family %d of %d after the soak: %v", i, len(families), err)
		}
		return nil
	})
	if n := bad.Load(); n > 0 {
		t.Errorf("%d checks failed after the soak", n)
	}
	if t.Failed() {
		for _, r := range replicas {
			t.Logf("%s log:\n%s", r.name, r.proc.Tail(8000))
		}
	}
}

// soak is the load and what it handed out.
type soak struct {
	t         *testing.T
	replicas  []*replica
	transport *http.Transport
	next      atomic.Uint64

	ops, signIns, lost atomic.Int64

	mu       sync.Mutex
	families []*family
	access   []string
	failures []error
}

// family is a refresh-token family as its client holds it.
type family struct {
	mu      sync.Mutex
	refresh string
}

// errLost is a request that got no answer because its replica was killed.
var errLost = errors.New("no answer: the replica was killed")

// do sends req to the next replica in turn. A request that gets no answer
// is errLost when that replica is down, and a failure otherwise; any 5xx
// answer is a failure.
func (s *soak) do(c *http.Client, method, path string, form url.Values, user, secret string) (*http.Response, []byte, error) {
	r := s.replicas[s.next.Add(1)%uint64(len(s.replicas))]
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, r.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(secret))
	}
	resp, err := c.Do(req)
	if err != nil {
		if r.down.Load() {
			s.lost.Add(1)
			return nil, nil, errLost
		}
		return nil, nil, fmt.Errorf("%s %s on %s (up): %v", method, path, r.name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		if r.down.Load() {
			s.lost.Add(1)
			return nil, nil, errLost
		}
		return nil, nil, fmt.Errorf("%s %s on %s (up): reading the answer: %v", method, path, r.name, err)
	}
	if resp.StatusCode >= 500 {
		return nil, nil, fmt.Errorf("%s %s on %s: %d %s", method, path, r.name, resp.StatusCode, b)
	}
	return resp, b, nil
}

func (s *soak) client(jar http.CookieJar) *http.Client {
	return &http.Client{Transport: s.transport, Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (s *soak) work(w int, stop <-chan struct{}) {
	var own []*family
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		var err error
		switch {
		case len(own) < 2 || i%4 == 0:
			var f *family
			if f, err = s.signIn(); err == nil {
				own = append(own, f)
			}
		case i%4 == 1 || i%4 == 2:
			_, err = s.refresh(own[i%len(own)])
		default:
			s.mu.Lock()
			access := s.access[(w*7919+i)%len(s.access)]
			s.mu.Unlock()
			var active bool
			if active, err = s.introspect(access); err == nil && !active {
				err = errors.New("introspection: a token handed out is inactive")
			}
		}
		s.ops.Add(1)
		if err != nil && !errors.Is(err, errLost) {
			s.mu.Lock()
			s.failures = append(s.failures, err)
			s.mu.Unlock()
		}
	}
}

// signIn is the code flow, as a browser and a client do it without a
// browser: each of its four requests goes to the next replica.
func (s *soak) signIn() (*family, error) {
	jar, _ := cookiejar.New(nil)
	c := s.client(jar)
	verifier := oauth2.GenerateVerifier()
	q := url.Values{"client_id": {clientID}, "redirect_uri": {redirectURI}, "response_type": {"code"},
		"scope": {"openid offline_access"}, "state": {"s"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
	resp, body, err := s.do(c, http.MethodGet, "/authorize?"+q.Encode(), nil, "", "")
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`name="password"`)) {
		return nil, fmt.Errorf("authorize: %d, want the login page: %s", resp.StatusCode, body)
	}
	action, form := (&authtest.Page{Body: string(body)}).FormFields(s.t)
	form.Set("username", username)
	form.Set("password", password)
	resp, body, err = s.do(c, http.MethodPost, action, form, "", "")
	if err != nil {
		return nil, err
	}
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/authorize?") {
		return nil, fmt.Errorf("login: %d %q, want a redirect to /authorize: %s", resp.StatusCode, loc, body)
	}
	resp, body, err = s.do(c, http.MethodGet, loc, nil, "", "")
	if err != nil {
		return nil, err
	}
	back, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || back == nil || back.Query().Get("code") == "" {
		return nil, fmt.Errorf("authorize after login: %d %v, want a code: %s", resp.StatusCode, resp.Header, body)
	}
	resp, body, err = s.do(c, http.MethodPost, "/token", url.Values{"grant_type": {"authorization_code"},
		"code": {back.Query().Get("code")}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}}, clientID, clientSecret)
	if err != nil {
		return nil, err
	}
	tok, err := s.tokens("code exchange", resp, body)
	if err != nil {
		return nil, err
	}
	s.signIns.Add(1)
	f := &family{refresh: tok.refresh}
	s.mu.Lock()
	s.families = append(s.families, f)
	s.access = append(s.access, tok.access)
	s.mu.Unlock()
	return f, nil
}

type tokenPair struct{ access, refresh string }

func (s *soak) tokens(what string, resp *http.Response, body []byte) (tokenPair, error) {
	var v struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &v) != nil || v.Access == "" || v.Refresh == "" {
		return tokenPair{}, fmt.Errorf("%s: %d %s", what, resp.StatusCode, body)
	}
	return tokenPair{v.Access, v.Refresh}, nil
}

// refresh rotates the family's refresh token. When the answer was lost
// with the killed replica, the client still holds the old token and sends
// it again next time (the rotation may or may not have committed).
func (s *soak) refresh(f *family) (tokenPair, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp, body, err := s.do(s.client(nil), http.MethodPost, "/token",
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {f.refresh}}, clientID, clientSecret)
	if err != nil {
		return tokenPair{}, err
	}
	tok, err := s.tokens("refresh", resp, body)
	if err != nil {
		return tokenPair{}, err
	}
	f.refresh = tok.refresh
	s.mu.Lock()
	s.access = append(s.access, tok.access)
	s.mu.Unlock()
	return tok, nil
}

func (s *soak) introspect(access string) (bool, error) {
	resp, body, err := s.do(s.client(nil), http.MethodPost, "/introspect", url.Values{"token": {access}}, introspector, apiSecret)
	if err != nil {
		return false, err
	}
	var v struct {
		Active bool `json:"active"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &v) != nil {
		return false, fmt.Errorf("introspect: %d %s", resp.StatusCode, body)
	}
	return v.Active, nil
}
