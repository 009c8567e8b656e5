package storage

import (
	"context"
	"slices"
	"strings"
	"time"
)

// EndSession is sign-out, wherever it is asked for (the logout endpoint,
// /account, the admin service): it revokes the refresh-token families bound
// to the session, except those granted offline_access, which are meant to
// outlive the browser session (OIDC Core §11), then deletes the session.
// Families first, so that a failure half-way leaves the session to end
// again rather than tokens alive without it. The clients that got tokens in
// the session learn of it from the session-client outbox (see
// SessionClientStore), which the server sweeps. Ending an unknown session
// is not an error.
func EndSession(ctx context.Context, s Store, idHash string, now time.Time) error {
	tokens, err := s.ListSessionRefreshTokens(ctx, idHash)
	if err != nil {
		return err
	}
	for _, t := range tokens {
		if slices.Contains(strings.Fields(t.Scope), "offline_access") {
			continue
		}
		if err := s.RevokeFamily(ctx, t.FamilyID, now); err != nil {
			return err
		}
	}
	return s.DeleteSession(ctx, idHash)
}
