package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/storage"
)

// Sessions and consent grants belong to users of any owner, file-owned or
// not: ending a session or revoking a grant changes no entry of the file.
// Audit events name the user, never the session's id, which is a hash.

// ListSessions returns the user's live sessions, newest first; KindNotFound
// for an unknown user.
func (s *Service) ListSessions(ctx context.Context, userID string) ([]Session, error) {
	if _, err := s.GetUser(ctx, userID); err != nil {
		return nil, err
	}
	stored, err := s.o.Store.ListUserSessions(ctx, userID, s.o.Now())
	if err != nil {
		return nil, err
	}
	out := make([]Session, len(stored))
	for i, ss := range stored {
		out[i] = Session{ID: ss.IDHash, UserID: ss.UserID, AuthTime: ss.AuthTime, CreatedAt: ss.CreatedAt,
			ExpiresAt: ss.ExpiresAt, UserAgent: ss.UserAgent, IP: ss.IP}
	}
	return out, nil
}

// EndSession ends one of the user's sessions as sign-out does (storage
// EndSession); a session that is not the user's is KindNotFound. Audit:
// session.ended.
func (s *Service) EndSession(ctx context.Context, userID, sessionID string) error {
	u, err := s.GetUser(ctx, userID)
	if err != nil {
		return err
	}
	now := s.o.Now()
	ss, err := s.o.Store.GetSession(ctx, sessionID, now)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && ss.UserID != userID) {
		// Whether the id is another user's session is not the caller's
		// business: the same answer as for no session at all.
		return errorf(KindNotFound, "user %s has no session %q", u.Username, sessionID)
	}
	if err != nil {
		return err
	}
	return s.endSession(ctx, u, sessionID)
}

// EndSessions ends every session of the user but except ("" for none) and
// returns how many it ended. Audit: session.ended for each.
func (s *Service) EndSessions(ctx context.Context, userID, except string) (int, error) {
	u, err := s.GetUser(ctx, userID)
	if err != nil {
		return 0, err
	}
	sessions, err := s.o.Store.ListUserSessions(ctx, userID, s.o.Now())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ss := range sessions {
		if ss.IDHash == except {
			continue
		}
		if err := s.endSession(ctx, u, ss.IDHash); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func (s *Service) endSession(ctx context.Context, u User, sessionID string) error {
	if err := storage.EndSession(ctx, s.o.Store, sessionID, s.o.Now()); err != nil {
		return err
	}
	s.audit(ctx, observe.EventLogout, slog.String("username", u.Username), slog.String("user_id", u.ID))
	return nil
}

// ListGrants returns the user's remembered consents, by client id;
// KindNotFound for an unknown user.
func (s *Service) ListGrants(ctx context.Context, userID string) ([]Grant, error) {
	if _, err := s.GetUser(ctx, userID); err != nil {
		return nil, err
	}
	stored, err := s.o.Store.ListUserConsents(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]Grant, 0, len(stored))
	for _, g := range stored {
		name := g.ClientID
		switch c, err := s.o.Store.GetClient(ctx, g.ClientID); {
		case err == nil:
			name = c.Name
		case !errors.Is(err, storage.ErrNotFound):
			return nil, err
		}
		out = append(out, Grant{UserID: g.UserID, ClientID: g.ClientID, ClientName: name,
			Scopes: nonNil(strings.Fields(g.Scope)), CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt})
	}
	slices.SortFunc(out, func(a, b Grant) int { return strings.Compare(a.ClientID, b.ClientID) })
	return out, nil
}

// RevokeGrant deletes the user's grant to the client and revokes the
// refresh tokens it allowed (storage RevokeConsent): the next
// authorization asks for consent again. KindNotFound when there is no such
// grant. Audit: consent.revoked.
func (s *Service) RevokeGrant(ctx context.Context, userID, clientID string) error {
	u, err := s.GetUser(ctx, userID)
	if err != nil {
		return err
	}
	if err := s.o.Store.RevokeConsent(ctx, userID, clientID, s.o.Now()); err != nil {
		return notFound(err, fmt.Sprintf("user %s has granted nothing to client %q", u.Username, clientID))
	}
	s.audit(ctx, observe.EventConsentRevoked, slog.String("username", u.Username), slog.String("user_id", userID), slog.String("client_id", clientID))
	return nil
}
