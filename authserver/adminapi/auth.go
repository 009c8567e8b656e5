package adminapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/authserver-dev/authserver/authserver/admin"
	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/config"
	"github.com/authserver-dev/authserver/resource"
)

// TokenState is what authentication asks the database about a verified
// token: whether it was revoked since it was signed, and whether its client
// still exists and still holds scope admin. A JWT cannot tell either; only
// the provider's own store can.
type TokenState interface {
	AccessTokenRevoked(ctx context.Context, jti string) (bool, error)
	FamilyRevoked(ctx context.Context, familyID string) (bool, error)
	GetClient(ctx context.Context, id string) (storage.Client, error)
}

var _ TokenState = storage.Store(nil)

// authenticator decides who calls. Its refusals are RFC 6750 challenges
// with a problem+json body, each audited as admin.denied.
type authenticator struct {
	verifier *resource.Verifier
	state    TokenState
	realm    string
	log      *slog.Logger
}

// refusal is why a call is refused: status 401 (no or bad credentials) or
// 403 (good credentials without the right).
type refusal struct {
	status int
	code   string // RFC 6750 error code; "" when no credentials were sent
	reason string // safe to show and log: never token content
}

func unauthorized(code, reason string) *refusal {
	return &refusal{status: http.StatusUnauthorized, code: code, reason: reason}
}

func forbidden(reason string) *refusal {
	return &refusal{status: http.StatusForbidden, code: "insufficient_scope", reason: reason}
}

// wrap lets through only calls of an admin client, with the actor set for
// the admin service's audit events.
func (a *authenticator) wrap(next func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		clientID, ref, err := a.authenticate(r)
		switch {
		case err != nil:
			writeError(w, r, a.log, err)
			return
		case ref != nil:
			a.refuse(w, r, clientID, ref)
			return
		}
		observe.SetClientID(r.Context(), clientID) // for the access log
		r = r.WithContext(admin.WithActor(r.Context(), "admin_api:"+clientID))
		if err := next(w, r); err != nil {
			writeError(w, r, a.log, err)
		}
	}
}

// authenticate returns the calling client's id, or why it is refused (with
// the client id once the token is verified), or an error when the database
// cannot say.
func (a *authenticator) authenticate(r *http.Request) (string, *refusal, error) {
	raw, ref := bearerToken(r)
	if ref != nil {
		return "", ref, nil
	}
	c, err := a.verifier.Verify(r.Context(), raw)
	if err != nil {
		if te, ok := errors.AsType[*resource.TokenError](err); ok {
			return "", unauthorized("invalid_token", te.Reason), nil
		}
		// The verifier reads the provider in-process; anything but a
		// refused token is the provider failing, not the caller: 503, so
		// that a client keeps its good token and retries.
		a.log.WarnContext(r.Context(), "admin API: cannot check an access token", "err", err)
		return "", nil, newProblem(http.StatusServiceUnavailable, TypeUnavailable, "the access token cannot be checked right now; retry later")
	}
	id := c.ClientID
	switch {
	case c.Confirmation.JKT != "":
		// A sender-constrained (DPoP) token is good only with a proof of
		// its key, which this API does not take: as a Bearer token it would
		// be a stolen one (RFC 9449 §7.1).
		return id, unauthorized("invalid_token", "the access token is bound to a DPoP key; the admin API accepts only unbound tokens"), nil
	case id == "" || c.Subject != id:
		// A token a user delegated to a client acts for that user; the
		// admin API acts only for clients themselves.
		return id, unauthorized("invalid_token", "the admin API accepts only tokens of the client credentials grant (sub = client_id)"), nil
	case !c.HasScope(config.AdminScope):
		return id, forbidden("the access token was not granted scope " + config.AdminScope), nil
	}
	if revoked, err := a.revoked(r.Context(), c.ID); err != nil {
		return id, nil, err
	} else if revoked {
		return id, unauthorized("invalid_token", "the access token was revoked"), nil
	}
	cl, err := a.state.GetClient(r.Context(), id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return id, unauthorized("invalid_token", "the token's client no longer exists"), nil
	case err != nil:
		return id, nil, err
	case !slices.Contains(cl.Scopes, config.AdminScope):
		return id, forbidden("the token's client no longer holds scope " + config.AdminScope), nil
	}
	return id, nil, nil
}

// revoked is what userinfo and introspection check too: the jti itself,
// and the refresh family a jti of the form <family>.<random> names.
func (a *authenticator) revoked(ctx context.Context, jti string) (bool, error) {
	if jti == "" {
		return false, nil
	}
	if revoked, err := a.state.AccessTokenRevoked(ctx, jti); err != nil || revoked {
		return revoked, err
	}
	if family, _, ok := strings.Cut(jti, "."); ok && family != "" {
		return a.state.FamilyRevoked(ctx, family)
	}
	return false, nil
}

// bearerToken extracts the token of "Authorization: Bearer <token>" (RFC
// 6750 §2.1), the only place it is accepted: never in the URL, which ends
// up in logs.
func bearerToken(r *http.Request) (string, *refusal) {
	if r.URL.Query().Has("access_token") {
		return "", unauthorized("invalid_request", "access tokens are not accepted in the URL; send Authorization: Bearer <token>")
	}
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		return "", unauthorized("", "no access token; send Authorization: Bearer <token> with a token of a client holding scope "+config.AdminScope)
	}
	scheme, token, _ := strings.Cut(values[0], " ")
	token = strings.TrimLeft(token, " ")
	switch {
	case len(values) > 1:
		return "", unauthorized("invalid_request", "more than one Authorization header")
	case !strings.EqualFold(scheme, "Bearer"):
		return "", unauthorized("", "the admin API takes only Bearer access tokens")
	case token == "" || strings.ContainsAny(token, " \t"):
		return "", unauthorized("invalid_request", "malformed Authorization header; expected: Bearer <token>")
	}
	return token, nil
}

// refuse writes the challenge and the problem, and audits the refusal.
func (a *authenticator) refuse(w http.ResponseWriter, r *http.Request, clientID string, ref *refusal) {
	attrs := []slog.Attr{slog.String("reason", ref.reason), slog.Int("status", ref.status), slog.String("route", r.Pattern)}
	if clientID != "" {
		attrs = append(attrs, slog.String("client_id", clientID))
	}
	observe.Audit(r.Context(), a.log, observe.EventAdminDenied, attrs...)

	params := []string{`realm="` + headerSafe(a.realm) + `"`}
	if ref.code != "" {
		params = append(params, `error="`+ref.code+`"`, `error_description="`+headerSafe(ref.reason)+`"`)
	}
	typ := TypeUnauthorized
	if ref.status == http.StatusForbidden {
		params = append(params, `scope="`+config.AdminScope+`"`)
		typ = TypeForbidden
	}
	w.Header().Set("WWW-Authenticate", "Bearer "+strings.Join(params, ", "))
	writeProblem(w, newProblem(ref.status, typ, ref.reason))
}

// headerSafe keeps only what RFC 6750 §3 allows inside a quoted
// error_description (%x20-21 / %x23-5B / %x5D-7E), so a value can never
// break out of the header.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}
