package resource

import (
	"container/list"
	"crypto/sha256"
	"time"
)

// tokenKey is the SHA-256 of a token. The cache is keyed by it, never by the
// token, so that a heap dump of the API holds no usable bearer token.
type tokenKey [sha256.Size]byte

// answerCache holds introspection answers, positive and negative, until
// their own lifetime ends. It is bounded: when full, expired entries at the
// old end go first, then the oldest entry. It is not safe for concurrent use;
// Introspector.mu guards it (together with the calls in flight, so that a
// finished call and its cache entry appear at once).
type answerCache struct {
	max     int
	entries map[tokenKey]*list.Element // of *cacheEntry
	order   *list.List                 // oldest insertion at the front
}

type cacheEntry struct {
	key tokenKey
	answer
}

func newAnswerCache(max int) *answerCache {
	return &answerCache{max: max, entries: make(map[tokenKey]*list.Element), order: list.New()}
}

// get returns the answer for key if it is still fresh at now, and drops it
// if it is not.
func (c *answerCache) get(key tokenKey, now time.Time) (answer, bool) {
	el, ok := c.entries[key]
	if !ok {
		return answer{}, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.until) {
		c.remove(el)
		return answer{}, false
	}
	return e.answer, true
}

// put stores a, unless its lifetime has already ended at now.
func (c *answerCache) put(key tokenKey, a answer, now time.Time) {
	if !now.Before(a.until) {
		return
	}
	if el, ok := c.entries[key]; ok {
		c.remove(el)
	}
	// Entries are inserted in time order with lifetimes of at most
	// CacheTTL, so the front is where expired ones gather: dropping them
	// there, then the oldest if still full, keeps put O(1) even under a
	// flood of distinct tokens. (An entry cut short by its token's exp may
	// linger further back until it reaches the front or is looked up.)
	for el := c.order.Front(); el != nil && !now.Before(el.Value.(*cacheEntry).until); el = c.order.Front() {
		c.remove(el)
	}
	for c.order.Len() >= c.max {
		c.remove(c.order.Front())
	}
	c.entries[key] = c.order.PushBack(&cacheEntry{key: key, answer: a})
}

func (c *answerCache) remove(el *list.Element) {
	delete(c.entries, el.Value.(*cacheEntry).key)
	c.order.Remove(el)
}

func (c *answerCache) len() int { return c.order.Len() }
