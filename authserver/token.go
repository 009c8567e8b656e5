package authserver

import (
	"context"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-oauth2/oauth2/v4"

	"github.com/authserver-dev/authserver/authserver/mfa"
	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/storage"
)

// grantHandler serves one grant type for an already authenticated client
// that is allowed that grant.
type grantHandler func(s *Server, ctx context.Context, r *http.Request, c storage.Client, secret string) (*tokenResponse, error)

// grants maps grant_type to its handler. Implicit is absent on purpose (defect 12).
var grants = map[string]grantHandler{
	"authorization_code": (*Server).grantAuthorizationCode,
	"password":           (*Server).grantPassword,
	"refresh_token":      (*Server).grantRefreshToken,
	"client_credentials": (*Server).grantClientCredentials,
}

// tokenResponse is RFC 6749 §5.1 plus OIDC's id_token.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	// subject is the tokens' sub, for the audit log.
	subject string
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	s.setDPoPNonce(w)
	resp, err := s.token(r)
	if err != nil {
		s.writeJSONError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// token is the dispatcher: it owns request parsing, client authentication and
// the grant-type policy once, for every grant.
func (s *Server) token(r *http.Request) (*tokenResponse, error) {
	if err := parseTokenForm(r); err != nil {
		return nil, err
	}
	ctx := r.Context()
	client, secret, err := s.authenticateClient(ctx, r, s.url(pathToken))
	if err != nil {
		return nil, err
	}
	gt := r.PostForm.Get("grant_type")
	if gt == "" {
		return nil, errInvalidRequest("grant_type is required")
	}
	handle, ok := grants[gt]
	if !ok {
		return nil, errUnsupportedGrantType("grant_type %s is not supported; supported: %s", gt, strings.Join(supportedGrantTypes, ", "))
	}
	if !slices.Contains(client.GrantTypes, gt) {
		return nil, errUnauthorizedClient("client %s is not allowed the %s grant", client.ID, gt)
	}
	jkt, err := s.tokenProof(r, client)
	if err != nil {
		return nil, err
	}
	resp, err := handle(s, withDPoPKey(ctx, jkt), r, client, secret)
	if err != nil {
		return nil, err
	}
	s.metrics.TokenIssued(gt)
	observe.Audit(ctx, s.log, observe.EventTokenIssued, slog.String("grant_type", gt), slog.String("client_id", client.ID),
		slog.String("subject", resp.subject), slog.String("scope", resp.Scope), slog.Bool("refresh_token", resp.RefreshToken != ""))
	return resp, nil
}

// parseTokenForm reads the body of a request to the token, revocation or
// introspection endpoint: form-encoded, bounded, every parameter well-formed
// (checkParams), no parameter twice (RFC 6749 §3.2) but resource, which
// RFC 8707 §2 repeats.
func parseTokenForm(r *http.Request) error {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return errInvalidRequest("the request must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return errInvalidRequest("the request body could not be parsed")
	}
	// r.Form: the query too, although no handler reads it.
	if bad := checkParams(r.Form); bad != nil {
		return bad.tokenError()
	}
	for name, values := range r.PostForm {
		if len(values) > 1 && name != "resource" {
			return errInvalidRequest("parameter %s was sent more than once", name)
		}
	}
	return nil
}

// grantAuthorizationCode redeems a code (RFC 6749 §4.1.3, RFC 7636 §4.5).
func (s *Server) grantAuthorizationCode(ctx context.Context, r *http.Request, c storage.Client, secret string) (*tokenResponse, error) {
	f := r.PostForm
	code, redirectURI := f.Get("code"), f.Get("redirect_uri")
	if code == "" {
		return nil, errInvalidRequest("code is required")
	}
	if redirectURI == "" {
		return nil, errInvalidRequest("redirect_uri is required: send the one used in the authorization request")
	}
	// Checked before the code is consumed; whether they are within the
	// code's resources, only after (tokenAudience).
	resources, err := s.requestedResources(c, f["resource"])
	if err != nil {
		return nil, err
	}
	g := &grant{client: c, familyID: randomID(), wantRefresh: slices.Contains(c.GrantTypes, "refresh_token"),
		redirectURI: redirectURI, codeVerifier: f.Get("code_verifier"), dpopJKT: dpopKeyFrom(ctx), requestedResource: resources}
	ctx = withGrant(ctx, g)
	ti, err := s.engine.GenerateAccessToken(ctx, oauth2.AuthorizationCode, &oauth2.TokenGenerateRequest{
		ClientID:     c.ID,
		ClientSecret: secret,
		RedirectURI:  redirectURI,
		Code:         code,
		CodeVerifier: f.Get("code_verifier"),
		Request:      r,
	})
	if err != nil {
		return nil, engineError(err)
	}
	return s.respond(ctx, g, fromEngine(ti), nil)
}

// grantPassword is the resource owner password credentials grant (RFC 6749
// §4.3), for first-party clients that list it. RFC 9700 §2.4 discourages it.
func (s *Server) grantPassword(ctx context.Context, r *http.Request, c storage.Client, secret string) (*tokenResponse, error) {
	username, pw := r.PostForm.Get("username"), r.PostForm.Get("password")
	// Nothing after this point may persist or log the password.
	r.PostForm.Del("password")
	r.Form.Del("password")
	if username == "" || pw == "" {
		return nil, errInvalidRequest("username and password are required")
	}
	scope, err := allowedScope(c, r.PostForm.Get("scope"))
	if err != nil {
		return nil, err
	}
	resources, err := s.requestedResources(c, r.PostForm["resource"])
	if err != nil {
		return nil, err
	}
	user, failure, err := s.checkPassword(ctx, username, pw)
	if err != nil {
		return nil, err
	}
	if failure == "" {
		// The grant has no second step: a user who must take one cannot
		// use it (checked only after the password, like a login form).
		why, refusal, err := s.passwordGrantRefused(ctx, c, user)
		if err != nil {
			return nil, err
		}
		if refusal != nil {
			s.auditLogin(ctx, "password_grant", username, c.ID, "", why)
			return nil, refusal
		}
	}
	s.auditLogin(ctx, "password_grant", username, c.ID, user.ID, failure)
	if failure != "" {
		return nil, errInvalidGrant("the username or password is wrong")
	}
	g := &grant{client: c, userID: user.ID, authTime: s.now(), familyID: randomID(),
		wantRefresh: slices.Contains(c.GrantTypes, "refresh_token"), dpopJKT: dpopKeyFrom(ctx), resource: strings.Join(resources, " "),
		amr: mfa.AMRFor(true, mfa.NoFactor)}
	ctx = withGrant(ctx, g)
	ti, err := s.engine.GenerateAccessToken(ctx, oauth2.PasswordCredentials, &oauth2.TokenGenerateRequest{
		ClientID:     c.ID,
		ClientSecret: secret,
		UserID:       user.ID,
		Scope:        scope,
		Request:      r,
	})
	if err != nil {
		return nil, engineError(err)
	}
	return s.respond(ctx, g, fromEngine(ti), &user)
}

// tokenFields are what a grant issued, before the ID token.
type tokenFields struct {
	access, refresh, scope, userID string
	expiresIn                      time.Duration
}

// fromEngine reads what go-oauth2's manager issued.
func fromEngine(ti oauth2.TokenInfo) tokenFields {
	return tokenFields{access: ti.GetAccess(), refresh: ti.GetRefresh(), scope: ti.GetScope(),
		userID: ti.GetUserID(), expiresIn: ti.GetAccessExpiresIn()}
}

// respond completes every grant's answer: it adds the ID token when openid
// was granted to a user. user may be nil; it is then loaded.
func (s *Server) respond(ctx context.Context, g *grant, f tokenFields, user *storage.User) (*tokenResponse, error) {
	resp := &tokenResponse{
		AccessToken:  f.access,
		TokenType:    tokenTypeOf(g.dpopJKT),
		ExpiresIn:    int64(f.expiresIn.Seconds()),
		RefreshToken: f.refresh,
		Scope:        f.scope,
		subject:      subjectOf(g.client, f.userID),
	}
	if !hasScope(f.scope, "openid") || f.userID == "" {
		return resp, nil
	}
	if user == nil {
		u, err := s.store.GetUser(ctx, f.userID)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, errInvalidGrant("the user of this grant no longer exists")
		}
		if err != nil {
			return nil, err
		}
		user = &u
	}
	idToken, err := s.minter.idToken(idTokenInput{
		client:      g.client,
		user:        *user,
		scope:       f.scope,
		nonce:       g.nonce,
		sessionID:   g.sessionID,
		authTime:    g.authTime,
		accessToken: resp.AccessToken,
		claims:      g.claims,
		amr:         g.amr,
	})
	if err != nil {
		return nil, err
	}
	resp.IDToken = idToken
	s.recordSessionClient(ctx, g, f.userID)
	return resp, nil
}

func hasScope(scope, want string) bool {
	return slices.Contains(strings.Fields(scope), want)
}

// grantedScope checks a requested scope against the client's registered
// scopes; an empty request grants every registered scope but offline_access,
// which must be asked for (OIDC Core §11).
func grantedScope(c storage.Client, requested string) (string, error) {
	if requested == "" {
		granted := slices.DeleteFunc(slices.Clone(c.Scopes), func(s string) bool { return s == "offline_access" })
		return strings.Join(granted, " "), nil
	}
	var granted []string
	for _, sc := range strings.Fields(requested) {
		if !slices.Contains(c.Scopes, sc) {
			return "", errInvalidScope("scope %s is not allowed for client %s; allowed: %s", sc, c.ID, strings.Join(c.Scopes, " "))
		}
		if !slices.Contains(granted, sc) {
			granted = append(granted, sc)
		}
	}
	return strings.Join(granted, " "), nil
}

// allowedScope is the scope of an authorization or password grant: the
// requested scopes that the client may have, each once; the others, unknown
// or not registered for the client, are dropped rather than failing the
// request (RFC 6749 §3.3), since relying-party libraries send default scopes
// (address, phone, ...) blindly. The token response's scope then tells the
// client what it got. invalid_scope only when scopes were requested and none
// of them remains. An empty request is grantedScope's. The client-credentials
// grant keeps grantedScope's strict rule: a machine client's scopes are its
// configuration, and a mistake there should fail loudly.
func allowedScope(c storage.Client, requested string) (string, error) {
	if strings.TrimSpace(requested) == "" {
		return grantedScope(c, "")
	}
	var granted []string
	for _, sc := range strings.Fields(requested) {
		if slices.Contains(c.Scopes, sc) && !slices.Contains(granted, sc) {
			granted = append(granted, sc)
		}
	}
	if len(granted) == 0 {
		return "", errInvalidScope("none of the requested scopes is allowed for client %s; allowed: %s", c.ID, strings.Join(c.Scopes, " "))
	}
	return strings.Join(granted, " "), nil
}
