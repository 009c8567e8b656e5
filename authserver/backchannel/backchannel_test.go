package backchannel_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/backchannel"
)

// rp is a relying party's back-channel logout endpoint that records what it
// was sent and answers with the status of its turn.
type rp struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
	tokens   []string
	statuses []int // one per request; the last one repeats
	got      chan struct{}
}

func newRP(t *testing.T, statuses ...int) *rp {
	r := &rp{statuses: statuses, got: make(chan struct{}, 100)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_ = req.ParseForm()
		r.mu.Lock()
		n := len(r.requests)
		r.requests = append(r.requests, req)
		r.tokens = append(r.tokens, req.PostForm.Get("logout_token"))
		status := r.statuses[min(n, len(r.statuses)-1)]
		r.mu.Unlock()
		w.WriteHeader(status)
		r.got <- struct{}{}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *rp) snapshot() ([]*http.Request, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.requests), slices.Clone(r.tokens)
}

func (r *rp) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.requests)
}

// outcomes collects Done's reports.
type outcomes struct {
	mu   sync.Mutex
	list []string
	done chan string
}

func newOutcomes() *outcomes { return &outcomes{done: make(chan string, 100)} }

func (o *outcomes) report(outcome string) {
	o.mu.Lock()
	o.list = append(o.list, outcome)
	o.mu.Unlock()
	o.done <- outcome
}

func (o *outcomes) next(t *testing.T) string {
	t.Helper()
	select {
	case out := <-o.done:
		return out
	case <-t.Context().Done():
		t.Fatal("no outcome before the test ended")
		return ""
	}
}

// waits records the back-off waits and returns at once, so that retries
// cost no time.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) after(d time.Duration) <-chan time.Time {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	c := make(chan time.Time, 1)
	c <- time.Time{}
	return c
}

func run(t *testing.T, s *backchannel.Sender) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func token(v string) func() (string, error) { return func() (string, error) { return v, nil } }

func TestDeliversFormEncodedToken(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusOK, http.StatusNoContent} {
		r := newRP(t, status)
		out := newOutcomes()
		s := &backchannel.Sender{Done: out.report}
		run(t, s)
		if err := s.Send(t.Context(), backchannel.Logout{ClientID: "web", URI: r.URL + "/bc?x=1", Token: token("a.b+c/d=")}); err != nil {
			t.Fatal(err)
		}
		if got := out.next(t); got != backchannel.OutcomeSucceeded {
			t.Fatalf("answer %d: outcome %s, want succeeded", status, got)
		}
		reqs, tokens := r.snapshot()
		req := reqs[0]
		if req.Method != http.MethodPost || req.URL.Path != "/bc" || req.URL.RawQuery != "x=1" {
			t.Errorf("request %s %s", req.Method, req.URL)
		}
		if ct := req.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			t.Errorf("Content-Type %q", ct)
		}
		if tokens[0] != "a.b+c/d=" {
			t.Errorf("logout_token %q", tokens[0])
		}
		if r.count() != 1 {
			t.Errorf("%d requests for a success, want 1", r.count())
		}
	}
}

func TestRetriesServerErrorsABoundedNumberOfTimes(t *testing.T) {
	t.Parallel()
	r := newRP(t, http.StatusInternalServerError)
	out, w := newOutcomes(), &waits{}
	made := 0
	s := &backchannel.Sender{Done: out.report, After: w.after, Attempts: 3, Backoff: time.Second}
	run(t, s)
	_ = s.Send(t.Context(), backchannel.Logout{ClientID: "web", URI: r.URL, Token: func() (string, error) { made++; return "tok", nil }})
	if got := out.next(t); got != backchannel.OutcomeFailed {
		t.Fatalf("outcome %s, want failed", got)
	}
	if n := r.count(); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
	if !slices.Equal(w.d, []time.Duration{time.Second, 2 * time.Second}) {
		t.Errorf("back-off waits %v, want [1s 2s]", w.d)
	}
	if _, tokens := r.snapshot(); made != 1 || !slices.Equal(tokens, []string{"tok", "tok", "tok"}) {
		t.Errorf("token made %d times, sent %q; want one token sent three times", made, tokens)
	}
}

func TestRetryThenSuccess(t *testing.T) {
	t.Parallel()
	r := newRP(t, http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusOK)
	out, w := newOutcomes(), &waits{}
	s := &backchannel.Sender{Done: out.report, After: w.after}
	run(t, s)
	_ = s.Send(t.Context(), backchannel.Logout{URI: r.URL, Token: token("tok")})
	if got := out.next(t); got != backchannel.OutcomeSucceeded || r.count() != 3 {
		t.Fatalf("outcome %s after %d attempts, want succeeded after 3", got, r.count())
	}
}

func TestRefusalIsNotRetried(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusBadRequest, http.StatusFound, http.StatusAccepted} {
		r := newRP(t, status)
		out := newOutcomes()
		s := &backchannel.Sender{Done: out.report, After: (&waits{}).after}
		run(t, s)
		_ = s.Send(t.Context(), backchannel.Logout{URI: r.URL, Token: token("tok")})
		if got := out.next(t); got != backchannel.OutcomeFailed || r.count() != 1 {
			t.Errorf("answer %d: outcome %s after %d attempts, want failed after 1", status, got, r.count())
		}
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	target := newRP(t, http.StatusOK)
	redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	t.Cleanup(redirect.Close)
	out := newOutcomes()
	s := &backchannel.Sender{Done: out.report}
	run(t, s)
	_ = s.Send(t.Context(), backchannel.Logout{URI: redirect.URL, Token: token("tok")})
	if got := out.next(t); got != backchannel.OutcomeFailed || target.count() != 0 {
		t.Fatalf("outcome %s, redirect target got %d requests; want failed and none", got, target.count())
	}
}

// A relying party that never answers costs each attempt its timeout, then
// the logout fails: nothing waits for it longer than Attempts timeouts.
func TestHangingRelyingPartyTimesOut(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var mu sync.Mutex
	attempts := 0
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		attempts++
		mu.Unlock()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); hang.Close() })
	out := newOutcomes()
	s := &backchannel.Sender{Done: out.report, After: (&waits{}).after, Timeout: 50 * time.Millisecond, Attempts: 2}
	run(t, s)
	_ = s.Send(t.Context(), backchannel.Logout{URI: hang.URL, Token: token("tok")})
	if got := out.next(t); got != backchannel.OutcomeFailed {
		t.Fatalf("outcome %s, want failed", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if attempts != 2 {
		t.Fatalf("%d attempts, want 2", attempts)
	}
}

func TestTokenErrorFails(t *testing.T) {
	t.Parallel()
	r := newRP(t, http.StatusOK)
	out := newOutcomes()
	s := &backchannel.Sender{Done: out.report}
	run(t, s)
	_ = s.Send(t.Context(), backchannel.Logout{URI: r.URL, Token: func() (string, error) { return "", errors.New("no key") }})
	if got := out.next(t); got != backchannel.OutcomeFailed || r.count() != 0 {
		t.Fatalf("outcome %s with %d requests, want failed with none", got, r.count())
	}
}

// The queue bounds memory: with nothing delivering, Send waits once it is
// full and gives up with its context.
func TestQueueIsBounded(t *testing.T) {
	t.Parallel()
	s := &backchannel.Sender{Queue: 2}
	for i := range 2 {
		if err := s.Send(t.Context(), backchannel.Logout{Token: token("tok")}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Send(ctx, backchannel.Logout{Token: token("tok")}); !errors.Is(err, context.Canceled) {
		t.Fatalf("send to a full queue: %v, want context.Canceled", err)
	}
}

// Run stops when its context ends, and cancels a delivery in flight
// rather than waiting for the relying party.
func TestRunStopsOnCancel(t *testing.T) {
	t.Parallel()
	arrived, release := make(chan struct{}), make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
	}))
	t.Cleanup(func() { close(release); hang.Close() })
	out := newOutcomes()
	s := &backchannel.Sender{Done: out.report, Timeout: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { s.Run(ctx); close(stopped) }()
	_ = s.Send(t.Context(), backchannel.Logout{URI: hang.URL, Token: token("tok")})
	<-arrived
	cancel()
	<-stopped // a Run that waited for the relying party would hang the test
	if got := out.next(t); got != backchannel.OutcomeFailed {
		t.Fatalf("outcome of the cancelled delivery %s, want failed", got)
	}
}

// Concurrency bounds the deliveries in flight: a hanging relying party
// holds at most that many.
func TestConcurrencyIsBounded(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var mu sync.Mutex
	inFlight := 0
	arrived := make(chan struct{}, 10)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		mu.Unlock()
		arrived <- struct{}{}
		<-release
	}))
	out := newOutcomes()
	s := &backchannel.Sender{Done: out.report, Concurrency: 2, Timeout: time.Hour}
	run(t, s)
	t.Cleanup(func() { hang.Close() })
	for range 5 {
		_ = s.Send(t.Context(), backchannel.Logout{URI: hang.URL, Token: token("tok")})
	}
	<-arrived
	<-arrived
	// Give a third delivery every chance to start if the bound were broken:
	// a fourth logout is queued behind the held slots, and the sender has
	// taken one more off the queue, waiting for a slot.
	_ = s.Send(t.Context(), backchannel.Logout{URI: hang.URL, Token: token("tok")})
	select {
	case <-arrived:
		t.Fatal("a third delivery started while two were in flight with Concurrency 2")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	for range 6 {
		if got := out.next(t); got != backchannel.OutcomeSucceeded {
			t.Fatalf("outcome %s after release", got)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if inFlight != 6 {
		t.Fatalf("%d deliveries, want 6", inFlight)
	}
}
