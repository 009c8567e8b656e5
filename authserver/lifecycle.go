package authserver

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-oauth2/oauth2/v4"

	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/storage"
)

// oidcScopes make sense only for a user; the client-credentials grant has none.
var oidcScopes = []string{"openid", "profile", "email", "offline_access"}

// grantClientCredentials is RFC 6749 §4.4: a confidential client acting for
// itself. The token's sub is the client id and no refresh token is issued.
func (s *Server) grantClientCredentials(ctx context.Context, r *http.Request, c storage.Client, secret string) (*tokenResponse, error) {
	if c.Public() {
		return nil, errUnauthorizedClient("client %s is public; the client_credentials grant needs a confidential client", c.ID)
	}
	requested := r.PostForm.Get("scope")
	for _, sc := range strings.Fields(requested) {
		if slices.Contains(oidcScopes, sc) {
			return nil, errInvalidScope("scope %s needs a user; the client_credentials grant has none", sc)
		}
	}
	scope, err := grantedScope(c, requested)
	if err != nil {
		return nil, err
	}
	if requested == "" {
		scope = strings.Join(slices.DeleteFunc(strings.Fields(scope), func(sc string) bool { return slices.Contains(oidcScopes, sc) }), " ")
	}
	resources, err := s.requestedResources(c, r.PostForm["resource"])
	if err != nil {
		return nil, err
	}
	g := &grant{client: c, dpopJKT: dpopKeyFrom(ctx), resource: strings.Join(resources, " ")}
	ti, err := s.engine.GenerateAccessToken(withGrant(ctx, g), oauth2.ClientCredentials, &oauth2.TokenGenerateRequest{
		ClientID: c.ID, ClientSecret: secret, Scope: scope, Request: r,
	})
	if err != nil {
		return nil, engineError(err)
	}
	return s.respond(ctx, g, fromEngine(ti), nil)
}

// handleRevoke is token revocation (RFC 7009). Revoking a refresh token
// revokes its family; revoking an access token records its jti. An unknown
// token, or one of another client, is answered 200 and left alone (§2.2).
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	c, raw, err := s.authenticatedTokenRequest(r, pathRevoke)
	if err != nil {
		s.writeJSONError(w, r, err)
		return
	}
	ctx := r.Context()
	if claims, err := s.verifyAccessToken(raw); err == nil {
		if claims.ClientID == c.ID {
			if err = s.store.RevokeAccessToken(ctx, claims.ID, time.Unix(claims.Expiry, 0)); err == nil {
				s.auditRevoked(ctx, c.ID, claims.Subject, slog.String("token_type", "access_token"), slog.String("jti", claims.ID))
			}
		}
		s.finishRevoke(w, r, err)
		return
	}
	rt, err := s.store.GetRefreshToken(ctx, storage.Hash(raw))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		err = nil
	case err == nil && rt.ClientID == c.ID:
		if err = s.store.RevokeFamily(ctx, rt.FamilyID, s.now()); err == nil {
			s.auditRevoked(ctx, c.ID, rt.UserID, slog.String("token_type", "refresh_token"), slog.String("family", rt.FamilyID))
		}
	}
	s.finishRevoke(w, r, err)
}

// auditRevoked records a token revoked at the revocation endpoint. The
// token is named by its jti or family, never by its value.
func (s *Server) auditRevoked(ctx context.Context, clientID, subject string, which ...slog.Attr) {
	s.metrics.Revocation()
	observe.Audit(ctx, s.log, observe.EventTokenRevoked,
		append([]slog.Attr{slog.String("client_id", clientID), slog.String("subject", subject)}, which...)...)
}

func (s *Server) finishRevoke(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		s.writeJSONError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// authenticatedTokenRequest parses a form POST of the revocation or
// introspection endpoint (endpoint is its path), authenticates the client
// and returns the token.
func (s *Server) authenticatedTokenRequest(r *http.Request, endpoint string) (storage.Client, string, error) {
	if err := parseTokenForm(r); err != nil {
		return storage.Client{}, "", err
	}
	c, _, err := s.authenticateClient(r.Context(), r, s.url(endpoint))
	if err != nil {
		return storage.Client{}, "", err
	}
	raw := r.PostForm.Get("token")
	if raw == "" {
		return storage.Client{}, "", errInvalidRequest("token is required")
	}
	return c, raw, nil
}

// introspection is the RFC 7662 §2.2 answer for an active token.
type introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	Subject   string   `json:"sub,omitempty"`
	Username  string   `json:"username,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	Expiry    int64    `json:"exp,omitempty"`
	IssuedAt  int64    `json:"iat,omitempty"`
	Issuer    string   `json:"iss,omitempty"`
	Audience  audience `json:"aud,omitempty"`
	ID        string   `json:"jti,omitempty"`
	// Confirmation is the DPoP key a bound token is bound to (RFC 9449
	// §6.2).
	Confirmation *confirmation `json:"cnf,omitempty"`
}

// handleIntrospect is token introspection (RFC 7662) for clients allowed it.
// Anything not active — expired, revoked, of a revoked family, foreign,
// malformed — is just {"active": false}, telling the caller nothing more.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	c, raw, err := s.authenticatedTokenRequest(r, pathIntrospect)
	if err != nil {
		s.writeJSONError(w, r, err)
		return
	}
	if !c.CanIntrospect {
		s.writeJSONError(w, r, errUnauthorizedClient("client %s is not allowed to introspect tokens", c.ID))
		return
	}
	info, err := s.introspect(r.Context(), raw)
	if err != nil {
		s.writeJSONError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) introspect(ctx context.Context, raw string) (introspection, error) {
	inactive := introspection{}
	if claims, err := s.verifyAccessToken(raw); err == nil {
		if revoked, err := s.revoked(ctx, claims); err != nil || revoked {
			return inactive, err
		}
		return introspection{Active: true, Scope: claims.Scope, ClientID: claims.ClientID, Subject: claims.Subject,
			TokenType: tokenTypeOf(claims.Confirmation.jkt()), Expiry: claims.Expiry, IssuedAt: claims.IssuedAt, Issuer: claims.Issuer,
			Audience: claims.Audience, ID: claims.ID, Confirmation: claims.Confirmation}, nil
	}
	rt, err := s.store.GetRefreshToken(ctx, storage.Hash(raw))
	if errors.Is(err, storage.ErrNotFound) {
		return inactive, nil
	}
	if err != nil {
		return inactive, err
	}
	now := s.now()
	if !rt.SpentAt.IsZero() || !now.Before(rt.ExpiresAt) || !now.Before(rt.FamilyExpiresAt) {
		return inactive, nil
	}
	return introspection{Active: true, Scope: rt.Scope, ClientID: rt.ClientID, Subject: rt.UserID,
		TokenType: "refresh_token", Expiry: rt.ExpiresAt.Unix(), IssuedAt: rt.CreatedAt.Unix(), Issuer: s.cfg.Issuer,
		Confirmation: confirmationOf(rt.DPoPJKT)}, nil
}
