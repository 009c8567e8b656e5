package resource

// WaitForRefresh blocks until the JWKS fetch in flight, if any, has landed.
// Verify starts a background refresh before it returns, so a test that calls
// this after Verify observes the refresh's outcome deterministically, without
// sleeping or polling.
func WaitForRefresh(v *Verifier) {
	v.keys.mu.Lock()
	call := v.keys.inflight
	v.keys.mu.Unlock()
	if call != nil {
		<-call.done
	}
}
