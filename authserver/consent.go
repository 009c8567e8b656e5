package authserver

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/storage"
)

// This file decides whom the authorization endpoint must ask what: which
// user must be signed in (id_token_hint, login_hint) and what that user must
// still approve (remembered consent), so that a relying party's silent
// renewal with prompt=none succeeds whenever a person would have clicked
// nothing.

// consentClaimPrefix marks a claim approved by name (the claims parameter,
// OIDC Core §5.5) among the scopes of a consent grant: "claim:given_name".
const consentClaimPrefix = "claim:"

// consentItems is everything the user approves for req: its scopes, then the
// claims it asks for by name beyond what those scopes release.
func consentItems(req *authzRequest) []string {
	items := strings.Fields(req.scope)
	for _, name := range req.claims.beyondScope(req.scope) {
		items = append(items, consentClaimPrefix+name)
	}
	return items
}

// consentToAsk returns what the user must still approve for req: nothing
// (need is false) when a remembered grant covers it all or the client skips
// consent; else the items the grant lacks (every item without a grant, even
// none: a first authorization is always approved once, since even a code for
// no scope tells the client who the user is). prompt=consent asks for every
// item, of every client (OIDC Core §3.1.2.1: the server SHOULD ask).
func (s *Server) consentToAsk(ctx context.Context, req *authzRequest, sess *storage.Session) (ask []string, need bool, err error) {
	items := consentItems(req)
	if slices.Contains(req.prompts, "consent") {
		return items, true, nil
	}
	if req.client.SkipConsent {
		return nil, false, nil
	}
	g, err := s.store.GetConsent(ctx, sess.UserID, req.client.ID)
	if errors.Is(err, storage.ErrNotFound) {
		return items, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	granted := strings.Fields(g.Scope)
	ask = slices.DeleteFunc(items, func(it string) bool { return slices.Contains(granted, it) })
	return ask, len(ask) > 0, nil
}

// rememberConsent records the user's approval of everything req asks, added
// to what the user approved for the client before.
func (s *Server) rememberConsent(ctx context.Context, req *authzRequest, sess *storage.Session) error {
	g, err := s.store.GrantConsent(ctx, sess.UserID, req.client.ID, strings.Join(consentItems(req), " "), s.now())
	if err != nil {
		return err
	}
	observe.Audit(ctx, s.log, observe.EventConsentGranted, slog.String("client_id", req.client.ID),
		slog.String("subject", sess.UserID), slog.String("scope", g.Scope))
	return nil
}

func errLoginRequired(format string, args ...any) *protocolError {
	return newError("login_required", http.StatusBadRequest, format, args...)
}

func errConsentRequired(format string, args ...any) *protocolError {
	return newError("consent_required", http.StatusBadRequest, format, args...)
}

// idTokenHintSubject checks an authorization request's id_token_hint and
// returns the sub it names ("" without a hint). OIDC Core §3.1.2.1: the hint
// is an ID token this server issued to the client, possibly expired (a
// relying party renews a session whose ID token has run out), so the
// signature, the issuer and the audience are checked and the expiry is not.
// Anything else, including one of our access tokens (typ at+jwt), is
// invalid_request.
func (s *Server) idTokenHintSubject(hint string, c storage.Client) (string, error) {
	if hint == "" {
		return "", nil
	}
	var claims idClaims
	typ, err := s.verifyJWT(hint, &claims)
	switch {
	case err != nil:
		return "", errInvalidRequest("id_token_hint is not an ID token of this server: %v", err)
	case typ != "" && !strings.EqualFold(typ, "JWT"):
		return "", errInvalidRequest("id_token_hint is not an ID token (its typ is %s)", typ)
	case claims.Issuer != s.cfg.Issuer:
		return "", errInvalidRequest("id_token_hint was issued by %s, not by this server", claims.Issuer)
	case claims.Audience != c.ID:
		return "", errInvalidRequest("id_token_hint was issued to another client than %s", c.ID)
	case claims.Subject == "":
		return "", errInvalidRequest("id_token_hint names no subject")
	}
	return claims.Subject, nil
}

// signInNeeded says why req needs the user to sign in (again), or "" when
// the session sess (nil when signed out) will do.
func (req *authzRequest) signInNeeded(sess *storage.Session, s *Server) string {
	switch {
	case sess == nil:
		return "the user is not signed in"
	case slices.Contains(req.prompts, "login"):
		return "prompt=login asks for a new sign-in"
	case req.tooOld(sess, s.now()):
		return "the user signed in longer ago than max_age allows"
	case req.hintSubject != "" && sess.UserID != req.hintSubject:
		return "the signed-in user is not the one id_token_hint names"
	}
	return ""
}

// loginPrefill is the username the login form starts with: the user the
// id_token_hint names, or else login_hint (OIDC Core §3.1.2.1).
func (s *Server) loginPrefill(ctx context.Context, req *authzRequest) string {
	if req.hintSubject != "" {
		if u, err := s.store.GetUser(ctx, req.hintSubject); err == nil {
			return u.Username
		}
	}
	return req.params.Get("login_hint")
}
