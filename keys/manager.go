package keys

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// ErrNotLoaded is returned by Sign before the first successful Load.
var ErrNotLoaded = errors.New("keys: signing keys not loaded yet")

// Options tunes a Manager.
type Options struct {
	// Now is the clock; nil means time.Now. Every date the Manager writes
	// or compares comes from it, so tests can run years of rotations
	// without sleeping.
	Now func() time.Time
	// RSABits is the modulus size of the RS256 keys the Manager creates:
	// DefaultRSABits (2048) when zero, or 3072. It applies to new keys
	// only: a change takes effect at the next rotation, so that changing
	// it never forces an unannounced key onto relying parties.
	RSABits int
	// Schedule drives Tick and Advance. Load, Sign and JWKS do not depend
	// on it, so a Manager that never rotates may leave it zero.
	Schedule Schedule
}

// Manager is the live set of signing keys. Sign, JWKS, ETag, PublicKeys,
// Keys, NextChange and Algorithms are safe for concurrent use and take no
// lock: they read an immutable snapshot through an atomic pointer, which
// Load (and Tick and Advance, which end with a Load) replaces.
type Manager struct {
	store   Store
	kek     []byte
	algs    []string
	now     func() time.Time
	rsaBits int
	sched   Schedule // with defaults filled in
	// cfgErr reports a bad configuration (algorithm, KEK, RSA size); Load,
	// Tick and Advance return it.
	cfgErr error
	// schedErr reports an unusable Schedule; only Tick and Advance return
	// it, so that a server that does not rotate can still serve.
	schedErr error

	mu   sync.Mutex // serialises Load, Tick and Advance within this process
	snap atomic.Pointer[snapshot]
}

// snapshot is one immutable view of the key set.
type snapshot struct {
	// active maps each configured algorithm to the key that signs for it.
	active map[string]*signingKey
	// opened holds every published key by kid, so that the next Load need
	// not decrypt and parse it again.
	opened map[string]openedKey
	// recs are the published records in store order, without their key
	// material: Keys and NextChange read them without touching the store.
	recs []Record
	pub  []jose.JSONWebKey
	jwks []byte
	etag string
}

type openedKey struct {
	sealed []byte
	key    *signingKey
}

// NewManager returns a Manager over store whose keys are sealed with kek
// (32 bytes) and which keeps one active key for each algorithm in algs
// (ES256, RS256, EdDSA; duplicates are ignored, order is kept). It does no
// I/O: call Load before use.
func NewManager(store Store, kek []byte, algs []string, opts Options) *Manager {
	m := &Manager{
		store:    store,
		kek:      slices.Clone(kek),
		now:      opts.Now,
		rsaBits:  opts.RSABits,
		sched:    opts.Schedule.withDefaults(),
		schedErr: opts.Schedule.Validate(),
	}
	if m.now == nil {
		m.now = time.Now
	}
	switch m.rsaBits {
	case 0:
		m.rsaBits = DefaultRSABits
	case 2048, 3072:
	default:
		m.cfgErr = fmt.Errorf("keys: RSA key size %d is not supported (want 2048 or 3072)", opts.RSABits)
	}
	for _, alg := range algs {
		if slices.Contains(m.algs, alg) {
			continue
		}
		switch alg {
		case ES256, RS256, EdDSA:
		default:
			m.cfgErr = errors.Join(m.cfgErr, fmt.Errorf("keys: unsupported algorithm %q (want ES256, RS256 or EdDSA)", alg))
		}
		m.algs = append(m.algs, alg)
	}
	if len(m.algs) == 0 {
		m.cfgErr = errors.Join(m.cfgErr, errors.New("keys: no signing algorithm configured"))
	}
	if len(kek) != KEKSize {
		m.cfgErr = errors.Join(m.cfgErr, fmt.Errorf("keys: key-encryption key must be %d bytes, got %d", KEKSize, len(kek)))
	}
	return m
}

// Load reads every key from the store and makes it the live set. For each
// configured algorithm that has no active key it first generates one, seals
// it and inserts it as active. A running server calls Load periodically to
// pick up rotations made by other processes; keys already opened by an
// earlier Load are not decrypted again, and when nothing changed the JWKS
// and ETag stay the same objects.
//
// If several keys of one algorithm are active (two processes created one at
// the same time), the newest (by CreatedAt, then kid) signs and all are
// published. Retired keys are published until their ExpiresAt.
//
// On error the previous snapshot stays in use. A key that does not open with
// the key-encryption key is an error: the server must not run, and above all
// must not create new keys, with the wrong KEK.
func (m *Manager) Load(ctx context.Context) error {
	if m.cfgErr != nil {
		return m.cfgErr
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, err := m.loadLocked(ctx)
	return err
}

// missingActive reports whether some configured algorithm has no active key.
func missingActive(recs []Record, algs []string) bool {
	for _, alg := range algs {
		if !hasActive(recs, alg) {
			return true
		}
	}
	return false
}

// locked runs fn under the store's lock when the store offers one (see
// Locker), else directly.
func (m *Manager) locked(ctx context.Context, fn func(context.Context) error) error {
	if l, ok := m.store.(Locker); ok {
		return l.LockSigningKeys(ctx, fn)
	}
	return fn(ctx)
}

// loadLocked is Load with m.mu held. changed reports whether the live set
// (JWKS bytes or a signing key) differs from the previous snapshot.
func (m *Manager) loadLocked(ctx context.Context) (changed bool, err error) {
	now := m.now()
	cache := map[string]openedKey{}
	prev := m.snap.Load()
	if prev != nil {
		for id, o := range prev.opened {
			cache[id] = o
		}
	}

	recs, err := m.store.ListSigningKeys(ctx)
	if err != nil {
		return false, fmt.Errorf("keys: list signing keys: %w", err)
	}
	if err := validate(recs); err != nil {
		return false, err
	}
	created := false
	if missingActive(recs, m.algs) {
		err := m.locked(ctx, func(ctx context.Context) error {
			// Under the lock, look again: another replica may have just
			// created the keys, and then this one must use them.
			if recs, err = m.store.ListSigningKeys(ctx); err != nil {
				return fmt.Errorf("keys: list signing keys: %w", err)
			}
			for _, alg := range m.algs {
				if hasActive(recs, alg) {
					continue
				}
				o, err := m.create(ctx, alg, StateActive, now, now)
				if err != nil {
					return err
				}
				cache[o.key.kid] = o
				created = true
			}
			return nil
		})
		if err != nil {
			return false, err
		}
	}
	if created {
		// Read back what the store holds: another process may have
		// created keys at the same time, and all of them must be published.
		if recs, err = m.store.ListSigningKeys(ctx); err != nil {
			return false, fmt.Errorf("keys: list signing keys: %w", err)
		}
		if err := validate(recs); err != nil {
			return false, err
		}
	}

	next, err := m.build(recs, cache, now)
	if err != nil {
		return false, err
	}
	changed = prev == nil || !sameSnapshot(prev, next)
	if !changed {
		// Keep serving the very same bytes (handlers may compare or
		// cache them), but take the fresh opened-key cache and dates.
		next.pub, next.jwks, next.etag = prev.pub, prev.jwks, prev.etag
	}
	m.snap.Store(next)
	return changed, nil
}

func validate(recs []Record) error {
	for _, r := range recs {
		switch r.State {
		case StateNext, StateActive, StateRetired:
		default:
			return fmt.Errorf("keys: key %s has unknown state %q", r.ID, r.State)
		}
		switch r.Algorithm {
		case ES256, RS256, EdDSA:
		default:
			return fmt.Errorf("keys: key %s has unsupported algorithm %q", r.ID, r.Algorithm)
		}
	}
	return nil
}

func hasActive(recs []Record, alg string) bool {
	for _, r := range recs {
		if r.State == StateActive && r.Algorithm == alg {
			return true
		}
	}
	return false
}

// create generates, seals and inserts a new key for alg in the given state
// (active when Load fills a gap, next when Tick or Advance prepares a
// rotation).
func (m *Manager) create(ctx context.Context, alg string, state State, now, activatesAt time.Time) (openedKey, error) {
	signer, err := generate(alg, m.rsaBits)
	if err != nil {
		return openedKey{}, err
	}
	kid, err := KeyID(signer)
	if err != nil {
		return openedKey{}, err
	}
	key, err := newSigningKey(alg, kid, signer)
	if err != nil {
		return openedKey{}, err
	}
	sealed, err := Seal(m.kek, signer)
	if err != nil {
		return openedKey{}, err
	}
	rec := Record{
		ID:          kid,
		Algorithm:   alg,
		State:       state,
		PrivateKey:  sealed,
		CreatedAt:   now,
		ActivatesAt: activatesAt,
	}
	if err := m.store.InsertSigningKey(ctx, rec); err != nil {
		return openedKey{}, fmt.Errorf("keys: insert new %s %s key: %w", state, alg, err)
	}
	return openedKey{sealed: sealed, key: key}, nil
}

// published reports whether r belongs in the JWKS at now.
func published(r Record, now time.Time) bool {
	switch r.State {
	case StateNext, StateActive:
		return true
	case StateRetired:
		return r.ExpiresAt.IsZero() || now.Before(r.ExpiresAt)
	}
	return false
}

// newer reports whether a is newer than b for choosing the signing key.
func newer(a, b Record) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID > b.ID
}

func (m *Manager) build(recs []Record, cache map[string]openedKey, now time.Time) (*snapshot, error) {
	s := &snapshot{
		active: make(map[string]*signingKey, len(m.algs)),
		opened: make(map[string]openedKey, len(recs)),
	}
	var pubRecs []Record
	seen := make(map[string]bool, len(recs))
	for _, r := range recs {
		if !published(r, now) {
			continue
		}
		if seen[r.ID] {
			return nil, fmt.Errorf("keys: key id %s is stored twice", r.ID)
		}
		seen[r.ID] = true
		o, ok := cache[r.ID]
		if !ok || o.key.alg != r.Algorithm || !bytes.Equal(o.sealed, r.PrivateKey) {
			signer, err := Open(m.kek, r.PrivateKey)
			if err != nil {
				return nil, fmt.Errorf("keys: open key %s: %w", r.ID, err)
			}
			key, err := newSigningKey(r.Algorithm, r.ID, signer)
			if err != nil {
				return nil, fmt.Errorf("keys: key %s: %w", r.ID, err)
			}
			o = openedKey{sealed: r.PrivateKey, key: key}
		}
		s.opened[r.ID] = o
		pubRecs = append(pubRecs, r)
		r.PrivateKey = nil
		s.recs = append(s.recs, r)
	}

	// The signing key of each configured algorithm.
	signing := make(map[string]Record, len(m.algs))
	for _, r := range pubRecs {
		if r.State != StateActive || !slices.Contains(m.algs, r.Algorithm) {
			continue
		}
		if cur, ok := signing[r.Algorithm]; !ok || newer(r, cur) {
			signing[r.Algorithm] = r
		}
	}
	for _, alg := range m.algs {
		r, ok := signing[alg]
		if !ok {
			return nil, fmt.Errorf("keys: no active %s key in the store", alg)
		}
		s.active[alg] = s.opened[r.ID].key
	}

	// JWKS order: the signing keys in configured order, then the others
	// newest first, so that every process reading the same store serves
	// the same bytes and ETag.
	isSigning := func(r Record) bool { return signing[r.Algorithm].ID == r.ID }
	slices.SortStableFunc(pubRecs, func(a, b Record) int {
		sa, sb := isSigning(a), isSigning(b)
		switch {
		case sa && sb:
			return slices.Index(m.algs, a.Algorithm) - slices.Index(m.algs, b.Algorithm)
		case sa:
			return -1
		case sb:
			return 1
		case newer(a, b):
			return -1
		case newer(b, a):
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	s.pub = make([]jose.JSONWebKey, 0, len(pubRecs))
	for _, r := range pubRecs {
		k := s.opened[r.ID].key
		s.pub = append(s.pub, jose.JSONWebKey{
			Key:       k.signer.Public(),
			KeyID:     r.ID,
			Algorithm: r.Algorithm,
			Use:       "sig",
		})
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: s.pub})
	if err != nil {
		return nil, fmt.Errorf("keys: marshal JWKS: %w", err)
	}
	s.jwks = jwks
	sum := sha256.Sum256(jwks)
	s.etag = `"` + b64.EncodeToString(sum[:]) + `"`
	return s, nil
}

func sameSnapshot(a, b *snapshot) bool {
	if !bytes.Equal(a.jwks, b.jwks) || len(a.active) != len(b.active) {
		return false
	}
	for alg, k := range a.active {
		if bk, ok := b.active[alg]; !ok || bk.kid != k.kid {
			return false
		}
	}
	return true
}

// Sign returns the compact JWS of payload signed by the active key of alg,
// with "alg" and "kid" in its protected header followed by the members of
// header (such as "typ": "at+jwt"), which may be nil. header may not set
// "alg", "kid", "b64", "crit" or "jwk". An algorithm that is not configured is
// an error, and so is calling Sign before the first successful Load.
func (m *Manager) Sign(alg string, header map[jose.HeaderKey]interface{}, payload []byte) (string, error) {
	s := m.snap.Load()
	if s == nil {
		return "", ErrNotLoaded
	}
	k := s.active[alg]
	if k == nil {
		return "", fmt.Errorf("keys: signing algorithm %q is not configured", alg)
	}
	return k.sign(header, payload)
}

// JWKS returns the JSON Web Key Set {"keys":[...]} of the public halves of
// every published key (next, active, and retired until its ExpiresAt), each
// with kid, use "sig" and alg. The bytes are shared and must not be
// modified; they change only when Load finds a different key set. It is nil
// before the first successful Load.
func (m *Manager) JWKS() []byte {
	if s := m.snap.Load(); s != nil {
		return s.jwks
	}
	return nil
}

// ETag returns a quoted strong entity tag for the bytes JWKS returns, or ""
// before the first successful Load.
func (m *Manager) ETag() string {
	if s := m.snap.Load(); s != nil {
		return s.etag
	}
	return ""
}

// Algorithms returns the configured signing algorithms in configured order.
func (m *Manager) Algorithms() []string {
	return slices.Clone(m.algs)
}

// PublicKey returns the published public key with the given kid. It reads the
// snapshot without copying it, for verifiers on a hot path.
func (m *Manager) PublicKey(kid string) (jose.JSONWebKey, bool) {
	if s := m.snap.Load(); s != nil {
		for _, k := range s.pub {
			if k.KeyID == kid {
				return k, true
			}
		}
	}
	return jose.JSONWebKey{}, false
}

// PublicKeys returns the keys of JWKS, public halves only, in the same order.
func (m *Manager) PublicKeys() []jose.JSONWebKey {
	if s := m.snap.Load(); s != nil {
		return slices.Clone(s.pub)
	}
	return nil
}
