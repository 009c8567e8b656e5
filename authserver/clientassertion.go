package authserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/authserver-dev/authserver/authserver/clientkeys"
	"github.com/authserver-dev/authserver/authserver/storage"
)

// This file wires package clientkeys into the provider: the verifier of
// client assertions (private_key_jwt, RFC 7523 §2.2) and of request
// objects, its replay cache in the store, and where a client's keys come
// from (its inline jwks, or its jwks_uri through one bounded cache per
// Server).

// maxInlineKeySets bounds the parsed inline jwks kept by inlineKeySets.
// Each is a few keys; a provider with more private_key_jwt clients than
// this re-parses some now and then, which costs microseconds, not memory.
const maxInlineKeySets = 1000

// newClientKeys builds the verifier of client assertions and request
// objects and the jwks_uri cache, both on the server's clock. The
// verifier's replay cache is the store, so that an assertion accepted by
// one replica is refused by every other (RFC 7523 §3 item 7).
func newClientKeys(s *Server) (*clientkeys.Verifier, *clientkeys.Cache, error) {
	v, err := clientkeys.NewVerifier(clientkeys.Config{
		Now:         s.now,
		ReplayCache: storeReplay{store: s.store, now: s.now},
	})
	if err != nil {
		return nil, nil, err
	}
	cache, err := clientkeys.NewCache(clientkeys.CacheConfig{
		HTTPClient: s.cfg.JWKSURIClient,
		Now:        s.now,
		Logger:     s.log,
	})
	if err != nil {
		return nil, nil, err
	}
	return v, cache, nil
}

// assertionAlgorithms are the algorithms a client's assertions and
// request objects may use: the verifier's, narrowed to those the FAPI 2.0
// Security Profile allows (§5.4: no RS256) for a client with that profile.
func assertionAlgorithms(c storage.Client) []string {
	if c.Profile == storage.ProfileFAPI2 {
		return clientkeys.FAPI2Algorithms()
	}
	return nil // the verifier's own list
}

// assertionAudiences are the aud values an assertion sent to endpointURL
// may name. A FAPI 2.0 client's must name the issuer alone (FAPI 2.0
// Security Profile §5.3.2.1, and draft-ietf-oauth-rfc7523bis): an
// assertion aimed at an endpoint URL may be one the client made for another
// server that advertised our URL as its own (the audience injection
// attack). Other clients may also name the token endpoint (OpenID Connect
// Core §9 says they should) or the endpoint called: RFC 7523 §3 allows
// both, and RFC 9126 §2 requires PAR to accept the token endpoint's URL
// too.
func (s *Server) assertionAudiences(c storage.Client, endpointURL string) []string {
	if c.Profile == storage.ProfileFAPI2 {
		return []string{s.cfg.Issuer}
	}
	auds := []string{s.cfg.Issuer, s.url(pathToken)}
	if endpointURL != "" && !slices.Contains(auds, endpointURL) {
		auds = append(auds, endpointURL)
	}
	return auds
}

// verifyClientAssertion authenticates c by its client assertion sent to
// endpointURL. A refused assertion is a *clientkeys.Error; any other error
// means it could not be judged.
func (s *Server) verifyClientAssertion(ctx context.Context, c storage.Client, assertion, endpointURL string) error {
	keys, err := s.clientKeySource(ctx, c)
	if err != nil {
		return &clientkeys.Error{Code: clientkeys.CodeInvalidClient, Reason: err.Error()}
	}
	_, err = s.jwtVerifier.VerifyAssertion(ctx, assertion, c.ID, keys, s.assertionAudiences(c, endpointURL),
		clientkeys.AssertionPolicy{Algorithms: assertionAlgorithms(c)})
	return err
}

// clientKeySource returns where c's public keys come from: its jwks_uri
// through the server's cache, or its inline jwks. The error says, in words
// fit for the client, why it has none; it is also logged for the operator
// when the registered jwks cannot be parsed (validation should have
// refused it). Request objects (RFC 9101) use it too.
func (s *Server) clientKeySource(ctx context.Context, c storage.Client) (clientkeys.KeySource, error) {
	switch {
	case c.JWKSURI != "":
		return s.clientJWKS.Source(c.JWKSURI), nil
	case c.JWKS != "":
		set, err := s.inlineJWKS.get(c)
		if err != nil {
			s.log.WarnContext(ctx, "a client's registered jwks cannot be used; fix it with the admin API or the configuration",
				slog.String("client_id", c.ID), slog.String("err", err.Error()))
			return nil, fmt.Errorf("client %s has a registered jwks this server cannot use: %v", c.ID, err)
		}
		return set, nil
	}
	return nil, fmt.Errorf("client %s has no registered public keys (jwks or jwks_uri)", c.ID)
}

// inlineKeySets keeps the parsed inline jwks of clients, so that a token
// request does not parse JSON and keys each time. An entry is used only
// while the client's stored jwks is the text it was parsed from, so a
// change through the admin API or on another replica takes effect at once.
type inlineKeySets struct {
	mu   sync.Mutex
	sets map[string]inlineKeySet // by client id; guarded by mu
}

type inlineKeySet struct {
	jwks string
	set  *clientkeys.KeySet
}

func newInlineKeySets() *inlineKeySets {
	return &inlineKeySets{sets: map[string]inlineKeySet{}}
}

// get returns c's parsed jwks.
func (k *inlineKeySets) get(c storage.Client) (*clientkeys.KeySet, error) {
	k.mu.Lock()
	e, ok := k.sets[c.ID]
	k.mu.Unlock()
	if ok && e.jwks == c.JWKS {
		return e.set, nil
	}
	set, err := clientkeys.ParseKeySet([]byte(c.JWKS))
	if err != nil {
		var kse *clientkeys.KeySetError
		if errors.As(err, &kse) {
			return nil, errors.New(strings.Join(kse.Problems, "; "))
		}
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, present := k.sets[c.ID]; !present && len(k.sets) >= maxInlineKeySets {
		clear(k.sets) // crude but bounded; the busy clients come back at once
	}
	k.sets[c.ID] = inlineKeySet{jwks: c.JWKS, set: set}
	return set, nil
}
