package authserver

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/authserver-dev/authserver/authserver/storage"
)

// This file is RFC 8707, resource indicators. A client may have access
// tokens for the audiences of its allowed list (storage.Client.Audience, or
// Config.DefaultAudience for a client without one); the resource parameter
// at the authorization, PAR and token endpoints chooses among them. The
// authorization request's choice is the grant's: stored with the code and
// every refresh token of the family (AuthCode.Resource,
// RefreshToken.Resource), so a token request may narrow it but never widen
// it. Without any resource, a token is for the whole list, as before.

// errInvalidTarget is RFC 8707 §2's error for a resource that is malformed
// or not one the client may have.
func errInvalidTarget(format string, args ...any) *protocolError {
	return newError("invalid_target", http.StatusBadRequest, format, args...)
}

// allowedAudience is every audience c's access tokens may name.
func (s *Server) allowedAudience(c storage.Client) []string {
	if len(c.Audience) > 0 {
		return c.Audience
	}
	return s.cfg.DefaultAudience
}

// requestedResources checks the resource parameters of a request by c:
// each an absolute URI without a fragment (RFC 8707 §2) that is one of the
// audiences c may have. It returns them once each, in order; nil for none.
func (s *Server) requestedResources(c storage.Client, values []string) ([]string, error) {
	allowed := s.allowedAudience(c)
	var out []string
	for _, v := range values {
		if !resourceURI(v) {
			return nil, errInvalidTarget("each resource must be an absolute URI without a fragment (RFC 8707 §2)")
		}
		if !slices.Contains(allowed, v) {
			return nil, errInvalidTarget("resource %s is not an audience client %s may have tokens for; allowed: %s",
				v, c.ID, strings.Join(allowed, " "))
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// resourceURI reports whether v may be a resource indicator: an absolute
// URI (a scheme), no fragment, and nothing that could not be in a URI
// (whitespace would also break the space-separated list it is stored in).
func resourceURI(v string) bool {
	if v == "" || strings.ContainsAny(v, "# \t\r\n\"\\<>") {
		return false
	}
	u, err := url.Parse(v)
	return err == nil && u.IsAbs() && (u.Host != "" || u.Opaque != "")
}

// tokenAudience is the aud of an access token of a grant by c whose
// resources are granted (space-separated, "" for none) for a token request
// that names requested (already checked by requestedResources): requested,
// each of which must be one of the grant's; else the grant's resources.
// A grant without resources is for every audience c may have. Either way
// only what c may still have counts: an audience removed from the client's
// list since the grant is gone at its next token, as a removed scope is.
func (s *Server) tokenAudience(c storage.Client, granted string, requested []string) ([]string, error) {
	allowed := s.allowedAudience(c)
	grant := allowed
	if granted != "" {
		grant = slices.DeleteFunc(strings.Fields(granted), func(r string) bool { return !slices.Contains(allowed, r) })
		if len(grant) == 0 {
			return nil, errInvalidGrant("the resources of this grant are no longer allowed for client %s; authorize again", c.ID)
		}
	}
	for _, r := range requested {
		if !slices.Contains(grant, r) {
			return nil, errInvalidTarget("resource %s is not one this grant is for (%s): a token request may only narrow the resources of its grant (RFC 8707 §2.2)",
				r, strings.Join(grant, " "))
		}
	}
	if len(requested) > 0 {
		return requested, nil
	}
	return slices.Clone(grant), nil
}
