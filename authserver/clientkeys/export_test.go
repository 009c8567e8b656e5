package clientkeys

// Waiters is how many callers wait on the fetch of uri in flight (0 when
// none is): tests wait for it to reach their number of goroutines before
// they let the server answer, so that "concurrent" is certain, not likely.
func (c *Cache) Waiters(uri string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[uri]
	if !ok || el.Value.(*cacheEntry).inflight == nil {
		return 0
	}
	return el.Value.(*cacheEntry).inflight.waiters
}
