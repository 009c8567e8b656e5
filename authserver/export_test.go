package authserver

import "time"

// Hooks for the external tests of throttling and hashing (package
// authserver_test), which need a running provider and so cannot be internal.

// DummyHash is the hash verified for unknown usernames.
func DummyHash(s *Server) string { return s.dummyHash }

// SlowHashes replaces the server's password verification with verify, gives
// it room for slots hash verifications at once replica-wide (so the test does
// not depend on GOMAXPROCS), and makes a client IP wait at most ipWait for one
// of its own slots.
func SlowHashes(s *Server, verify func(hash, pw string) (bool, error), slots int, ipWait time.Duration) {
	s.verify = verify
	s.hashSlots = make(chan struct{}, slots)
	s.ipHashWait = ipWait
}
