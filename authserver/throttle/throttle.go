// Package throttle slows down guessing: failed sign-ins per username and per
// client IP, and failed client authentications per client id, earn an
// exponential back-off once a number of free failures is used up. The
// counters live in the store (storage.ThrottleStore), so every replica sees
// the same back-off; the clock is a field so tests can move it.
//
// It also bounds how many password hashes one client IP may have running at
// once (Slots), so a single address cannot take every hash slot of a replica.
//
// It imports storage only; it must not import authserver.
package throttle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"github.com/authserver-dev/authserver/authserver/storage"
)

// Policy is one back-off schedule.
type Policy struct {
	// Free failures cost nothing; the next one blocks for Base, and each one
	// after that doubles the block, up to Max.
	Free int
	Base time.Duration
	Max  time.Duration
	// ResetAfter forgets a key that has had no failure for this long.
	ResetAfter time.Duration
}

// Delay is how long a key with n failures is blocked after its last one.
func (p Policy) Delay(n int) time.Duration {
	over := n - p.Free
	if over <= 0 || p.Base <= 0 {
		return 0
	}
	d := p.Base
	for i := 1; i < over; i++ {
		d *= 2
		if d >= p.Max {
			return p.Max
		}
	}
	return min(d, p.Max)
}

// Kind names what a key counts; it prefixes the stored key and is the
// label of the throttled-requests metric.
type Kind string

const (
	KindUsername Kind = "login_user"
	KindIP       Kind = "login_ip"
	KindClient   Kind = "client_auth"
)

// Username is the key of a username as typed, case-folded, so that
// "Alice" and "alice" share one counter whether or not the user exists.
func Username(typed string) Key { return Key{Kind: KindUsername, Value: strings.ToLower(typed)} }

// Seconds is a back-off as the whole seconds a client must wait (Retry-After,
// RFC 9110 §10.2.3): rounded up, so that a client that waits exactly that
// long is no longer refused, and at least one.
func Seconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// Key is one counter: a kind and the value it counts (a username as typed,
// an IP address, a client id).
type Key struct {
	Kind  Kind
	Value string
}

// id is what the store keeps: a hash, so that arbitrary input (usernames as
// typed) is never stored and every key has the same bounded length.
func (k Key) id() string {
	sum := sha256.Sum256([]byte(string(k.Kind) + "\x00" + k.Value))
	return hex.EncodeToString(sum[:])
}

// Limiter applies one Policy per Kind over a shared store.
type Limiter struct {
	Store    storage.ThrottleStore
	Policies map[Kind]Policy
	Now      func() time.Time
}

// Blocked reports the longest remaining back-off among keys (0 when none is
// blocked). It must be called before any password or secret is checked, so
// that a correct guess during back-off is refused too: otherwise the
// throttle would be an oracle.
func (l *Limiter) Blocked(ctx context.Context, keys ...Key) (time.Duration, Kind, error) {
	now := l.Now()
	var longest time.Duration
	var kind Kind
	for _, k := range keys {
		p, ok := l.Policies[k.Kind]
		if !ok || k.Value == "" {
			continue
		}
		st, err := l.Store.GetThrottle(ctx, k.id(), now)
		if err != nil {
			return 0, "", err
		}
		if wait := st.LastFailure.Add(p.Delay(st.Failures)).Sub(now); wait > longest {
			longest, kind = wait, k.Kind
		}
	}
	return longest, kind, nil
}

// Fail counts one failure against every key.
func (l *Limiter) Fail(ctx context.Context, keys ...Key) error {
	now := l.Now()
	for _, k := range keys {
		p, ok := l.Policies[k.Kind]
		if !ok || k.Value == "" {
			continue
		}
		// The row lives while it can still block or still counts: the
		// longest block plus the quiet time that resets it.
		if _, err := l.Store.RecordThrottleFailure(ctx, k.id(), now, now.Add(p.Max+p.ResetAfter), now.Add(-p.ResetAfter)); err != nil {
			return err
		}
	}
	return nil
}

// Succeed forgets the keys' failures (a correct sign-in by that user). The
// IP key is left alone by callers, so one good account cannot launder a
// spraying address.
func (l *Limiter) Succeed(ctx context.Context, keys ...Key) error {
	for _, k := range keys {
		if _, ok := l.Policies[k.Kind]; !ok || k.Value == "" {
			continue
		}
		if err := l.Store.ResetThrottle(ctx, k.id()); err != nil {
			return err
		}
	}
	return nil
}

// Slots bounds concurrent work (password hashes) per client IP in this
// process. The global bound lives with the hasher; this one keeps a single
// address from holding all of it. A request over the bound waits for its
// address's turn rather than failing at once, so that users behind one NAT
// who happen to sign in together are slowed, not refused; a flood from one
// address then queues behind itself while other addresses get the hasher.
type Slots struct {
	PerKey int
	mu     sync.Mutex
	keys   map[string]*slot
}

// slot is one key's semaphore; refs counts holders and waiters, so the
// entry is dropped when nobody uses it and the map stays as small as the
// set of addresses signing in right now.
type slot struct {
	sem  chan struct{}
	refs int
}

// Acquire takes a slot for key, waiting while key holds PerKey of them,
// until ctx is done (then it returns ctx's error). Every nil return must be
// paired with Release.
func (s *Slots) Acquire(ctx context.Context, key string) error {
	if s.PerKey <= 0 {
		return nil
	}
	s.mu.Lock()
	if s.keys == nil {
		s.keys = map[string]*slot{}
	}
	sl := s.keys[key]
	if sl == nil {
		sl = &slot{sem: make(chan struct{}, s.PerKey)}
		s.keys[key] = sl
	}
	sl.refs++
	s.mu.Unlock()
	select {
	case sl.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		s.unref(key, sl)
		return ctx.Err()
	}
}

// Release gives back a slot taken by Acquire.
func (s *Slots) Release(key string) {
	if s.PerKey <= 0 {
		return
	}
	s.mu.Lock()
	sl := s.keys[key]
	s.mu.Unlock()
	if sl == nil {
		return
	}
	<-sl.sem
	s.unref(key, sl)
}

func (s *Slots) unref(key string, sl *slot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sl.refs--; sl.refs == 0 && s.keys[key] == sl {
		delete(s.keys, key)
	}
}

// Len is how many keys hold or wait for a slot (for tests: the map must not
// grow with every address ever seen).
func (s *Slots) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys)
}
