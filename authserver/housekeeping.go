package authserver

import (
	"context"
	"log/slog"
	"time"

	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/keys"
)

// Purge deletes what can no longer be used — expired codes and sessions,
// expired or long-spent refresh tokens, and revocation records that outlived
// every token they could refer to — in batches of at most batch rows per
// kind, until a batch comes back short. Small batches keep each statement
// short, so a large backlog never holds a lock that the token endpoint waits on.
func (s *Server) Purge(ctx context.Context, batch int) (int, error) {
	total := 0
	for {
		now := s.now()
		// A spent token is kept for reuse detection while it could still
		// have been valid; a family revocation while any token of the family
		// could still be valid.
		n, err := s.store.PurgeExpired(ctx, now, now.Add(-s.cfg.RefreshIdleTTL), now.Add(-max(s.cfg.RefreshTTL, s.cfg.AccessTokenTTL)), batch)
		total += n
		if err != nil || n < batch {
			return total, err
		}
	}
}

// RunHousekeeping calls Purge every interval until ctx is done. Replicas may
// all run it: deleting the same expired rows twice is harmless.
func (s *Server) RunHousekeeping(ctx context.Context, interval time.Duration, batch int) {
	every(ctx, interval, func() {
		n, err := s.Purge(ctx, batch)
		if err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "housekeeping failed", slog.Any("err", err))
		} else if n > 0 {
			s.log.InfoContext(ctx, "housekeeping", slog.Int("deleted", n))
		}
	})
}

// every calls fn each interval until ctx is done.
func every(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// RunKeyRotation advances the signing-key schedule and reloads keys changed
// by other processes (another replica, `authserver keys rotate`) every
// interval until ctx is done. Every replica runs it; they reach the same
// decisions from the same rows.
func (s *Server) RunKeyRotation(ctx context.Context, interval time.Duration) {
	every(ctx, interval, func() {
		changed, err := s.keys.Tick(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "key rotation failed", slog.Any("err", err))
		} else if changed {
			s.metrics.KeyRotation()
			var signing []string
			for _, k := range s.keys.Keys() {
				if k.State == keys.StateActive {
					signing = append(signing, k.Algorithm+":"+k.ID)
				}
			}
			observe.Audit(ctx, s.log, observe.EventKeysRotated, slog.Int("published", len(s.keys.PublicKeys())), slog.Any("signing", signing))
		}
	})
}
