package keys

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	day           = 24 * time.Hour
	tokenLifetime = time.Hour
	// testRetire covers tokenLifetime plus an hour of leeway.
	testRetire = 2 * time.Hour
)

var testSchedule = Schedule{RotationPeriod: 30 * day, PublishLead: day, RetireAfter: testRetire}

// checkToken is verify without t: it may run on any goroutine, and a
// missing kid is an error the caller can expect.
func checkToken(token string, jwks []byte) (kid string, err error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		return "", err
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA})
	if err != nil {
		return "", err
	}
	kid = jws.Signatures[0].Protected.KeyID
	found := set.Key(kid)
	if len(found) != 1 {
		return kid, fmt.Errorf("kid %s: %d keys in JWKS", kid, len(found))
	}
	if _, err := jws.Verify(found[0]); err != nil {
		return kid, err
	}
	return kid, nil
}

func mustTick(t testing.TB, m *Manager) bool {
	t.Helper()
	changed, err := m.Tick(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return changed
}

// countStates counts the stored keys of alg by state.
func countStates(store *memStore, alg string) map[State]int {
	n := map[State]int{}
	for _, r := range store.snapshot() {
		if r.Algorithm == alg {
			n[r.State]++
		}
	}
	return n
}

func TestScheduleValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Schedule
		ok   bool
	}{
		{"zero: RetireAfter has no default", Schedule{}, false},
		{"defaults plus RetireAfter", Schedule{RetireAfter: time.Hour}, true},
		{"explicit", Schedule{RotationPeriod: 2 * time.Hour, PublishLead: time.Hour, RetireAfter: time.Minute}, true},
		{"lead equals period", Schedule{RotationPeriod: day, PublishLead: day, RetireAfter: time.Hour}, false},
		{"period shorter than default lead", Schedule{RotationPeriod: 12 * time.Hour, RetireAfter: time.Hour}, false},
		{"negative period", Schedule{RotationPeriod: -day, RetireAfter: time.Hour}, false},
		{"negative lead", Schedule{PublishLead: -time.Hour, RetireAfter: time.Hour}, false},
		{"negative retire", Schedule{RetireAfter: -time.Hour}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.s.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestInvalidScheduleOnlyStopsRotation(t *testing.T) {
	ctx := context.Background()
	store := &memStore{}
	m := NewManager(store, testKEK(1), []string{ES256}, Options{Now: func() time.Time { return t0 }})
	mustLoad(t, m) // serving needs no schedule
	if _, err := m.Tick(ctx); err == nil {
		t.Error("Tick with zero RetireAfter: no error")
	}
	if err := m.Advance(ctx); err == nil {
		t.Error("Advance with zero RetireAfter: no error")
	}
	if !m.NextChange().IsZero() {
		t.Errorf("NextChange() = %v with an invalid schedule", m.NextChange())
	}
	if n := store.insertCount(); n != 1 {
		t.Errorf("%d inserts, want 1", n)
	}
}

func TestRSABits(t *testing.T) {
	for _, tc := range []struct {
		bits, want int // want 0: configuration error
	}{
		{0, 2048}, {2048, 2048}, {3072, 3072}, {4096, 0}, {1024, 0},
	} {
		t.Run(fmt.Sprint(tc.bits), func(t *testing.T) {
			store := &memStore{}
			m := NewManager(store, testKEK(1), []string{RS256}, Options{RSABits: tc.bits, Schedule: testSchedule})
			err := m.Load(context.Background())
			if tc.want == 0 {
				if err == nil {
					t.Fatal("no error")
				}
				if _, err := m.Tick(context.Background()); err == nil {
					t.Error("Tick: no error")
				}
				if store.insertCount() != 0 {
					t.Error("a key was created")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := m.PublicKeys()[0].Key.(*rsa.PublicKey).N.BitLen(); got != tc.want {
				t.Errorf("%d-bit key, want %d", got, tc.want)
			}
		})
	}
}

// TestLifecycle runs three rotation periods, ticking every six hours and, as
// a replica ticking every minute would, exactly at each time NextChange
// announces and one second before it. At every step it signs a token and
// checks every token still within its lifetime against the JWKS of that
// moment, the way a relying party that just refetched would.
func TestLifecycle(t *testing.T) {
	for _, tc := range []struct {
		name string
		alg  string
		bits int
	}{
		{"ES256", ES256, 0},
		{"RS256", RS256, 2048},
		{"RS256-3072", RS256, 3072},
		{"EdDSA", EdDSA, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store := &memStore{}
			clk := newClock(t0)
			sched := testSchedule
			m := NewManager(store, testKEK(1), []string{tc.alg}, Options{Now: clk.now, RSABits: tc.bits, Schedule: sched})
			mustLoad(t, m)
			initial := signKID(t, m, tc.alg)

			type issued struct {
				token, kid string
				at         time.Time
			}
			var tokens []issued
			published := map[string]bool{}
			firstPublished := map[string]time.Time{}
			firstSigned := map[string]time.Time{}
			retired := map[string]KeyInfo{}
			removed := map[string]time.Time{}

			end := t0.Add(3*sched.RotationPeriod + sched.RetireAfter + time.Hour)
			due := m.NextChange()
			var next time.Time
			for now := t0; !now.After(end); now = next {
				clk.set(now)
				changed := mustTick(t, m)
				if want := !due.IsZero() && !now.Before(due); changed != want {
					t.Fatalf("%v: Tick changed=%v, but NextChange said %v", now.Sub(t0), changed, due.Sub(t0))
				}
				if n := countStates(store, tc.alg); n[StateActive] != 1 || n[StateNext] > 1 {
					t.Fatalf("%v: store holds %v", now.Sub(t0), n)
				}

				jwks := m.JWKS()
				nowKids := map[string]bool{}
				for _, k := range m.PublicKeys() {
					nowKids[k.KeyID] = true
					if _, ok := firstPublished[k.KeyID]; !ok {
						firstPublished[k.KeyID] = now
					}
					if tc.bits != 0 {
						if got := k.Key.(*rsa.PublicKey).N.BitLen(); got != tc.bits {
							t.Errorf("key %s has %d bits, want %d", k.KeyID, got, tc.bits)
						}
					}
				}
				for _, ki := range m.Keys() {
					if ki.State == StateRetired {
						if _, ok := retired[ki.ID]; !ok {
							retired[ki.ID] = ki
							if !ki.RetiredAt.Equal(now) || !ki.ExpiresAt.Equal(now.Add(sched.RetireAfter)) {
								t.Errorf("%s retired at %v until %v, want %v until +%v", ki.ID, ki.RetiredAt.Sub(t0), ki.ExpiresAt.Sub(t0), now.Sub(t0), sched.RetireAfter)
							}
						}
					}
				}
				for kid := range published {
					if nowKids[kid] {
						continue
					}
					// A key left the JWKS: only a retired key, exactly at
					// its ExpiresAt (the steps include that instant).
					removed[kid] = now
					ki, ok := retired[kid]
					if !ok || !now.Equal(ki.ExpiresAt) {
						t.Errorf("%v: %s removed, retired info %+v", now.Sub(t0), kid, ki)
					}
					for _, tok := range tokens {
						if tok.kid != kid {
							continue
						}
						if tok.at.Add(tokenLifetime).After(now) {
							t.Errorf("key %s removed while its token of %v is valid", kid, tok.at.Sub(t0))
						}
						if _, err := checkToken(tok.token, jwks); err == nil {
							t.Errorf("token of removed key %s still verifies", kid)
						}
					}
				}
				published = nowKids

				tok, err := m.Sign(tc.alg, map[jose.HeaderKey]interface{}{"typ": "at+jwt"}, []byte(samplePayload))
				if err != nil {
					t.Fatal(err)
				}
				kid, err := checkToken(tok, jwks)
				if err != nil {
					t.Fatalf("%v: fresh token: %v", now.Sub(t0), err)
				}
				if _, ok := firstSigned[kid]; !ok {
					firstSigned[kid] = now
					if kid != initial && now.Sub(firstPublished[kid]) < sched.PublishLead {
						t.Errorf("%s signs at %v, published only since %v", kid, now.Sub(t0), firstPublished[kid].Sub(t0))
					}
				}
				tokens = append(tokens, issued{tok, kid, now})
				for _, tk := range tokens {
					if !tk.at.Add(tokenLifetime).After(now) {
						continue
					}
					if _, err := checkToken(tk.token, jwks); err != nil {
						t.Errorf("%v: token of %v by %s: %v", now.Sub(t0), tk.at.Sub(t0), tk.kid, err)
					}
				}

				// Next step: every 6h, and exactly at (and just before) the
				// next announced change.
				due = m.NextChange()
				next = now.Add(6 * time.Hour)
				if !due.IsZero() && due.After(now) {
					if due.Add(-time.Second).After(now) {
						next = minTime(next, due.Add(-time.Second))
					} else {
						next = minTime(next, due)
					}
				}
			}

			if len(firstSigned) != 4 {
				t.Errorf("%d keys signed over three periods, want 4", len(firstSigned))
			}
			if len(removed) != 3 {
				t.Errorf("%d keys removed, want 3", len(removed))
			}
			if recs := store.snapshot(); len(recs) != 1 || recs[0].State != StateActive {
				t.Errorf("store at the end: %+v", recs)
			}
		})
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// seed is a key a step test case starts with; label names it in the case.
type seed struct {
	label              string
	alg                string
	state              State
	created, activates time.Time
	expires            time.Time
}

// want is what a step case expects of one labelled key afterwards; the
// zero value means the key is gone.
type want struct {
	state              State
	activates, retired time.Time
	expires            time.Time
}

func TestStep(t *testing.T) {
	const lead, period = day, 30 * day
	due := t0.Add(-(period - lead)) // an active key of this ActivatesAt is due for a next key now
	gone := want{}
	active := func(activates time.Time) want { return want{state: StateActive, activates: activates} }
	retiredNow := func(activates time.Time) want {
		return want{state: StateRetired, activates: activates, retired: t0, expires: t0.Add(testRetire)}
	}
	for _, tc := range []struct {
		name    string
		advance bool // Advance instead of Tick
		algs    []string
		seeds   []seed
		// tie: the two seeds labelled N1 and N2 have the same CreatedAt, and
		// N2 is made the one with the greater kid.
		tie bool
		// noLoad: the case starts from a store no Load has seen (Load
		// would create an active key and change the case).
		noLoad  bool
		want    map[string]want
		newNext map[string]int // new next keys created, by algorithm
		signs   string         // label of the ES256 signing key (new: a new key)
		changed bool
	}{
		{
			name:  "nothing due",
			seeds: []seed{{"A", ES256, StateActive, t0.Add(-10 * day), t0.Add(-10 * day), time.Time{}}},
			want:  map[string]want{"A": active(t0.Add(-10 * day))},
			signs: "A",
		},
		{
			name:  "a nanosecond before the next key is due",
			seeds: []seed{{"A", ES256, StateActive, due, due.Add(time.Nanosecond), time.Time{}}},
			want:  map[string]want{"A": active(due.Add(time.Nanosecond))},
			signs: "A",
		},
		{
			name:    "next key due: created, published, not signing",
			seeds:   []seed{{"A", ES256, StateActive, due.Add(-time.Hour), due, time.Time{}}},
			want:    map[string]want{"A": active(due)},
			newNext: map[string]int{ES256: 1},
			signs:   "A",
			changed: true,
		},
		{
			name:    "rotation counts from CreatedAt when ActivatesAt is zero",
			seeds:   []seed{{"A", ES256, StateActive, due, time.Time{}, time.Time{}}},
			want:    map[string]want{"A": active(time.Time{})},
			newNext: map[string]int{ES256: 1},
			signs:   "A",
			changed: true,
		},
		{
			name: "next key not yet due",
			seeds: []seed{
				{"A", ES256, StateActive, t0.Add(-period), t0.Add(-period + time.Hour), time.Time{}},
				{"N", ES256, StateNext, t0.Add(-time.Hour), t0.Add(time.Nanosecond), time.Time{}},
			},
			want: map[string]want{
				"A": active(t0.Add(-period + time.Hour)),
				"N": {state: StateNext, activates: t0.Add(time.Nanosecond)},
			},
			signs: "A",
		},
		{
			name: "promotion: next signs, active retires",
			seeds: []seed{
				{"A", ES256, StateActive, t0.Add(-period), t0.Add(-period), time.Time{}},
				{"N", ES256, StateNext, t0.Add(-lead), t0, time.Time{}},
			},
			want:    map[string]want{"A": retiredNow(t0.Add(-period)), "N": active(t0)},
			signs:   "N",
			changed: true,
		},
		{
			name: "late promotion keeps the scheduled ActivatesAt",
			seeds: []seed{
				{"A", ES256, StateActive, t0.Add(-period), t0.Add(-period), time.Time{}},
				{"N", ES256, StateNext, t0.Add(-lead - time.Hour), t0.Add(-time.Hour), time.Time{}},
			},
			want:    map[string]want{"A": retiredNow(t0.Add(-period)), "N": active(t0.Add(-time.Hour))},
			signs:   "N",
			changed: true,
		},
		{
			name: "two next keys due: the newest is promoted, the other deleted",
			seeds: []seed{
				{"A", ES256, StateActive, t0.Add(-period), t0.Add(-period), time.Time{}},
				{"N2", ES256, StateNext, t0.Add(-lead), t0, time.Time{}},
				{"N1", ES256, StateNext, t0.Add(-lead - time.Second), t0.Add(-time.Second), time.Time{}},
			},
			want:    map[string]want{"A": retiredNow(t0.Add(-period)), "N1": gone, "N2": active(t0)},
			signs:   "N2",
			changed: true,
		},
		{
			name: "two next keys created at once: the greater kid wins",
			seeds: []seed{
				{"A", ES256, StateActive, t0.Add(-period), t0.Add(-period), time.Time{}},
				{"N1", ES256, StateNext, t0.Add(-lead), t0, time.Time{}},
				{"N2", ES256, StateNext, t0.Add(-lead), t0, time.Time{}},
			},
			tie:     true,
			want:    map[string]want{"A": retiredNow(t0.Add(-period)), "N1": gone, "N2": active(t0)},
			signs:   "N2",
			changed: true,
		},
		{
			name: "a surplus next key is deleted before it is due",
			seeds: []seed{
				{"A", ES256, StateActive, t0.Add(-10 * day), t0.Add(-10 * day), time.Time{}},
				{"N1", ES256, StateNext, t0.Add(-time.Hour), t0.Add(lead - time.Hour), time.Time{}},
				{"N2", ES256, StateNext, t0.Add(-time.Minute), t0.Add(lead - time.Minute), time.Time{}},
			},
			want: map[string]want{
				"A": active(t0.Add(-10 * day)), "N1": gone,
				"N2": {state: StateNext, activates: t0.Add(lead - time.Minute)},
			},
			signs:   "A",
			changed: true,
		},
		{
			name: "two active keys (racing Loads): the older retires",
			seeds: []seed{
				{"A1", ES256, StateActive, t0.Add(-time.Hour), t0.Add(-time.Hour), time.Time{}},
				{"A2", ES256, StateActive, t0.Add(-time.Hour + time.Second), t0.Add(-time.Hour + time.Second), time.Time{}},
			},
			want:    map[string]want{"A1": retiredNow(t0.Add(-time.Hour)), "A2": active(t0.Add(-time.Hour + time.Second))},
			signs:   "A2",
			changed: true,
		},
		{
			name: "two active keys and a next key not due: the older active retires",
			seeds: []seed{
				{"A1", ES256, StateActive, t0.Add(-time.Hour), t0.Add(-time.Hour), time.Time{}},
				{"A2", ES256, StateActive, t0.Add(-time.Minute), t0.Add(-time.Minute), time.Time{}},
				{"N", ES256, StateNext, t0.Add(-time.Hour), t0.Add(time.Hour), time.Time{}},
			},
			want: map[string]want{
				"A1": retiredNow(t0.Add(-time.Hour)), "A2": active(t0.Add(-time.Minute)),
				"N": {state: StateNext, activates: t0.Add(time.Hour)},
			},
			signs:   "A2",
			changed: true,
		},
		{
			name: "retired keys are deleted at their ExpiresAt, not before, never without one",
			seeds: []seed{
				{"A", ES256, StateActive, t0.Add(-day), t0.Add(-day), time.Time{}},
				{"R1", ES256, StateRetired, t0.Add(-40 * day), t0.Add(-40 * day), t0},
				{"R2", ES256, StateRetired, t0.Add(-40 * day), t0.Add(-40 * day), t0.Add(time.Nanosecond)},
				{"R3", EdDSA, StateRetired, t0.Add(-90 * day), t0.Add(-90 * day), time.Time{}},
				{"R4", RS256, StateRetired, t0.Add(-90 * day), t0.Add(-90 * day), t0.Add(-time.Hour)},
			},
			want: map[string]want{
				"A": active(t0.Add(-day)), "R1": gone, "R4": gone,
				"R2": {state: StateRetired, activates: t0.Add(-40 * day), retired: t0.Add(-40 * day), expires: t0.Add(time.Nanosecond)},
				"R3": {state: StateRetired, activates: t0.Add(-90 * day), retired: t0.Add(-90 * day)},
			},
			signs:   "A",
			changed: true,
		},
		{
			name: "a next key with no active key signs at once",
			seeds: []seed{
				{"N", ES256, StateNext, t0.Add(-time.Hour), t0.Add(lead - time.Hour), time.Time{}},
			},
			noLoad:  true,
			want:    map[string]want{"N": active(t0)},
			signs:   "N",
			changed: true,
		},
		{
			name: "keys of an algorithm no longer configured are left alone",
			seeds: []seed{
				{"A", ES256, StateActive, t0.Add(-day), t0.Add(-day), time.Time{}},
				{"L", RS256, StateActive, t0.Add(-300 * day), t0.Add(-300 * day), time.Time{}},
				{"LN", RS256, StateNext, t0.Add(-10 * day), t0.Add(-9 * day), time.Time{}},
			},
			want: map[string]want{
				"A": active(t0.Add(-day)), "L": active(t0.Add(-300 * day)),
				"LN": {state: StateNext, activates: t0.Add(-9 * day)},
			},
			signs: "A",
		},
		{
			name:    "empty store: Load creates the active keys",
			algs:    []string{ES256, EdDSA},
			noLoad:  true,
			want:    map[string]want{},
			signs:   "new",
			changed: true,
		},
		{
			name: "every configured algorithm rotates on its own schedule",
			algs: []string{ES256, EdDSA},
			seeds: []seed{
				{"A", ES256, StateActive, t0.Add(-day), t0.Add(-day), time.Time{}},
				{"E", EdDSA, StateActive, due, due, time.Time{}},
			},
			want:    map[string]want{"A": active(t0.Add(-day)), "E": active(due)},
			newNext: map[string]int{EdDSA: 1},
			signs:   "A",
			changed: true,
		},

		// Advance: from each state, one step further whatever the dates.
		{
			name:    "advance: active only: a next key is published",
			advance: true,
			seeds:   []seed{{"A", ES256, StateActive, t0.Add(-day), t0.Add(-day), time.Time{}}},
			want:    map[string]want{"A": active(t0.Add(-day))},
			newNext: map[string]int{ES256: 1},
			signs:   "A",
		},
		{
			name:    "advance: next not due: promoted now",
			advance: true,
			seeds: []seed{
				{"A", ES256, StateActive, t0.Add(-day), t0.Add(-day), time.Time{}},
				{"N", ES256, StateNext, t0.Add(-time.Hour), t0.Add(lead - time.Hour), time.Time{}},
			},
			want:  map[string]want{"A": retiredNow(t0.Add(-day)), "N": active(t0)},
			signs: "N",
		},
		{
			name:    "advance: next overdue: promoted, schedule kept",
			advance: true,
			seeds: []seed{
				{"A", ES256, StateActive, t0.Add(-period), t0.Add(-period), time.Time{}},
				{"N", ES256, StateNext, t0.Add(-lead - time.Hour), t0.Add(-time.Hour), time.Time{}},
			},
			want:  map[string]want{"A": retiredNow(t0.Add(-period)), "N": active(t0.Add(-time.Hour))},
			signs: "N",
		},
		{
			name:    "advance: two next keys: the newest is promoted",
			advance: true,
			seeds: []seed{
				{"A", ES256, StateActive, t0.Add(-day), t0.Add(-day), time.Time{}},
				{"N1", ES256, StateNext, t0.Add(-time.Hour), t0.Add(lead - time.Hour), time.Time{}},
				{"N2", ES256, StateNext, t0.Add(-time.Minute), t0.Add(lead - time.Minute), time.Time{}},
			},
			want:  map[string]want{"A": retiredNow(t0.Add(-day)), "N1": gone, "N2": active(t0)},
			signs: "N2",
		},
		{
			name:    "advance: retired keys are untouched, even expired",
			advance: true,
			seeds: []seed{
				{"A", ES256, StateActive, t0.Add(-day), t0.Add(-day), time.Time{}},
				{"R", ES256, StateRetired, t0.Add(-40 * day), t0.Add(-40 * day), t0.Add(-time.Hour)},
			},
			want: map[string]want{
				"A": active(t0.Add(-day)),
				"R": {state: StateRetired, activates: t0.Add(-40 * day), retired: t0.Add(-40 * day), expires: t0.Add(-time.Hour)},
			},
			newNext: map[string]int{ES256: 1},
			signs:   "A",
		},
		{
			name:    "advance: empty store: Load creates the active key",
			advance: true,
			noLoad:  true,
			want:    map[string]want{},
			signs:   "new",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			kek := testKEK(1)
			store := &memStore{}
			label := map[string]string{} // label → kid
			for _, s := range tc.seeds {
				k, err := Generate(s.alg)
				if err != nil {
					t.Fatal(err)
				}
				kid, _ := KeyID(k)
				sealed, _ := Seal(kek, k)
				r := Record{ID: kid, Algorithm: s.alg, State: s.state, PrivateKey: sealed,
					CreatedAt: s.created, ActivatesAt: s.activates, ExpiresAt: s.expires}
				if s.state == StateRetired {
					r.RetiredAt = s.activates
				}
				if err := store.InsertSigningKey(ctx, r); err != nil {
					t.Fatal(err)
				}
				label[s.label] = kid
			}
			if tc.tie && label["N1"] > label["N2"] {
				label["N1"], label["N2"] = label["N2"], label["N1"]
			}
			algs := tc.algs
			if algs == nil {
				algs = []string{ES256}
			}
			m := NewManager(store, kek, algs, Options{Now: func() time.Time { return t0 }, Schedule: testSchedule})

			if !tc.noLoad {
				mustLoad(t, m)
			}
			etag, jwks := m.ETag(), m.JWKS()

			var changed bool
			var err error
			if tc.advance {
				err = m.Advance(ctx)
			} else {
				changed, err = m.Tick(ctx)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.advance && changed != tc.changed {
				t.Errorf("changed = %v, want %v", changed, tc.changed)
			}
			if !tc.noLoad && !tc.changed && !tc.advance && (m.ETag() != etag || &m.JWKS()[0] != &jwks[0]) {
				t.Error("nothing changed, but the JWKS was rebuilt")
			}

			recs := map[string]Record{}
			for _, r := range store.snapshot() {
				recs[r.ID] = r
			}
			for l, w := range tc.want {
				r, ok := recs[label[l]]
				if w == (want{}) {
					if ok {
						t.Errorf("%s: still stored as %s", l, r.State)
					}
					continue
				}
				if !ok {
					t.Errorf("%s: deleted", l)
					continue
				}
				got := want{r.State, r.ActivatesAt, r.RetiredAt, r.ExpiresAt}
				if got.state == StateRetired && w.retired.IsZero() {
					w.retired = got.retired
				}
				if !got.activates.Equal(w.activates) || got.state != w.state ||
					!got.retired.Equal(w.retired) || !got.expires.Equal(w.expires) {
					t.Errorf("%s: %s activates %v retired %v expires %v; want %s %v %v %v", l,
						got.state, got.activates.Sub(t0), got.retired.Sub(t0), got.expires.Sub(t0),
						w.state, w.activates.Sub(t0), w.retired.Sub(t0), w.expires.Sub(t0))
				}
			}
			known := map[string]bool{}
			for _, kid := range label {
				known[kid] = true
			}
			newNext := map[string]int{}
			for _, r := range recs {
				if known[r.ID] {
					continue
				}
				switch {
				case r.State == StateNext && r.CreatedAt.Equal(t0) && r.ActivatesAt.Equal(t0.Add(lead)):
					newNext[r.Algorithm]++
				case r.State == StateActive && len(tc.seeds) == 0:
				default:
					t.Errorf("unexpected new key %+v", r)
				}
			}
			for alg, n := range tc.newNext {
				if newNext[alg] != n {
					t.Errorf("%d new next %s keys, want %d", newNext[alg], alg, n)
				}
			}
			if len(newNext) > len(tc.newNext) {
				t.Errorf("new next keys %v, want %v", newNext, tc.newNext)
			}
			for _, alg := range algs {
				if n := countStates(store, alg)[StateActive]; n != 1 {
					t.Errorf("%d active %s keys", n, alg)
				}
			}

			// The signing key, and every stored non-expired key published.
			kid := signKID(t, m, ES256)
			if tc.signs == "new" {
				if known[kid] {
					t.Errorf("signs with seeded %s", kid)
				}
			} else if kid != label[tc.signs] {
				t.Errorf("signs with %s, want %s (%s)", kid, label[tc.signs], tc.signs)
			}
			pub := kids(m.PublicKeys())
			for id, r := range recs {
				if published(r, t0) != slices.Contains(pub, id) {
					t.Errorf("key %s (%s, expires %v): JWKS disagrees with the rule", id, r.State, r.ExpiresAt.Sub(t0))
				}
			}

			// Idempotent: the same step again at the same time does nothing
			// (Advance excepted: it is one step further each time).
			etag = m.ETag()
			if again := mustTick(t, m); again && !tc.advance {
				t.Error("second Tick changed something")
			}
			if !tc.advance && m.ETag() != etag {
				t.Error("second Tick changed the ETag")
			}
		})
	}
}

func TestNextChange(t *testing.T) {
	m0 := NewManager(&memStore{}, testKEK(1), []string{ES256}, Options{Schedule: testSchedule})
	if !m0.NextChange().IsZero() {
		t.Error("NextChange before Load is not zero")
	}
	for _, tc := range []struct {
		name  string
		seeds []seed
		want  time.Time
	}{
		{
			name:  "active only: when its next key is due",
			seeds: []seed{{"A", ES256, StateActive, t0.Add(-day), t0.Add(-day), time.Time{}}},
			want:  t0.Add(-day + 29*day),
		},
		{
			name: "next key: when it is promoted",
			seeds: []seed{
				{"A", ES256, StateActive, t0.Add(-29 * day), t0.Add(-29 * day), time.Time{}},
				{"N", ES256, StateNext, t0.Add(-time.Hour), t0.Add(23 * time.Hour), time.Time{}},
			},
			want: t0.Add(23 * time.Hour),
		},
		{
			name: "retired key expiring first",
			seeds: []seed{
				{"A", ES256, StateActive, t0.Add(-time.Hour), t0.Add(-time.Hour), time.Time{}},
				{"R", ES256, StateRetired, t0.Add(-31 * day), t0.Add(-31 * day), t0.Add(time.Hour)},
				{"F", ES256, StateRetired, t0.Add(-91 * day), t0.Add(-91 * day), time.Time{}},
			},
			want: t0.Add(time.Hour),
		},
		{
			name:  "overdue: now",
			seeds: []seed{{"A", ES256, StateActive, t0.Add(-40 * day), t0.Add(-40 * day), time.Time{}}},
			want:  t0,
		},
		{
			name: "surplus next key: now",
			seeds: []seed{
				{"A", ES256, StateActive, t0.Add(-day), t0.Add(-day), time.Time{}},
				{"N1", ES256, StateNext, t0.Add(-time.Hour), t0.Add(23 * time.Hour), time.Time{}},
				{"N2", ES256, StateNext, t0.Add(-time.Minute), t0.Add(23 * time.Hour), time.Time{}},
			},
			want: t0,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &memStore{}
			for _, s := range tc.seeds {
				k, _ := Generate(s.alg)
				kid, _ := KeyID(k)
				sealed, _ := Seal(testKEK(1), k)
				r := Record{ID: kid, Algorithm: s.alg, State: s.state, PrivateKey: sealed,
					CreatedAt: s.created, ActivatesAt: s.activates, ExpiresAt: s.expires}
				if err := store.InsertSigningKey(context.Background(), r); err != nil {
					t.Fatal(err)
				}
			}
			clk := newClock(t0)
			m := NewManager(store, testKEK(1), []string{ES256}, Options{Now: clk.now, Schedule: testSchedule})
			mustLoad(t, m)
			got := m.NextChange()
			if !got.Equal(tc.want) {
				t.Fatalf("NextChange() = %v, want %v", got.Sub(t0), tc.want.Sub(t0))
			}
			// Tick agrees: nothing just before, something at that time.
			if got.After(t0) {
				clk.set(got.Add(-time.Nanosecond))
				if mustTick(t, m) {
					t.Error("Tick changed something before NextChange")
				}
			}
			clk.set(got)
			if !mustTick(t, m) {
				t.Error("Tick changed nothing at NextChange")
			}
		})
	}
}

func TestKeysList(t *testing.T) {
	store := &memStore{}
	kek := testKEK(1)
	m := NewManager(store, kek, []string{ES256, EdDSA}, Options{Now: func() time.Time { return t0 }, Schedule: testSchedule})
	if m.Keys() != nil {
		t.Error("Keys before Load")
	}
	mustLoad(t, m)
	es := signKID(t, m, ES256)
	ed := signKID(t, m, EdDSA)
	esNext := addKey(t, store, kek, ES256, StateNext, t0.Add(time.Minute), time.Time{})
	esOld := addKey(t, store, kek, ES256, StateRetired, t0.Add(-60*day), t0.Add(time.Hour))
	esOlder := addKey(t, store, kek, ES256, StateRetired, t0.Add(-90*day), time.Time{})
	addKey(t, store, kek, ES256, StateRetired, t0.Add(-120*day), t0) // expired: not listed
	rs := addKey(t, store, kek, RS256, StateActive, t0.Add(-time.Hour), time.Time{})
	mustLoad(t, m)

	var got []string
	for _, k := range m.Keys() {
		got = append(got, k.ID)
	}
	// "ES256" < "EdDSA" < "RS256" byte-wise.
	if want := []string{es, esNext, esOlder, esOld, ed, rs}; !slices.Equal(got, want) {
		t.Errorf("Keys() order %v, want %v", got, want)
	}
	k := m.Keys()[3]
	if want := (KeyInfo{ID: esOld, Algorithm: ES256, State: StateRetired, CreatedAt: t0.Add(-60 * day),
		ActivatesAt: t0.Add(-60 * day), RetiredAt: t0.Add(-60 * day), ExpiresAt: t0.Add(time.Hour)}); k != want {
		t.Errorf("Keys()[3] = %+v, want %+v", k, want)
	}
}

// TestReplicasConverge runs two Managers over one store, as two replicas,
// through three rotation periods. At every step both Tick at the same time,
// and both list the store before either writes, the worst interleaving: both
// create a next key, both promote, both delete. After each step they must
// agree on one active key per algorithm and serve the same JWKS bytes.
func TestReplicasConverge(t *testing.T) {
	ctx := context.Background()
	store := &memStore{}
	clk := newClock(t0)
	algs := []string{ES256, EdDSA}
	opts := Options{Now: clk.now, Schedule: testSchedule}
	m1 := NewManager(store, testKEK(1), algs, opts)
	m2 := NewManager(store, testKEK(1), algs, opts)
	mustLoad(t, m1)
	mustLoad(t, m2)

	var armed atomic.Int32
	var listed *sync.WaitGroup
	store.listHook = func() error {
		if armed.Add(-1) >= 0 {
			listed.Done()
			listed.Wait()
		}
		return nil
	}
	type issued struct {
		token string
		at    time.Time
	}
	var tokens []issued
	for step, at := range []time.Duration{
		29 * day, 29*day + time.Minute, // next keys: both create one, then the newest stays
		30 * day, 30*day + 2*time.Hour, // promotion, expiry
		59 * day, 60 * day, // both create, then both promote the same one at once
		60*day + 2*time.Hour, 89 * day, 90 * day, 90*day + 2*time.Hour,
	} {
		clk.set(t0.Add(at))
		listed = &sync.WaitGroup{}
		listed.Add(2)
		armed.Store(2)
		var wg sync.WaitGroup
		var err1, err2 error
		wg.Go(func() { _, err1 = m1.Tick(ctx) })
		wg.Go(func() { _, err2 = m2.Tick(ctx) })
		wg.Wait()
		if err := errors.Join(err1, err2); err != nil {
			t.Fatalf("step %d (%v): %v", step, at, err)
		}
		for _, alg := range algs {
			n := countStates(store, alg)
			if n[StateActive] != 1 {
				t.Errorf("step %d (%v): %d active %s keys", step, at, n[StateActive], alg)
			}
			if (at == 29*day || at == 59*day) && n[StateNext] != 2 {
				t.Errorf("step %d (%v): %d next %s keys, want 2 (the race did not happen)", step, at, n[StateNext], alg)
			}
		}
		mustLoad(t, m1)
		mustLoad(t, m2)
		if !bytes.Equal(m1.JWKS(), m2.JWKS()) || m1.ETag() != m2.ETag() {
			t.Errorf("step %d (%v): replicas serve %v and %v", step, at, kids(m1.PublicKeys()), kids(m2.PublicKeys()))
		}
		for _, alg := range algs {
			if a, b := signKID(t, m1, alg), signKID(t, m2, alg); a != b {
				t.Errorf("step %d (%v): %s replicas sign with %s and %s", step, at, alg, a, b)
			}
			tok, _ := m2.Sign(alg, nil, []byte("{}"))
			tokens = append(tokens, issued{tok, clk.now()})
		}
		// Every token within its lifetime verifies on either replica.
		for _, tok := range tokens {
			if !tok.at.Add(tokenLifetime).After(clk.now()) {
				continue
			}
			for _, m := range []*Manager{m1, m2} {
				if _, err := checkToken(tok.token, m.JWKS()); err != nil {
					t.Errorf("step %d: token of %v: %v", step, tok.at.Sub(t0), err)
				}
			}
		}
	}
	store.listHook = nil
	for _, alg := range algs {
		n := countStates(store, alg)
		if n[StateActive] != 1 || n[StateNext] != 0 || n[StateRetired] != 0 {
			t.Errorf("%s at the end: %v", alg, n)
		}
	}
}

// TestNeverWithoutActiveKey rotates quickly on one replica while another
// replica Loads and signs in a loop, and checks after every single write to
// the store that every algorithm still has an active key: a Load that found
// none would create an unannounced key. Run it with -race.
func TestNeverWithoutActiveKey(t *testing.T) {
	ctx := context.Background()
	store := &memStore{}
	clk := newClock(t0)
	algs := []string{ES256, EdDSA}
	opts := Options{Now: clk.now, Schedule: testSchedule}
	rotator := NewManager(store, testKEK(1), algs, opts)
	replica := NewManager(store, testKEK(1), algs, opts)
	mustLoad(t, rotator)
	mustLoad(t, replica)

	// afterWrite runs under the store's lock, so these need no other.
	writes := 0
	seen := map[string]bool{}
	for _, r := range store.snapshot() {
		seen[r.ID] = true
	}
	store.afterWrite = func(recs []Record) {
		writes++
		for _, alg := range algs {
			if !hasActive(recs, alg) {
				t.Errorf("write %d left no active %s key", writes, alg)
			}
		}
		for _, r := range recs {
			if !seen[r.ID] && r.State == StateActive {
				t.Errorf("write %d: key %s was created active (by a Load)", writes, r.ID)
			}
			seen[r.ID] = true
		}
	}

	const rotations = 25
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		for i := range rotations {
			// Create a next key, then promote it: Advance twice, or Tick
			// at the due times, alternately.
			if i%2 == 0 {
				for range 2 {
					if err := rotator.Advance(ctx); err != nil {
						t.Error(err)
						return
					}
				}
				continue
			}
			start := startedAt(activeRecord(store, ES256))
			for _, at := range []time.Duration{29 * day, 30 * day} {
				clk.set(start.Add(at))
				if _, err := rotator.Tick(ctx); err != nil {
					t.Error(err)
					return
				}
			}
			for _, alg := range algs {
				// EdDSA rotated on its own schedule; catch it up.
				if countStates(store, alg)[StateNext] > 0 {
					if err := rotator.Advance(ctx); err != nil {
						t.Error(err)
					}
				}
			}
			_ = rotator.Keys()
			_ = rotator.NextChange()
		}
	})
	// The other replica reloads and signs; its snapshot changes only by
	// its own Load, so a token it signs verifies against its JWKS.
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := replica.Load(ctx); err != nil {
				t.Error(err)
				return
			}
			for _, alg := range algs {
				tok, err := replica.Sign(alg, nil, []byte("{}"))
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := checkToken(tok, replica.JWKS()); err != nil {
					t.Error(err)
					return
				}
			}
		}
	})
	// And the rotator itself serves and reloads while it rotates.
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := rotator.Load(ctx); err != nil {
				t.Error(err)
				return
			}
			if _, err := rotator.Sign(ES256, nil, []byte("{}")); err != nil {
				t.Error(err)
				return
			}
			_, _ = rotator.JWKS(), rotator.ETag()
		}
	})
	wg.Wait()
	if writes < 3*len(algs)*rotations { // create, promote, retire
		t.Errorf("only %d writes for %d rotations", writes, rotations)
	}
}

func activeRecord(store *memStore, alg string) Record {
	var best Record
	for _, r := range store.snapshot() {
		if r.Algorithm == alg && r.State == StateActive && (best.ID == "" || newer(r, best)) {
			best = r
		}
	}
	return best
}
