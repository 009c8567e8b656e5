package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"sync"
	"time"
)

// errStoreFull means too many live entries; the caller answers 503 rather
// than letting an unauthenticated client grow memory without bound.
var errStoreFull = errors.New("too many sign-ins in progress, try again later")

// store keeps values in memory under random IDs that only the browser's
// cookie knows, so no token ever travels to the browser.
type store[T any] struct {
	mu    sync.Mutex
	ttl   time.Duration
	max   int
	now   func() time.Time
	items map[string]storeEntry[T]
}

type storeEntry[T any] struct {
	value   T
	expires time.Time
}

func newStore[T any](ttl time.Duration, max int, now func() time.Time) *store[T] {
	return &store[T]{ttl: ttl, max: max, now: now, items: map[string]storeEntry[T]{}}
}

// put stores v under a new random ID.
func (s *store[T]) put(v T) (string, error) {
	id := randomString()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.items) >= s.max {
		for k, e := range s.items {
			if !now.Before(e.expires) {
				delete(s.items, k)
			}
		}
		if len(s.items) >= s.max {
			return "", errStoreFull
		}
	}
	s.items[id] = storeEntry[T]{value: v, expires: now.Add(s.ttl)}
	return id, nil
}

// get returns the live value under id.
func (s *store[T]) get(id string) (T, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.items[id]
	if !ok || !s.now().Before(e.expires) {
		delete(s.items, id)
		var zero T
		return zero, false
	}
	return e.value, true
}

// take returns the live value under id and removes it, so it serves once.
func (s *store[T]) take(id string) (T, bool) {
	v, ok := s.get(id)
	s.remove(id)
	return v, ok
}

// values returns the live values, for a search that must not hold the
// store's lock while it looks inside each.
func (s *store[T]) values() []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	out := make([]T, 0, len(s.items))
	for _, e := range s.items {
		if now.Before(e.expires) {
			out = append(out, e.value)
		}
	}
	return out
}

func (s *store[T]) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.items, id)
}

// randomString returns 256 random bits, URL-safe.
func randomString() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails; see crypto/rand.Read
	return base64.RawURLEncoding.EncodeToString(b)
}
