package authserver

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/keys"
	"github.com/authserver-dev/authserver/templates"
)

// This file is what the provider says about its own health: the readiness
// probe, and the answer a page gets while the store is unreachable (the JSON
// endpoints get theirs from writeJSONError).
//
// /healthz (in server.go) answers 200 as long as the process serves HTTP; an
// orchestrator restarts a process that fails it. /readyz answers 200 only
// when this replica can do its job — the store answers and the signing keys
// are loaded — so that a load balancer sends traffic elsewhere meanwhile,
// without a restart that would not help.

// defaultReadyTimeout bounds the store ping of /readyz when Config leaves
// ReadyTimeout unset: shorter than a probe's usual timeout, longer than a
// busy database's usual answer.
const defaultReadyTimeout = 2 * time.Second

// readiness is the body of /readyz.
type readiness struct {
	Status string `json:"status"`
	// Reason says what is missing, in words without secrets or addresses.
	Reason string `json:"reason,omitempty"`
}

// handleReady is /readyz: 200 {"status":"ready"}, or 503
// {"status":"unavailable","reason":...} with Retry-After.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if reason := s.notReady(r.Context()); reason != "" {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		writeJSON(w, http.StatusServiceUnavailable, readiness{Status: "unavailable", Reason: reason})
		return
	}
	writeJSON(w, http.StatusOK, readiness{Status: "ready"})
}

// notReady returns why the server cannot serve now, or "" when it can. The
// reason is a fixed phrase: the store's own error may name the database
// host and user, so it goes to the log, never to an unauthenticated caller.
func (s *Server) notReady(ctx context.Context) string {
	timeout := s.cfg.ReadyTimeout
	if timeout <= 0 {
		timeout = defaultReadyTimeout
	}
	pingCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := s.store.Ping(pingCtx); err != nil {
		reason := "store: the database could not be reached"
		switch {
		case errors.Is(pingCtx.Err(), context.DeadlineExceeded):
			reason = "store: the database did not answer within " + timeout.String()
		case !errors.Is(err, storage.ErrUnavailable):
			reason = "store: the database check failed"
		}
		s.log.WarnContext(ctx, "not ready", slog.String("reason", reason), slog.Any("err", err))
		return reason
	}
	if missing := missingSigningKeys(s.keys); len(missing) > 0 {
		reason := "signing keys: no active key loaded for " + strings.Join(missing, ", ")
		s.log.WarnContext(ctx, "not ready", slog.String("reason", reason))
		return reason
	}
	return ""
}

// missingSigningKeys lists the configured algorithms that have no active key
// in the loaded set (every one of them before the first Load).
func missingSigningKeys(km *keys.Manager) []string {
	loaded := km.Keys()
	var missing []string
	for _, alg := range km.Algorithms() {
		if !slices.ContainsFunc(loaded, func(k keys.KeyInfo) bool { return k.Algorithm == alg && k.State == keys.StateActive }) {
			missing = append(missing, alg)
		}
	}
	return missing
}

// answerUnavailable shows the "try again shortly" page with 503 and
// Retry-After when err means the store is unreachable, and reports whether
// it did. A page never redirects such an error to the client: nothing is
// wrong with the request, and the user can simply reload.
func (s *Server) answerUnavailable(w http.ResponseWriter, r *http.Request, err error) bool {
	if !errors.Is(err, storage.ErrUnavailable) {
		return false
	}
	s.asProtocolError(r, err) // logs and counts it
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	s.render(w, http.StatusServiceUnavailable, templates.Unavailable{RetryAfterSeconds: retryAfterSeconds})
	return true
}
