package authserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/authserver-dev/authserver/authserver/storage"
)

// signingAlgs is the allow-list for tokens this server verifies itself.
var signingAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA}

// verifyJWT checks the signature of a JWT we issued against our published
// keys and decodes its claims into dst. It returns the typ header.
func (s *Server) verifyJWT(raw string, dst any) (string, error) {
	tok, err := jwt.ParseSigned(raw, signingAlgs)
	if err != nil || len(tok.Headers) != 1 {
		return "", errors.New("the token is malformed")
	}
	h := tok.Headers[0]
	key, ok := s.keys.PublicKey(h.KeyID)
	if !ok {
		return "", errors.New("the token was signed by an unknown key")
	}
	if err := tok.Claims(key.Key, dst); err != nil {
		return "", errors.New("the token signature is invalid")
	}
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	return typ, nil
}

// verifyAccessToken checks one of our own RFC 9068 access tokens: signature
// by a published key, typ, issuer and expiry.
func (s *Server) verifyAccessToken(raw string) (*accessClaims, error) {
	var c accessClaims
	typ, err := s.verifyJWT(raw, &c)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(typ, "at+jwt") {
		return nil, errors.New("the token is not an access token (typ is not at+jwt)")
	}
	if c.Issuer != s.cfg.Issuer {
		return nil, fmt.Errorf("the access token was issued by %s", c.Issuer)
	}
	if c.Expiry <= s.now().Unix() {
		return nil, errors.New("the access token has expired")
	}
	return &c, nil
}

// revoked reports whether an access token was revoked, by itself or with its
// family (a revoked refresh-token family, a replayed code).
func (s *Server) revoked(ctx context.Context, c *accessClaims) (bool, error) {
	if revoked, err := s.store.AccessTokenRevoked(ctx, c.ID); err != nil || revoked {
		return revoked, err
	}
	if family := jtiFamily(c.ID); family != "" {
		return s.store.FamilyRevoked(ctx, family)
	}
	return false, nil
}

// handleUserinfo is the OIDC UserInfo endpoint (OIDC Core §5.3): the claims
// of the token's user that its scopes release. Errors follow RFC 6750 §3,
// and RFC 9449 §7 for DPoP-bound tokens (dpopuserinfo.go).
func (s *Server) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	scheme, raw, ok := accessTokenOf(r)
	if !ok {
		s.userinfoNoToken(w)
		return
	}
	fail := func(status int, code, desc string) { s.userinfoError(w, scheme, status, code, desc) }
	bad := checkParam("access_token", raw)
	if bad == nil {
		bad = checkParams(r.Form) // a POST body's other fields; nil without one
	}
	if bad != nil {
		fail(http.StatusBadRequest, "invalid_request", bad.Error()) // RFC 6750 §3.1
		return
	}
	claims, err := s.verifyAccessToken(raw)
	if err != nil {
		fail(http.StatusUnauthorized, "invalid_token", err.Error())
		return
	}
	if revoked, err := s.revoked(r.Context(), claims); err != nil {
		s.writeJSONError(w, r, err)
		return
	} else if revoked {
		fail(http.StatusUnauthorized, "invalid_token", "the access token was revoked")
		return
	}
	if !s.userinfoBinding(w, r, scheme, raw, claims) {
		return
	}
	if !hasScope(claims.Scope, "openid") {
		fail(http.StatusForbidden, "insufficient_scope", "the access token was not granted the openid scope")
		return
	}
	user, err := s.store.GetUser(r.Context(), claims.Subject)
	if errors.Is(err, storage.ErrNotFound) {
		fail(http.StatusUnauthorized, "invalid_token", "the user of this token no longer exists")
		return
	}
	if err != nil {
		s.writeJSONError(w, r, err)
		return
	}
	if user.Disabled { // its families were revoked; refuse a token that outlived that
		fail(http.StatusUnauthorized, "invalid_token", "the user of this token is disabled")
		return
	}
	// The scopes' claims (OIDC Core §5.4) and those the claims request
	// named (§5.5), which the access token carries.
	released := releasedClaims(user, claims.Scope, claims.UserinfoClaims)
	released["sub"] = user.ID
	if len(claims.AMR) > 0 { // how the user signed in, as in the ID token
		released["acr"], released["amr"] = claims.ACR, claims.AMR
	}
	writeJSON(w, http.StatusOK, released)
}

// accessTokenOf reads an RFC 6750 §2.1 Authorization header, an RFC 9449
// §7.1 "Authorization: DPoP" one, or the RFC 6750 §2.2 form body of a POST,
// and returns the scheme (schemeBearer for the body) and the token. Tokens
// in the query string are refused (RFC 9700 §4.3.2).
func accessTokenOf(r *http.Request) (scheme, token string, ok bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		token = strings.TrimSpace(token)
		if !ok || token == "" {
			return "", "", false
		}
		switch {
		case strings.EqualFold(scheme, schemeBearer):
			return schemeBearer, token, true
		case strings.EqualFold(scheme, schemeDPoP):
			return schemeDPoP, token, true
		}
		return "", "", false
	}
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		r.Body = http.MaxBytesReader(nil, r.Body, 16<<10)
		if err := r.ParseForm(); err == nil && r.PostForm.Get("access_token") != "" {
			return schemeBearer, r.PostForm.Get("access_token"), true
		}
	}
	return "", "", false
}
