package clientkeys

// Waiting is how many callers wait on a fetch of uri: tests wait for it to
// reach their number of goroutines before they let the server answer, so
// that "concurrent" is certain, not likely.
func (c *Cache) Waiting(uri string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[uri]
	if !ok {
		return 0
	}
	return el.Value.(*cacheEntry).waiting
}
