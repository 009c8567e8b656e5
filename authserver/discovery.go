package authserver

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// supportedGrantTypes are the grants this server implements; a client uses
// the subset it is registered for. Implicit is deliberately absent (RFC 9700 §2.1.2).
var supportedGrantTypes = []string{"authorization_code", "refresh_token", "client_credentials", "password"}

// discoveryDocument is OpenID Connect Discovery 1.0 §3 and RFC 8414 in one:
// it lists exactly what the server does, so clients never guess.
func (s *Server) discoveryDocument() ([]byte, error) {
	doc := map[string]any{
		"issuer":                 s.cfg.Issuer,
		"authorization_endpoint": s.url(pathAuthorize),
		"token_endpoint":         s.url(pathToken),
		"userinfo_endpoint":      s.url(pathUserinfo),
		"jwks_uri":               s.url(pathJWKS),
		"revocation_endpoint":    s.url(pathRevoke),
		"introspection_endpoint": s.url(pathIntrospect),
		"end_session_endpoint":   s.url(pathLogout),
		"revocation_endpoint_auth_methods_supported":    []string{"client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"response_types_supported":                      []string{"code"},
		"response_modes_supported":                      []string{"query"},
		"grant_types_supported":                         supportedGrantTypes,
		"subject_types_supported":                       []string{"public"},
		"id_token_signing_alg_values_supported":         s.keys.Algorithms(),
		"token_endpoint_auth_methods_supported":         []string{"client_secret_basic", "client_secret_post", "none"},
		"code_challenge_methods_supported":              []string{"S256"},
		"scopes_supported":                              []string{"openid", "profile", "email", "offline_access"},
		"claims_supported": []string{"iss", "sub", "aud", "azp", "exp", "iat", "auth_time", "nonce", "at_hash", "sid",
			"name", "preferred_username", "email", "email_verified"},
		"authorization_response_iss_parameter_supported": true,
		"request_parameter_supported":                    false,
		"request_uri_parameter_supported":                false,
		"claims_parameter_supported":                     false,
	}
	return json.Marshal(doc)
}

func (s *Server) handleDiscovery(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("Access-Control-Allow-Origin", "*")
	_, _ = w.Write(s.discovery)
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
