package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/keys"
)

var errNoKeys = errors.New("admin: the signing keys are not open here (Options.Keys is nil)")

// ListKeys returns the published keys, the one that signs first. It reads
// the store first, so that it shows a rotation made by another process.
func (s *Service) ListKeys(ctx context.Context) ([]Key, error) {
	if s.o.Keys == nil {
		return nil, errNoKeys
	}
	if err := s.o.Keys.Load(ctx); err != nil {
		return nil, err
	}
	return toKeys(s.o.Keys.Keys()), nil
}

// RotateKeys advances the rotation one step (keys.Manager Advance): where
// there is no next key one is published, signing after the publish lead;
// where a next key exists it starts signing. Promoting a next key whose
// publish lead has not passed is KindConflict unless force, because a
// relying party that cached the JWKS before the key appeared rejects its
// tokens until it refetches; with force the Rotation says so in Warning.
// Audit: keys.rotated.
func (s *Service) RotateKeys(ctx context.Context, force bool) (Rotation, error) {
	if s.o.Keys == nil {
		return Rotation{}, errNoKeys
	}
	// Decide on what the store holds now, not on this process's snapshot.
	if err := s.o.Keys.Load(ctx); err != nil {
		return Rotation{}, err
	}
	before := toKeys(s.o.Keys.Keys())
	early := s.earlyKeys(before)
	if len(early) > 0 && !force {
		return Rotation{}, &Error{Kind: KindConflict, Message: s.earlyRefusal(early)}
	}
	if err := s.o.Keys.Advance(ctx); err != nil {
		return Rotation{}, err
	}
	r := diffKeys(before, toKeys(s.o.Keys.Keys()))
	forced := force && len(early) > 0
	if forced {
		r.Warning = s.earlyWarning(early)
	}
	s.audit(ctx, observe.EventKeysRotated, slog.Any("created", kids(r.Created)), slog.Any("promoted", kids(r.Promoted)),
		slog.Any("retired", kids(r.Retired)), slog.Bool("forced", forced))
	return r, nil
}

// earlyKeys are the next keys that Advance would promote before their
// publish lead has passed (those of configured algorithms, which it
// touches).
func (s *Service) earlyKeys(ks []Key) []Key {
	now := s.o.Now()
	algs := s.o.Keys.Algorithms()
	var out []Key
	for _, k := range ks {
		if k.State == string(keys.StateNext) && k.ActivatesAt.After(now) && slices.Contains(algs, k.Algorithm) {
			out = append(out, k)
		}
	}
	return out
}

func (s *Service) earlyRefusal(early []Key) string {
	return fmt.Sprintf("not rotating: %s. A relying party that cached the JWKS before the key was published (for up to signing.jwks_max_age, %s) "+
		"does not know it, and would reject the tokens it signs until it refetches the JWKS. Wait until the publish lead has passed, "+
		"or pass force (--force) to promote it anyway", describeEarly(early), s.o.Config.Signing.JWKSMaxAge)
}

func (s *Service) earlyWarning(early []Key) string {
	return fmt.Sprintf("promoted before the end of its publish lead: %s. Relying parties that cached the JWKS before the key was published "+
		"(for up to signing.jwks_max_age, %s) reject the tokens it signs until they refetch the JWKS", describeEarly(early), s.o.Config.Signing.JWKSMaxAge)
}

func describeEarly(early []Key) string {
	parts := make([]string, len(early))
	for i, k := range early {
		parts[i] = fmt.Sprintf("the next %s key %s was published at %s and its publish lead ends at %s",
			k.Algorithm, k.ID, stamp(k.CreatedAt), stamp(k.ActivatesAt))
	}
	return strings.Join(parts, "; ")
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// diffKeys says what a rotation changed, by kid and state.
func diffKeys(before, after []Key) Rotation {
	r := Rotation{Before: before, After: after, Created: []Key{}, Promoted: []Key{}, Retired: []Key{}}
	was := make(map[string]Key, len(before))
	for _, k := range before {
		was[k.ID] = k
	}
	for _, k := range after {
		old, ok := was[k.ID]
		switch {
		case !ok:
			r.Created = append(r.Created, k)
		case old.State == string(keys.StateNext) && k.State == string(keys.StateActive):
			r.Promoted = append(r.Promoted, k)
		case old.State == string(keys.StateActive) && k.State == string(keys.StateRetired):
			r.Retired = append(r.Retired, k)
		}
	}
	return r
}

func kids(ks []Key) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.ID
	}
	return out
}

func toKeys(infos []keys.KeyInfo) []Key {
	out := make([]Key, len(infos))
	for i, k := range infos {
		out[i] = Key{ID: k.ID, Algorithm: k.Algorithm, State: string(k.State), CreatedAt: k.CreatedAt,
			ActivatesAt: k.ActivatesAt, RetiredAt: k.RetiredAt, ExpiresAt: k.ExpiresAt}
	}
	return out
}
