package authserver

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/authserver-dev/authserver/authserver/mfa"
	"github.com/authserver-dev/authserver/authserver/storage"
)

// supportedGrantTypes are the grants this server implements; a client uses
// the subset it is registered for. Implicit is deliberately absent (RFC 9700 §2.1.2).
var supportedGrantTypes = []string{"authorization_code", "refresh_token", "client_credentials", "password"}

// discoveryDocument is OpenID Connect Discovery 1.0 §3 and RFC 8414 in one:
// it lists exactly what the server does, so clients never guess. This one,
// made at start, lists every grant the server implements; handleDiscovery
// serves the one for the grants that some client may use (discoveryWith).
func (s *Server) discoveryDocument() ([]byte, error) {
	return s.discoveryWith(supportedGrantTypes)
}

// discoveryWithoutPassword is the document while no client may use the
// password grant.
func (s *Server) discoveryWithoutPassword() ([]byte, error) {
	return s.discoveryWith(slices.DeleteFunc(slices.Clone(supportedGrantTypes), func(g string) bool { return g == "password" }))
}

// discoveryWith is the discovery document listing grantTypes.
func (s *Server) discoveryWith(grantTypes []string) ([]byte, error) {
	doc := map[string]any{
		"issuer":                 s.cfg.Issuer,
		"authorization_endpoint": s.url(pathAuthorize),
		"token_endpoint":         s.url(pathToken),
		"userinfo_endpoint":      s.url(pathUserinfo),
		"jwks_uri":               s.url(pathJWKS),
		"revocation_endpoint":    s.url(pathRevoke),
		"introspection_endpoint": s.url(pathIntrospect),
		"end_session_endpoint":   s.url(pathLogout),
		"revocation_endpoint_auth_methods_supported":     []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
		"introspection_endpoint_auth_methods_supported":  []string{"client_secret_basic", "client_secret_post", "private_key_jwt"},
		"response_types_supported":                       []string{"code"},
		"response_modes_supported":                       []string{"query", responseModeFormPost},
		"grant_types_supported":                          grantTypes,
		"subject_types_supported":                        []string{"public"},
		"id_token_signing_alg_values_supported":          s.keys.Algorithms(),
		"token_endpoint_auth_methods_supported":          []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
		"code_challenge_methods_supported":               []string{"S256"},
		"scopes_supported":                               []string{"openid", "profile", "email", "address", "phone", "offline_access"},
		"claims_supported":                               supportedClaims,
		"claim_types_supported":                          []string{"normal"},
		"acr_values_supported":                           mfa.ACRValues(),
		"authorization_response_iss_parameter_supported": true,
		"request_parameter_supported":                    true,
		"request_uri_parameter_supported":                false,
		"claims_parameter_supported":                     true,
		"dpop_signing_alg_values_supported":              s.dpop.Algorithms(),
		// Back-Channel Logout 1.0 §2.1: logout tokens always carry sid.
		"backchannel_logout_supported":         true,
		"backchannel_logout_session_supported": true,
		// RFC 9101 request objects by value, at /authorize and /par; a
		// request_uri only from /par (RFC 9126 §5), never fetched.
		"request_object_signing_alg_values_supported": s.jwtVerifier.Algorithms(),
		"pushed_authorization_request_endpoint":       s.url(pathPAR),
		"require_pushed_authorization_requests":       s.cfg.PARRequired,
	}
	if s.cfg.Registration != nil {
		doc["registration_endpoint"] = s.url(pathRegister)
	}
	// RFC 8414 §2: the algorithms of private_key_jwt assertions, for each
	// endpoint that accepts them (clientassertion.go).
	for _, endpoint := range []string{"token", "revocation", "introspection"} {
		doc[endpoint+"_endpoint_auth_signing_alg_values_supported"] = s.jwtVerifier.Algorithms()
	}
	return json.Marshal(doc)
}

// handleDiscovery serves the discovery document. Which grants it lists
// depends on the clients, which the CLI may change while every replica runs,
// so it asks the store on each request: always current on every replica,
// with no invalidation to get wrong, for one read of the clients table that
// relying parties pay once per max-age. While the store cannot be read, the
// document made at start (every implemented grant) is served, with a short
// max-age so that no cache keeps it.
func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	body, maxAge := s.discovery, "3600"
	withPassword, err := s.passwordInUse(r.Context())
	switch {
	case err != nil:
		s.log.WarnContext(r.Context(), "discovery lists every implemented grant: the clients could not be read", slog.Any("err", err))
		maxAge = fmt.Sprint(retryAfterSeconds)
	case !withPassword:
		body = s.discoveryNoPassword
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age="+maxAge)
	h.Set("Access-Control-Allow-Origin", "*")
	_, _ = w.Write(body)
}

// discoveryRecheck is how long the answer of passwordInUse is reused:
// discovery is fetched by every relying party and resource server, so it is
// served from precomputed bytes, and a client added or removed with the CLI
// (on any replica) shows within this time.
const discoveryRecheck = 5 * time.Second

// passwordInUse reports whether some client may use the password grant,
// which discovery advertises only then (RFC 9700 §2.4 discourages it, and a
// relying party should not be told of a grant nobody has).
func (s *Server) passwordInUse(ctx context.Context) (bool, error) {
	now := s.now()
	s.passwordGrant.mu.Lock()
	defer s.passwordGrant.mu.Unlock()
	if pg := &s.passwordGrant; !pg.checked.IsZero() && now.Sub(pg.checked) < discoveryRecheck && !now.Before(pg.checked) {
		return pg.inUse, nil
	}
	clients, err := s.store.ListClients(ctx)
	if err != nil {
		return false, err
	}
	s.passwordGrant.inUse = slices.ContainsFunc(clients, func(c storage.Client) bool { return slices.Contains(c.GrantTypes, "password") })
	s.passwordGrant.checked = now
	return s.passwordGrant.inUse, nil
}

// passwordGrantCheck is the last answer of passwordInUse.
type passwordGrantCheck struct {
	mu      sync.Mutex
	checked time.Time
	inUse   bool
}

// handleJWKS serves the public keys from bytes the key manager precomputed.
// The max-age never reaches past the next scheduled key change, so a cache
// that honours it always sees a new key before it signs and drops a removed
// one when it goes.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	etag := s.keys.ETag()
	maxAge := s.cfg.JWKSMaxAge
	if next := s.keys.NextChange(); !next.IsZero() {
		maxAge = max(0, min(maxAge, next.Sub(s.now())))
	}
	h.Set("Content-Type", "application/jwk-set+json")
	h.Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(maxAge.Seconds())))
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(s.keys.JWKS())
}
