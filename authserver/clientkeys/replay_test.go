package clientkeys_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/clientkeys"
)

func TestMemoryReplayCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newFakeClock()
	c := clientkeys.NewMemoryReplayCache(10, clock.Now)
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
	if seen("old", clock.Now()) || seen("old", clock.Now()) {
		t.Fatal("an id already expired was recorded")
	}
	clock.advance(time.Minute)
	if seen("a", clock.Now().Add(time.Minute)) {
		t.Fatal("a still seen after its expiry")
	}
	if !seen("a", clock.Now().Add(time.Minute)) {
		t.Fatal("a recorded again after its expiry is not seen")
	}
	if got := c.Len(); got != 1 {
		t.Errorf("Len = %d after the expired entries went, want 1", got)
	}
}

func TestMemoryReplayCacheIsBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newFakeClock()
	c := clientkeys.NewMemoryReplayCache(3, clock.Now)
	for i := range 5 { // id-0 expires first, id-4 last
		if s, _ := c.Seen(ctx, fmt.Sprint("id-", i), clock.Now().Add(time.Duration(10+i)*time.Second)); s {
			t.Fatalf("id-%d seen on first use", i)
		}
	}
	if c.Len() != 3 || c.Evictions() != 2 {
		t.Fatalf("Len = %d, Evictions = %d; want 3 and 2", c.Len(), c.Evictions())
	}
	// The entries closest to expiry went; the others are still refused.
	for _, i := range []int{2, 3, 4} {
		if s, _ := c.Seen(ctx, fmt.Sprint("id-", i), clock.Now().Add(time.Minute)); !s {
			t.Errorf("id-%d not seen after the evictions of others", i)
		}
	}
}

// Of concurrent uses of one id, exactly one is first.
func TestMemoryReplayCacheIsAtomic(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	c := clientkeys.NewMemoryReplayCache(100, clock.Now)
	var first atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if s, _ := c.Seen(context.Background(), "same", clock.Now().Add(time.Minute)); !s {
				first.Add(1)
			}
		})
	}
	wg.Wait()
	if first.Load() != 1 {
		t.Fatalf("%d callers were first, want 1", first.Load())
	}
}
