package adminapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/authserver-dev/authserver/authserver/admin"
	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/storage"
)

// Problem type URIs (RFC 9457 §3.1.1). They are part of the API: clients
// branch on them rather than on the words of title or detail.
const (
	TypeInvalid              = "urn:authserver:problem:invalid"
	TypeNotFound             = "urn:authserver:problem:not-found"
	TypeMethodNotAllowed     = "urn:authserver:problem:method-not-allowed"
	TypeConflict             = "urn:authserver:problem:conflict"
	TypeFileOwned            = "urn:authserver:problem:file-owned"
	TypeTooLarge             = "urn:authserver:problem:too-large"
	TypeUnsupportedMediaType = "urn:authserver:problem:unsupported-media-type"
	TypeUnauthorized         = "urn:authserver:problem:unauthorized"
	TypeForbidden            = "urn:authserver:problem:forbidden"
	TypeUnavailable          = "urn:authserver:problem:unavailable"
	TypeInternal             = "urn:authserver:problem:internal"
)

// retryAfter is the Retry-After (seconds) of a 503: long enough for a
// database failover, short enough for a script to wait for.
const retryAfter = 5

// Problem is an RFC 9457 problem details object, the body of every error
// response (application/problem+json).
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	// Errors are the broken rules of an invalid request, each naming its
	// field as in the configuration file ("redirect_uris[0]").
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError is one broken rule of an invalid request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (p *Problem) Error() string { return p.Title + ": " + p.Detail }

func newProblem(status int, typ, detail string) *Problem {
	return &Problem{Type: typ, Title: titles[typ], Status: status, Detail: detail}
}

var titles = map[string]string{
	TypeInvalid:              "Invalid request",
	TypeNotFound:             "Not found",
	TypeMethodNotAllowed:     "Method not allowed",
	TypeConflict:             "Conflict",
	TypeFileOwned:            "Owned by the configuration file",
	TypeTooLarge:             "Request body too large",
	TypeUnsupportedMediaType: "Unsupported media type",
	TypeUnauthorized:         "Unauthorized",
	TypeForbidden:            "Forbidden",
	TypeUnavailable:          "Temporarily unavailable",
	TypeInternal:             "Internal server error",
}

// problemOf maps an error of a handler to what the caller is told. Only
// the admin service's own errors (*admin.Error), which are the caller's to
// fix, and our own *Problem carry their words out; anything else is a 503
// when the database cannot be reached and otherwise a 500 that says
// nothing but the request id, so no internals leak.
func problemOf(r *http.Request, err error) *Problem {
	if p, ok := errors.AsType[*Problem](err); ok {
		return p
	}
	if e, ok := errors.AsType[*admin.Error](err); ok {
		switch e.Kind {
		case admin.KindInvalid:
			p := newProblem(http.StatusBadRequest, TypeInvalid, e.Message)
			for _, pr := range e.Problems {
				p.Errors = append(p.Errors, FieldError{Field: pr.Field, Message: pr.Message})
			}
			return p
		case admin.KindNotFound:
			return newProblem(http.StatusNotFound, TypeNotFound, e.Message)
		case admin.KindConflict:
			return newProblem(http.StatusConflict, TypeConflict, e.Message)
		case admin.KindFileOwned:
			return newProblem(http.StatusConflict, TypeFileOwned, e.Message)
		}
	}
	switch {
	case errors.Is(err, storage.ErrUnavailable):
		return newProblem(http.StatusServiceUnavailable, TypeUnavailable, "the database cannot be reached right now; retry later")
	case errors.Is(err, storage.ErrNotFound):
		return newProblem(http.StatusNotFound, TypeNotFound, "no such entry")
	}
	return newProblem(http.StatusInternalServerError, TypeInternal,
		"the request failed on the server; its log has the details under request id "+observe.RequestID(r.Context()))
}

// writeError answers r with the problem err maps to, and logs what the
// caller is not told.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	p := problemOf(r, err)
	switch p.Status {
	case http.StatusInternalServerError:
		log.ErrorContext(r.Context(), "admin API: request failed", "route", r.Pattern, "err", err)
	case http.StatusServiceUnavailable:
		log.WarnContext(r.Context(), "admin API: database unavailable", "route", r.Pattern, "err", err)
	}
	writeProblem(w, p)
}

// writeProblem is the one function that writes an error response.
func writeProblem(w http.ResponseWriter, p *Problem) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	if p.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", strconv.Itoa(retryAfter))
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeJSON writes a success response. It is never cached: clients and
// registration tokens come with their secrets once.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
