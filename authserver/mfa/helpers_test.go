package mfa_test

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/mfa"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/authserver/storage/sqlstore"
)

const (
	testRPID   = "login.example.com"
	testOrigin = "https://login.example.com"
)

// clock is a settable time source, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// testKey is a fixed 32-byte key; keyB another.
var (
	testKey = []byte("0123456789abcdef0123456789abcdef")
	keyB    = []byte("fedcba9876543210fedcba9876543210")
)

// newService is a service on a real SQLite store (its replay table) in a
// temporary directory, with a clock the test moves.
func newService(t *testing.T) (*mfa.Service, *clock) {
	t.Helper()
	return newServiceKey(t, testKey)
}

func newServiceKey(t *testing.T, key []byte) (*mfa.Service, *clock) {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "mfa.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &clock{t: time.Now()}
	s, err := mfa.New(mfa.Config{
		RPID:    testRPID,
		RPName:  "Example Login",
		Origins: []string{testOrigin},
		Key:     key,
		Replay:  st,
		Now:     c.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

// replayStoreOf is a real store for Config.Replay.
func replayStoreOf(t *testing.T) storage.ReplayStore {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "replay.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
