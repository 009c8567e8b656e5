// Package replay remembers one-time identifiers (the jti of DPoP proofs
// and of client assertions) so that each is accepted once: the Cache
// contract that packages dpop and clientkeys verify against, and Memory, a
// bounded implementation in this process's memory for a single process and
// for tests. The provider backs the contract with its store instead, so
// that every replica sees every identifier.
//
// It is a leaf: the standard library only.
package replay

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// Cache records identifiers until they expire.
type Cache interface {
	// Seen records id until exp and reports whether it was already
	// recorded and not yet expired. It must be atomic: of concurrent calls
	// with the same id, exactly one returns false.
	//
	// Callers pass a fixed-length digest, not the raw jti, so that a
	// client's identifiers cost bounded space and one client's or key's
	// cannot collide with another's. exp is when what carried the id would
	// be refused anyway (too old, expired); after it the entry is useless.
	//
	// An error means the cache cannot decide; the caller then refuses,
	// never accepts.
	Seen(ctx context.Context, id string, exp time.Time) (bool, error)
}

// Memory is a Cache in this process's memory, bounded in
// entries: when full, expired entries go first, then those closest to
// expiry (the ones whose replay window is shortest). An entry dropped
// before its expiry could be replayed until then, so size it for the
// request rate; Evictions counts such drops. Replicas of a server do not
// share it: the provider uses its store instead.
type Memory struct {
	max int
	now func() time.Time

	mu        sync.Mutex
	byID      map[string]*replayEntry // guarded by mu
	byExpiry  replayHeap              // guarded by mu
	evictions uint64                  // guarded by mu
}

// NewMemory returns a cache of at most max entries (at least 1)
// that judges expiry with now (time.Now when nil).
func NewMemory(max int, now func() time.Time) *Memory {
	if max < 1 {
		max = 1
	}
	if now == nil {
		now = time.Now
	}
	return &Memory{max: max, now: now, byID: make(map[string]*replayEntry)}
}

var _ Cache = (*Memory)(nil)

// Seen implements Cache. It never fails.
func (c *Memory) Seen(_ context.Context, id string, exp time.Time) (bool, error) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byID[id]; ok && now.Before(e.exp) {
		return true, nil
	}
	if !now.Before(exp) {
		return false, nil // nothing left to protect
	}
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
func (c *Memory) drop() {
	e := heap.Pop(&c.byExpiry).(*replayEntry)
	delete(c.byID, e.id)
}

// Len is the number of entries held, expired ones not yet dropped included.
func (c *Memory) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byExpiry)
}

// Evictions is how many entries were dropped before their expiry because
// the cache was full.
func (c *Memory) Evictions() uint64 {
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
