package clientkeys

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// ReplayCache remembers the client assertions a server has accepted, so
// that each is accepted once (RFC 7523 §3: the server may ensure that a
// jti is not reused; OpenID Connect Core §9 and FAPI 2.0 require it). It is
// the same contract as package dpop's ReplayCache, so one store-backed
// implementation serves both.
type ReplayCache interface {
	// Seen records id until exp and reports whether it was already
	// recorded and not yet expired. It must be atomic: of concurrent calls
	// with the same id, exactly one returns false.
	//
	// id is not the raw jti but a fixed-length digest of the client and
	// jti (43 characters), so a client's jti costs bounded space and one
	// client's jti cannot collide with another's. exp is the assertion's
	// exp: after it the assertion is refused as expired anyway.
	//
	// An error means the cache cannot decide; the assertion is then
	// refused with that error, never accepted.
	Seen(ctx context.Context, id string, exp time.Time) (bool, error)
}

// DefaultReplayCacheSize bounds the MemoryReplayCache a Verifier makes
// when Config.ReplayCache is nil: about 10 MB at most, and room for some
// 160 assertions a second within the default maximum lifetime before any
// live entry is dropped.
const DefaultReplayCacheSize = 50_000

// MemoryReplayCache is a ReplayCache in this process's memory, bounded in
// entries: when full, expired entries go first, then those closest to
// expiry (the ones whose replay window is shortest). An entry dropped
// before its expiry could be replayed until then, so size it for the
// request rate; Evictions counts such drops. Replicas of a server do not
// share it: the provider uses its store instead.
type MemoryReplayCache struct {
	max int
	now func() time.Time

	mu        sync.Mutex
	byID      map[string]*replayEntry // guarded by mu
	byExpiry  replayHeap              // guarded by mu
	evictions uint64                  // guarded by mu
}

// NewMemoryReplayCache returns a cache of at most max entries (at least 1)
// that judges expiry with now (time.Now when nil).
func NewMemoryReplayCache(max int, now func() time.Time) *MemoryReplayCache {
	if max < 1 {
		max = 1
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryReplayCache{max: max, now: now, byID: make(map[string]*replayEntry)}
}

var _ ReplayCache = (*MemoryReplayCache)(nil)

// Seen implements ReplayCache. It never fails.
func (c *MemoryReplayCache) Seen(_ context.Context, id string, exp time.Time) (bool, error) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byID[id]; ok && now.Before(e.exp) {
		return true, nil
	}
	if !now.Before(exp) {
		return false, nil // nothing left to protect
	}
	// Expired entries sit at the top of the heap, an expired entry of this
	// id among them, so this also clears the way for the new one.
	for len(c.byExpiry) > 0 && !now.Before(c.byExpiry[0].exp) {
		c.drop()
	}
	for len(c.byExpiry) >= c.max {
		c.drop()
		c.evictions++
	}
	e := &replayEntry{id: id, exp: exp}
	heap.Push(&c.byExpiry, e)
	c.byID[id] = e
	return false, nil
}

// drop removes the entry closest to expiry.
func (c *MemoryReplayCache) drop() {
	e := heap.Pop(&c.byExpiry).(*replayEntry)
	delete(c.byID, e.id)
}

// Len is the number of entries held, expired ones not yet dropped included.
func (c *MemoryReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byExpiry)
}

// Evictions is how many entries were dropped before their expiry because
// the cache was full.
func (c *MemoryReplayCache) Evictions() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.evictions
}

type replayEntry struct {
	id  string
	exp time.Time
}

// replayHeap is a min-heap of entries by expiry.
type replayHeap []*replayEntry

func (h replayHeap) Len() int           { return len(h) }
func (h replayHeap) Less(i, j int) bool { return h[i].exp.Before(h[j].exp) }
func (h replayHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *replayHeap) Push(x any)        { *h = append(*h, x.(*replayEntry)) }
func (h *replayHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
