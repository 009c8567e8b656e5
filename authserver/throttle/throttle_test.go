package throttle_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/storage/sqlstore"
	"github.com/authserver-dev/authserver/authserver/throttle"
)

func TestPolicyDelay(t *testing.T) {
	p := throttle.Policy{Free: 5, Base: time.Second, Max: 15 * time.Minute}
	for _, c := range []struct {
		failures int
		want     time.Duration
	}{
		{0, 0}, {5, 0}, {6, time.Second}, {7, 2 * time.Second}, {8, 4 * time.Second},
		{15, 512 * time.Second}, {16, 15 * time.Minute}, {1000, 15 * time.Minute},
	} {
		if got := p.Delay(c.failures); got != c.want {
			t.Errorf("Delay(%d) = %v, want %v", c.failures, got, c.want)
		}
	}
}

// newLimiter runs on a real SQLite file with a clock the test moves.
func newLimiter(t *testing.T) (*throttle.Limiter, *time.Time) {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	return &throttle.Limiter{
		Store: st,
		Policies: map[throttle.Kind]throttle.Policy{
			throttle.KindUsername: {Free: 2, Base: time.Second, Max: time.Minute, ResetAfter: time.Hour},
			throttle.KindIP:       {Free: 4, Base: time.Second, Max: time.Minute, ResetAfter: time.Hour},
		},
		Now: func() time.Time { return now },
	}, &now
}

func TestLimiterBacksOffAndForgets(t *testing.T) {
	l, now := newLimiter(t)
	ctx := t.Context()
	user := throttle.Key{Kind: throttle.KindUsername, Value: "alice"}
	ip := throttle.Key{Kind: throttle.KindIP, Value: "192.0.2.1"}
	for i := 0; i < 2; i++ {
		if err := l.Fail(ctx, user, ip); err != nil {
			t.Fatal(err)
		}
	}
	if wait, _, _ := l.Blocked(ctx, user, ip); wait != 0 {
		t.Fatalf("blocked %v after the free failures", wait)
	}
	_ = l.Fail(ctx, user, ip)
	wait, kind, err := l.Blocked(ctx, user, ip)
	if err != nil || wait != time.Second || kind != throttle.KindUsername {
		t.Fatalf("after 3 failures: Blocked = %v, %q, %v; want 1s by username", wait, kind, err)
	}
	_ = l.Fail(ctx, user, ip)
	if wait, _, _ := l.Blocked(ctx, user); wait != 2*time.Second {
		t.Fatalf("after 4 failures: blocked %v, want 2s", wait)
	}
	*now = now.Add(2 * time.Second)
	if wait, _, _ := l.Blocked(ctx, user); wait != 0 {
		t.Fatalf("block outlived its delay: %v", wait)
	}
	other := throttle.Key{Kind: throttle.KindUsername, Value: "bob"}
	if wait, _, _ := l.Blocked(ctx, other); wait != 0 {
		t.Fatalf("another username is blocked %v", wait)
	}
	if err := l.Succeed(ctx, user); err != nil {
		t.Fatal(err)
	}
	_ = l.Fail(ctx, user, ip)
	if wait, _, _ := l.Blocked(ctx, user); wait != 0 {
		t.Fatalf("after a success the count went on: blocked %v", wait)
	}
	// The IP key kept counting (Succeed was not given it): 5 failures, one
	// over its free four.
	if wait, kind, _ := l.Blocked(ctx, ip); wait == 0 || kind != throttle.KindIP {
		t.Fatalf("IP not blocked after 5 failures (%v, %q)", wait, kind)
	}
}

func TestSlotsBoundPerKey(t *testing.T) {
	s := throttle.Slots{PerKey: 2}
	ctx := t.Context()
	if s.Acquire(ctx, "a") != nil || s.Acquire(ctx, "a") != nil {
		t.Fatal("the first two slots were refused")
	}
	third := make(chan error, 1)
	go func() { third <- s.Acquire(ctx, "a") }()
	if err := s.Acquire(ctx, "b"); err != nil {
		t.Fatal("another key waited behind a busy one")
	}
	s.Release("b")
	select {
	case <-third:
		t.Fatal("a third slot for one key was granted while two are held")
	default:
	}
	s.Release("a")
	if err := <-third; err != nil {
		t.Fatalf("the waiter did not get the released slot: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Acquire(cancelled, "a"); err == nil {
		t.Fatal("a cancelled wait took a slot")
	}
	s.Release("a")
	s.Release("a")
	if n := s.Len(); n != 0 {
		t.Fatalf("%d keys left after every slot was released", n)
	}
}

func TestSeconds(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int
	}{{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {time.Second + time.Nanosecond, 2}, {15 * time.Minute, 900}} {
		if got := throttle.Seconds(c.d); got != c.want {
			t.Errorf("Seconds(%v) = %d, want %d", c.d, got, c.want)
		}
	}
}

func TestUsernameKeyIsCaseFolded(t *testing.T) {
	if throttle.Username("Alice") != throttle.Username("alice") {
		t.Fatal("Alice and alice have different throttle keys")
	}
}
