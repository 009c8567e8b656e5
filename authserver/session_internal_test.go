package authserver

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// Password verifications beyond the bound wait for a slot instead of each
// taking argon2's memory at once.
func TestPasswordVerificationsAreBounded(t *testing.T) {
	s := &Server{hashSlots: make(chan struct{}, 3)}
	var running, peak atomic.Int32
	release := make(chan struct{})
	s.verify = func(string, string) (bool, error) {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		running.Add(-1)
		return true, nil
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { _, _ = s.verifyPassword(context.Background(), "h", "pw") })
	}
	for running.Load() < 3 { // the bound fills up
		runtime.Gosched()
	}
	for range 10 {
		release <- struct{}{}
	}
	wg.Wait()
	if got := peak.Load(); got != 3 {
		t.Fatalf("%d verifications ran at once; want the bound, 3", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	for range 3 {
		s.hashSlots <- struct{}{}
	}
	cancel()
	if _, err := s.verifyPassword(ctx, "h", "pw"); err == nil {
		t.Fatal("a cancelled request waited for a slot")
	}
}
