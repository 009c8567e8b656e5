package resource

import (
	"context"
	"encoding/json"
	"errors"
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

// Authenticate lets through only requests with a valid bearer access token
// in the Authorization header (RFC 6750 §2.1) and puts its Claims in the
// request context. Tokens in the URL query are refused (RFC 9700 §2.5:
// URLs end up in logs and Referer headers); tokens in a form body are
// ignored.
func (v *Verifier) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := v.authenticate(w, r)
		if !ok {
			return
		}
		next.ServeHTTP(w, r.WithContext(ContextWithClaims(r.Context(), c)))
	})
}

// RequireScope lets through only requests whose access token was granted
// scope, answering 403 insufficient_scope otherwise (RFC 6750 §3.1). It
// authenticates the request itself unless Authenticate already did, so
// v.RequireScope("api.read", h) is all a handler needs.
func (v *Verifier) RequireScope(scope string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := ClaimsFromContext(r.Context())
		if !ok {
			if c, ok = v.authenticate(w, r); !ok {
				return
			}
			r = r.WithContext(ContextWithClaims(r.Context(), c))
		}
		if !c.HasScope(scope) {
			v.writeChallenge(w, http.StatusForbidden, challenge{
				code:        "insufficient_scope",
				description: "the access token was not granted scope " + scope,
				scope:       scope,
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authenticate verifies the request's bearer token, or writes the RFC 6750
// challenge and returns false.
func (v *Verifier) authenticate(w http.ResponseWriter, r *http.Request) (*Claims, bool) {
	raw, ch := bearerToken(r)
	if ch != nil {
		v.writeChallenge(w, ch.status(), *ch)
		return nil, false
	}
	c, err := v.Verify(r.Context(), raw)
	if err != nil {
		reason := "invalid access token"
		if te, ok := errors.AsType[*TokenError](err); ok {
			reason = te.Reason
		}
		// Debug, not Warn: anyone on the internet can cause these.
		v.log.DebugContext(r.Context(), "resource: access token refused", "reason", reason, "err", err)
		v.writeChallenge(w, http.StatusUnauthorized, challenge{code: "invalid_token", description: reason})
		return nil, false
	}
	return c, true
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
func (v *Verifier) writeChallenge(w http.ResponseWriter, status int, c challenge) {
	var b strings.Builder
	b.WriteString(`Bearer realm="`)
	b.WriteString(quotedStringEscape(v.realm))
	b.WriteByte('"')
	if c.code != "" {
		b.WriteString(`, error="` + c.code + `"`)
		b.WriteString(`, error_description="` + errorDescriptionChars(c.description) + `"`)
	}
	if c.scope != "" {
		b.WriteString(`, scope="` + errorDescriptionChars(c.scope) + `"`)
	}
	h := w.Header()
	h.Set("WWW-Authenticate", b.String())
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
