package authserver

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/storage"
)

// grantRefreshToken is the refresh grant (RFC 6749 §6) with rotation and
// reuse detection (RFC 9700 §4.14.2). It is ours rather than go-oauth2's:
// the library's RefreshAccessToken does not bind a token to its client
// (defect 3), grants a wider scope (defect 4) and detects no reuse (defect 6),
// and every fix would have to live in our store adapter anyway.
//
// A family has at most one live (unspent) refresh token at any time: the
// only token ever stored into it after the first is the successor of the
// live one, stored as that one is spent (RotateRefreshToken). The successor
// is derived from the spent token (see successor), so a client that sends
// the spent token again within the grace window, because two of its
// requests raced or a response was lost, is answered with that same
// successor and a fresh access token; nothing new is stored, so no second
// branch can grow. Any other use of a spent token is reuse and revokes the
// family.
func (s *Server) grantRefreshToken(ctx context.Context, r *http.Request, c storage.Client, _ string) (*tokenResponse, error) {
	raw := r.PostForm.Get("refresh_token")
	if raw == "" {
		return nil, errInvalidRequest("refresh_token is required")
	}
	old, err := s.store.GetRefreshToken(ctx, storage.Hash(raw))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, errInvalidGrant("the refresh token is invalid or was revoked")
	}
	if err != nil {
		return nil, err
	}
	if old.ClientID != c.ID {
		return nil, errInvalidGrant("the refresh token was issued to another client")
	}
	// RFC 9449 §5, before anything is spent, so a refusal leaves the token
	// to its key's holder.
	jkt := dpopKeyFrom(ctx)
	if err := checkBinding("the refresh token", old.DPoPJKT, jkt); err != nil {
		return nil, err
	}
	user, err := s.grantUser(ctx, old.UserID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if !now.Before(old.ExpiresAt) || !now.Before(old.FamilyExpiresAt) {
		return nil, errInvalidGrant("the refresh token has expired; sign the user in again")
	}
	granted, err := currentScope(c, old.Scope)
	if err != nil {
		return nil, err
	}
	scope, err := narrowedScope(granted, r.PostForm.Get("scope"))
	if err != nil {
		return nil, err
	}
	// RFC 8707 §2.2: resource may only choose among the grant's, which the
	// next token keeps whole, as it keeps the scope.
	requested, err := s.requestedResources(c, r.PostForm["resource"])
	if err != nil {
		return nil, err
	}
	aud, err := s.tokenAudience(c, old.Resource, requested)
	if err != nil {
		return nil, err
	}
	nextRaw := s.successor(raw)
	if old.SpentAt.IsZero() {
		next := storage.RefreshToken{
			TokenHash:       storage.Hash(nextRaw),
			FamilyID:        old.FamilyID,
			ClientID:        old.ClientID,
			UserID:          old.UserID,
			Scope:           granted, // what the user granted, less what the client lost
			SessionID:       old.SessionID,
			Nonce:           old.Nonce,
			AuthTime:        old.AuthTime,
			ClaimsRequest:   old.ClaimsRequest,
			DPoPJKT:         successorJKT(old, c, jkt),
			Resource:        old.Resource,
			AMR:             old.AMR,
			CreatedAt:       now,
			ExpiresAt:       minTime(now.Add(s.cfg.RefreshIdleTTL), old.FamilyExpiresAt),
			FamilyExpiresAt: old.FamilyExpiresAt,
		}
		spent, err := s.store.RotateRefreshToken(ctx, old.TokenHash, next, now)
		switch {
		case errors.Is(err, storage.ErrAlreadyUsed):
			old = spent // a concurrent request spent it first: a retry
		case errors.Is(err, storage.ErrNotFound):
			return nil, errInvalidGrant("the refresh token is invalid or was revoked")
		case err != nil:
			return nil, err
		default:
			old.SpentAt = time.Time{} // rotated here, not retried
		}
	}
	if !old.SpentAt.IsZero() {
		retry, err := s.retryWithinGrace(ctx, old, nextRaw, now)
		if err != nil {
			return nil, err
		}
		if !retry {
			s.metrics.RefreshReuseDetected()
			observe.Audit(ctx, s.log, observe.EventRefreshReuseDetected, slog.String("client_id", c.ID),
				slog.String("subject", old.UserID), slog.String("family", old.FamilyID))
			if err := s.store.RevokeFamily(ctx, old.FamilyID, now); err != nil {
				return nil, err
			}
			return nil, errInvalidGrant("the refresh token was already used; every token of this sign-in is now revoked")
		}
	}
	g := &grant{client: c, userID: old.UserID, sessionID: old.SessionID, authTime: old.AuthTime, familyID: old.FamilyID,
		claims: decodeClaimsRequest(old.ClaimsRequest), dpopJKT: jkt, amr: amrOrPassword(old.AMR)}
	access, err := s.minter.accessToken(accessClaimsInput{
		client: c, subject: old.UserID, scope: scope, authTime: old.AuthTime, familyID: old.FamilyID, ttl: s.cfg.AccessTokenTTL,
		claims: g.claims, jkt: jkt, audience: aud, amr: g.amr,
	})
	if err != nil {
		return nil, err
	}
	// OIDC Core §12.2: a refreshed ID token keeps auth_time and carries no nonce.
	return s.respond(ctx, g, tokenFields{access: access, refresh: nextRaw, scope: scope, userID: old.UserID, expiresIn: s.cfg.AccessTokenTTL}, &user)
}

// grantUser is the user a refresh token was issued to, who must still be
// allowed to sign in. Disabling a user revokes their families
// (SetUserDisabled), so a live token of a disabled user should not exist;
// this refuses one that somehow does (a family created while the user was
// being disabled) rather than trusting that it cannot.
func (s *Server) grantUser(ctx context.Context, id string) (storage.User, error) {
	u, err := s.store.GetUser(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.User{}, errInvalidGrant("the user of this grant no longer exists")
	}
	if err != nil {
		return storage.User{}, err
	}
	if u.Disabled {
		return storage.User{}, errInvalidGrant("the user of this grant is disabled")
	}
	return u, nil
}

// retryWithinGrace reports whether a spent token is a retry that the grace
// window forgives: it was spent less than RefreshReuseGrace ago and its
// successor is still the family's live token. A successor that was spent in
// turn means the family moved on without the sender, which is reuse.
func (s *Server) retryWithinGrace(ctx context.Context, spent storage.RefreshToken, successorRaw string, now time.Time) (bool, error) {
	if s.cfg.RefreshReuseGrace <= 0 || !spent.SpentAt.After(now.Add(-s.cfg.RefreshReuseGrace)) {
		return false, nil
	}
	next, err := s.store.GetRefreshToken(ctx, storage.Hash(successorRaw))
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	live := next.SpentAt.IsZero() && next.FamilyID == spent.FamilyID &&
		now.Before(next.ExpiresAt) && now.Before(next.FamilyExpiresAt)
	return live, nil
}

// successor is the refresh token that rotating raw yields: an HMAC of raw
// under the server's refresh key (derived from the key-encryption key, so
// every replica has it). Any replica answering a retry of raw therefore
// computes the token already stored rather than making a second one, and
// nothing secret is stored: the store keeps only the successor's SHA-256,
// and without the key a spent token tells nothing about its successor.
func (s *Server) successor(raw string) string {
	m := hmac.New(sha256.New, s.cfg.RefreshKey)
	m.Write([]byte(raw))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// currentScope is what a refresh may still grant: the family's scope less
// every scope the client is no longer registered for, so that removing a
// scope from a client's configuration takes effect at its next refresh. A
// client that lost offline_access may not refresh at all (OIDC Core §11).
func currentScope(c storage.Client, granted string) (string, error) {
	var out []string
	for _, sc := range strings.Fields(granted) {
		if slices.Contains(c.Scopes, sc) {
			out = append(out, sc)
		}
	}
	if hasScope(granted, "offline_access") && !slices.Contains(out, "offline_access") {
		return "", errInvalidGrant("client %s is no longer allowed offline_access; sign the user in again", c.ID)
	}
	return strings.Join(out, " "), nil
}

// narrowedScope is the scope of a refreshed access token: the requested one,
// which may only narrow what was granted (RFC 6749 §6), or all of it.
func narrowedScope(granted, requested string) (string, error) {
	if requested == "" {
		return granted, nil
	}
	have := strings.Fields(granted)
	var out []string
	for _, sc := range strings.Fields(requested) {
		if !slices.Contains(have, sc) {
			return "", errInvalidScope("scope %s is not granted to this refresh token (or no longer allowed for its client); a refresh may only narrow the scope", sc)
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return strings.Join(out, " "), nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
