package admin

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/config"
)

// Bounds of an initial access token.
const (
	MinRegistrationTokenTTL  = time.Minute
	MaxRegistrationTokenTTL  = 90 * 24 * time.Hour
	MaxRegistrationTokenUses = 1000
	maxTokenDescription      = 256 // bytes
)

// CreateRegistrationToken makes a token good for uses registrations (1 to
// 1000) until ttl from now (1 minute to 90 days) and returns it once: only
// its hash is kept. Audit: registration_token.created.
func (s *Service) CreateRegistrationToken(ctx context.Context, ttl time.Duration, uses int, description string) (string, RegistrationToken, error) {
	var ps []config.Problem
	if ttl < MinRegistrationTokenTTL || ttl > MaxRegistrationTokenTTL {
		ps = append(ps, config.Problem{Field: "ttl", Message: fmt.Sprintf("%s is not between %s and %s (90 days)", ttl, MinRegistrationTokenTTL, MaxRegistrationTokenTTL)})
	}
	if uses < 1 || uses > MaxRegistrationTokenUses {
		ps = append(ps, config.Problem{Field: "uses", Message: fmt.Sprintf("%d is not between 1 and %d", uses, MaxRegistrationTokenUses)})
	}
	switch {
	case len(description) > maxTokenDescription:
		ps = append(ps, config.Problem{Field: "description", Message: fmt.Sprintf("is %d bytes long; at most %d", len(description), maxTokenDescription)})
	case strings.ContainsFunc(description, unicode.IsControl):
		ps = append(ps, config.Problem{Field: "description", Message: "contains a control character"})
	}
	if len(ps) > 0 {
		return "", RegistrationToken{}, invalid("the registration token", ps)
	}
	token := randomToken()
	now := s.o.Now()
	t := storage.RegistrationToken{
		// The id names the token in listings; it is random, so that it
		// says nothing about the token itself.
		ID: randomHex()[:16], TokenHash: storage.Hash(token), Description: description,
		UsesLeft: uses, CreatedAt: now, ExpiresAt: now.Add(ttl),
	}
	if err := s.o.Store.CreateRegistrationToken(ctx, t); err != nil {
		return "", RegistrationToken{}, err
	}
	s.audit(ctx, observe.EventRegistrationTokenCreated, slog.String("token_id", t.ID), slog.Int("uses", uses),
		slog.Time("expires_at", t.ExpiresAt))
	return token, toRegistrationToken(t), nil
}

// ListRegistrationTokens returns the tokens that can still be used, newest
// first.
func (s *Service) ListRegistrationTokens(ctx context.Context) ([]RegistrationToken, error) {
	stored, err := s.o.Store.ListRegistrationTokens(ctx, s.o.Now())
	if err != nil {
		return nil, err
	}
	out := make([]RegistrationToken, len(stored))
	for i, t := range stored {
		out[i] = toRegistrationToken(t)
	}
	return out, nil
}

// DeleteRegistrationToken deletes a token; KindNotFound when there is
// none. Audit: registration_token.deleted.
func (s *Service) DeleteRegistrationToken(ctx context.Context, id string) error {
	if err := s.o.Store.DeleteRegistrationToken(ctx, id); err != nil {
		return notFound(err, fmt.Sprintf("no registration token %q", id))
	}
	s.audit(ctx, observe.EventRegistrationTokenDeleted, slog.String("token_id", id))
	return nil
}

// UseRegistrationToken spends one use of an initial access token;
// KindNotFound when it is unknown, expired or used up.
func (s *Service) UseRegistrationToken(ctx context.Context, token string) error {
	if _, err := s.o.Store.UseRegistrationToken(ctx, storage.Hash(token), s.o.Now()); err != nil {
		return notFound(err, "the initial access token is unknown, expired or used up")
	}
	return nil
}

// RegisterClient creates a database-owned client as CreateClient does,
// with a random client id when c.ID is empty, and a registration access
// token (RFC 7592) whose hash is stored with it. It returns the client, its
// secret ("" for a public client) and the registration access token.
// Audit: client.registered.
func (s *Service) RegisterClient(ctx context.Context, c NewClient) (Client, string, string, error) {
	if c.ID == "" {
		c.ID = randomBase64(16) // 128 bits: nobody guesses another's client
	}
	regToken := randomToken()
	created, secret, err := s.createClient(ctx, c, storage.Hash(regToken))
	if err != nil {
		return Client{}, "", "", err
	}
	s.audit(ctx, observe.EventClientRegistered, slog.String("client_id", created.ID), slog.Bool("public", created.Public))
	return created, secret, regToken, nil
}

// RegisteredClient returns the registered client that token (its
// registration access token) manages. Every failure, an unknown id, a
// client not registered at the endpoint, a wrong token, is KindNotFound,
// found in constant time with respect to the token.
func (s *Service) RegisteredClient(ctx context.Context, id, token string) (Client, error) {
	st, err := s.o.Store.GetClient(ctx, id)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return Client{}, err
	}
	// Compare even when there is nothing to compare with, so that the
	// answer takes as long for a wrong token as for an unknown client.
	want := st.RegistrationTokenHash
	if want == "" {
		want = strings.Repeat("0", 64)
	}
	match := subtle.ConstantTimeCompare([]byte(storage.Hash(token)), []byte(want)) == 1
	if err != nil || st.RegistrationTokenHash == "" || !match {
		return Client{}, errorf(KindNotFound, "no registered client %q managed by this registration access token", id)
	}
	return toClient(st), nil
}

// ReplaceRegisteredClient replaces every field of a registered client
// (RFC 7592 §2.2), validated as RegisterClient does; the secret (and so
// whether the client is public) and the registration access token stay,
// and so do RequireMFA and DefaultACRValues: they are the operator's policy
// for the client, not metadata the client registered (registration does
// not take them), and the client must not lift them.
// KindNotFound for a client not registered at the endpoint. Audit:
// client.updated.
func (s *Service) ReplaceRegisteredClient(ctx context.Context, id string, c NewClient) (Client, error) {
	st, err := s.changeableClient(ctx, id)
	if err != nil {
		return Client{}, err
	}
	if st.RegistrationTokenHash == "" {
		return Client{}, errorf(KindNotFound, "no registered client %q", id)
	}
	next := c.Client
	next.RequireMFA = st.RequireMFA
	next.DefaultACRValues = slices.Clone(st.DefaultACRValues)
	return s.replaceClient(ctx, st, next)
}

func toRegistrationToken(t storage.RegistrationToken) RegistrationToken {
	return RegistrationToken{ID: t.ID, Description: t.Description, UsesLeft: t.UsesLeft, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt}
}
