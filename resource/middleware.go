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

// Authenticate lets through only requests with a valid access token in the
// Authorization header and puts its Claims in the request context: a bearer
// token (RFC 6750 §2.1), or a DPoP-bound token with the DPoP scheme and a
// DPoP proof for this request (RFC 9449 §7). A bound token sent as a bearer
// token is refused, and so is an unbound one sent with the DPoP scheme.
// Tokens in the URL query are refused (RFC 9700 §2.5: URLs end up in logs
// and Referer headers); tokens in a form body are ignored. A token v refuses
// is answered 401; a verifier that cannot decide (provider outage) is
// answered 503, see TokenVerifier.
//
// Proofs are checked with the DPoPConfig of v when it is this package's
// Verifier or Introspector (one replay cache per verifier), and with the
// zero DPoPConfig otherwise (one replay cache per call of Authenticate).
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
				scheme:      schemeOf(c),
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
func (v *Verifier) dpopSettings() *dpopCheck                  { return v.dpop }

// dpopSettings is implemented by this package's verifiers to give the
// middleware their DPoP checks, and with them their replay cache.
type dpopSettings interface {
	dpopSettings() *dpopCheck
}

// middleware is the state shared by Authenticate and RequireScope.
type middleware struct {
	v     TokenVerifier
	realm string
	log   *slog.Logger
	dpop  *dpopCheck
}

func newMiddleware(v TokenVerifier) *middleware {
	m := &middleware{v: v, log: slog.Default()}
	if s, ok := v.(challengeSettings); ok {
		m.realm, m.log = s.challengeSettings()
	}
	if s, ok := v.(dpopSettings); ok {
		m.dpop = s.dpopSettings()
	} else {
		m.dpop = defaultDPoPCheck()
	}
	return m
}

// authenticate verifies the request's access token, and its DPoP proof
// when the token is bound, or writes the challenge (or the 503 of an
// undecidable token) and returns false.
func (m *middleware) authenticate(w http.ResponseWriter, r *http.Request) (*Claims, bool) {
	cred, ch := readCredentials(r, m.dpop.required)
	if ch != nil {
		m.writeChallenge(w, ch.status(), *ch)
		return nil, false
	}
	c, err := m.v.Verify(r.Context(), cred.token)
	if err != nil {
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
		m.writeChallenge(w, http.StatusUnauthorized, challenge{scheme: cred.scheme, code: "invalid_token", description: te.Reason})
		return nil, false
	}
	ch, err = m.checkBinding(r, cred, c)
	if err != nil {
		m.log.WarnContext(r.Context(), "resource: cannot check DPoP proof; answering 503", "err", err)
		writeUnavailable(w)
		return nil, false
	}
	if ch != nil {
		m.log.DebugContext(r.Context(), "resource: access token refused", "reason", ch.description)
		m.writeChallenge(w, ch.status(), *ch)
		return nil, false
	}
	return c, true
}

// checkBinding applies RFC 9449 §7 to a token the verifier accepted: a
// bound token needs the DPoP scheme and a valid proof by its key; an
// unbound one the Bearer scheme. It returns the challenge of a refusal, or
// an error when the proof could not be judged.
func (m *middleware) checkBinding(r *http.Request, cred credentials, c *Claims) (*challenge, error) {
	bound := c.Confirmation.JKT != ""
	switch {
	case cred.scheme == schemeBearer && bound:
		// §7.2: otherwise a stolen bound token works without its key.
		return &challenge{scheme: schemeBearer, code: "invalid_token",
			description: "the access token is bound to a DPoP key; send it as Authorization: DPoP <token> with a DPoP proof"}, nil
	case cred.scheme == schemeDPoP && !bound:
		return &challenge{scheme: schemeDPoP, code: "invalid_token",
			description: "the access token is not DPoP-bound; send it as Authorization: Bearer <token>"}, nil
	case cred.scheme == schemeDPoP:
		return m.dpop.verifyProof(r, cred.token, c.Confirmation.JKT)
	}
	return nil, nil
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

// Authentication schemes of the Authorization header.
const (
	schemeBearer = "Bearer" // RFC 6750
	schemeDPoP   = "DPoP"   // RFC 9449 §7.1
)

// schemeOf is the scheme with which c's token was accepted: the DPoP scheme
// is the only way in for a bound token, and the Bearer scheme for others.
func schemeOf(c *Claims) string {
	if c.Confirmation.JKT != "" {
		return schemeDPoP
	}
	return schemeBearer
}

// challenge is one RFC 6750 §3 (or RFC 9449 §7.1) error. An empty code
// means "no credentials were sent": §3.1 says the response should then
// carry no error code.
type challenge struct {
	scheme      string // the scheme whose challenge carries the error; "" is Bearer
	code        string // invalid_request | invalid_token | insufficient_scope | invalid_dpop_proof | ""
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

// credentials are an access token and the scheme it came with.
type credentials struct {
	scheme string // schemeBearer or schemeDPoP
	token  string
}

// readCredentials extracts "Authorization: Bearer <token>" or
// "Authorization: DPoP <token>". With dpopRequired, Bearer is answered like
// a scheme this API does not know.
func readCredentials(r *http.Request, dpopRequired bool) (credentials, *challenge) {
	noCredentials := "this API requires an access token in the Authorization header: Bearer <token>, or DPoP <token> with a DPoP proof"
	if dpopRequired {
		noCredentials = "this API requires a DPoP-bound access token: Authorization: DPoP <token> with a DPoP proof"
	}
	if strings.Contains(r.URL.RawQuery, "access_token") && r.URL.Query().Has("access_token") {
		return credentials{}, &challenge{code: "invalid_request", description: "access tokens are not accepted in the URL query; send them in the Authorization header"}
	}
	values := r.Header.Values("Authorization")
	switch len(values) {
	case 0:
		return credentials{}, &challenge{description: noCredentials}
	case 1:
	default:
		return credentials{}, &challenge{code: "invalid_request", description: "more than one Authorization header"}
	}
	scheme, token, _ := strings.Cut(values[0], " ")
	switch {
	case strings.EqualFold(scheme, schemeBearer) && !dpopRequired:
		scheme = schemeBearer
	case strings.EqualFold(scheme, schemeDPoP):
		scheme = schemeDPoP
	default:
		// Another scheme (Basic, ...) is not an attempt at the ones we
		// take, so it gets the plain challenge, like no header at all.
		return credentials{}, &challenge{description: noCredentials}
	}
	// RFC 6750 §2.1: "Bearer" 1*SP b64token; RFC 9449 §7.1: "DPoP" 1*SP token68.
	token = strings.TrimLeft(token, " ")
	if token == "" || strings.ContainsAny(token, " \t") {
		return credentials{}, &challenge{scheme: scheme, code: "invalid_request", description: "malformed Authorization header; expected: " + scheme + " <token>"}
	}
	return credentials{scheme: scheme, token: token}, nil
}

// writeChallenge writes the WWW-Authenticate challenges and a JSON body
// with the same error, uncacheable. There is one challenge per scheme this
// API accepts (RFC 9449 §7.1 shows both together), the one carrying the
// error first: Bearer (RFC 6750 §3) unless DPoP is required, and DPoP with
// the algs parameter.
func (m *middleware) writeChallenge(w http.ResponseWriter, status int, c challenge) {
	h := w.Header()
	h.Del("WWW-Authenticate")
	dpopAlgs := `algs="` + m.dpop.algs + `"`
	switch {
	case m.dpop.required:
		// The only scheme there is carries the error, whatever it was.
		h.Add("WWW-Authenticate", m.challengeHeader(schemeDPoP, c, dpopAlgs))
	case c.scheme == schemeDPoP:
		h.Add("WWW-Authenticate", m.challengeHeader(schemeDPoP, c, dpopAlgs))
		h.Add("WWW-Authenticate", m.challengeHeader(schemeBearer, challenge{}, ""))
	default:
		h.Add("WWW-Authenticate", m.challengeHeader(schemeBearer, c, ""))
		h.Add("WWW-Authenticate", m.challengeHeader(schemeDPoP, challenge{}, dpopAlgs))
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error       string `json:"error,omitempty"`
		Description string `json:"error_description"`
	}{c.code, c.description})
}

// challengeHeader is one scheme's challenge: realm, then c's error, then
// extra.
func (m *middleware) challengeHeader(scheme string, c challenge, extra string) string {
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
	if extra != "" {
		params = append(params, extra)
	}
	return strings.TrimSpace(scheme + " " + strings.Join(params, ", "))
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
