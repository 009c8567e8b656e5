package authserver

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/storage"
)

// authenticateClient authenticates the client of a token-endpoint request by
// client_secret_basic, client_secret_post or none (public clients), and
// returns it with the secret it presented. It runs before anything about the
// grant is looked at (defect 11: the user must never be checked first).
func (s *Server) authenticateClient(ctx context.Context, r *http.Request) (storage.Client, string, error) {
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 §2.3.1: the id and secret are form-urlencoded before
		// base64, so "+", "/" and "=" arrive escaped (defect 8).
		var errID, errSecret error
		id, errID = url.QueryUnescape(id)
		secret, errSecret = url.QueryUnescape(secret)
		if errID != nil || errSecret != nil {
			return storage.Client{}, "", errInvalidClient("the Basic credentials are not form-urlencoded (RFC 6749 §2.3.1)")
		}
		// The form was checked by parseTokenForm; the header only now.
		for _, bad := range []*paramError{checkParam("client_id", id), checkParam("client_secret", secret)} {
			if bad != nil {
				return storage.Client{}, "", bad.tokenError()
			}
		}
		if r.PostForm.Has("client_secret") {
			return storage.Client{}, "", errInvalidRequest("use one client authentication method: Basic or client_secret in the body, not both")
		}
		if formID := r.PostForm.Get("client_id"); formID != "" && formID != id {
			return storage.Client{}, "", errInvalidRequest("client_id in the body differs from the Basic credentials")
		}
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id == "" {
		return storage.Client{}, "", errInvalidClient("client authentication is required: send client_id (and client_secret for a confidential client)")
	}
	c, err := s.store.GetClient(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Client{}, "", errInvalidClient("client %s is not registered", id)
	}
	if err != nil {
		return storage.Client{}, "", err
	}
	observe.SetClientID(ctx, c.ID)
	if !c.Public() {
		// Before the secret is compared, so that the right secret is refused
		// during back-off too (see throttling.go). Public clients have no
		// secret to guess and are never counted.
		if err := s.refuseIfBlocked(ctx, observe.ThrottleClientAuth, slog.String("client_id", c.ID), clientKey(c.ID)); err != nil {
			return storage.Client{}, "", err
		}
	}
	switch {
	case c.Public() && secret != "":
		return storage.Client{}, "", errInvalidClient("client %s is public and must not send a client_secret", id)
	case !c.Public() && secret == "":
		return storage.Client{}, "", errInvalidClient("client %s is confidential: client_secret is required", id)
	case !secretMatches(c, secret):
		// Only a wrong secret is a guess worth counting. A success does not
		// reset the counter: a busy client authenticating every second would
		// otherwise launder an attacker's guesses; it ages out (reset_after).
		if err := s.countFailure(ctx, clientKey(c.ID)); err != nil {
			return storage.Client{}, "", err
		}
		return storage.Client{}, "", errInvalidClient("client authentication failed for client %s", id)
	}
	return c, secret, nil
}
