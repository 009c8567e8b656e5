package authserver

import (
	"context"
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
	now := s.now()
	if !now.Before(old.ExpiresAt) || !now.Before(old.FamilyExpiresAt) {
		return nil, errInvalidGrant("the refresh token has expired; sign the user in again")
	}
	scope, err := narrowedScope(old.Scope, r.PostForm.Get("scope"))
	if err != nil {
		return nil, err
	}
	next := storage.RefreshToken{
		FamilyID:        old.FamilyID,
		ClientID:        old.ClientID,
		UserID:          old.UserID,
		Scope:           old.Scope, // the family keeps what the user granted
		SessionID:       old.SessionID,
		Nonce:           old.Nonce,
		AuthTime:        old.AuthTime,
		CreatedAt:       now,
		ExpiresAt:       minTime(now.Add(s.cfg.RefreshIdleTTL), old.FamilyExpiresAt),
		FamilyExpiresAt: old.FamilyExpiresAt,
	}
	nextRaw := randomToken()
	next.TokenHash = storage.Hash(nextRaw)
	if old.SpentAt.IsZero() {
		_, err = s.store.RotateRefreshToken(ctx, old.TokenHash, next, now)
	} else {
		err = storage.ErrAlreadyUsed
	}
	if errors.Is(err, storage.ErrAlreadyUsed) {
		err = s.retryWithinGrace(ctx, old.TokenHash, next, now)
	}
	if errors.Is(err, storage.ErrAlreadyUsed) {
		s.metrics.RefreshReuseDetected()
		observe.Audit(ctx, s.log, observe.EventRefreshReuseDetected, slog.String("client_id", c.ID),
			slog.String("subject", old.UserID), slog.String("family", old.FamilyID))
		if err := s.store.RevokeFamily(ctx, old.FamilyID, now); err != nil {
			return nil, err
		}
		return nil, errInvalidGrant("the refresh token was already used; every token of this sign-in is now revoked")
	}
	if errors.Is(err, storage.ErrNotFound) {
		return nil, errInvalidGrant("the refresh token is invalid or was revoked")
	}
	if err != nil {
		return nil, err
	}
	g := &grant{client: c, userID: old.UserID, sessionID: old.SessionID, authTime: old.AuthTime, familyID: old.FamilyID}
	access, err := s.minter.accessToken(accessClaimsInput{
		client: c, subject: old.UserID, scope: scope, authTime: old.AuthTime, familyID: old.FamilyID, ttl: s.cfg.AccessTokenTTL,
	})
	if err != nil {
		return nil, err
	}
	// OIDC Core §12.2: a refreshed ID token keeps auth_time and carries no nonce.
	return s.respond(ctx, g, tokenFields{access: access, refresh: nextRaw, scope: scope, userID: old.UserID, expiresIn: s.cfg.AccessTokenTTL}, nil)
}

// retryWithinGrace lets a client that refreshed twice at once retry the
// exact previous token once within the configured grace window; outside it,
// or a second time, the reuse stands.
func (s *Server) retryWithinGrace(ctx context.Context, oldHash string, next storage.RefreshToken, now time.Time) error {
	if s.cfg.RefreshReuseGrace <= 0 {
		return storage.ErrAlreadyUsed
	}
	_, err := s.store.RetrySpentRefreshToken(ctx, oldHash, next, now.Add(-s.cfg.RefreshReuseGrace), now)
	return err
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
			return "", errInvalidScope("scope %s was not granted to this refresh token; a refresh may only narrow the scope", sc)
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
