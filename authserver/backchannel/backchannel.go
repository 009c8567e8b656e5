// Package backchannel delivers OpenID Connect Back-Channel Logout 1.0
// logout tokens to relying parties (§2.5): a POST of logout_token, form
// encoded, to the client's backchannel_logout_uri, in the background, with
// a short timeout per attempt and a bounded number of attempts, so that a
// slow or failing relying party never delays the user whose session ended
// nor holds more than a bounded amount of memory.
//
// It owns only delivery: which sessions ended, who must be told and what the
// token says are the caller's (package authserver). It imports the standard
// library only, and no package of this module.
package backchannel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Outcomes of a logout, as passed to Sender.Done.
const (
	OutcomeSucceeded = "succeeded"
	// OutcomeFailed is a logout that no attempt delivered: every attempt
	// failed, or one got an answer that retrying cannot change (a 4xx: the
	// relying party refused the token), or its token could not be made.
	OutcomeFailed = "failed"
)

// Defaults of Sender's tunables.
const (
	DefaultTimeout     = 5 * time.Second
	DefaultAttempts    = 3
	DefaultBackoff     = time.Second
	DefaultQueue       = 1024
	DefaultConcurrency = 8
)

// Logout is one logout token for one relying party.
type Logout struct {
	// ClientID names the relying party in logs.
	ClientID string
	// URI is the client's registered backchannel_logout_uri.
	URI string
	// Token makes the signed logout token. It is called once, when the
	// first attempt starts, so that a logout that waited in the queue still
	// carries a fresh iat and exp; every attempt sends the same token.
	Token func() (string, error)
}

// Sender queues logouts and delivers them while Run runs. Set the fields
// before the first call of any method; the zero value uses the defaults.
type Sender struct {
	// Client sends the requests; nil means a client that follows no
	// redirect (a 3xx is a failure: the token goes to the registered URI
	// only).
	Client *http.Client
	// Timeout bounds each attempt (DefaultTimeout).
	Timeout time.Duration
	// Attempts is how many times one logout is tried (DefaultAttempts).
	Attempts int
	// Backoff is the wait before the second attempt; it doubles before each
	// later one (DefaultBackoff).
	Backoff time.Duration
	// Queue is how many logouts may wait for delivery (DefaultQueue);
	// Concurrency how many are delivered at once (DefaultConcurrency).
	Queue, Concurrency int
	// After is the clock the back-off waits on; nil means time.After.
	After func(time.Duration) <-chan time.Time
	// Logger gets a warning for every logout that failed (never its token).
	Logger *slog.Logger
	// Done, when set, is told the outcome of every logout (for a metric).
	Done func(outcome string)

	once    sync.Once
	queue   chan Logout
	client  *http.Client
	logger  *slog.Logger
	after   func(time.Duration) <-chan time.Time
	timeout time.Duration
	backoff time.Duration
}

func (s *Sender) init() {
	s.once.Do(func() {
		s.queue = make(chan Logout, positive(s.Queue, DefaultQueue))
		s.client = s.Client
		if s.client == nil {
			s.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		}
		s.logger = s.Logger
		if s.logger == nil {
			s.logger = slog.New(slog.DiscardHandler)
		}
		s.after = s.After
		if s.after == nil {
			s.after = time.After
		}
		s.timeout = positive(s.Timeout, DefaultTimeout)
		s.backoff = positive(s.Backoff, DefaultBackoff)
		s.Attempts = positive(s.Attempts, DefaultAttempts)
		s.Concurrency = positive(s.Concurrency, DefaultConcurrency)
	})
}

func positive[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Send queues l, waiting for room until ctx is done (then it returns ctx's
// error and l is not sent). The waiting is the producer's, a background
// loop's, never a user's request: the queue is what bounds memory.
func (s *Sender) Send(ctx context.Context, l Logout) error {
	s.init()
	select {
	case s.queue <- l:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run delivers queued logouts, at most Concurrency at once, until ctx is
// done; it then cancels the deliveries in flight, waits for them and
// returns. Logouts still queued are not sent (they are counted in a log
// line). Run must be running for anything to be delivered.
func (s *Sender) Run(ctx context.Context) {
	s.init()
	slots := make(chan struct{}, s.Concurrency)
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		if n := len(s.queue); n > 0 {
			s.logger.Warn("back-channel logouts not delivered: the server stopped first", slog.Int("count", n))
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case l := <-s.queue:
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				s.finish(l, OutcomeFailed, 0, ctx.Err())
				return
			}
			wg.Go(func() {
				defer func() { <-slots }()
				s.deliver(ctx, l)
			})
		}
	}
}

// deliver tries l up to Attempts times and reports the outcome once.
func (s *Sender) deliver(ctx context.Context, l Logout) {
	token, err := l.Token()
	if err != nil {
		s.finish(l, OutcomeFailed, 0, fmt.Errorf("making the logout token: %w", err))
		return
	}
	wait := s.backoff
	for attempt := 1; ; attempt++ {
		retry, err := s.post(ctx, l.URI, token)
		if err == nil {
			s.finish(l, OutcomeSucceeded, attempt, nil)
			return
		}
		if !retry || attempt >= s.Attempts || ctx.Err() != nil {
			s.finish(l, OutcomeFailed, attempt, err)
			return
		}
		s.logger.Info("back-channel logout attempt failed; retrying", slog.String("client_id", l.ClientID),
			slog.Int("attempt", attempt), slog.Duration("retry_in", wait), slog.Any("err", err))
		select {
		case <-s.after(wait):
		case <-ctx.Done():
			s.finish(l, OutcomeFailed, attempt, err)
			return
		}
		wait *= 2
	}
}

func (s *Sender) finish(l Logout, outcome string, attempts int, err error) {
	if err != nil {
		s.logger.Warn("back-channel logout failed", slog.String("client_id", l.ClientID),
			slog.String("uri", redactedURI(l.URI)), slog.Int("attempts", attempts), slog.Any("err", err))
	} else {
		s.logger.Debug("back-channel logout delivered", slog.String("client_id", l.ClientID), slog.Int("attempts", attempts))
	}
	if s.Done != nil {
		s.Done(outcome)
	}
}

// errStatus is an answer other than 200 or 204.
type errStatus struct{ code int }

func (e errStatus) Error() string { return fmt.Sprintf("the relying party answered %d", e.code) }

// post makes one attempt. retry says whether another attempt could
// succeed: after a network error, a timeout, a 5xx, 408 or 429, but not
// after another answer (§2.8: 400 means the relying party refused the
// token, which sending it again cannot change).
func (s *Sender) post(ctx context.Context, uri, token string) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is logged once, by finish
		}
		return true, err
	}
	// Drained (a little) so that the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c == http.StatusOK || c == http.StatusNoContent:
		return false, nil
	case c >= 500 || c == http.StatusRequestTimeout || c == http.StatusTooManyRequests:
		return true, errStatus{c}
	default:
		return false, errStatus{c}
	}
}

// redactedURI is the URI without its query, which a relying party may have
// used to carry a secret of its own.
func redactedURI(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.RawQuery, u.User = "", nil
	return u.String()
}
