package authserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/authserver/throttle"
)

// protocolError is an OAuth 2.0 error (RFC 6749 §4.1.2.1, §5.2). Constructors
// return fresh values so no caller can mutate a shared one.
type protocolError struct {
	Code        string
	Description string
	// Status is the HTTP status on the token endpoint: 400 for everything but
	// invalid_client (401), per RFC 6749 §5.2.
	Status int
	// RetryAfter, when set, is sent as Retry-After (a throttled request).
	RetryAfter time.Duration
}

func (e *protocolError) Error() string { return e.Code + ": " + e.Description }

func newError(code string, status int, format string, args ...any) *protocolError {
	return &protocolError{Code: code, Description: fmt.Sprintf(format, args...), Status: status}
}

func errInvalidRequest(format string, args ...any) *protocolError {
	return newError("invalid_request", http.StatusBadRequest, format, args...)
}

func errInvalidClient(format string, args ...any) *protocolError {
	return newError("invalid_client", http.StatusUnauthorized, format, args...)
}

func errInvalidGrant(format string, args ...any) *protocolError {
	return newError("invalid_grant", http.StatusBadRequest, format, args...)
}

func errUnauthorizedClient(format string, args ...any) *protocolError {
	return newError("unauthorized_client", http.StatusBadRequest, format, args...)
}

func errUnsupportedGrantType(format string, args ...any) *protocolError {
	return newError("unsupported_grant_type", http.StatusBadRequest, format, args...)
}

func errInvalidScope(format string, args ...any) *protocolError {
	return newError("invalid_scope", http.StatusBadRequest, format, args...)
}

func errAccessDenied(format string, args ...any) *protocolError {
	return newError("access_denied", http.StatusForbidden, format, args...)
}

func errServer() *protocolError {
	return newError("server_error", http.StatusInternalServerError, "the server could not complete the request; try again")
}

// retryAfterSeconds is the Retry-After of a 503: long enough for a pool to
// reconnect after a database restart, short enough that nobody gives up.
const retryAfterSeconds = 3

// errTemporarilyUnavailable is the answer while the store cannot be reached
// (RFC 6749 §4.1.2.1 names the code; on JSON endpoints it is a 503 with
// Retry-After so that clients and proxies try again rather than fail).
func errTemporarilyUnavailable() *protocolError {
	return newError("temporarily_unavailable", http.StatusServiceUnavailable,
		"the server cannot reach its database right now; try again in a few seconds")
}

// asProtocolError turns any error into the protocolError to send: internal
// errors become server_error and are logged, never shown.
func (s *Server) asProtocolError(r *http.Request, err error) *protocolError {
	var pe *protocolError
	if errors.As(err, &pe) {
		return pe
	}
	s.metrics.StoreError()
	if errors.Is(err, storage.ErrUnavailable) {
		// An outage is the operator's to fix, not a bug: a warning, and an
		// answer that tells the client to try again.
		s.log.WarnContext(r.Context(), "store unavailable", slog.String("path", r.URL.Path), slog.Any("err", err))
		return errTemporarilyUnavailable()
	}
	s.log.ErrorContext(r.Context(), "request failed", slog.String("path", r.URL.Path), slog.Any("err", err))
	return errServer()
}

// writeJSONError is the one writer of protocol errors on JSON endpoints
// (token, userinfo, revocation, introspection).
func (s *Server) writeJSONError(w http.ResponseWriter, r *http.Request, err error) {
	pe := s.asProtocolError(r, err)
	if pe.Code == "invalid_client" {
		// RFC 6749 §5.2: 401 must carry the scheme the client may use, and
		// RFC 9110 §15.5.2 a challenge on every 401. Basic is the only
		// scheme of client authentication there is; a client of another
		// method (private_key_jwt) reads the error from the body.
		w.Header().Set("WWW-Authenticate", `Basic realm="authserver", charset="UTF-8"`)
	}
	if pe.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	}
	if pe.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(throttle.Seconds(pe.RetryAfter)))
	}
	writeJSON(w, pe.Status, map[string]string{"error": pe.Code, "error_description": pe.Description})
}

// writeJSON writes v with the headers every token-bearing response needs
// (RFC 6749 §5.1: no caching).
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
