package resource

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const (
	// maxDocumentSize bounds discovery and JWKS bodies: real ones are a few
	// KiB, and a misbehaving provider must not make us buffer gigabytes.
	maxDocumentSize = 1 << 20
	// fetchTimeout bounds one shared JWKS fetch even when the HTTPClient has
	// no timeout, since the fetch outlives the request that started it.
	fetchTimeout = 30 * time.Second
	// minRSABits: smaller RSA keys in a JWKS are ignored.
	minRSABits = 2048
)

// errRefetchLimited is returned by refresh when the rate limit refused a fetch.
var errRefetchLimited = errors.New("JWKS refetch skipped: rate limited")

// keySnapshot is an immutable view of the provider's keys. It is replaced as
// a whole, never modified, so readers need no lock.
type keySnapshot struct {
	byKID map[string][]publicKey
	// fetchedAt is when the request that fetched (or, on a 304,
	// revalidated) the keys was sent. The provider computes max-age when it
	// answers, which is no earlier, so counting from here never lets the
	// cache outlive what the provider allowed.
	fetchedAt time.Time
	// lifetime is how long after fetchedAt the keys are fresh: the JWKS
	// response's max-age, at most KeyMaxAge, minus its Age. Zero means
	// "refresh on the next verification".
	lifetime time.Duration
	// etag is the JWKS response's ETag, sent back in If-None-Match so that
	// an unchanged key set costs a 304 instead of a download and a parse.
	etag string
}

// publicKey is one usable verification key from the JWKS.
type publicKey struct {
	alg string // the JWK "alg", empty when the JWK does not pin one
	key any    // *ecdsa.PublicKey, *rsa.PublicKey or ed25519.PublicKey
}

// fetchCall is one JWKS fetch that concurrent callers wait on together.
type fetchCall struct {
	done chan struct{}
	err  error // written before done is closed
}

// remoteKeySet caches the JWKS at jwksURI, as an HTTP cache would: for the
// freshness lifetime the provider's Cache-Control grants (capped by maxAge),
// then revalidating with If-None-Match. Unlike an HTTP cache it keeps using
// stale keys while a refresh runs or when it fails: refusing every token
// because the provider is briefly unreachable would turn its outage into
// ours, and a key it withdrew is dropped by the first refresh that succeeds.
type remoteKeySet struct {
	jwksURI     string
	client      *http.Client
	now         func() time.Time
	minInterval time.Duration
	maxAge      time.Duration // upper bound of a snapshot's lifetime
	log         *slog.Logger

	snap atomic.Pointer[keySnapshot]

	mu          sync.Mutex
	inflight    *fetchCall // guarded by mu
	lastRefetch time.Time  // guarded by mu; start of the last rate-limited fetch
}

// lookup returns the cached keys with this kid (the caller checks which can
// verify its alg, see usableFor) and whether the snapshot they come from is
// stale, that is due for a refresh.
func (s *remoteKeySet) lookup(kid string) (keys []publicKey, stale bool) {
	snap := s.snap.Load()
	return snap.byKID[kid], snap.stale(s.now())
}

// stale reports whether the snapshot's freshness lifetime is over at now.
// As in RFC 9111 §4.2 a response is fresh only while its age is below its
// lifetime, so a lifetime of 0 is stale at once. A negative age means the
// clock stepped backwards; the snapshot counts as stale then, or a clock
// set back by a day would pin the keys for a day more.
func (snap *keySnapshot) stale(now time.Time) bool {
	age := now.Sub(snap.fetchedAt)
	return age < 0 || age >= snap.lifetime
}

// refresh fetches the JWKS again unless a fetch happened less than
// minInterval ago, and waits for the result. Concurrent callers share one
// fetch. On failure the cached keys stay in place.
func (s *remoteKeySet) refresh(ctx context.Context) error {
	call, err := s.startRefresh(ctx)
	if err != nil {
		return err
	}
	select {
	case <-call.done:
		return call.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startRefresh joins the fetch in flight or starts one if the rate limit
// allows it.
func (s *remoteKeySet) startRefresh(ctx context.Context) (*fetchCall, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight != nil {
		return s.inflight, nil
	}
	now := s.now()
	// A clock that stepped backwards (elapsed < 0) must not block refetches
	// until it catches up again.
	if elapsed := now.Sub(s.lastRefetch); !s.lastRefetch.IsZero() && elapsed >= 0 && elapsed < s.minInterval {
		return nil, errRefetchLimited
	}
	s.lastRefetch = now
	call := &fetchCall{done: make(chan struct{})}
	s.inflight = call
	// The fetch is shared, so it must not die with the request that happened
	// to start it; fetchTimeout bounds it instead.
	go s.runFetch(context.WithoutCancel(ctx), call)
	return call, nil
}

func (s *remoteKeySet) runFetch(ctx context.Context, call *fetchCall) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	snap, err := s.fetch(ctx, s.snap.Load())
	if err != nil {
		s.log.WarnContext(ctx, "resource: JWKS refetch failed, keeping cached keys", "jwks_uri", s.jwksURI, "err", err)
	} else {
		s.snap.Store(snap)
	}
	call.err = err
	s.mu.Lock()
	s.inflight = nil
	s.mu.Unlock()
	close(call.done)
}

// fetch downloads and parses the JWKS. prev is the snapshot in use, nil at
// start-up: its ETag is sent in If-None-Match, and a 304 answer yields its
// keys again with renewed freshness (it was only run by runFetch, which is
// never concurrent with itself, so prev cannot be replaced meanwhile).
func (s *remoteKeySet) fetch(ctx context.Context, prev *keySnapshot) (*keySnapshot, error) {
	var hdr http.Header
	if prev != nil && prev.etag != "" {
		hdr = http.Header{"If-None-Match": {prev.etag}}
	}
	sent := s.now()
	resp, err := get(ctx, s.client, s.jwksURI, hdr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && hdr != nil:
		// RFC 9111 §4.3.4: the 304's own Cache-Control, when it has one,
		// replaces the stored one; otherwise the stored one still holds.
		return &keySnapshot{
			byKID:     prev.byKID,
			fetchedAt: sent,
			lifetime:  s.lifetime(resp.Header, prev.lifetime),
			etag:      prev.etag,
		}, nil
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("GET %s: status %s", s.jwksURI, resp.Status)
	}
	var doc struct {
		// Each key is decoded on its own so that one key of a type we do not
		// know does not make the whole set unusable.
		Keys []json.RawMessage `json:"keys"`
	}
	if err := decodeJSON(s.jwksURI, resp, &doc); err != nil {
		return nil, err
	}
	snap := &keySnapshot{
		byKID:     make(map[string][]publicKey),
		fetchedAt: sent,
		lifetime:  s.lifetime(resp.Header, s.maxAge),
		etag:      resp.Header.Get("ETag"),
	}
	for i, raw := range doc.Keys {
		k, kid, err := parseJWK(raw)
		if err != nil {
			s.log.WarnContext(ctx, "resource: ignoring JWKS key", "jwks_uri", s.jwksURI, "index", i, "kid", kid, "reason", err)
			continue
		}
		snap.byKID[kid] = append(snap.byKID[kid], k)
	}
	if len(snap.byKID) == 0 {
		return nil, fmt.Errorf("JWKS at %s has no usable signing keys", s.jwksURI)
	}
	return snap, nil
}

// lifetime is the freshness lifetime of a JWKS response with header h:
// its max-age (or fallback when Cache-Control says nothing about freshness),
// capped at maxAge, less the Age an intermediate cache reports. The cap comes
// before the subtraction because maxAge bounds how old the keys may get,
// wherever they were cached.
func (s *remoteKeySet) lifetime(h http.Header, fallback time.Duration) time.Duration {
	life, ok := cacheControlLifetime(h)
	if !ok {
		life = fallback
	}
	return max(0, min(life, s.maxAge)-responseAge(h))
}

// parseJWK turns one JWKS entry into a verification key, refusing what a
// resource server must never trust: symmetric keys, private keys, keys for
// encryption and weak RSA keys.
func parseJWK(raw json.RawMessage) (publicKey, string, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return publicKey{}, "", err
	}
	if jwk.KeyID == "" {
		return publicKey{}, "", errors.New("no kid")
	}
	if jwk.Use != "" && jwk.Use != "sig" {
		return publicKey{}, jwk.KeyID, fmt.Errorf("use is %q, not sig", jwk.Use)
	}
	if !jwk.IsPublic() {
		return publicKey{}, jwk.KeyID, errors.New("not a public key (a published private or symmetric key cannot be trusted)")
	}
	switch k := jwk.Key.(type) {
	case *ecdsa.PublicKey, ed25519.PublicKey:
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return publicKey{}, jwk.KeyID, fmt.Errorf("RSA key of %d bits is below %d", k.N.BitLen(), minRSABits)
		}
	default:
		return publicKey{}, jwk.KeyID, fmt.Errorf("unsupported key type %T", jwk.Key)
	}
	if jwk.Algorithm != "" && !asymmetricAlgorithms[jwk.Algorithm] {
		return publicKey{}, jwk.KeyID, fmt.Errorf("alg %q is not an asymmetric signature algorithm", jwk.Algorithm)
	}
	return publicKey{alg: jwk.Algorithm, key: jwk.Key}, jwk.KeyID, nil
}

// usableFor reports whether k may verify a signature made with alg: the
// JWK's own alg, when present, must match, and the key type must be the one
// alg is defined for. go-jose would refuse a mismatch too; checking here
// keeps the decision in one readable place.
func (k publicKey) usableFor(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch key := k.key.(type) {
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return key.Curve == elliptic.P256()
		case "ES384":
			return key.Curve == elliptic.P384()
		case "ES512":
			return key.Curve == elliptic.P521()
		}
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// discoveryDocument is the part of OIDC discovery (RFC 8414) this package
// reads.
type discoveryDocument struct {
	Issuer                string `json:"issuer"`
	JWKSURI               string `json:"jwks_uri"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`

	wellKnown string // where it was read, for error messages
}

// fetchDiscovery reads the provider's discovery document and checks that it
// speaks for issuer.
func fetchDiscovery(ctx context.Context, client *http.Client, issuer string) (*discoveryDocument, error) {
	doc := &discoveryDocument{wellKnown: strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"}
	if err := getJSON(ctx, client, doc.wellKnown, doc); err != nil {
		return nil, err
	}
	// OIDC Discovery §4.3: a document claiming another issuer may be an
	// attempt to make us trust someone else's keys (or send our client
	// secret to someone else's introspection endpoint).
	if doc.Issuer != issuer {
		return nil, fmt.Errorf("discovery document at %s names issuer %q, expected %q", doc.wellKnown, doc.Issuer, issuer)
	}
	return doc, nil
}

// discover reads the provider's discovery document and returns its jwks_uri.
func discover(ctx context.Context, client *http.Client, issuer string) (string, error) {
	doc, err := fetchDiscovery(ctx, client, issuer)
	if err != nil {
		return "", err
	}
	if !isHTTPURL(doc.JWKSURI) {
		return "", fmt.Errorf("discovery document at %s has no valid jwks_uri (got %q)", doc.wellKnown, doc.JWKSURI)
	}
	return doc.JWKSURI, nil
}

// isHTTPURL reports whether s is an absolute http(s) URL.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// getJSON GETs url and decodes a JSON body of at most maxDocumentSize bytes.
func getJSON(ctx context.Context, client *http.Client, url string, dst any) error {
	resp, err := get(ctx, client, url, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %s", url, resp.Status)
	}
	return decodeJSON(url, resp, dst)
}

// get GETs url asking for JSON, with the extra request headers hdr. The
// caller closes the response body.
func get(ctx context.Context, client *http.Client, url string, hdr http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	return client.Do(req)
}

// decodeJSON decodes resp's body, of at most maxDocumentSize bytes, into dst.
func decodeJSON(url string, resp *http.Response, dst any) error {
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentSize+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if len(body) > maxDocumentSize {
		return fmt.Errorf("GET %s: body larger than %d bytes", url, maxDocumentSize)
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}
