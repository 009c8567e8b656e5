package authserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"
	"github.com/go-oauth2/oauth2/v4/manage"
	"github.com/go-oauth2/oauth2/v4/models"

	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/storage"
)

// This file wires go-oauth2 (no other package imports it; inside this one,
// Server holds the manager and the authorize, token and lifecycle handlers
// call it). We use its grant
// engine (manage.Manager: code issue and redemption, PKCE verification,
// token-generation orchestration) behind our own stores and generators, and
// own the HTTP layer ourselves: the library's server.Server is where most of
// the v4.5.4 defects live (open redirect on errors, 401 for invalid_grant,
// no URL-decoding of Basic credentials, user checked before client).
//
// The manager passes only its TokenInfo between the steps of a grant, so the
// details that matter to us (the session, nonce, auth_time, the refresh-token
// family) travel in a request-scoped *grant held in the context.

type grantKey struct{}

// grant collects what one authorization or token request decides, for the
// store adapter and the token generator that the manager calls.
type grant struct {
	client    storage.Client
	userID    string
	nonce     string
	sessionID string
	authTime  time.Time
	// familyID names the sign-in the tokens belong to; it is the refresh-token
	// family and what a code replay revokes.
	familyID string
	// wantRefresh says whether this grant may issue a refresh token.
	wantRefresh bool
	// redirectURI and codeVerifier are what a code redemption sent: the
	// store consumes the code only when they and client match it.
	redirectURI, codeVerifier string
	// claims is the authorization request's claims parameter (nil for
	// none), kept with the code and the refresh tokens.
	claims *claimsRequest
	// dpopJKT is the thumbprint of the token request's DPoP proof key, ""
	// without one (dpopgrant.go): the access token is bound to it, and so
	// is a public client's refresh token (refreshJKT).
	dpopJKT string
	// codeJKT is, at authorization, the DPoP key the code is bound to
	// (dpop_jkt, or the proof sent to /par; RFC 9449 §10), "" for none.
	codeJKT string
	// resource is the grant's RFC 8707 resources, space-separated, ""
	// for the client's default audience: kept with the code and the
	// refresh tokens. requestedResource are a token request's resource
	// parameters, which choose among them (tokenAudience, resource.go).
	resource          string
	requestedResource []string
	// amr is what the sign-in proved (RFC 8176): the session's, kept with
	// the code and the refresh tokens so that every ID token of the grant
	// says it.
	amr []string
}

func withGrant(ctx context.Context, g *grant) context.Context {
	return context.WithValue(ctx, grantKey{}, g)
}

func grantFrom(ctx context.Context) *grant {
	g, _ := ctx.Value(grantKey{}).(*grant)
	if g == nil {
		// Every engine call goes through withGrant; reaching here is a bug,
		// and an empty grant fails closed (no user, no refresh token).
		return &grant{}
	}
	return g
}

// newEngine wires a manage.Manager with our stores, generators and the
// exact-match redirect rule (defect 1).
func newEngine(s *Server) *manage.Manager {
	m := manage.NewManager()
	m.MapClientStorage(clientStore{s})
	m.MapTokenStorage(tokenStore{s})
	m.MapAuthorizeGenerate(codeGenerator{})
	m.MapAccessGenerate(accessGenerator{s})
	m.SetValidateURIHandler(exactRedirectURI)
	m.SetAuthorizeCodeExp(s.cfg.CodeTTL)
	tokenCfg := &manage.Config{AccessTokenExp: s.cfg.AccessTokenTTL, RefreshTokenExp: s.cfg.RefreshIdleTTL, IsGenerateRefresh: true}
	m.SetAuthorizeCodeTokenCfg(tokenCfg)
	m.SetPasswordTokenCfg(tokenCfg)
	m.SetClientTokenCfg(&manage.Config{AccessTokenExp: s.cfg.AccessTokenTTL})
	return m
}

// exactRedirectURI replaces the library's host-suffix check: the redirect URI
// must equal one registered URI character for character (RFC 9700 §4.1.3).
// clientInfo.GetDomain carries the registered list, one per line.
func exactRedirectURI(registered, redirectURI string) error {
	for _, u := range strings.Split(registered, "\n") {
		if u != "" && u == redirectURI {
			return nil
		}
	}
	return oerrors.ErrInvalidRedirectURI
}

// clientInfo adapts storage.Client to the library's ClientInfo.
// fromRequest marks the client this request loaded (grant.client): at the
// token endpoint, the one authenticateClient authenticated.
type clientInfo struct {
	c           storage.Client
	fromRequest bool
}

var (
	_ oauth2.ClientInfo             = clientInfo{}
	_ oauth2.ClientPasswordVerifier = clientInfo{}
)

func (ci clientInfo) GetID() string     { return ci.c.ID }
func (ci clientInfo) GetSecret() string { return "" } // never compared: VerifyPassword is
func (ci clientInfo) GetDomain() string { return strings.Join(ci.c.RedirectURIs, "\n") }
func (ci clientInfo) IsPublic() bool    { return ci.c.Public() } // false for private_key_jwt
func (ci clientInfo) GetUserID() string { return "" }

// VerifyPassword compares hashes in constant time (defect 7): the secret is
// stored only as its SHA-256. A private_key_jwt client has no secret: the
// library's check passes only for the client authenticateClient verified by
// its assertion, which sends none.
func (ci clientInfo) VerifyPassword(secret string) bool {
	if ci.c.TokenEndpointAuthMethod == storage.AuthPrivateKeyJWT {
		return ci.fromRequest && secret == ""
	}
	return secretMatches(ci.c, secret)
}

func secretMatches(c storage.Client, secret string) bool {
	if c.Public() {
		return secret == ""
	}
	return subtle.ConstantTimeCompare([]byte(storage.Hash(secret)), []byte(c.SecretHash)) == 1
}

// clientStore hands the manager the client already loaded and authenticated
// for this request, so the token endpoint reads it from the database once.
type clientStore struct{ s *Server }

func (cs clientStore) GetByID(ctx context.Context, id string) (oauth2.ClientInfo, error) {
	if g := grantFrom(ctx); g.client.ID == id {
		return clientInfo{c: g.client, fromRequest: true}, nil
	}
	c, err := cs.s.store.GetClient(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, oerrors.ErrInvalidClient
	}
	if err != nil {
		return nil, err
	}
	return clientInfo{c: c}, nil
}

// tokenStore adapts our storage to the library's TokenStore. Access tokens
// are stateless JWTs, so only codes and refresh tokens are stored, and only
// as hashes.
type tokenStore struct{ s *Server }

func (ts tokenStore) Create(ctx context.Context, ti oauth2.TokenInfo) error {
	g := grantFrom(ctx)
	now := ts.s.now()
	if code := ti.GetCode(); code != "" {
		return ts.s.store.CreateAuthCode(ctx, storage.AuthCode{
			CodeHash:            storage.Hash(code),
			ClientID:            ti.GetClientID(),
			UserID:              ti.GetUserID(),
			RedirectURI:         ti.GetRedirectURI(),
			Scope:               ti.GetScope(),
			CodeChallenge:       ti.GetCodeChallenge(),
			CodeChallengeMethod: string(ti.GetCodeChallengeMethod()),
			Nonce:               g.nonce,
			SessionID:           g.sessionID,
			AuthTime:            g.authTime,
			ClaimsRequest:       g.claims.encode(),
			DPoPJKT:             g.codeJKT,
			Resource:            g.resource,
			AMR:                 g.amr,
			CreatedAt:           now,
			ExpiresAt:           now.Add(ts.s.codeTTL(g.client)),
		})
	}
	refresh := ti.GetRefresh()
	if refresh == "" {
		return nil
	}
	return ts.s.store.CreateRefreshToken(ctx, storage.RefreshToken{
		TokenHash:       storage.Hash(refresh),
		FamilyID:        g.familyID,
		ClientID:        ti.GetClientID(),
		UserID:          ti.GetUserID(),
		Scope:           ti.GetScope(),
		SessionID:       g.sessionID,
		Nonce:           g.nonce,
		AuthTime:        g.authTime,
		ClaimsRequest:   g.claims.encode(),
		DPoPJKT:         g.refreshJKT(),
		Resource:        g.resource,
		AMR:             g.amr,
		CreatedAt:       now,
		ExpiresAt:       now.Add(ts.s.cfg.RefreshIdleTTL),
		FamilyExpiresAt: now.Add(ts.s.cfg.RefreshTTL),
	})
}

// GetByCode consumes the code atomically (defect 5): the library reads then
// deletes, so two concurrent redemptions could both succeed. The library
// also checks the client, the redirect URI and PKCE only after its delete,
// so any client (a public one needs no secret) holding a leaked code could
// burn it, or by replaying it revoke the user's grant; here they are
// conditions of the consuming UPDATE itself. A replayed code revokes the
// family its first redemption created (RFC 6749 §4.1.2), but only when the
// replay matches the code as a first redemption would have to.
func (ts tokenStore) GetByCode(ctx context.Context, code string) (oauth2.TokenInfo, error) {
	g := grantFrom(ctx)
	rec, err := ts.s.store.ConsumeAuthCode(ctx, storage.Hash(code), storage.CodeRedemption{
		ClientID:      g.client.ID,
		RedirectURI:   g.redirectURI,
		CodeChallenge: pkceS256(g.codeVerifier),
		DPoPJKT:       g.dpopJKT,
		FamilyID:      g.familyID,
	}, ts.s.now())
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, errInvalidGrant("the authorization code is invalid or expired, or was issued to another client or redirect_uri, " +
			"or code_verifier does not match its code_challenge (PKCE S256), or the code is bound to a DPoP key (dpop_jkt) that the request's proof does not prove")
	case errors.Is(err, storage.ErrAlreadyUsed):
		observe.Audit(ctx, ts.s.log, observe.EventCodeReplayed, slog.String("client_id", rec.ClientID),
			slog.String("subject", rec.UserID), slog.String("family", rec.FamilyID))
		if err := ts.s.store.RevokeFamily(ctx, rec.FamilyID, ts.s.now()); err != nil {
			return nil, err
		}
		return nil, errInvalidGrant("the authorization code was already used; the tokens issued for it are revoked")
	case err != nil:
		return nil, err
	}
	// RFC 9449 §10: the redemption matched only with the code's key (see
	// storage.CodeRedemption); checked again here, in constant time.
	if err := checkBinding("the authorization code", rec.DPoPJKT, g.dpopJKT); err != nil {
		return nil, err
	}
	g.nonce, g.sessionID, g.authTime = rec.Nonce, rec.SessionID, rec.AuthTime
	g.claims = decodeClaimsRequest(rec.ClaimsRequest)
	g.resource = rec.Resource
	g.amr = amrOrPassword(rec.AMR)
	ti := models.NewToken()
	ti.SetCode(code)
	ti.SetClientID(rec.ClientID)
	ti.SetUserID(rec.UserID)
	ti.SetRedirectURI(rec.RedirectURI)
	ti.SetScope(rec.Scope)
	ti.SetCodeChallenge(rec.CodeChallenge)
	ti.SetCodeChallengeMethod(oauth2.CodeChallengeMethod(rec.CodeChallengeMethod))
	// Our store already refused an expired code by our clock; the manager
	// checks again against time.Now, so hand it a window that is open now.
	ti.SetCodeCreateAt(time.Now())
	ti.SetCodeExpiresIn(time.Minute)
	return ti, nil
}

// pkceS256 is the RFC 7636 §4.2 S256 challenge of a verifier, "" for none:
// the only method the authorize endpoint accepts, so the store can compare
// challenges instead of running the method.
func pkceS256(verifier string) string {
	if verifier == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// RemoveByCode has nothing to do: GetByCode consumed the code.
func (ts tokenStore) RemoveByCode(context.Context, string) error { return nil }

// The access-token and refresh-token lookups of the library are not used:
// access tokens are verified as JWTs, and refresh rotation is ours (see
// refresh.go), because the library's RefreshAccessToken neither binds the
// token to its client nor detects reuse.
func (ts tokenStore) RemoveByAccess(context.Context, string) error { return nil }
func (ts tokenStore) RemoveByRefresh(context.Context, string) error {
	return nil
}
func (ts tokenStore) GetByAccess(context.Context, string) (oauth2.TokenInfo, error) {
	return nil, oerrors.ErrInvalidAccessToken
}
func (ts tokenStore) GetByRefresh(context.Context, string) (oauth2.TokenInfo, error) {
	return nil, oerrors.ErrInvalidRefreshToken
}

// codeGenerator makes authorization codes of 256 random bits.
type codeGenerator struct{}

func (codeGenerator) Token(context.Context, *oauth2.GenerateBasic) (string, error) {
	return randomToken(), nil
}

// accessGenerator mints RFC 9068 JWT access tokens and, when the grant allows
// it, an opaque 256-bit refresh token.
type accessGenerator struct{ s *Server }

func (ag accessGenerator) Token(ctx context.Context, data *oauth2.GenerateBasic, isGenRefresh bool) (string, string, error) {
	g := grantFrom(ctx)
	ti := data.TokenInfo
	if data.UserID == "" {
		// The token's sub will be the client id (client credentials).
		if err := ag.s.checkClientSubject(ctx, g.client); err != nil {
			return "", "", err
		}
	}
	aud, err := ag.s.tokenAudience(g.client, g.resource, g.requestedResource)
	if err != nil {
		return "", "", err
	}
	var amr []string
	if data.UserID != "" {
		amr = amrOrPassword(g.amr)
	}
	access, err := ag.s.minter.accessToken(accessClaimsInput{
		client:   g.client,
		subject:  subjectOf(g.client, data.UserID),
		scope:    ti.GetScope(),
		authTime: g.authTime,
		familyID: g.familyID,
		ttl:      ti.GetAccessExpiresIn(),
		claims:   g.claims,
		jkt:      g.dpopJKT,
		audience: aud,
		amr:      amr,
	})
	if err != nil {
		return "", "", err
	}
	var refresh string
	// A refresh token needs the grant and, per OIDC Core §11, offline_access.
	if isGenRefresh && g.wantRefresh && hasScope(ti.GetScope(), "offline_access") {
		refresh = randomToken()
	}
	return access, refresh, nil
}

// subjectOf is the sub of a token: the user, or the client itself for the
// client-credentials grant (RFC 9068 §2.2).
func subjectOf(c storage.Client, userID string) string {
	if userID == "" {
		return c.ID
	}
	return userID
}

// engineError maps the library's errors to protocol errors; ours pass through.
func engineError(err error) error {
	var pe *protocolError
	switch {
	case errors.As(err, &pe):
		return pe
	case errors.Is(err, oerrors.ErrInvalidClient):
		return errInvalidClient("client authentication failed")
	case errors.Is(err, oerrors.ErrInvalidRedirectURI):
		return errInvalidGrant("redirect_uri does not match the one used in the authorization request")
	case errors.Is(err, oerrors.ErrInvalidAuthorizeCode):
		return errInvalidGrant("the authorization code is invalid, expired, or was issued to another client or redirect_uri")
	case errors.Is(err, oerrors.ErrMissingCodeVerifier):
		return errInvalidGrant("code_verifier is required because the authorization request had a code_challenge, and refused when it had none")
	case errors.Is(err, oerrors.ErrInvalidCodeChallenge):
		return errInvalidGrant("code_verifier does not match the code_challenge (PKCE S256)")
	}
	return err
}
