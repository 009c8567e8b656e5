package authserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/password"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/authserver/throttle"
)

// This file wires package throttle into sign-in and client authentication,
// and upgrades outdated password hashes at sign-in.

// ipHashWait is how long a password verification waits for one of its
// client IP's hash slots before it is refused with 429: long enough for a
// few users behind one NAT signing in together, short enough that a flood
// from one address does not pile up goroutines for minutes.
const ipHashWait = 3 * time.Second

// errThrottled is the answer to a request whose key is in back-off. RFC
// 6749 §5.2 has no code for it; like AWS's sign-in service we send
// invalid_request with 429 Too Many Requests and Retry-After (RFC 6585 §4),
// so a client can tell "wait" from "your request is wrong" by the status
// alone. temporarily_unavailable is not used: it is registered for the
// authorization endpoint only, and here it already means a store outage (503).
func errThrottled(wait time.Duration) *protocolError {
	pe := newError("invalid_request", http.StatusTooManyRequests, "too many failed attempts; retry after %d seconds", throttle.Seconds(wait))
	pe.RetryAfter = wait
	return pe
}

// errHashBusy is the answer when the client IP already has its share of
// password verifications running and its wait ran out.
func errHashBusy() *protocolError {
	pe := newError("invalid_request", http.StatusTooManyRequests, "too many sign-ins from this address at once; retry after 1 seconds")
	pe.RetryAfter = time.Second
	return pe
}

// throttledFor reports whether err is a throttling refusal, and for how long.
func throttledFor(err error) (time.Duration, bool) {
	var pe *protocolError
	if errors.As(err, &pe) && pe.Status == http.StatusTooManyRequests {
		return pe.RetryAfter, true
	}
	return 0, false
}

// loginKeys are the counters of a password sign-in: the username as typed
// (case-folded; an unknown one counts like a known one, so the answer never
// tells them apart) and the client IP. The username key comes first: it is
// the one a success resets.
func loginKeys(ctx context.Context, username string) []throttle.Key {
	keys := []throttle.Key{throttle.Username(username)}
	if ip := observe.ClientIP(ctx); ip.IsValid() {
		keys = append(keys, throttle.Key{Kind: throttle.KindIP, Value: ip.String()})
	}
	return keys
}

func clientKey(id string) throttle.Key { return throttle.Key{Kind: throttle.KindClient, Value: id} }

// refuseIfBlocked answers errThrottled when any key is in back-off. It runs
// before any password or secret is checked, so that a correct guess during
// back-off is refused too: otherwise the throttle would be an oracle. kind
// is the metric's label (observe.ThrottleLogin or ThrottleClientAuth); who
// names the username or client id for the audit log.
func (s *Server) refuseIfBlocked(ctx context.Context, kind string, who slog.Attr, keys ...throttle.Key) error {
	if s.limiter == nil {
		return nil
	}
	wait, by, err := s.limiter.Blocked(ctx, keys...)
	if err != nil || wait <= 0 {
		return err
	}
	s.auditThrottled(ctx, kind, string(by), who, wait)
	return errThrottled(wait)
}

func (s *Server) auditThrottled(ctx context.Context, kind, counter string, who slog.Attr, wait time.Duration) {
	s.metrics.Throttled(kind)
	observe.Audit(ctx, s.log, observe.EventThrottleBlocked, slog.String("kind", kind), slog.String("counter", counter), who,
		slog.Int("retry_after", throttle.Seconds(wait)))
}

// countFailure records one failure against every key. Its error is
// returned, not logged away: an answer must not be given for a guess that
// was not counted.
func (s *Server) countFailure(ctx context.Context, keys ...throttle.Key) error {
	if s.limiter == nil {
		return nil
	}
	return s.limiter.Fail(ctx, keys...)
}

// forgetFailures resets keys after a success. The sign-in has succeeded
// already, so a store error only costs the user a shorter grace next time:
// it is logged, not returned.
func (s *Server) forgetFailures(ctx context.Context, keys ...throttle.Key) {
	if s.limiter == nil {
		return
	}
	if err := s.limiter.Succeed(ctx, keys...); err != nil {
		s.log.WarnContext(ctx, "could not reset throttle counters after a sign-in", slog.Any("err", err))
	}
}

// ipHashSlot takes one of the client IP's hash slots (package throttle's
// Slots), waiting up to ipHashWait. Requests without a known client IP are
// bounded by the global slots only.
func (s *Server) ipHashSlot(ctx context.Context) (release func(), err error) {
	ip := observe.ClientIP(ctx)
	if s.ipSlots == nil || !ip.IsValid() {
		return func() {}, nil
	}
	key := ip.String()
	wait, cancel := context.WithTimeout(ctx, s.ipHashWait)
	defer cancel()
	if err := s.ipSlots.Acquire(wait, key); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		s.auditThrottled(ctx, observe.ThrottleLogin, "ip_hash_slots", slog.String("client_ip", key), time.Second)
		return nil, errHashBusy()
	}
	return func() { s.ipSlots.Release(key) }, nil
}

// hashSlot takes one of the replica's hash slots, waiting until ctx ends.
// Each argon2id hash takes memory_kib of RAM, so without a bound a flood of
// sign-ins would exhaust the machine's memory; with it, they queue.
func (s *Server) hashSlot(ctx context.Context) (release func(), err error) {
	select {
	case s.hashSlots <- struct{}{}:
		return func() { <-s.hashSlots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// upgradeHash re-hashes a just verified password whose stored hash was made
// with other parameters than the configured ones (or with bcrypt): such a
// hash answers in another time than the dummy hash of unknown users, and is
// weaker than the operator asked for. The swap only happens if the stored
// hash is still the one verified, so a password changed meanwhile stays
// changed. Failure is logged: the sign-in itself has succeeded.
//
// Users of the configuration file are left alone: the file owns their hash,
// and a start that found a hash other than the file's password_hash would
// take it for a password change (and end the user's sessions). Their
// outdated hashes are the seeding's to upgrade.
func (s *Server) upgradeHash(ctx context.Context, u storage.User, pw string) {
	if u.Owner == storage.OwnerFile || !password.NeedsRehash(u.PasswordHash, s.passwordParams) {
		return
	}
	release, err := s.hashSlot(ctx)
	if err != nil {
		return
	}
	hash, err := password.Hash(pw, s.passwordParams)
	release()
	if err == nil {
		err = s.store.ReplacePasswordHash(ctx, u.ID, u.PasswordHash, hash)
	}
	if errors.Is(err, storage.ErrNotFound) {
		return // changed or removed meanwhile: nothing to upgrade
	}
	if err != nil {
		s.log.WarnContext(ctx, "could not upgrade a password hash", slog.String("user_id", u.ID), slog.Any("err", err))
		return
	}
	s.log.InfoContext(ctx, "password hash upgraded to the configured parameters", slog.String("user_id", u.ID))
}

// loginThrottled answers a throttled login form: the page again, with 429,
// Retry-After and the same words whether or not the username exists.
func (s *Server) loginThrottled(w http.ResponseWriter, r *http.Request, req *authzRequest, username string, err error) bool {
	msg, ok := tooManyAttempts(w, err)
	if ok {
		s.renderLogin(w, r, req, username, msg, http.StatusTooManyRequests, "")
	}
	return ok
}

// tooManyAttempts reports whether err is a throttling refusal; if so it
// sets Retry-After and returns the words a page shows (429).
func tooManyAttempts(w http.ResponseWriter, err error) (string, bool) {
	wait, ok := throttledFor(err)
	if !ok {
		return "", false
	}
	n := throttle.Seconds(wait)
	w.Header().Set("Retry-After", strconv.Itoa(n))
	unit := "seconds"
	if n == 1 {
		unit = "second"
	}
	return fmt.Sprintf("Too many attempts; try again in %d %s.", n, unit), true
}

// boundedUsername is a username as typed, cut for the log: an operator
// investigating an attack needs it, but it is attacker-chosen.
func boundedUsername(username string) string {
	if len(username) > 256 {
		return strings.ToValidUTF8(username[:256], "")
	}
	return username
}
