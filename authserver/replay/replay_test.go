package replay_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/replay"
)

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct{ t atomic.Pointer[time.Time] }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.set(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	return c
}
func (c *fakeClock) Now() time.Time          { return *c.t.Load() }
func (c *fakeClock) set(t time.Time)         { c.t.Store(&t) }
func (c *fakeClock) advance(d time.Duration) { c.set(c.Now().Add(d)) }

func TestMemory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newFakeClock()
	c := replay.NewMemory(10, clock.Now)
	exp := clock.Now().Add(time.Minute)

	seen := func(id string, exp time.Time) bool {
		t.Helper()
		s, err := c.Seen(ctx, id, exp)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if seen("a", exp) {
		t.Fatal("a seen before it was recorded")
	}
	if !seen("a", exp) {
		t.Fatal("a not seen the second time")
	}
	if seen("b", exp) {
		t.Fatal("b seen: ids are independent")
	}
	// An id already past its expiry is not worth recording.
	if seen("old", clock.Now()) || seen("old", clock.Now()) {
		t.Fatal("an expired id was recorded")
	}
	// After its expiry an id is forgotten, and its entry is dropped.
	clock.advance(time.Minute)
	if seen("a", clock.Now().Add(time.Minute)) {
		t.Fatal("a still seen after its expiry")
	}
	if got := c.Len(); got != 1 {
		t.Errorf("Len = %d after the expired entries went, want 1", got)
	}
}

func TestMemoryIsBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newFakeClock()
	const max = 3
	c := replay.NewMemory(max, clock.Now)
	// id-0 expires first, id-4 last.
	for i := range 5 {
		if s, _ := c.Seen(ctx, fmt.Sprint("id-", i), clock.Now().Add(time.Duration(10+i)*time.Second)); s {
			t.Fatalf("id-%d seen before", i)
		}
	}
	if got := c.Len(); got != max {
		t.Fatalf("Len = %d, want %d", got, max)
	}
	if got := c.Evictions(); got != 2 {
		t.Errorf("Evictions = %d, want 2", got)
	}
	// The entries closest to expiry were dropped; the others still count.
	// (Live ones first: asking about a forgotten id records it again.)
	for _, i := range []int{2, 3, 4} {
		if s, _ := c.Seen(ctx, fmt.Sprint("id-", i), clock.Now().Add(time.Hour)); !s {
			t.Errorf("id-%d not seen, but it was among the %d latest to expire", i, max)
		}
	}
	if s, _ := c.Seen(ctx, "id-0", clock.Now().Add(time.Hour)); s {
		t.Error("id-0 seen, but it was evicted")
	}

	// Expired entries make room before any live one is evicted.
	c = replay.NewMemory(max, clock.Now)
	for i := range max {
		c.Seen(ctx, fmt.Sprint("short-", i), clock.Now().Add(time.Second))
	}
	clock.advance(time.Second)
	c.Seen(ctx, "new", clock.Now().Add(time.Minute))
	if got, ev := c.Len(), c.Evictions(); got != 1 || ev != 0 {
		t.Errorf("Len = %d, Evictions = %d after expiry; want 1 and 0", got, ev)
	}
}

func TestMemoryConcurrency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newFakeClock()
	const max, workers, perWorker = 100, 16, 200
	c := replay.NewMemory(max, clock.Now)
	exp := clock.Now().Add(time.Minute)

	// Every worker races for the same ids: each is new exactly once.
	var fresh atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range 50 {
				s, err := c.Seen(ctx, fmt.Sprint("shared-", i), exp)
				if err != nil {
					t.Error(err)
				}
				if !s {
					fresh.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := fresh.Load(); got != 50 {
		t.Fatalf("%d calls reported a shared id as new, want 50", got)
	}

	// Many distinct ids at once: the bound holds.
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				if _, err := c.Seen(ctx, fmt.Sprintf("w%d-%d", w, i), exp); err != nil {
					t.Error(err)
				}
				if n := c.Len(); n > max {
					t.Errorf("Len = %d > %d", n, max)
				}
			}
		})
	}
	wg.Wait()
	if got := c.Len(); got != max {
		t.Errorf("Len = %d, want %d", got, max)
	}
}
