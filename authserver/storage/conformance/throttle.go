package conformance

import (
	"sync"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/storage"
)

// throttleCases specify storage.ThrottleStore.
var throttleCases = []testCase{
	{"UnknownKeyIsZero", func(t *testing.T, s storage.Store) {
		st, err := s.GetThrottle(t.Context(), "k", at(0))
		mustOK(t, "get", err)
		if st != (storage.ThrottleState{}) {
			t.Fatalf("unknown key = %+v, want the zero state", st)
		}
	}},
	{"FailuresCountAndReset", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		for i := 1; i <= 3; i++ {
			st, err := s.RecordThrottleFailure(ctx, "k", at(time.Duration(i)*time.Second), at(time.Hour), at(-time.Hour))
			mustOK(t, "record", err)
			if st.Failures != i || !st.LastFailure.Equal(at(time.Duration(i)*time.Second)) {
				t.Fatalf("failure %d: state %+v", i, st)
			}
		}
		st, err := s.GetThrottle(ctx, "k", at(10*time.Second))
		mustOK(t, "get", err)
		if st.Failures != 3 || !st.LastFailure.Equal(at(3*time.Second)) {
			t.Fatalf("after 3 failures: %+v", st)
		}
		if other, _ := s.GetThrottle(ctx, "other", at(10*time.Second)); other.Failures != 0 {
			t.Fatalf("another key counts %d failures", other.Failures)
		}
		mustOK(t, "reset", s.ResetThrottle(ctx, "k"))
		mustOK(t, "reset unknown", s.ResetThrottle(ctx, "never"))
		if st, _ := s.GetThrottle(ctx, "k", at(10*time.Second)); st.Failures != 0 {
			t.Fatalf("after reset: %+v", st)
		}
	}},
	{"ExpiredOrQuietRowStartsAgain", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		for i := 0; i < 4; i++ {
			_, err := s.RecordThrottleFailure(ctx, "k", at(0), at(time.Minute), at(-time.Hour))
			mustOK(t, "record", err)
		}
		if st, _ := s.GetThrottle(ctx, "k", at(time.Minute)); st.Failures != 0 {
			t.Fatalf("expired row still counts %d failures", st.Failures)
		}
		st, err := s.RecordThrottleFailure(ctx, "k", at(2*time.Minute), at(time.Hour), at(-time.Hour))
		mustOK(t, "record after expiry", err)
		if st.Failures != 1 {
			t.Fatalf("failure after expiry counts %d, want 1", st.Failures)
		}
		// Quiet since before resetBefore: the next failure is the first.
		st, err = s.RecordThrottleFailure(ctx, "k", at(10*time.Minute), at(time.Hour), at(5*time.Minute))
		mustOK(t, "record after quiet", err)
		if st.Failures != 1 {
			t.Fatalf("failure after a quiet period counts %d, want 1", st.Failures)
		}
	}},
	{"ConcurrentFailuresAllCount", func(t *testing.T, s storage.Store) {
		const n = 16
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				_, err := s.RecordThrottleFailure(t.Context(), "k", at(time.Second), at(time.Hour), at(-time.Hour))
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			mustOK(t, "record", err)
		}
		if st, _ := s.GetThrottle(t.Context(), "k", at(2*time.Second)); st.Failures != n {
			t.Fatalf("%d concurrent failures counted as %d", n, st.Failures)
		}
	}},
	{"PurgeDeletesOnlyExpired", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		_, err := s.RecordThrottleFailure(ctx, "dead", at(0), at(time.Minute), at(-time.Hour))
		mustOK(t, "record", err)
		_, err = s.RecordThrottleFailure(ctx, "live", at(0), at(time.Hour), at(-time.Hour))
		mustOK(t, "record", err)
		n, err := s.PurgeExpired(ctx, at(2*time.Minute), time.Time{}, time.Time{}, 10)
		mustOK(t, "purge", err)
		if n != 1 {
			t.Fatalf("purge deleted %d rows, want the 1 expired counter", n)
		}
		if st, _ := s.GetThrottle(ctx, "live", at(2*time.Minute)); st.Failures != 1 {
			t.Fatalf("purge touched a live counter: %+v", st)
		}
	}},
}
