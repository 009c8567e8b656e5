package authserver

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-oauth2/oauth2/v4"

	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/templates"
)

// authorizeParams are the authorization-request parameters that survive the
// round trip through the login and consent forms, and that a pushed request
// stores; anything else is dropped. resource may be repeated (RFC 8707).
var authorizeParams = []string{"client_id", "redirect_uri", "response_type", "scope", "state", "nonce",
	"code_challenge", "code_challenge_method", "prompt", "max_age", "login_hint", "response_mode", "claims", "id_token_hint",
	"resource", "dpop_jkt", "acr_values"}

// formFields are the fields the login and consent forms carry: a request's
// parameters, or a pushed request's client_id and request_uri (formParams).
var formFields = append(slices.Clone(authorizeParams), "request_uri")

// authzRequest is a validated authorization request.
type authzRequest struct {
	client        storage.Client
	redirectURI   string
	scope         string
	state         string
	nonce         string
	codeChallenge string
	prompts       []string
	maxAge        int // -1: absent
	// hintSubject is the sub of the id_token_hint, "" without one: only
	// that user may be signed in for this request.
	hintSubject string
	params      url.Values
	// responseMode is how the response reaches the redirect URI: "" for
	// the query, responseModeFormPost for an auto-submitting form.
	responseMode string
	// claims is the claims parameter (OIDC Core §5.5), nil for none.
	claims *claimsRequest
	// acrValues are the acr_values asked for, in order of preference
	// (OIDC Core §3.1.2.1; acr.go).
	acrValues []string
	// resource are the RFC 8707 resource indicators, the audiences the
	// tokens are for (nil: the client's default); dpopJKT is the
	// thumbprint of the DPoP key the code is bound to (RFC 9449 §10), "".
	resource []string
	dpopJKT  string
	// pushed is the pushed request (RFC 9126) the request came from, by
	// requestURI, nil for none; reauth is a prompt=login outside it (see
	// signedInSincePush).
	pushed     *storage.PushedRequest
	requestURI string
	reauth     bool
}

// pageError is shown to the user on an error page, because it is unsafe to
// redirect: the client or its redirect URI is unknown (defect 2).
type pageError struct {
	status        int
	title, detail string
}

func (e *pageError) Error() string { return e.title + ": " + e.detail }

// pkceChallenge is what S256 produces: 32 bytes, base64url without padding.
var pkceChallenge = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// authorizeClient is the client an authorization request names by its
// client_id, the one parameter read outside a pushed request or a request
// object. Any problem is a *pageError: without a client there is no
// redirect URI to trust.
func (s *Server) authorizeClient(ctx context.Context, q url.Values) (storage.Client, error) {
	if len(q["client_id"]) > 1 {
		return storage.Client{}, &pageError{http.StatusBadRequest, "Invalid request", "client_id was sent more than once."}
	}
	clientID := q.Get("client_id")
	if bad := checkParam("client_id", clientID); bad != nil {
		return storage.Client{}, &pageError{http.StatusBadRequest, "Invalid request", bad.sentence()}
	}
	if clientID == "" {
		return storage.Client{}, &pageError{http.StatusBadRequest, "Invalid request", "The application did not say who it is (client_id is missing)."}
	}
	c, err := s.store.GetClient(ctx, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Client{}, &pageError{http.StatusBadRequest, "Unknown application", "Client " + clientID + " is not registered."}
	}
	return c, err
}

// authorizeTarget establishes where the answer to an authorization request
// goes: the registered client and its exact redirect URI (a *pageError when
// either is in doubt), with the state and response mode to answer with. It
// also returns the first malformed parameter other than those two, for the
// caller to answer by redirect.
func (s *Server) authorizeTarget(ctx context.Context, q url.Values) (*authzRequest, *paramError, error) {
	c, err := s.authorizeClient(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	if len(q["redirect_uri"]) > 1 {
		return nil, nil, &pageError{http.StatusBadRequest, "Invalid request", "redirect_uri was sent more than once."}
	}
	// Malformed values never reach the store. checkParams reports client_id
	// and redirect_uri first: while they are in doubt, only a page may say so.
	bad := checkParams(q)
	if bad != nil && (bad.name == "client_id" || bad.name == "redirect_uri") {
		return nil, nil, &pageError{http.StatusBadRequest, "Invalid request", bad.sentence()}
	}
	redirectURI := q.Get("redirect_uri")
	if redirectURI == "" {
		return nil, nil, &pageError{http.StatusBadRequest, "Invalid request", "redirect_uri is missing."}
	}
	if !slices.Contains(c.RedirectURIs, redirectURI) { // exact match (RFC 9700 §4.1.3)
		return nil, nil, &pageError{http.StatusBadRequest, "Invalid redirect",
			"redirect_uri " + redirectURI + " is not registered for client " + c.ID + "."}
	}
	observe.SetClientID(ctx, c.ID)
	req := &authzRequest{client: c, redirectURI: redirectURI, state: q.Get("state"), maxAge: -1, params: url.Values{}}
	for _, name := range authorizeParams {
		for _, v := range q[name] {
			if v != "" {
				req.params.Add(name, v)
			}
		}
	}
	// Decided first, so that every error below reaches the client the way
	// it asked for; any other value is refused by validateAuthorize.
	if len(q["response_mode"]) == 1 && q.Get("response_mode") == responseModeFormPost {
		req.responseMode = responseModeFormPost
	}
	return req, bad, nil
}

// validateAuthorize validates an authorization request whose parameters
// come from src, in the order RFC 6749 §4.1.2.1 demands: the client and the
// exact redirect URI first (any problem there is a *pageError, never a
// redirect; authorizeTarget), then everything else (a *protocolError to
// send back to the now trusted redirect URI). The authorization endpoint
// reaches it through parseAuthorize, the PAR endpoint directly.
func (s *Server) validateAuthorize(ctx context.Context, q url.Values, src requestSource) (*authzRequest, error) {
	req, bad, err := s.authorizeTarget(ctx, q)
	if err != nil {
		return nil, err
	}
	c := req.client
	if bad != nil {
		if bad.name == "state" {
			req.state = "" // not echoed back
		}
		return req, errInvalidRequest("%s", bad.Error())
	}
	for name, values := range q {
		if len(values) > 1 && name != "resource" { // RFC 8707 §2: resource may repeat
			return req, errInvalidRequest("parameter %s was sent more than once", name)
		}
	}
	switch rt := q.Get("response_type"); {
	case rt == "":
		return req, errInvalidRequest("response_type is required")
	case rt != "code":
		return req, newError("unsupported_response_type", http.StatusBadRequest, "response_type %s is not supported; use code", rt)
	}
	if !slices.Contains(c.GrantTypes, "authorization_code") {
		return req, errUnauthorizedClient("client %s is not allowed the authorization_code grant", c.ID)
	}
	if err := s.checkIndirection(c, q, src); err != nil {
		return req, err
	}
	if rm := q.Get("response_mode"); rm != "" && rm != "query" && rm != responseModeFormPost {
		return req, errInvalidRequest("response_mode %s is not supported; use query or form_post", rm)
	}
	if req.responseMode == responseModeFormPost && !httpURL(req.redirectURI) {
		req.responseMode = ""
		return req, errInvalidRequest("response_mode form_post needs an http or https redirect_uri")
	}
	if req.scope, err = allowedScope(c, q.Get("scope")); err != nil {
		return req, err
	}
	if req.claims, err = parseClaimsRequest(q.Get("claims")); err != nil {
		return req, err
	}
	if err := req.parsePKCE(q); err != nil {
		return req, err
	}
	if req.resource, err = s.requestedResources(c, q["resource"]); err != nil {
		return req, err
	}
	if req.dpopJKT, err = parseDPoPJKT(q.Get("dpop_jkt")); err != nil {
		return req, err
	}
	req.acrValues = parseACRValues(q.Get("acr_values"))
	req.nonce = q.Get("nonce")
	if req.hintSubject, err = s.idTokenHintSubject(q.Get("id_token_hint"), c); err != nil {
		return req, err
	}
	req.prompts = strings.Fields(q.Get("prompt"))
	if slices.Contains(req.prompts, "none") && len(req.prompts) > 1 {
		return req, errInvalidRequest("prompt=none cannot be combined with other prompt values")
	}
	if v := q.Get("max_age"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return req, errInvalidRequest("max_age must be a non-negative number of seconds")
		}
		req.maxAge = n
	}
	return req, nil
}

// parsePKCE enforces RFC 7636 with S256 only: the library would default a
// missing method to plain (defect 9), and plain protects nothing.
func (req *authzRequest) parsePKCE(q url.Values) error {
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return errInvalidRequest("code_challenge_method without code_challenge")
	case challenge == "" && req.client.Public():
		return errInvalidRequest("PKCE is required for public clients: send code_challenge with code_challenge_method=S256")
	case challenge == "" && req.client.Profile == storage.ProfileFAPI2:
		// FAPI 2.0 Security Profile §5.3.2.2: PKCE S256 for every client.
		return errInvalidRequest("PKCE is required for client %s (profile fapi2): send code_challenge with code_challenge_method=S256", req.client.ID)
	case challenge == "":
		return nil
	case method != "S256":
		return errInvalidRequest("code_challenge_method must be S256 (plain is not supported)")
	case !pkceChallenge.MatchString(challenge):
		return errInvalidRequest("code_challenge must be 43 base64url characters (the S256 of the verifier)")
	}
	req.codeChallenge = challenge
	return nil
}

// handleAuthorize is the authorization endpoint (GET).
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if req, sess, ok := s.authorizeRequest(w, r, r.URL.Query()); ok {
		s.continueAuthorize(w, r, req, sess)
	}
}

// authorizeRequest validates the authorization request in params and reads
// the login session (nil when signed out). On failure it has answered.
func (s *Server) authorizeRequest(w http.ResponseWriter, r *http.Request, params url.Values) (*authzRequest, *storage.Session, bool) {
	req, err := s.parseAuthorize(r.Context(), params)
	if err == nil {
		var sess *storage.Session
		if sess, err = s.currentSession(r); err == nil {
			req.signedInSincePush(sess)
			return req, sess, true
		}
	}
	s.authorizeError(w, r, req, err)
	return nil, nil, false
}

// continueAuthorize decides what the user sees next: the login page, the
// consent page, or (signed in and consented) the redirect with a code.
func (s *Server) continueAuthorize(w http.ResponseWriter, r *http.Request, req *authzRequest, sess *storage.Session) {
	promptNone := slices.Contains(req.prompts, "none")
	if why := req.signInNeeded(sess, s); why != "" {
		if promptNone {
			s.authorizeError(w, r, req, errLoginRequired("%s", why))
			return
		}
		s.renderLogin(w, r, req, s.loginPrefill(r.Context(), req), "", http.StatusOK, s.sessionUsername(r, sess))
		return
	}
	// Strong enough for what the request and its client demand? Else a
	// second step (step-up), or a page to enrol one, first.
	if !s.checkStrength(w, r, req, sess) {
		return
	}
	ask, need, err := s.consentToAsk(r.Context(), req, sess)
	switch {
	case err != nil:
		s.authorizeError(w, r, req, err)
	case !need:
		s.issueCode(w, r, req, sess)
	case promptNone:
		s.authorizeError(w, r, req, errConsentRequired("the user has not approved %s for this application", strings.Join(ask, " ")))
	default:
		s.renderConsent(w, r, req, sess, ask)
	}
}

// tooOld reports whether max_age demands a fresh sign-in (OIDC Core §3.1.2.1).
func (req *authzRequest) tooOld(sess *storage.Session, now time.Time) bool {
	return req.maxAge >= 0 && now.Sub(sess.AuthTime) > time.Duration(req.maxAge)*time.Second
}

// handleLogin checks the login form and, on success, sends the browser back
// to the authorization endpoint with the original request.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if !s.parsePageForm(w, r) {
		return
	}
	// The credentials are this form's own, checked below; the rest is the
	// authorization request. Nothing after this may persist or log pw.
	username, pw := r.PostForm.Get("username"), r.PostForm.Get("password")
	for _, name := range []string{"username", "password"} {
		r.PostForm.Del(name)
		r.Form.Del(name)
	}
	if r.PostForm.Has(returnField) { // the sign-in of the account page, not of a client
		s.accountLogin(w, r, username, pw)
		return
	}
	req, err := s.parseAuthorize(r.Context(), r.PostForm)
	if err != nil {
		s.authorizeError(w, r, req, err)
		return
	}
	if !s.checkCSRF(w, r, csrfLogin, req.formParams()) {
		return
	}
	if checkParam("username", username) != nil || checkParam("password", pw) != nil {
		s.renderLogin(w, r, req, "", "This is not a valid username and password.", http.StatusBadRequest, "")
		return
	}
	if username == "" || pw == "" {
		s.renderLogin(w, r, req, username, "Enter your username and password.", http.StatusBadRequest, "")
		return
	}
	user, failure, err := s.checkPassword(r.Context(), username, pw)
	if s.loginThrottled(w, r, req, username, err) {
		return
	}
	if err != nil {
		s.authorizeError(w, r, req, err)
		return
	}
	if failure != "" {
		s.auditLogin(r.Context(), "login_form", username, req.client.ID, "", failure)
		s.renderLogin(w, r, req, username, "The username or password is wrong.", http.StatusUnauthorized, "")
		return
	}
	if req.hintSubject != "" && user.ID != req.hintSubject {
		// OIDC Core §3.1.2.1: the application asked for the user its
		// id_token_hint names, and someone else signed in. Their session
		// stays as it was.
		s.authorizeError(w, r, req, errLoginRequired("the user who signed in is not the one id_token_hint names"))
		return
	}
	// A second step when the user has a factor (signin_mfa.go); then back
	// to the authorization endpoint.
	s.passwordSignedIn(w, r, signInTarget{req: req}, user)
}

// handlePostAuthorize serves POST /authorize: the consent form's decision,
// or an authorization request sent as a form (OIDC Core §3.1.2.1 requires
// the endpoint to accept POST as well as GET).
func (s *Server) handlePostAuthorize(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	if !r.PostForm.Has("decision") {
		if req, sess, ok := s.authorizeRequest(w, r, r.PostForm); ok {
			s.continueAuthorize(w, r, req, sess)
		}
		return
	}
	s.handleConsent(w, r)
}

// handleConsent takes the consent form's decision.
func (s *Server) handleConsent(w http.ResponseWriter, r *http.Request) {
	if !s.sameOrigin(w, r) {
		return
	}
	req, sess, ok := s.authorizeRequest(w, r, r.PostForm)
	if !ok || !s.checkCSRF(w, r, csrfConsent, req.formParams()) {
		return
	}
	if sess == nil {
		s.renderLogin(w, r, req, "", "Your session has ended. Please sign in again.", http.StatusOK, "")
		return
	}
	switch r.PostForm.Get("decision") {
	case "allow":
		if err := s.rememberConsent(r.Context(), req, sess); err != nil {
			s.authorizeError(w, r, req, err)
			return
		}
		s.issueCode(w, r, req, sess)
	case "deny":
		s.authorizeError(w, r, req, errAccessDenied("the user denied the request"))
	default:
		s.renderError(w, http.StatusBadRequest, "Invalid request", "The form did not say allow or deny.", "Go back to the application and start again.")
	}
}

// parsePageForm reads the POST form of one of our pages, refusing it when a
// browser says it came from another origin; the handler then checks its
// CSRF token against the request it carries (checkCSRF).
func (s *Server) parsePageForm(w http.ResponseWriter, r *http.Request) bool {
	return s.parseForm(w, r) && s.sameOrigin(w, r)
}

// parseForm reads a bounded POST form; on failure it has answered.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.renderError(w, http.StatusBadRequest, "Invalid request", "The form could not be read.", "Go back to the application and start again.")
		return false
	}
	return true
}

// checkCSRF refuses a form from another origin, or whose CSRF token was not
// issued for this purpose, request (params), browser and session within
// CSRFTokenTTL. Every state-changing page form calls it. On failure it has
// answered.
func (s *Server) checkCSRF(w http.ResponseWriter, r *http.Request, purpose string, params url.Values) bool {
	if !s.sameOrigin(w, r) {
		return false
	}
	if !s.validCSRF(r, purpose, params) {
		s.renderError(w, http.StatusForbidden, "The form has expired",
			"This form was not sent from this sign-in page, or it is too old.", "Go back to the application and start again.")
		return false
	}
	return true
}

// issueCode creates the authorization code and redirects to the client.
func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, req *authzRequest, sess *storage.Session) {
	if err := s.spendPushed(r.Context(), req); err != nil {
		s.authorizeError(w, r, req, err)
		return
	}
	g := &grant{client: req.client, userID: sess.UserID, nonce: req.nonce, sessionID: sess.IDHash, authTime: sess.AuthTime,
		claims: req.claims, resource: strings.Join(req.resource, " "), codeJKT: req.dpopJKT, amr: sessionAMR(sess)}
	ti, err := s.engine.GenerateAuthToken(withGrant(r.Context(), g), oauth2.Code, &oauth2.TokenGenerateRequest{
		ClientID:            req.client.ID,
		UserID:              sess.UserID,
		RedirectURI:         req.redirectURI,
		Scope:               req.scope,
		CodeChallenge:       req.codeChallenge,
		CodeChallengeMethod: oauth2.CodeChallengeS256, // stored only with a challenge
		Request:             r,
	})
	if err != nil {
		s.authorizeError(w, r, req, engineError(err))
		return
	}
	s.redirectToClient(w, r, req, url.Values{"code": {ti.GetCode()}})
}

// redirectToClient sends the authorization response to the validated
// redirect URI, keeping its query (RFC 6749 §3.1.2) and adding state and iss
// (RFC 9207); or, for response_mode=form_post, posts them there.
func (s *Server) redirectToClient(w http.ResponseWriter, r *http.Request, req *authzRequest, params url.Values) {
	params = cloneValues(params)
	if req.state != "" {
		params.Set("state", req.state)
	}
	params.Set("iss", s.cfg.Issuer)
	if req.responseMode == responseModeFormPost {
		s.postToClient(w, req, params)
		return
	}
	u, err := url.Parse(req.redirectURI)
	if err != nil { // cannot happen: registered URIs are validated at start
		s.renderError(w, http.StatusInternalServerError, "Server error", "The application's redirect URI is malformed.", "")
		return
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// authorizeError reports an error of the authorization endpoint: on a page
// when the redirect URI is not trusted, else by redirect. An unreachable
// store gets the "try again shortly" page, never a redirect.
func (s *Server) authorizeError(w http.ResponseWriter, r *http.Request, req *authzRequest, err error) {
	if s.answerUnavailable(w, r, err) {
		return
	}
	var pe *pageError
	if errors.As(err, &pe) || req == nil {
		if pe == nil {
			s.asProtocolError(r, err) // logs it
			pe = &pageError{http.StatusInternalServerError, "Something went wrong", "The server could not complete the request."}
		}
		s.renderError(w, pe.status, pe.title, pe.detail, "Go back to the application and try again. If it keeps happening, tell its developers.")
		return
	}
	perr := s.asProtocolError(r, err)
	s.redirectToClient(w, r, req, url.Values{"error": {perr.Code}, "error_description": {perr.Description}})
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, req *authzRequest, username, msg string, status int, signedInAs string) {
	page := templates.Login{
		ClientName: clientName(req.client),
		Username:   username,
		Error:      msg,
		SignedInAs: signedInAs,
		CSRFToken:  s.csrfToken(w, r, csrfLogin, req.formParams()),
		Action:     s.path(pathLogin),
		Hidden:     fieldsOf(req.formParams(), formFields),
	}
	s.passkeyLoginForm(r, &page) // posts the same CSRF token and fields
	s.render(w, status, page)
}

// renderConsent asks the user to approve ask (see consentToAsk): scopes, and
// claims by name.
func (s *Server) renderConsent(w http.ResponseWriter, r *http.Request, req *authzRequest, sess *storage.Session, ask []string) {
	user, err := s.store.GetUser(r.Context(), sess.UserID)
	if err != nil {
		s.authorizeError(w, r, req, err)
		return
	}
	notYou := cloneValues(req.formParams())
	notYou.Set("prompt", "login")
	s.render(w, http.StatusOK, templates.Consent{
		ClientName: clientName(req.client),
		Username:   user.Username,
		NotYouURL:  s.path(pathAuthorize) + "?" + notYou.Encode(),
		CSRFToken:  s.csrfToken(w, r, csrfConsent, req.formParams()),
		Action:     s.path(pathAuthorize),
		Scopes:     s.consentWords(ask),
		Hidden:     fieldsOf(req.formParams(), formFields),
	})
}

// consentWords says in words what each consent item allows, for the
// consent page and the account page alike: a claim asked for by name (the
// claims parameter) by its claim, a scope by the configuration's words
// (Config.ScopeDescriptions, from scopes[]), else by the built-in words of
// the standard scopes, else by its name.
func (s *Server) consentWords(items []string) []templates.Scope {
	scopes := make([]templates.Scope, 0, len(items))
	for _, item := range items {
		if name, ok := strings.CutPrefix(item, consentClaimPrefix); ok {
			scopes = append(scopes, templates.Scope{Name: name, Description: claimDescription(name)})
			continue
		}
		words := s.cfg.ScopeDescriptions[item]
		if words == "" {
			words = templates.ScopeDescription(item)
		}
		scopes = append(scopes, templates.Scope{Name: item, Description: words})
	}
	return scopes
}

func (s *Server) renderError(w http.ResponseWriter, status int, title, msg, hint string) {
	s.render(w, status, templates.Error{Title: title, Message: msg, Hint: hint})
}

func (s *Server) render(w http.ResponseWriter, status int, page any) {
	if err := s.pages.Render(w, status, page); err != nil {
		s.log.Error("rendering a page failed", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

func clientName(c storage.Client) string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

// sessionUsername is the username of the session's user, or "" without one.
func (s *Server) sessionUsername(r *http.Request, sess *storage.Session) string {
	if sess == nil {
		return ""
	}
	u, err := s.store.GetUser(r.Context(), sess.UserID)
	if err != nil {
		return ""
	}
	return u.Username
}

// fieldsOf turns the named parameters into hidden form fields, in order,
// every value of a repeated one (resource).
func fieldsOf(params url.Values, names []string) []templates.Field {
	var fields []templates.Field
	for _, name := range names {
		for _, v := range params[name] {
			if v != "" {
				fields = append(fields, templates.Field{Name: name, Value: v})
			}
		}
	}
	return fields
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}
