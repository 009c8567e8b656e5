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
	byKID     map[string][]publicKey
	fetchedAt time.Time
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

// remoteKeySet caches the JWKS at jwksURI.
type remoteKeySet struct {
	jwksURI     string
	client      *http.Client
	now         func() time.Time
	minInterval time.Duration
	maxAge      time.Duration
	log         *slog.Logger

	snap atomic.Pointer[keySnapshot]

	mu          sync.Mutex
	inflight    *fetchCall // guarded by mu
	lastRefetch time.Time  // guarded by mu; start of the last rate-limited fetch
}

// lookup returns the cached keys with this kid (the caller checks which can
// verify its alg, see usableFor) and whether the snapshot they come from is
// older than maxAge.
func (s *remoteKeySet) lookup(kid string) (keys []publicKey, stale bool) {
	snap := s.snap.Load()
	return snap.byKID[kid], s.now().Sub(snap.fetchedAt) > s.maxAge
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
	snap, err := s.fetch(ctx)
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

// fetch downloads and parses the JWKS.
func (s *remoteKeySet) fetch(ctx context.Context) (*keySnapshot, error) {
	var doc struct {
		// Each key is decoded on its own so that one key of a type we do not
		// know does not make the whole set unusable.
		Keys []json.RawMessage `json:"keys"`
	}
	if err := getJSON(ctx, s.client, s.jwksURI, &doc); err != nil {
		return nil, err
	}
	snap := &keySnapshot{byKID: make(map[string][]publicKey), fetchedAt: s.now()}
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %s", url, resp.Status)
	}
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
