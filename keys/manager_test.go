package keys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable clock for Options.Now.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }
func (c *clock) now() time.Time   { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) set(t time.Time)  { c.ns.Store(t.UnixNano()) }

func mustLoad(t testing.TB, m *Manager) {
	t.Helper()
	if err := m.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func kids(keys []jose.JSONWebKey) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.KeyID)
	}
	return out
}

// verify checks a compact JWS against a JWKS document the way a resource
// server would, and returns the payload and protected header.
func verify(t testing.TB, token string, jwks []byte) ([]byte, jose.Header) {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatalf("JWKS does not parse: %v", err)
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA})
	if err != nil {
		t.Fatalf("token does not parse: %v", err)
	}
	if len(jws.Signatures) != 1 {
		t.Fatalf("%d signatures", len(jws.Signatures))
	}
	h := jws.Signatures[0].Protected
	found := set.Key(h.KeyID)
	if len(found) != 1 {
		t.Fatalf("kid %q: %d keys in JWKS", h.KeyID, len(found))
	}
	if found[0].Algorithm != h.Algorithm {
		t.Fatalf("token alg %s, JWKS key alg %s", h.Algorithm, found[0].Algorithm)
	}
	payload, err := jws.Verify(found[0])
	if err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
	return payload, h
}

const samplePayload = `{"iss":"https://auth.example.com","sub":"248289761001","aud":["https://api.example.com"],"client_id":"s6BhdRkqt3","exp":1767225600,"iat":1767222000,"nbf":1767222000,"jti":"2c5f3b0e-8d7a-4b2f-9e61-0f4f7c3a9d12","scope":"openid profile email offline_access api:read api:write","auth_time":1767221990,"acr":"urn:mace:incommon:iap:silver"}`

func TestLoadCreatesOnceAndSecondManagerReuses(t *testing.T) {
	store := &memStore{}
	clk := newClock(t0)
	kek := testKEK(1)
	m1 := NewManager(store, kek, allAlgs, Options{Now: clk.now})
	mustLoad(t, m1)

	recs := store.snapshot()
	if len(recs) != 3 {
		t.Fatalf("store has %d keys after Load, want 3", len(recs))
	}
	for i, r := range recs {
		if r.Algorithm != allAlgs[i] || r.State != StateActive || !r.CreatedAt.Equal(t0) || !r.ActivatesAt.Equal(t0) {
			t.Errorf("record %d: %+v", i, r)
		}
		k, err := Open(kek, r.PrivateKey)
		if err != nil {
			t.Fatal(err)
		}
		if kid, _ := KeyID(k); kid != r.ID {
			t.Errorf("record ID %s, thumbprint %s", r.ID, kid)
		}
	}

	jwks1, etag1 := m1.JWKS(), m1.ETag()
	clk.set(t0.Add(time.Hour))
	mustLoad(t, m1)
	if store.inserts != 3 {
		t.Fatalf("second Load inserted keys: %d inserts", store.inserts)
	}
	if m1.ETag() != etag1 || &m1.JWKS()[0] != &jwks1[0] {
		t.Error("unchanged store: JWKS was recomputed")
	}

	tokens := map[string]string{}
	for _, alg := range allAlgs {
		tok, err := m1.Sign(alg, map[jose.HeaderKey]interface{}{"typ": "at+jwt"}, []byte(samplePayload))
		if err != nil {
			t.Fatal(err)
		}
		tokens[alg] = tok
	}

	m2 := NewManager(store, kek, allAlgs, Options{Now: clk.now})
	mustLoad(t, m2)
	if store.inserts != 3 {
		t.Fatalf("second manager inserted keys: %d inserts", store.inserts)
	}
	if !slices.Equal(kids(m1.PublicKeys()), kids(m2.PublicKeys())) {
		t.Errorf("kids differ: %v vs %v", kids(m1.PublicKeys()), kids(m2.PublicKeys()))
	}
	if !bytes.Equal(m1.JWKS(), m2.JWKS()) || m1.ETag() != m2.ETag() {
		t.Error("two managers over one store serve different JWKS")
	}
	for alg, tok := range tokens {
		payload, h := verify(t, tok, m2.JWKS())
		if string(payload) != samplePayload || h.Algorithm != alg {
			t.Errorf("%s: payload %q alg %s", alg, payload, h.Algorithm)
		}
	}
}

func TestSignHeadersAndVerify(t *testing.T) {
	m := NewManager(&memStore{}, testKEK(1), allAlgs, Options{})
	mustLoad(t, m)
	pubs := m.PublicKeys()
	for i, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			tok, err := m.Sign(alg, map[jose.HeaderKey]interface{}{"typ": "at+jwt", "x-n": 7}, []byte(samplePayload))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Count(tok, ".") != 2 {
				t.Fatalf("not compact: %s", tok)
			}
			payload, h := verify(t, tok, m.JWKS())
			if string(payload) != samplePayload {
				t.Errorf("payload %q", payload)
			}
			if h.Algorithm != alg || h.KeyID != pubs[i].KeyID {
				t.Errorf("alg %s kid %s, want %s %s", h.Algorithm, h.KeyID, alg, pubs[i].KeyID)
			}
			if h.ExtraHeaders["typ"] != "at+jwt" || h.ExtraHeaders["x-n"] != float64(7) {
				t.Errorf("extra headers %v", h.ExtraHeaders)
			}
			// Also with go-jose given the public key directly.
			jws, _ := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if _, err := jws.Verify(pubs[i].Key); err != nil {
				t.Error(err)
			}
			// Without extra headers the header is exactly alg and kid.
			bare, err := m.Sign(alg, nil, []byte("{}"))
			if err != nil {
				t.Fatal(err)
			}
			hdr, _ := b64.DecodeString(strings.Split(bare, ".")[0])
			if want := fmt.Sprintf(`{"alg":"%s","kid":"%s"}`, alg, pubs[i].KeyID); string(hdr) != want {
				t.Errorf("header %s, want %s", hdr, want)
			}
			verify(t, bare, m.JWKS())
			// Tampering is detected.
			parts := strings.Split(tok, ".")
			other, _ := m.Sign(alg, nil, []byte(`{"sub":"mallory"}`))
			forged := parts[0] + "." + strings.Split(other, ".")[1] + "." + parts[2]
			jws, err = jose.ParseSignedCompact(forged, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err == nil {
				if _, err := jws.Verify(pubs[i].Key); err == nil {
					t.Error("forged token verifies")
				}
			}
		})
	}
}

func TestSignErrors(t *testing.T) {
	m := NewManager(&memStore{}, testKEK(1), []string{ES256}, Options{})
	if _, err := m.Sign(ES256, nil, []byte("{}")); !errors.Is(err, ErrNotLoaded) {
		t.Errorf("before Load: %v", err)
	}
	if m.JWKS() != nil || m.ETag() != "" || m.PublicKeys() != nil {
		t.Error("JWKS, ETag or PublicKeys set before Load")
	}
	mustLoad(t, m)
	for _, alg := range []string{RS256, EdDSA, "HS256", "", "none"} {
		if _, err := m.Sign(alg, nil, []byte("{}")); err == nil {
			t.Errorf("Sign(%q): no error", alg)
		}
	}
	for _, name := range []jose.HeaderKey{"alg", "kid", "b64", "crit", "jwk"} {
		if _, err := m.Sign(ES256, map[jose.HeaderKey]interface{}{name: "x"}, []byte("{}")); err == nil {
			t.Errorf("header %q accepted", name)
		}
	}
	if _, err := m.Sign(ES256, map[jose.HeaderKey]interface{}{"typ": func() {}}, []byte("{}")); err == nil {
		t.Error("unmarshalable header accepted")
	}
}

func TestJWKSHasNoPrivateParts(t *testing.T) {
	store := &memStore{}
	m := NewManager(store, testKEK(1), allAlgs, Options{Now: func() time.Time { return t0 }})
	mustLoad(t, m)
	// Add a next and a retired key so every published state is covered.
	addKey(t, store, testKEK(1), EdDSA, StateNext, t0.Add(time.Minute), time.Time{})
	addKey(t, store, testKEK(1), ES256, StateRetired, t0.Add(-time.Hour), t0.Add(time.Hour))
	mustLoad(t, m)

	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	jwks := m.JWKS()
	if err := json.Unmarshal(jwks, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 5 {
		t.Fatalf("%d keys in JWKS, want 5", len(doc.Keys))
	}
	private := []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
	for _, k := range doc.Keys {
		for _, member := range private {
			if _, ok := k[member]; ok {
				t.Errorf("key %v has private member %q", k["kid"], member)
			}
		}
		if k["use"] != "sig" || k["kid"] == "" || k["kid"] == nil {
			t.Errorf("key %v lacks use or kid", k)
		}
		if alg, _ := k["alg"].(string); !slices.Contains(allAlgs, alg) {
			t.Errorf("key %v has alg %v", k["kid"], k["alg"])
		}
	}
	// Belt and braces: the private scalars never appear as bytes.
	for _, r := range store.snapshot() {
		priv, _ := Open(testKEK(1), r.PrivateKey)
		var jwk jose.JSONWebKey = jose.JSONWebKey{Key: priv}
		full, _ := jwk.MarshalJSON()
		var members map[string]any
		json.Unmarshal(full, &members)
		if d, ok := members["d"].(string); !ok || bytes.Contains(jwks, []byte(d)) {
			t.Errorf("key %s: private d found in JWKS (or missing in test)", r.ID)
		}
	}
	for _, k := range m.PublicKeys() {
		if !k.IsPublic() || !k.Valid() {
			t.Errorf("PublicKeys: %s is not a valid public key", k.KeyID)
		}
	}
	if m.ETag() == "" || m.ETag()[0] != '"' || m.ETag()[len(m.ETag())-1] != '"' {
		t.Errorf("ETag %q is not quoted", m.ETag())
	}
}

// addKey inserts a key as another process would.
func addKey(t testing.TB, store *memStore, kek []byte, alg string, state State, created, expires time.Time) string {
	t.Helper()
	k, err := Generate(alg)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := KeyID(k)
	sealed, err := Seal(kek, k)
	if err != nil {
		t.Fatal(err)
	}
	r := Record{ID: kid, Algorithm: alg, State: state, PrivateKey: sealed, CreatedAt: created, ActivatesAt: created, ExpiresAt: expires}
	if state == StateRetired {
		r.RetiredAt = created
	}
	if err := store.InsertSigningKey(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return kid
}

func signKID(t testing.TB, m *Manager, alg string) string {
	t.Helper()
	tok, err := m.Sign(alg, nil, []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	_, h := verify(t, tok, m.JWKS())
	return h.KeyID
}

func TestTwoActiveKeysNewestSigns(t *testing.T) {
	store := &memStore{}
	kek := testKEK(1)
	m := NewManager(store, kek, []string{ES256}, Options{Now: func() time.Time { return t0 }})
	mustLoad(t, m)
	first := signKID(t, m, ES256)
	oldTok, _ := m.Sign(ES256, nil, []byte(`{"n":1}`))

	// Another process added an older active key: the newer one still signs.
	older := addKey(t, store, kek, ES256, StateActive, t0.Add(-time.Minute), time.Time{})
	mustLoad(t, m)
	if got := signKID(t, m, ES256); got != first {
		t.Errorf("signing kid %s, want the newest %s", got, first)
	}
	// And a newer one: it takes over, and every active key is published.
	newest := addKey(t, store, kek, ES256, StateActive, t0.Add(time.Minute), time.Time{})
	mustLoad(t, m)
	if got := signKID(t, m, ES256); got != newest {
		t.Errorf("signing kid %s, want the newest %s", got, newest)
	}
	got := kids(m.PublicKeys())
	if len(got) != 3 || got[0] != newest || !slices.Contains(got, first) || !slices.Contains(got, older) {
		t.Errorf("published %v, want the signing key %s first, then %s and %s", got, newest, first, older)
	}
	verify(t, oldTok, m.JWKS())
}

func TestRacingManagersConverge(t *testing.T) {
	// Two processes start on an empty store at once: both see no key and
	// both create one. Each signs with a key it publishes at once; after the
	// next (periodic) Load they sign with the same key and serve the same
	// JWKS with both keys.
	store := &memStore{}
	m1, m2 := loadRacing(t, store, &store.listHook)
	// Without a Locker the racers may both insert (the second look under
	// Load narrows the window but cannot close it).
	if store.inserts < 1 || store.inserts > 2 {
		t.Fatalf("%d inserts, want 1 or 2", store.inserts)
	}
	signKID(t, m1, EdDSA)
	signKID(t, m2, EdDSA)
	mustLoad(t, m1)
	mustLoad(t, m2)
	if signKID(t, m1, EdDSA) != signKID(t, m2, EdDSA) {
		t.Error("racers sign with different keys")
	}
	if len(m1.PublicKeys()) != store.inserts || !bytes.Equal(m1.JWKS(), m2.JWKS()) {
		t.Errorf("racers publish %v and %v after %d inserts", kids(m1.PublicKeys()), kids(m2.PublicKeys()), store.inserts)
	}
}

// loadRacing loads two managers over store at once, holding both until
// each has listed the keys once, so both first see an empty store.
func loadRacing(t *testing.T, store Store, listHook *func() error) (*Manager, *Manager) {
	t.Helper()
	var listed sync.WaitGroup
	listed.Add(2)
	var calls atomic.Int32
	*listHook = func() error {
		if calls.Add(1) <= 2 {
			listed.Done()
			listed.Wait()
		}
		return nil
	}
	now := func() time.Time { return t0 }
	m1 := NewManager(store, testKEK(1), []string{EdDSA}, Options{Now: now})
	m2 := NewManager(store, testKEK(1), []string{EdDSA}, Options{Now: now})
	var wg sync.WaitGroup
	var err1, err2 error
	wg.Go(func() { err1 = m1.Load(context.Background()) })
	wg.Go(func() { err2 = m2.Load(context.Background()) })
	wg.Wait()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return m1, m2
}

// lockingStore is a memStore shared by "processes" that serialise key-set
// decisions, as sqlstore does with an advisory lock on PostgreSQL.
type lockingStore struct {
	*memStore
	mu sync.Mutex
}

func (s *lockingStore) LockSigningKeys(ctx context.Context, fn func(context.Context) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fn(ctx)
}

// With a Locker, two processes starting on an empty store make one key and
// sign with it at once, before any reload.
func TestRacingManagersWithLockerAgree(t *testing.T) {
	store := &lockingStore{memStore: &memStore{}}
	m1, m2 := loadRacing(t, store, &store.listHook)
	if store.inserts != 1 {
		t.Fatalf("%d inserts, want 1", store.inserts)
	}
	if signKID(t, m1, EdDSA) != signKID(t, m2, EdDSA) || !bytes.Equal(m1.JWKS(), m2.JWKS()) {
		t.Error("the racers disagree before any reload")
	}
}

func TestPublishedStates(t *testing.T) {
	store := &memStore{}
	kek := testKEK(1)
	clk := newClock(t0)
	m := NewManager(store, kek, []string{ES256, EdDSA}, Options{Now: clk.now})
	mustLoad(t, m)
	signing := signKID(t, m, ES256)
	next := addKey(t, store, kek, ES256, StateNext, t0.Add(time.Hour), time.Time{})
	retiring := addKey(t, store, kek, ES256, StateRetired, t0.Add(-48*time.Hour), t0.Add(2*time.Hour))
	forever := addKey(t, store, kek, EdDSA, StateRetired, t0.Add(-72*time.Hour), time.Time{})
	gone := addKey(t, store, kek, ES256, StateRetired, t0.Add(-96*time.Hour), t0.Add(-time.Second))
	// A key of an algorithm no longer configured is still published.
	legacy := addKey(t, store, kek, RS256, StateActive, t0.Add(-100*time.Hour), time.Time{})
	mustLoad(t, m)

	got := kids(m.PublicKeys())
	for _, want := range []string{signing, next, retiring, forever, legacy} {
		if !slices.Contains(got, want) {
			t.Errorf("%s not published", want)
		}
	}
	if slices.Contains(got, gone) {
		t.Error("expired retired key is published")
	}
	if len(got) != 6 {
		t.Errorf("%d keys published, want 6", len(got))
	}
	if signKID(t, m, ES256) != signing {
		t.Error("a next or retired key signs")
	}
	if _, err := m.Sign(RS256, nil, []byte("{}")); err == nil {
		t.Error("unconfigured algorithm signs")
	}
	etag := m.ETag()
	clk.set(t0.Add(3 * time.Hour))
	mustLoad(t, m)
	if slices.Contains(kids(m.PublicKeys()), retiring) {
		t.Error("retired key still published after its ExpiresAt")
	}
	if m.ETag() == etag {
		t.Error("ETag unchanged though JWKS changed")
	}
}

func TestLoadErrors(t *testing.T) {
	ctx := context.Background()
	store := &memStore{}
	m := NewManager(store, testKEK(1), []string{ES256}, Options{})
	mustLoad(t, m)
	jwks := m.JWKS()

	// Wrong KEK: an error, and no new key is created.
	wrong := NewManager(store, testKEK(2), []string{ES256}, Options{})
	if err := wrong.Load(ctx); !errors.Is(err, ErrWrongKEK) {
		t.Errorf("wrong kek: %v", err)
	}
	if store.inserts != 1 {
		t.Errorf("wrong kek: %d inserts", store.inserts)
	}

	// A failing store keeps the previous snapshot.
	store.listHook = func() error { return errors.New("db down") }
	if err := m.Load(ctx); err == nil || !strings.Contains(err.Error(), "db down") {
		t.Errorf("store error: %v", err)
	}
	if !bytes.Equal(m.JWKS(), jwks) {
		t.Error("failed Load changed the JWKS")
	}
	if _, err := m.Sign(ES256, nil, []byte("{}")); err != nil {
		t.Error("failed Load broke Sign:", err)
	}
	store.listHook = nil

	// Corrupt records.
	for name, mutate := range map[string]func(*Record){
		"state":     func(r *Record) { r.State = "revoked" },
		"algorithm": func(r *Record) { r.Algorithm = "HS256" },
		"mismatch":  func(r *Record) { r.Algorithm = RS256 },
		"garbage":   func(r *Record) { r.PrivateKey = []byte("garbage garbage garbage garbage") },
	} {
		s := &memStore{}
		m := NewManager(s, testKEK(1), []string{ES256}, Options{})
		mustLoad(t, m)
		mutate(&s.recs[0])
		if err := m.Load(ctx); err == nil {
			t.Errorf("%s: no error", name)
		}
		if fresh := NewManager(s, testKEK(1), []string{ES256}, Options{}); fresh.Load(ctx) == nil {
			t.Errorf("%s: fresh manager: no error", name)
		}
	}

	// Bad configuration.
	for name, m := range map[string]*Manager{
		"unknown alg": NewManager(&memStore{}, testKEK(1), []string{ES256, "HS256"}, Options{}),
		"no algs":     NewManager(&memStore{}, testKEK(1), nil, Options{}),
		"short kek":   NewManager(&memStore{}, testKEK(1)[:16], []string{ES256}, Options{}),
	} {
		if err := m.Load(ctx); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	dup := NewManager(&memStore{}, testKEK(1), []string{EdDSA, ES256, EdDSA}, Options{})
	if got := dup.Algorithms(); !slices.Equal(got, []string{EdDSA, ES256}) {
		t.Errorf("Algorithms() = %v", got)
	}
	got := dup.Algorithms()
	got[0] = "x"
	if dup.Algorithms()[0] != EdDSA {
		t.Error("Algorithms() exposes internal slice")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := dup.Load(cancelled); err == nil {
		t.Error("cancelled context: no error")
	}
}

func TestConcurrentSignAndLoad(t *testing.T) {
	store := &memStore{}
	kek := testKEK(1)
	clk := newClock(t0)
	algs := []string{ES256, EdDSA}
	m := NewManager(store, kek, algs, Options{Now: clk.now})
	mustLoad(t, m)

	const signers, perSigner, rotations = 4, 150, 20
	var wg sync.WaitGroup
	tokens := make([][]string, signers)
	for g := range signers {
		wg.Go(func() {
			for i := 0; i < perSigner; i++ {
				alg := algs[i%len(algs)]
				tok, err := m.Sign(alg, map[jose.HeaderKey]interface{}{"typ": "at+jwt"}, []byte(samplePayload))
				if err != nil {
					t.Error(err)
					return
				}
				tokens[g] = append(tokens[g], tok)
				_ = m.JWKS()
				_ = m.ETag()
				_ = m.PublicKeys()
			}
		})
	}
	// Meanwhile "another process" rotates keys and this one reloads.
	wg.Go(func() {
		ctx := context.Background()
		for i := 0; i < rotations; i++ {
			alg := algs[i%len(algs)]
			// New active key first, then retire the old one: the other
			// order leaves a moment with no active key, in which a Load
			// would create one of its own.
			clk.set(clk.now().Add(time.Minute))
			kid := addKey(t, store, kek, alg, StateActive, clk.now(), time.Time{})
			for _, r := range store.snapshot() {
				if r.Algorithm == alg && r.State == StateActive && r.ID != kid {
					r.State, r.RetiredAt = StateRetired, clk.now()
					store.UpdateSigningKey(ctx, r)
				}
			}
			if err := m.Load(ctx); err != nil {
				t.Error(err)
			}
		}
	})
	// And a second loader races the first.
	wg.Go(func() {
		for i := 0; i < rotations; i++ {
			if err := m.Load(context.Background()); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	mustLoad(t, m)
	jwks := m.JWKS()
	n := 0
	for _, ts := range tokens {
		for _, tok := range ts {
			verify(t, tok, jwks)
			n++
		}
	}
	if n != signers*perSigner {
		t.Errorf("%d tokens verified, want %d", n, signers*perSigner)
	}
	if len(m.PublicKeys()) != len(algs)+rotations {
		t.Errorf("%d keys published, want %d", len(m.PublicKeys()), len(algs)+rotations)
	}
}
