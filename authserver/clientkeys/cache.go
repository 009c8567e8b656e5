package clientkeys

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Defaults applied by NewCache to zero-valued CacheConfig fields.
const (
	// DefaultFetchTimeout bounds one jwks_uri fetch, body included. A
	// client's key server that is slower than this is down for us; the
	// token request that waits on it must not hang.
	DefaultFetchTimeout = 5 * time.Second
	// DefaultMaxBodySize bounds a jwks_uri response. Real ones are a few
	// KiB; a misbehaving client must not make us buffer more.
	DefaultMaxBodySize = 64 << 10
	// DefaultMinLifetime, DefaultMaxLifetime and DefaultLifetime bound how
	// long fetched keys are used before they are fetched again: the
	// response's Cache-Control max-age, or DefaultLifetime without one,
	// clamped to [min, max]. The floor keeps a max-age=0 server from
	// turning every token request into a fetch; the ceiling keeps a
	// withdrawn key from being trusted for long.
	DefaultMinLifetime = time.Minute
	DefaultMaxLifetime = 24 * time.Hour
	DefaultLifetime    = time.Hour
	// DefaultRefetchInterval is how often, per URI, a JWS naming an unknown
	// kid (or a failed fetch) may cause another fetch. Anyone can send a
	// JWS with a forged kid; without the limit each would cost the client's
	// server a request.
	DefaultRefetchInterval = time.Minute
	// DefaultMaxURIs bounds the URIs cached; the least recently used go
	// first.
	DefaultMaxURIs = 1000
)

// CacheConfig configures a Cache. The zero value is usable.
type CacheConfig struct {
	// HTTPClient makes the requests, default a plain &http.Client{}. The
	// Cache uses a copy with Timeout set and redirects refused, so the
	// caller's client is not changed.
	HTTPClient *http.Client
	// Timeout bounds one fetch, default DefaultFetchTimeout.
	Timeout time.Duration
	// MaxBodySize bounds a response body, default DefaultMaxBodySize.
	MaxBodySize int64
	// MinLifetime, MaxLifetime and Lifetime bound the freshness of fetched
	// keys, defaults DefaultMinLifetime, DefaultMaxLifetime and
	// DefaultLifetime.
	MinLifetime, MaxLifetime, Lifetime time.Duration
	// RefetchInterval, default DefaultRefetchInterval, spaces the fetches
	// of one URI caused by unknown kids, and the retries after a failed
	// fetch.
	RefetchInterval time.Duration
	// MaxURIs bounds the URIs cached, default DefaultMaxURIs.
	MaxURIs int
	// Now is the clock, default time.Now.
	Now func() time.Time
	// Logger receives a warning for each failed fetch, default
	// slog.Default(). Only the URI and the error are logged.
	Logger *slog.Logger
}

// Cache holds the key sets of clients' jwks_uri, as an HTTP cache would
// (for the lifetime Cache-Control grants, within bounds), but keeping the
// last good keys when a fetch fails: refusing every assertion of a client
// whose key server hiccups would turn its outage into a longer one. It is
// safe for concurrent use.
type Cache struct {
	client          *http.Client
	timeout         time.Duration
	maxBody         int64
	minLife         time.Duration
	maxLife         time.Duration
	defaultLife     time.Duration
	refetchInterval time.Duration
	maxURIs         int
	now             func() time.Time
	log             *slog.Logger

	mu      sync.Mutex
	entries map[string]*list.Element // guarded by mu; values are *cacheEntry
	lru     *list.List               // guarded by mu; front is most recently used
}

// cacheEntry is the state of one URI. Every field is guarded by Cache.mu.
type cacheEntry struct {
	uri       string
	set       *KeySet // the last good keys; nil before the first success
	fetchedAt time.Time
	lifetime  time.Duration
	// lastAttempt and lastErr are those of the last fetch that ended.
	lastAttempt time.Time
	lastErr     error
	// lastRefetch is when the last fetch caused by refresh started.
	lastRefetch time.Time
	inflight    *fetchCall
	// waiting counts the callers blocked on a fetch of this URI, for
	// tests that must know every caller is there before the server
	// answers.
	waiting int
}

// fetchCall is one fetch that concurrent callers wait on together.
type fetchCall struct {
	done chan struct{}
	set  *KeySet // written before done is closed: the entry's keys after the fetch
	err  error   // written before done is closed: the fetch's error
}

// NewCache validates cfg and returns a Cache. Its errors wrap
// ErrInvalidConfig.
func NewCache(cfg CacheConfig) (*Cache, error) {
	var problems []string
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Timeout", cfg.Timeout}, {"MinLifetime", cfg.MinLifetime}, {"MaxLifetime", cfg.MaxLifetime}, {"Lifetime", cfg.Lifetime}, {"RefetchInterval", cfg.RefetchInterval}} {
		if d.v < 0 {
			problems = append(problems, d.name+" must not be negative")
		}
	}
	if cfg.MaxBodySize < 0 || cfg.MaxURIs < 0 {
		problems = append(problems, "MaxBodySize and MaxURIs must not be negative")
	}
	c := &Cache{
		timeout:         orDefault(cfg.Timeout, DefaultFetchTimeout),
		maxBody:         orDefault(cfg.MaxBodySize, DefaultMaxBodySize),
		minLife:         orDefault(cfg.MinLifetime, DefaultMinLifetime),
		maxLife:         orDefault(cfg.MaxLifetime, DefaultMaxLifetime),
		defaultLife:     orDefault(cfg.Lifetime, DefaultLifetime),
		refetchInterval: orDefault(cfg.RefetchInterval, DefaultRefetchInterval),
		maxURIs:         orDefault(cfg.MaxURIs, DefaultMaxURIs),
		now:             cfg.Now,
		log:             cfg.Logger,
		entries:         map[string]*list.Element{},
		lru:             list.New(),
	}
	if c.minLife > c.maxLife {
		problems = append(problems, fmt.Sprintf("MinLifetime (%s) must not exceed MaxLifetime (%s)", c.minLife, c.maxLife))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(problems, "; "))
	}
	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		copied := *cfg.HTTPClient
		hc = &copied
	}
	hc.Timeout = c.timeout
	// A redirect would let whoever controls the first URL (or a proxy on
	// the way) send us to keys the client never registered.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.client = hc
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	return c, nil
}

func orDefault[T int | int64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Source returns the KeySource of the client whose jwks_uri is uri. It is
// cheap: keep it or make it per request.
func (c *Cache) Source(uri string) KeySource { return remoteSource{c, uri} }

// Resolve returns the KeySource of a client from its metadata: its jwks
// when set (parsed strictly), else its jwks_uri. Parse errors are
// *KeySetError; the caller answers them as the client's problem.
func (c *Cache) Resolve(jwks []byte, jwksURI string) (KeySource, error) {
	if err := ValidateClientKeys(jwks, jwksURI, true); err != nil {
		return nil, err
	}
	if jwksURI != "" {
		return c.Source(jwksURI), nil
	}
	return ParseKeySet(jwks)
}

type remoteSource struct {
	c   *Cache
	uri string
}

func (s remoteSource) Keys(ctx context.Context, refresh bool) (*KeySet, error) {
	return s.c.Keys(ctx, s.uri, refresh)
}

// Keys returns the keys at uri, fetching them when none are cached, when
// the cached ones are stale, or when refresh asks for it and the last
// refresh of uri is at least RefetchInterval ago. After a failed fetch no
// other is tried for RefetchInterval; meanwhile the last good keys, or the
// failure, are the answer. Concurrent callers needing a fetch share one.
func (c *Cache) Keys(ctx context.Context, uri string, refresh bool) (*KeySet, error) {
	if err := ValidateJWKSURI(uri); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeysUnavailable, err)
	}
	c.mu.Lock()
	e := c.entryLocked(uri)
	call := e.inflight
	if call == nil {
		now := c.now()
		if !c.needsFetch(e, now, refresh) {
			set, err := e.set, e.lastErr
			c.mu.Unlock()
			return answer(uri, set, err)
		}
		call = c.startFetchLocked(ctx, e, now, refresh)
	} else if !refresh && e.set != nil && !c.stale(e, c.now()) {
		set := e.set // fresh enough: no need to wait for the fetch
		c.mu.Unlock()
		return set, nil
	}
	e.waiting++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		e.waiting--
		c.mu.Unlock()
	}()
	select {
	case <-call.done:
		return answer(uri, call.set, call.err)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// answer is what Keys returns: the last good keys when there are any,
// whatever the last fetch did, else the fetch's failure.
func answer(uri string, set *KeySet, err error) (*KeySet, error) {
	if set != nil {
		return set, nil
	}
	if err == nil {
		err = errors.New("no fetch has finished yet")
	}
	return nil, fmt.Errorf("%w: the client's jwks_uri %s: %v", ErrKeysUnavailable, uri, err)
}

// entryLocked returns uri's entry, made most recently used, creating it
// and evicting the least recently used when full.
func (c *Cache) entryLocked(uri string) *cacheEntry {
	if el, ok := c.entries[uri]; ok {
		c.lru.MoveToFront(el)
		return el.Value.(*cacheEntry)
	}
	e := &cacheEntry{uri: uri}
	c.entries[uri] = c.lru.PushFront(e)
	for c.lru.Len() > c.maxURIs {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.entries, old.Value.(*cacheEntry).uri)
	}
	return e
}

// needsFetch decides whether a caller must fetch e now.
func (c *Cache) needsFetch(e *cacheEntry, now time.Time, refresh bool) bool {
	if e.lastErr != nil && within(now, e.lastAttempt, c.refetchInterval) {
		return false // back off from a failing server
	}
	switch {
	case e.set == nil, c.stale(e, now):
		return true
	case refresh:
		return e.lastRefetch.IsZero() || !within(now, e.lastRefetch, c.refetchInterval)
	}
	return false
}

// stale reports whether e's keys are past their lifetime. A clock that
// stepped backwards makes them stale, or a clock set back by a day would
// pin them for a day more.
func (c *Cache) stale(e *cacheEntry, now time.Time) bool {
	age := now.Sub(e.fetchedAt)
	return age < 0 || age >= e.lifetime
}

// within reports whether now is less than d after t; a clock that stepped
// backwards counts as not within, so it cannot block fetches until it
// catches up.
func within(now, t time.Time, d time.Duration) bool {
	elapsed := now.Sub(t)
	return elapsed >= 0 && elapsed < d
}

func (c *Cache) startFetchLocked(ctx context.Context, e *cacheEntry, now time.Time, refresh bool) *fetchCall {
	call := &fetchCall{done: make(chan struct{})}
	e.inflight = call
	if refresh && e.set != nil && !c.stale(e, now) {
		e.lastRefetch = now
	}
	// The fetch is shared, so it must not end with the request that
	// happened to start it; the timeout bounds it instead.
	go c.runFetch(context.WithoutCancel(ctx), e, call)
	return call
}

func (c *Cache) runFetch(ctx context.Context, e *cacheEntry, call *fetchCall) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	sent := c.now()
	set, life, err := c.fetch(ctx, e.uri)
	if err != nil {
		c.log.WarnContext(ctx, "clientkeys: jwks_uri fetch failed; keeping the last good keys if any", slog.String("jwks_uri", e.uri), slog.String("err", err.Error()))
	}
	c.mu.Lock()
	e.lastAttempt, e.lastErr = sent, err
	if err == nil {
		e.set, e.fetchedAt, e.lifetime = set, sent, life
	}
	e.inflight = nil
	call.set, call.err = e.set, err
	c.mu.Unlock()
	close(call.done)
}

// fetch GETs uri and parses its JWK Set. The lifetime counts from when the
// request was sent: the server computed max-age no earlier.
func (c *Cache) fetch(ctx context.Context, uri string) (*KeySet, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("GET: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode/100 == 3 {
			return nil, 0, fmt.Errorf("answered %s; redirects are not followed: register the final URL as jwks_uri", resp.Status)
		}
		return nil, 0, fmt.Errorf("answered %s, not 200 OK", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, 0, fmt.Errorf("reading the body: %w", err)
	}
	if int64(len(body)) > c.maxBody {
		return nil, 0, fmt.Errorf("the body is larger than %d bytes", c.maxBody)
	}
	set, err := parseKeySet(body, "the JWK Set", false)
	if err != nil {
		return nil, 0, err
	}
	return set, c.lifetime(resp.Header), nil
}

// lifetime is how long keys from a response with header h stay fresh: its
// smallest max-age (0 for no-cache or no-store), or the default without
// one, less its Age, clamped to the configured bounds.
func (c *Cache) lifetime(h http.Header) time.Duration {
	life, ok := maxAge(h)
	if !ok {
		life = c.defaultLife
	}
	life -= headerSeconds(h.Get("Age"))
	return min(max(life, c.minLife), c.maxLife)
}

// maxAge reads the freshness Cache-Control grants (RFC 9111 §5.2.2).
// Errs towards short: no-store and no-cache mean 0, several max-age the
// smallest, an unreadable max-age 0. Quoted commas are not honoured: the
// worst they can cause is a shorter lifetime.
func maxAge(h http.Header) (time.Duration, bool) {
	var life time.Duration
	found := false
	for _, v := range h.Values("Cache-Control") {
		for _, d := range strings.Split(v, ",") {
			name, arg, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-store", "no-cache":
				return 0, true
			case "max-age":
				secs := headerSeconds(strings.Trim(strings.TrimSpace(arg), `"`))
				if !found || secs < life {
					life = secs
				}
				found = true
			}
		}
	}
	return life, found
}

// headerSeconds parses delta-seconds (digits only): 0 when invalid, and
// far beyond any lifetime bound when too long to parse (RFC 9111 §1.2.2).
func headerSeconds(s string) time.Duration {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0
	}
	if len(s) > 9 {
		return 1 << 62
	}
	var n int64
	for _, r := range s {
		n = n*10 + int64(r-'0')
	}
	return time.Duration(n) * time.Second
}

// Forget drops uri from the cache, so the next use fetches it: for a
// client whose jwks_uri changed or was deleted.
func (c *Cache) Forget(uri string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[uri]; ok {
		c.lru.Remove(el)
		delete(c.entries, uri)
	}
}

// Len is the number of URIs cached.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
