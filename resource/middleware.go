package resource

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
)

type claimsKey struct{}

// ClaimsFromContext returns the claims Authenticate or RequireScope put in
// the request context.
func ClaimsFromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok
}

// ContextWithClaims returns ctx carrying c. Handlers normally get claims from
// Authenticate; this is for tests of handlers that sit behind it.
func ContextWithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// TokenVerifier is what the middleware needs from a token checker: *Verifier
// (local JWT verification) and *Introspector (asking the provider) both
// implement it, so an API can switch between them without touching its
// routes.
//
// Verify must return a *TokenError for a token it refuses; the middleware
// answers those 401 invalid_token. Any other error means the verifier could
// not decide (for example the provider is unreachable, see
// ErrProviderUnavailable): the middleware answers 503, because a 401 would
// tell a client holding a perfectly good token to throw it away.
type TokenVerifier interface {
	Verify(ctx context.Context, raw string) (*Claims, error)
}

// challengeSettings is implemented by this package's verifiers to give the
// middleware their WWW-Authenticate realm and logger. Another TokenVerifier
// gets challenges without a realm (RFC 6750 makes it optional) and
// slog.Default().
type challengeSettings interface {
	challengeSettings() (realm string, log *slog.Logger)
}

// Authenticate lets through only requests with a valid bearer access token
// in the Authorization header (RFC 6750 §2.1) and puts its Claims in the
// request context. Tokens in the URL query are refused (RFC 9700 §2.5:
// URLs end up in logs and Referer headers); tokens in a form body are
// ignored. A token v refuses is answered 401; a verifier that cannot decide
// (provider outage) is answered 503, see TokenVerifier.
func Authenticate(v TokenVerifier, next http.Handler) http.Handler {
	m := newMiddleware(v)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := m.authenticate(w, r)
		if !ok {
			return
		}
		next.ServeHTTP(w, r.WithContext(ContextWithClaims(r.Context(), c)))
	})
}

// RequireScope lets through only requests whose access token was granted
// scope, answering 403 insufficient_scope otherwise (RFC 6750 §3.1). It
// authenticates the request itself unless Authenticate already did, so
// RequireScope(v, "api.read", h) is all a handler needs.
func RequireScope(v TokenVerifier, scope string, next http.Handler) http.Handler {
	m := newMiddleware(v)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := ClaimsFromContext(r.Context())
		if !ok {
			if c, ok = m.authenticate(w, r); !ok {
				return
			}
			r = r.WithContext(ContextWithClaims(r.Context(), c))
		}
		if !c.HasScope(scope) {
			m.writeChallenge(w, http.StatusForbidden, challenge{
				code:        "insufficient_scope",
				description: "the access token was not granted scope " + scope,
				scope:       scope,
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Authenticate is Authenticate(v, next).
func (v *Verifier) Authenticate(next http.Handler) http.Handler { return Authenticate(v, next) }

// RequireScope is RequireScope(v, scope, next).
func (v *Verifier) RequireScope(scope string, next http.Handler) http.Handler {
	return RequireScope(v, scope, next)
}

func (v *Verifier) challengeSettings() (string, *slog.Logger) { return v.realm, v.log }

// middleware is the state shared by Authenticate and RequireScope.
type middleware struct {
	v     TokenVerifier
	realm string
	log   *slog.Logger
}

func newMiddleware(v TokenVerifier) *middleware {
	m := &middleware{v: v, log: slog.Default()}
	if s, ok := v.(challengeSettings); ok {
		m.realm, m.log = s.challengeSettings()
	}
	return m
}

// authenticate verifies the request's bearer token, or writes the RFC 6750
// challenge (or the 503 of an undecidable token) and returns false.
func (m *middleware) authenticate(w http.ResponseWriter, r *http.Request) (*Claims, bool) {
	raw, ch := bearerToken(r)
	if ch != nil {
		m.writeChallenge(w, ch.status(), *ch)
		return nil, false
	}
	c, err := m.v.Verify(r.Context(), raw)
	if err == nil {
		return c, true
	}
	te, ok := errors.AsType[*TokenError](err)
	if !ok {
		// The error never contains the token: verifiers build it from
		// provider URLs and statuses only.
		m.log.WarnContext(r.Context(), "resource: cannot check access token; answering 503", "err", err)
		writeUnavailable(w)
		return nil, false
	}
	// Debug, not Warn: anyone on the internet can cause these.
	m.log.DebugContext(r.Context(), "resource: access token refused", "reason", te.Reason, "err", err)
	m.writeChallenge(w, http.StatusUnauthorized, challenge{code: "invalid_token", description: te.Reason})
	return nil, false
}

// writeUnavailable answers a request whose token could not be checked. It
// carries no WWW-Authenticate challenge: the client's credentials are not
// in question, and it should retry the same token later.
func writeUnavailable(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusServiceUnavailable)
	_ = json.NewEncoder(w).Encode(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{"temporarily_unavailable", "the access token cannot be checked right now; retry later"})
}

// challenge is one RFC 6750 §3 error. An empty code means "no credentials
// were sent": §3.1 says the response should then carry no error code.
type challenge struct {
	code        string // invalid_request | invalid_token | insufficient_scope | ""
	description string
	scope       string
}

func (c challenge) status() int {
	switch c.code {
	case "invalid_request":
		return http.StatusBadRequest
	case "insufficient_scope":
		return http.StatusForbidden
	default:
		return http.StatusUnauthorized
	}
}

// bearerToken extracts the token of "Authorization: Bearer <token>".
func bearerToken(r *http.Request) (string, *challenge) {
	if strings.Contains(r.URL.RawQuery, "access_token") && r.URL.Query().Has("access_token") {
		return "", &challenge{code: "invalid_request", description: "access tokens are not accepted in the URL query; send them in the Authorization header"}
	}
	values := r.Header.Values("Authorization")
	switch len(values) {
	case 0:
		return "", &challenge{description: "this API requires a bearer access token in the Authorization header"}
	case 1:
	default:
		return "", &challenge{code: "invalid_request", description: "more than one Authorization header"}
	}
	scheme, token, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		// Another scheme (Basic, DPoP, ...) is not an attempt at bearer
		// auth, so it gets the plain challenge, like no header at all.
		return "", &challenge{description: "this API requires a bearer access token in the Authorization header"}
	}
	token = strings.TrimLeft(token, " ") // RFC 6750 §2.1: "Bearer" 1*SP b64token
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", &challenge{code: "invalid_request", description: "malformed Authorization header; expected: Bearer <token>"}
	}
	return token, nil
}

// writeChallenge writes the RFC 6750 WWW-Authenticate header and a JSON body
// with the same error, uncacheable.
func (m *middleware) writeChallenge(w http.ResponseWriter, status int, c challenge) {
	var params []string
	if m.realm != "" {
		params = append(params, `realm="`+quotedStringEscape(m.realm)+`"`)
	}
	if c.code != "" {
		params = append(params, `error="`+c.code+`"`, `error_description="`+errorDescriptionChars(c.description)+`"`)
	}
	if c.scope != "" {
		params = append(params, `scope="`+errorDescriptionChars(c.scope)+`"`)
	}
	h := w.Header()
	h.Set("WWW-Authenticate", strings.TrimSpace("Bearer "+strings.Join(params, ", ")))
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error       string `json:"error,omitempty"`
		Description string `json:"error_description"`
	}{c.code, c.description})
}

// errorDescriptionChars drops what RFC 6750 §3 does not allow in
// error_description and scope values (%x20-21 / %x23-5B / %x5D-7E), so the
// header can never be broken out of.
func errorDescriptionChars(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}

// quotedStringEscape escapes s for an RFC 9110 quoted-string, dropping
// control characters.
func quotedStringEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || r > 0x7e:
			// dropped: not representable without ambiguity
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
