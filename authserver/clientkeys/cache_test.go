package clientkeys_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver-dev/authserver/authserver/clientkeys"
)

// jwksServer is a client's key server: it serves a JWK Set it can be told
// to change, counts its requests, and can be made to fail or to hold
// requests until released.
type jwksServer struct {
	srv  *httptest.Server
	hits atomic.Int64

	mu           sync.Mutex
	body         []byte
	status       int
	cacheControl string
	gate         chan struct{} // when set, requests wait until it is closed
}

func newJWKSServer(t *testing.T, useTLS bool, body []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{body: body, status: http.StatusOK}
	mux := http.NewServeMux()
	mux.HandleFunc("/jwks", s.handle)
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/jwks", http.StatusFound)
	})
	s.srv = httptest.NewUnstartedServer(mux)
	// The handshake errors of TestCacheChecksTheCertificate are expected.
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if useTLS {
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	t.Cleanup(s.srv.Close)
	return s
}

func (s *jwksServer) handle(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	s.mu.Lock()
	body, status, cc, gate := s.body, s.status, s.cacheControl, s.gate
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	if cc != "" {
		w.Header().Set("Cache-Control", cc)
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *jwksServer) set(body []byte, status int, cacheControl string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.status, s.cacheControl = body, status, cacheControl
}

// hold makes requests wait until the returned function is called.
func (s *jwksServer) hold() (release func()) {
	gate := make(chan struct{})
	s.mu.Lock()
	s.gate = gate
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		s.gate = nil
		s.mu.Unlock()
		close(gate)
	}
}

func (s *jwksServer) url() string { return s.srv.URL + "/jwks" }

func newCache(t *testing.T, clock *fakeClock, s *jwksServer, opts ...func(*clientkeys.CacheConfig)) *clientkeys.Cache {
	t.Helper()
	cfg := clientkeys.CacheConfig{
		HTTPClient: s.srv.Client(),
		Now:        clock.Now,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := clientkeys.NewCache(cfg)
	if err != nil {
		t.Fatalf("NewCache: %v", err)
	}
	return c
}

func wantHits(t *testing.T, s *jwksServer, want int64, when string) {
	t.Helper()
	if got := s.hits.Load(); got != want {
		t.Fatalf("%s: the key server had %d requests, want %d", when, got, want)
	}
}

// verifyWith verifies a fresh ES256 assertion signed by key under kid.
func verifyWith(t *testing.T, v *clientkeys.Verifier, clock *fakeClock, src clientkeys.KeySource, key, kid string) error {
	t.Helper()
	assertion := sign(t, jwtSpec{key: key, alg: "ES256", kid: kid}, assertionClaims(clock))
	_, err := v.VerifyAssertion(context.Background(), assertion, testClientID, src, testAudiences, clientkeys.AssertionPolicy{})
	return err
}

func TestCacheOverTLS(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := newJWKSServer(t, true, jwksJSON(t, jwk("P-256", "k1")))
	c := newCache(t, clock, s)
	v := newVerifier(t, clock)
	if !strings.HasPrefix(s.url(), "https://127.0.0.1:") {
		t.Fatalf("test server at %s, want https on loopback", s.url())
	}
	for range 3 {
		if err := verifyWith(t, v, clock, c.Source(s.url()), "P-256", "k1"); err != nil {
			t.Fatalf("VerifyAssertion: %v", err)
		}
	}
	wantHits(t, s, 1, "three assertions within the lifetime")
}

// The certificate is checked: without the test server's CA the fetch
// fails, and the assertion is refused as the client's problem.
func TestCacheChecksTheCertificate(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := newJWKSServer(t, true, jwksJSON(t, jwk("P-256", "k1")))
	c := newCache(t, clock, s, func(cfg *clientkeys.CacheConfig) { cfg.HTTPClient = nil })
	err := verifyWith(t, newVerifier(t, clock), clock, c.Source(s.url()), "P-256", "k1")
	wantRefusal(t, err, clientkeys.CodeInvalidClient, "keys are unavailable", clientkeys.ErrKeysUnavailable)
	if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("err = %v, want the certificate problem for the logs", err)
	}
}

func TestCacheLoopbackHTTP(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := newJWKSServer(t, false, jwksJSON(t, jwk("P-256", "k1")))
	c := newCache(t, clock, s)
	if err := verifyWith(t, newVerifier(t, clock), clock, c.Source(s.url()), "P-256", "k1"); err != nil {
		t.Fatalf("VerifyAssertion over loopback http: %v", err)
	}
	// The same server by a name that is not loopback is refused before
	// any request is made.
	other := strings.Replace(s.url(), "127.0.0.1", "keys.client.example", 1)
	_, err := c.Keys(context.Background(), other, false)
	if !errors.Is(err, clientkeys.ErrKeysUnavailable) || !strings.Contains(err.Error(), "must use https") {
		t.Fatalf("Keys(%s) = %v, want a refusal of plain http", other, err)
	}
	wantHits(t, s, 1, "after the refused URL")
}

// An unknown kid causes one refetch, then no other within the interval,
// however many JWTs name unknown kids; after the interval, one more.
func TestCacheUnknownKidRefetchesOncePerInterval(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := newJWKSServer(t, true, jwksJSON(t, jwk("P-256", "k1")))
	c := newCache(t, clock, s)
	v := newVerifier(t, clock)
	src := c.Source(s.url())
	if err := verifyWith(t, v, clock, src, "P-256", "k1"); err != nil {
		t.Fatal(err)
	}
	wantHits(t, s, 1, "first use")

	// The client rotates to k2: the first assertion with k2 refetches.
	s.set(jwksJSON(t, jwk("P-256", "k1"), jwk("P-256b", "k2")), http.StatusOK, "")
	if err := verifyWith(t, v, clock, src, "P-256b", "k2"); err != nil {
		t.Fatalf("assertion with the new kid: %v", err)
	}
	wantHits(t, s, 2, "the new kid")

	// Forged kids within the interval cost the client's server nothing.
	for i := range 5 {
		err := verifyWith(t, v, clock, src, "P-256", fmt.Sprint("forged-", i))
		wantRefusal(t, err, clientkeys.CodeInvalidClient, "names kid", clientkeys.ErrUnknownKey)
	}
	wantHits(t, s, 2, "five forged kids within the interval")

	clock.advance(clientkeys.DefaultRefetchInterval)
	err := verifyWith(t, v, clock, src, "P-256", "forged-again")
	wantRefusal(t, err, clientkeys.CodeInvalidClient, "names kid", clientkeys.ErrUnknownKey)
	wantHits(t, s, 3, "a forged kid after the interval")
}

// Without a kid, a signature no cached key verifies is also a reason to
// look for new keys (a client that rotated without kids), rate-limited the
// same way.
func TestCacheNoKidRefetchesOnFailure(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := newJWKSServer(t, true, jwksJSON(t, jwk("P-256", "")))
	c := newCache(t, clock, s)
	v := newVerifier(t, clock)
	src := c.Source(s.url())
	if err := verifyWith(t, v, clock, src, "P-256", ""); err != nil {
		t.Fatal(err)
	}
	s.set(jwksJSON(t, jwk("P-256b", "")), http.StatusOK, "")
	if err := verifyWith(t, v, clock, src, "P-256b", ""); err != nil {
		t.Fatalf("assertion with the rotated key: %v", err)
	}
	wantHits(t, s, 2, "after the rotation")
	err := verifyWith(t, v, clock, src, "P-256", "")
	wantRefusal(t, err, clientkeys.CodeInvalidClient, "signature does not verify", clientkeys.ErrBadSignature)
	wantHits(t, s, 2, "a foreign key within the interval")
}

func TestCacheSizeLimit(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	body := jwksJSON(t, jwk("P-256", "k1"))
	padded := append(append([]byte{}, body[:len(body)-1]...), []byte(strings.Repeat(" ", 2048)+"}")...)
	s := newJWKSServer(t, true, padded)
	c := newCache(t, clock, s, func(cfg *clientkeys.CacheConfig) { cfg.MaxBodySize = 1024 })
	_, err := c.Keys(context.Background(), s.url(), false)
	if !errors.Is(err, clientkeys.ErrKeysUnavailable) || !strings.Contains(err.Error(), "larger than 1024 bytes") {
		t.Fatalf("Keys = %v, want the size limit", err)
	}
	// The same document within the limit is fine.
	big := newCache(t, clock, s, func(cfg *clientkeys.CacheConfig) { cfg.MaxBodySize = 4096 })
	if _, err := big.Keys(context.Background(), s.url(), false); err != nil {
		t.Fatalf("Keys within the limit: %v", err)
	}
	if clientkeys.DefaultMaxBodySize != 64<<10 {
		t.Errorf("DefaultMaxBodySize = %d", clientkeys.DefaultMaxBodySize)
	}
}

func TestCacheTimeout(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := newJWKSServer(t, true, jwksJSON(t, jwk("P-256", "k1")))
	release := s.hold()
	t.Cleanup(release) // before the server's Close, which waits for handlers
	c := newCache(t, clock, s, func(cfg *clientkeys.CacheConfig) { cfg.Timeout = 50 * time.Millisecond })
	_, err := c.Keys(context.Background(), s.url(), false)
	if !errors.Is(err, clientkeys.ErrKeysUnavailable) {
		t.Fatalf("Keys from a server that never answers = %v, want ErrKeysUnavailable", err)
	}
}

func TestCacheDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := newJWKSServer(t, true, jwksJSON(t, jwk("P-256", "k1")))
	c := newCache(t, clock, s)
	moved := s.srv.URL + "/moved"
	_, err := c.Keys(context.Background(), moved, false)
	if !errors.Is(err, clientkeys.ErrKeysUnavailable) || !strings.Contains(err.Error(), "redirects are not followed") {
		t.Fatalf("Keys(%s) = %v, want a refused redirect", moved, err)
	}
	wantHits(t, s, 0, "the redirect target")
}

func TestCacheHonoursMaxAge(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name         string
		cacheControl string
		lifetime     time.Duration // keys are fetched again at this age, not before
	}{
		{"max-age", "public, max-age=600", 10 * time.Minute},
		{"quoted max-age", `max-age="600"`, 10 * time.Minute},
		{"smallest of two", "max-age=900, max-age=600", 10 * time.Minute},
		{"none: the default", "", clientkeys.DefaultLifetime},
		{"below the floor", "max-age=5", clientkeys.DefaultMinLifetime},
		{"no-cache: the floor", "no-cache", clientkeys.DefaultMinLifetime},
		{"above the ceiling", "max-age=99999999", clientkeys.DefaultMaxLifetime},
		{"absurdly large", "max-age=99999999999999999999", clientkeys.DefaultMaxLifetime},
		{"invalid: the floor", "max-age=soon", clientkeys.DefaultMinLifetime},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			s := newJWKSServer(t, true, jwksJSON(t, jwk("P-256", "k1")))
			s.set(jwksJSON(t, jwk("P-256", "k1")), http.StatusOK, c.cacheControl)
			cache := newCache(t, clock, s)
			ctx := context.Background()
			keys := func() {
				t.Helper()
				if _, err := cache.Keys(ctx, s.url(), false); err != nil {
					t.Fatal(err)
				}
			}
			keys()
			clock.advance(c.lifetime - time.Second)
			keys()
			wantHits(t, s, 1, "just before the lifetime ends")
			clock.advance(time.Second)
			keys()
			wantHits(t, s, 2, "when the lifetime ends")
		})
	}
}

// A clock stepped backwards makes the keys stale rather than pinning them.
func TestCacheClockStepsBack(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := newJWKSServer(t, true, jwksJSON(t, jwk("P-256", "k1")))
	cache := newCache(t, clock, s)
	if _, err := cache.Keys(context.Background(), s.url(), false); err != nil {
		t.Fatal(err)
	}
	clock.advance(-24 * time.Hour)
	if _, err := cache.Keys(context.Background(), s.url(), false); err != nil {
		t.Fatal(err)
	}
	wantHits(t, s, 2, "after the clock stepped back")
}

// waitForWaiters polls until n callers wait on a fetch of uri: the moment
// the test lets the server answer. A caller that finished before that did
// not wait for the shared fetch. Not a timed assertion: the test times out
// only if the callers never get there.
func waitForWaiters(t *testing.T, c *clientkeys.Cache, uri string, n int, finished *atomic.Int32) {
	t.Helper()
	for c.Waiting(uri) < n {
		if finished.Load() > 0 {
			t.Fatalf("a caller returned before the key server answered: it did not wait for the fetch in flight")
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

func TestCacheConcurrentMissesShareOneFetch(t *testing.T) {
	t.Parallel()
	const n = 20
	ctx := context.Background()

	t.Run("first fetch", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		s := newJWKSServer(t, true, jwksJSON(t, jwk("P-256", "k1")))
		c := newCache(t, clock, s)
		release := s.hold()
		errs := make(chan error, n)
		var finished atomic.Int32
		for range n {
			go func() {
				defer finished.Add(1)
				set, err := c.Keys(ctx, s.url(), false)
				if err == nil && set.Len() != 1 {
					err = fmt.Errorf("%d keys", set.Len())
				}
				errs <- err
			}()
		}
		waitForWaiters(t, c, s.url(), n, &finished)
		release()
		for range n {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		wantHits(t, s, 1, fmt.Sprintf("%d concurrent first uses", n))
	})

	t.Run("unknown kid", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		s := newJWKSServer(t, true, jwksJSON(t, jwk("P-256", "k1")))
		c := newCache(t, clock, s)
		v := newVerifier(t, clock)
		if _, err := c.Keys(ctx, s.url(), false); err != nil {
			t.Fatal(err)
		}
		s.set(jwksJSON(t, jwk("P-256", "k1"), jwk("P-256b", "k2")), http.StatusOK, "")
		release := s.hold()
		errs := make(chan error, n)
		var finished atomic.Int32
		for range n {
			assertion := sign(t, jwtSpec{key: "P-256b", alg: "ES256", kid: "k2"}, assertionClaims(clock))
			go func() {
				defer finished.Add(1)
				_, err := v.VerifyAssertion(ctx, assertion, testClientID, c.Source(s.url()), testAudiences, clientkeys.AssertionPolicy{})
				errs <- err
			}()
		}
		waitForWaiters(t, c, s.url(), n, &finished)
		release()
		for range n {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		wantHits(t, s, 2, fmt.Sprintf("first use and %d concurrent new kids", n))
	})
}

func TestCacheFailedRefreshKeepsOldKeys(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := newJWKSServer(t, true, jwksJSON(t, jwk("P-256", "k1")))
	c := newCache(t, clock, s)
	v := newVerifier(t, clock)
	src := c.Source(s.url())
	if err := verifyWith(t, v, clock, src, "P-256", "k1"); err != nil {
		t.Fatal(err)
	}
	s.set([]byte("oops"), http.StatusInternalServerError, "")

	// Stale keys, failing server: the old keys still verify.
	clock.advance(clientkeys.DefaultLifetime)
	if err := verifyWith(t, v, clock, src, "P-256", "k1"); err != nil {
		t.Fatalf("after a failed refresh: %v", err)
	}
	wantHits(t, s, 2, "the failed refresh")
	// A failing server is not asked again within the interval, whether
	// for staleness or for an unknown kid.
	if err := verifyWith(t, v, clock, src, "P-256", "k1"); err != nil {
		t.Fatal(err)
	}
	_ = verifyWith(t, v, clock, src, "P-256", "unknown")
	wantHits(t, s, 2, "within the interval after a failure")

	// A document that is not a usable JWK Set is a failure too.
	clock.advance(clientkeys.DefaultRefetchInterval)
	s.set([]byte(`{"keys":[]}`), http.StatusOK, "")
	if err := verifyWith(t, v, clock, src, "P-256", "k1"); err != nil {
		t.Fatalf("after an empty JWK Set: %v", err)
	}
	wantHits(t, s, 3, "the retry after the interval")

	// Once the server is back, the new keys replace the old.
	clock.advance(clientkeys.DefaultRefetchInterval)
	s.set(jwksJSON(t, jwk("P-256b", "k2")), http.StatusOK, "")
	if err := verifyWith(t, v, clock, src, "P-256b", "k2"); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	err := verifyWith(t, v, clock, src, "P-256", "k1")
	wantRefusal(t, err, clientkeys.CodeInvalidClient, `names kid "k1"`, clientkeys.ErrUnknownKey)
}

// A first fetch that fails is not retried within the interval either: a
// stream of assertions naming a client whose key server is down must not
// become a stream of requests to it.
func TestCacheFailedFirstFetchBacksOff(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := newJWKSServer(t, true, nil)
	s.set([]byte("no"), http.StatusNotFound, "")
	c := newCache(t, clock, s)
	v := newVerifier(t, clock)
	for range 3 {
		err := verifyWith(t, v, clock, c.Source(s.url()), "P-256", "k1")
		wantRefusal(t, err, clientkeys.CodeInvalidClient, "keys are unavailable", clientkeys.ErrKeysUnavailable)
	}
	wantHits(t, s, 1, "three assertions while the server fails")
	clock.advance(clientkeys.DefaultRefetchInterval)
	s.set(jwksJSON(t, jwk("P-256", "k1")), http.StatusOK, "")
	if err := verifyWith(t, v, clock, c.Source(s.url()), "P-256", "k1"); err != nil {
		t.Fatalf("after the interval: %v", err)
	}
	wantHits(t, s, 2, "after the interval")
}

// A private key in a jwks_uri document refuses the whole document: whoever
// read it can sign as the client. Keys not meant for signatures are
// skipped, and a JWS naming one is told why.
func TestCacheRemoteDocumentRules(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	ctx := context.Background()
	enc := rawKey(t, jwk("P-384", "enc-key"))
	enc["use"] = "enc"
	s := newJWKSServer(t, true, setOf(t, jwk("P-256", "k1"), enc, jwk("RSA-1024", "weak")))
	c := newCache(t, clock, s)
	set, err := c.Keys(ctx, s.url(), false)
	if err != nil || set.Len() != 1 {
		t.Fatalf("Keys = %v, %v; want the one signing key", set, err)
	}
	v := newVerifier(t, clock)
	assertion := sign(t, jwtSpec{key: "RSA-1024", alg: "RS256", kid: "weak"}, assertionClaims(clock))
	_, err = v.VerifyAssertion(ctx, assertion, testClientID, c.Source(s.url()), testAudiences, clientkeys.AssertionPolicy{})
	wantRefusal(t, err, clientkeys.CodeInvalidClient, "is ignored: it is an RSA key of 1024 bits", clientkeys.ErrUnknownKey)

	leaky := newJWKSServer(t, true, setOf(t, jwk("P-256", "k1"), rawKey(t, jwkPrivate("P-256b", "k2"))))
	_, err = newCache(t, clock, leaky).Keys(ctx, leaky.url(), false)
	if !errors.Is(err, clientkeys.ErrKeysUnavailable) || !strings.Contains(err.Error(), "holds a private key") {
		t.Fatalf("Keys of a document with a private key = %v", err)
	}
}

func jwkPrivate(name, kid string) jose.JSONWebKey {
	return jose.JSONWebKey{Key: testKeys()[name], KeyID: kid}
}

func TestCacheIsBounded(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := newJWKSServer(t, true, jwksJSON(t, jwk("P-256", "k1")))
	c := newCache(t, clock, s, func(cfg *clientkeys.CacheConfig) { cfg.MaxURIs = 2 })
	ctx := context.Background()
	uri := func(i int) string { return fmt.Sprintf("%s?client=%d", s.url(), i) }
	for i := range 3 {
		if _, err := c.Keys(ctx, uri(i), false); err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() != 2 {
		t.Fatalf("Len = %d, want 2", c.Len())
	}
	wantHits(t, s, 3, "three URIs")
	// uri(0) was the least recently used: it is fetched again; uri(2) is
	// still cached.
	for _, i := range []int{2, 0} {
		if _, err := c.Keys(ctx, uri(i), false); err != nil {
			t.Fatal(err)
		}
	}
	wantHits(t, s, 4, "the evicted URI used again")
	c.Forget(uri(0))
	if c.Len() != 1 {
		t.Fatalf("Len after Forget = %d, want 1", c.Len())
	}
}

func TestCacheResolve(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := newJWKSServer(t, true, jwksJSON(t, jwk("P-256", "k1")))
	c := newCache(t, clock, s)
	v := newVerifier(t, clock)
	inline, err := c.Resolve(jwksJSON(t, jwk("P-256", "k1")), "")
	if err != nil {
		t.Fatal(err)
	}
	remote, err := c.Resolve(nil, s.url())
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []clientkeys.KeySource{inline, remote} {
		if err := verifyWith(t, v, clock, src, "P-256", "k1"); err != nil {
			t.Errorf("VerifyAssertion: %v", err)
		}
	}
	if _, err := c.Resolve(nil, ""); err == nil {
		t.Error("Resolve without keys accepted")
	}
}

func TestNewCacheRefusesNonsense(t *testing.T) {
	t.Parallel()
	for _, cfg := range []clientkeys.CacheConfig{
		{Timeout: -1},
		{MaxBodySize: -1},
		{MinLifetime: 2 * time.Hour, MaxLifetime: time.Hour},
	} {
		if _, err := clientkeys.NewCache(cfg); !errors.Is(err, clientkeys.ErrInvalidConfig) {
			t.Errorf("NewCache(%+v) = %v, want ErrInvalidConfig", cfg, err)
		}
	}
}

// The caller's http.Client is not changed: its redirect policy and timeout
// are its own.
func TestNewCacheCopiesTheClient(t *testing.T) {
	t.Parallel()
	hc := &http.Client{}
	if _, err := clientkeys.NewCache(clientkeys.CacheConfig{HTTPClient: hc}); err != nil {
		t.Fatal(err)
	}
	if hc.CheckRedirect != nil || hc.Timeout != 0 {
		t.Error("NewCache changed the caller's http.Client")
	}
}
