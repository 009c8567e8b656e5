package keys

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Default durations of a Schedule whose field is zero.
const (
	DefaultRotationPeriod = 30 * 24 * time.Hour
	DefaultPublishLead    = 24 * time.Hour
)

// Schedule is the lifecycle of the signing keys of one algorithm. A key is
// published as next for PublishLead before it signs, so that a relying party
// holding a cached JWKS already knows it when its first token arrives; it
// then signs until it is RotationPeriod old; once retired it stays published
// for RetireAfter, so that every token it signed can still be verified.
//
// A key is therefore published for PublishLead + RotationPeriod +
// RetireAfter in all, and the JWKS normally holds two keys per algorithm
// (active plus next, or active plus retired).
type Schedule struct {
	// RotationPeriod is the age at which an active key is replaced, counted
	// from its ActivatesAt (CreatedAt when that is zero). Zero means
	// DefaultRotationPeriod.
	RotationPeriod time.Duration
	// PublishLead is how long a next key is published before it signs. It
	// must be at least the JWKS cache lifetime the server advertises, plus
	// the interval at which replicas reload (a replica publishes a key only
	// from its next Load). Zero means DefaultPublishLead.
	PublishLead time.Duration
	// RetireAfter is how long a retired key stays published after it stopped
	// signing: at least the longest lifetime of a token it signed, plus clock
	// leeway, plus the reload interval (other replicas keep signing with the
	// old key until their next Load). Only the caller knows its token
	// lifetimes, so there is no default: Tick and Advance fail while it is
	// zero.
	RetireAfter time.Duration
}

func (s Schedule) withDefaults() Schedule {
	if s.RotationPeriod == 0 {
		s.RotationPeriod = DefaultRotationPeriod
	}
	if s.PublishLead == 0 {
		s.PublishLead = DefaultPublishLead
	}
	return s
}

// Validate reports whether s, its zero RotationPeriod and PublishLead
// replaced by their defaults, can drive rotations: every duration positive,
// and PublishLead shorter than RotationPeriod (otherwise the next key would
// have to be created before its predecessor started signing).
func (s Schedule) Validate() error {
	s = s.withDefaults()
	var errs []error
	if s.RotationPeriod <= 0 {
		errs = append(errs, fmt.Errorf("keys: rotation period %v is not positive", s.RotationPeriod))
	}
	if s.PublishLead <= 0 {
		errs = append(errs, fmt.Errorf("keys: publish lead %v is not positive", s.PublishLead))
	}
	if s.RetireAfter <= 0 {
		errs = append(errs, fmt.Errorf("keys: retire-after %v is not positive (it must cover the longest token lifetime plus leeway)", s.RetireAfter))
	}
	if s.RotationPeriod > 0 && s.PublishLead >= s.RotationPeriod {
		errs = append(errs, fmt.Errorf("keys: publish lead %v is not shorter than the rotation period %v", s.PublishLead, s.RotationPeriod))
	}
	return errors.Join(errs...)
}

// KeyInfo describes a published key for operators (`authserver keys list`).
// It holds no key material.
type KeyInfo struct {
	ID, Algorithm string
	State         State
	CreatedAt     time.Time
	ActivatesAt   time.Time
	RetiredAt     time.Time
	ExpiresAt     time.Time
}

// stateRank orders states for display: the key that signs first.
func stateRank(s State) int {
	switch s {
	case StateActive:
		return 0
	case StateNext:
		return 1
	}
	return 2
}

// Keys returns the keys of the current snapshot, that is those JWKS
// publishes, sorted by algorithm, then state (active, next, retired), then
// CreatedAt and kid. Retired keys past their ExpiresAt that Tick has not
// deleted yet are not listed: they are no longer published. It is nil before
// the first successful Load.
func (m *Manager) Keys() []KeyInfo {
	s := m.snap.Load()
	if s == nil {
		return nil
	}
	out := make([]KeyInfo, 0, len(s.recs))
	for _, r := range s.recs {
		out = append(out, KeyInfo{
			ID: r.ID, Algorithm: r.Algorithm, State: r.State,
			CreatedAt: r.CreatedAt, ActivatesAt: r.ActivatesAt,
			RetiredAt: r.RetiredAt, ExpiresAt: r.ExpiresAt,
		})
	}
	slices.SortFunc(out, func(a, b KeyInfo) int {
		return cmp.Or(
			cmp.Compare(a.Algorithm, b.Algorithm),
			cmp.Compare(stateRank(a.State), stateRank(b.State)),
			a.CreatedAt.Compare(b.CreatedAt),
			cmp.Compare(a.ID, b.ID),
		)
	})
	return out
}

// algPlan is what one rotation step does to the keys of one algorithm. It
// is computed from a listing alone, by a pure function, so that every
// replica looking at the same store makes the same choice.
type algPlan struct {
	// promote is the next key that starts signing (nil: none).
	promote *Record
	// retire are active keys that stop signing. They are retired only after
	// promote is active, so that the store never lacks an active key: a Load
	// elsewhere that saw none would create an unannounced key of its own.
	retire []Record
	// drop are surplus next keys (two replicas created one each). They never
	// signed, so deleting them is harmless.
	drop []Record
	// create asks for a new next key.
	create bool
	// due is, when the plan is empty, the earliest time at which it would
	// not be (zero: nothing scheduled).
	due time.Time
}

func (p algPlan) empty() bool {
	return p.promote == nil && len(p.retire) == 0 && len(p.drop) == 0 && !p.create
}

// byNewest sorts records newest first by the rule Load uses to pick the
// signing key (CreatedAt, then kid).
func byNewest(a, b Record) int {
	switch {
	case newer(a, b):
		return -1
	case newer(b, a):
		return 1
	}
	return 0
}

// startedAt is when an active key started signing.
func startedAt(r Record) time.Time {
	if r.ActivatesAt.IsZero() {
		return r.CreatedAt
	}
	return r.ActivatesAt
}

// planAlg plans the step for the records of one algorithm at now. With
// force (Advance) the next key is promoted, or a next key created, whatever
// the dates say.
func planAlg(recs []Record, sched Schedule, now time.Time, force bool) algPlan {
	var p algPlan
	var actives, nexts []Record
	for _, r := range recs {
		switch r.State {
		case StateActive:
			actives = append(actives, r)
		case StateNext:
			nexts = append(nexts, r)
		}
	}
	slices.SortFunc(actives, byNewest)
	slices.SortFunc(nexts, byNewest)
	if len(nexts) > 1 {
		p.drop = nexts[1:]
	}
	switch {
	case len(nexts) > 0:
		n := nexts[0]
		// Without an active key (edited by hand) the next key signs at
		// once: it has been published since its creation, whereas the key
		// Load would otherwise create has not been published at all.
		if force || len(actives) == 0 || !now.Before(n.ActivatesAt) {
			p.promote = &n
			p.retire = actives
		} else {
			p.due = n.ActivatesAt
			if len(actives) > 1 {
				p.retire = actives[1:]
			}
		}
	case len(actives) > 0:
		if len(actives) > 1 {
			p.retire = actives[1:]
		}
		at := startedAt(actives[0]).Add(sched.RotationPeriod - sched.PublishLead)
		if force || !now.Before(at) {
			p.create = true
		} else {
			p.due = at
		}
	}
	// No key at all: Load creates the active key.
	return p
}

// expired reports whether Tick deletes r at now: a retired key past its
// ExpiresAt. A retired key with no ExpiresAt is kept (published) for ever.
func expired(r Record, now time.Time) bool {
	return r.State == StateRetired && !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt)
}

// Tick is the automatic rotation step. For each configured algorithm it
// creates a next key (ActivatesAt = now + PublishLead) once the active key
// is RotationPeriod - PublishLead old; promotes the next key once its
// ActivatesAt has come, retiring the old active key (RetiredAt = now,
// ExpiresAt = now + RetireAfter); and for every algorithm it deletes retired
// keys past their ExpiresAt. Then it reloads, creating an active key where
// one is missing, as Load does.
//
// Tick is idempotent and safe to run on every replica, say once a minute:
// all decisions are functions of the listing and the clock, writes set
// absolute values, and racing replicas converge. If two replicas both
// created a next key, every replica promotes the newest (CreatedAt, then
// kid) and deletes the other. Keys of algorithms that are no longer
// configured are left alone (except for expiry): a replica still configured
// for them during a rolling deploy would only create them again.
//
// changed reports whether this call wrote to the store or the live key set
// (JWKS or a signing key) differs from before the call, for instance
// because another replica rotated. On error the steps already written stay
// written (the next Tick completes the rotation) and the snapshot is
// reloaded if possible.
func (m *Manager) Tick(ctx context.Context) (changed bool, err error) {
	return m.step(ctx, false)
}

// Advance is the operator's "rotate now" (`authserver keys rotate`). For
// each configured algorithm with no next key it creates one, published now
// and signing from now + PublishLead; where there is a next key it promotes
// it at once, even before its ActivatesAt, and retires the active key as Tick
// would. Running it twice thus replaces the signing keys immediately.
//
// Promoting early is a risk the operator takes: a relying party that fetched
// the JWKS before the next key was created, and caches it for longer than
// the key has been published since, does not know the new kid yet and
// rejects tokens until it refetches (most refetch on an unknown kid). The
// key has been published since it was created; waiting PublishLead after the
// first Advance avoids the risk.
//
// Advance does not delete expired keys; Tick does.
func (m *Manager) Advance(ctx context.Context) error {
	_, err := m.step(ctx, true)
	return err
}

func (m *Manager) step(ctx context.Context, force bool) (changed bool, err error) {
	if m.cfgErr != nil {
		return false, m.cfgErr
	}
	if m.schedErr != nil {
		return false, m.schedErr
	}
	m.mu.Lock()
	defer m.mu.Unlock()

	err = m.locked(ctx, func(ctx context.Context) error {
		var err error
		changed, err = m.apply(ctx, force)
		return err
	})
	reloaded, lerr := m.loadLocked(ctx)
	return changed || reloaded, errors.Join(err, lerr)
}

// apply lists the store and writes one step of the plan. wrote reports
// whether anything was written, even if a later write failed.
func (m *Manager) apply(ctx context.Context, force bool) (wrote bool, err error) {
	now := m.now()
	recs, err := m.store.ListSigningKeys(ctx)
	if err != nil {
		return false, fmt.Errorf("keys: list signing keys: %w", err)
	}
	if err := validate(recs); err != nil {
		return false, err
	}
	for _, alg := range m.algs {
		var mine []Record
		for _, r := range recs {
			if r.Algorithm == alg {
				mine = append(mine, r)
			}
		}
		p := planAlg(mine, m.sched, now, force)
		if p.promote != nil {
			r := *p.promote
			r.State = StateActive
			// A key promoted early starts signing now, and its rotation
			// period counts from then. Otherwise keep the scheduled time:
			// every replica writes the same value, and a late Tick does not
			// shift the schedule.
			if r.ActivatesAt.IsZero() || r.ActivatesAt.After(now) {
				r.ActivatesAt = now
			}
			if err := m.store.UpdateSigningKey(ctx, r); err != nil {
				return wrote, fmt.Errorf("keys: promote %s key %s: %w", alg, r.ID, err)
			}
			wrote = true
		}
		for _, r := range p.retire {
			r.State = StateRetired
			r.RetiredAt = now
			r.ExpiresAt = now.Add(m.sched.RetireAfter)
			if err := m.store.UpdateSigningKey(ctx, r); err != nil {
				return wrote, fmt.Errorf("keys: retire %s key %s: %w", alg, r.ID, err)
			}
			wrote = true
		}
		for _, r := range p.drop {
			if err := m.store.DeleteSigningKey(ctx, r.ID); err != nil {
				return wrote, fmt.Errorf("keys: delete surplus next %s key %s: %w", alg, r.ID, err)
			}
			wrote = true
		}
		if p.create {
			if _, err := m.create(ctx, alg, StateNext, now, now.Add(m.sched.PublishLead)); err != nil {
				return wrote, err
			}
			wrote = true
		}
	}
	if force {
		return wrote, nil
	}
	for _, r := range recs {
		if !expired(r, now) {
			continue
		}
		if err := m.store.DeleteSigningKey(ctx, r.ID); err != nil {
			return wrote, fmt.Errorf("keys: delete expired key %s: %w", r.ID, err)
		}
		wrote = true
	}
	return wrote, nil
}

// NextChange returns the earliest time, not before now, at which Tick would
// change the published key set: create, promote or retire a key, or drop an
// expired one. The server caps the JWKS Cache-Control max-age with it so
// that no cached copy outlives a change. It is now when a change is already
// due (the JWKS is then stale until the next Tick), and zero when nothing is
// scheduled, before the first Load, or when the Schedule is invalid (Tick
// would do nothing).
//
// It reads the snapshot, so it is exact for this replica's last Load; a
// change made meanwhile by another replica is seen after the next Load.
// Tick runs periodically, so the change happens up to one interval later.
func (m *Manager) NextChange() time.Time {
	s := m.snap.Load()
	if s == nil || m.schedErr != nil {
		return time.Time{}
	}
	now := m.now()
	var first time.Time
	earliest := func(t time.Time) {
		if !t.IsZero() && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	for _, alg := range m.algs {
		var mine []Record
		for _, r := range s.recs {
			if r.Algorithm == alg {
				mine = append(mine, r)
			}
		}
		p := planAlg(mine, m.sched, now, false)
		if !p.empty() {
			return now
		}
		earliest(p.due)
	}
	for _, r := range s.recs {
		if r.State == StateRetired {
			earliest(r.ExpiresAt)
		}
	}
	if !first.IsZero() && first.Before(now) {
		return now
	}
	return first
}
