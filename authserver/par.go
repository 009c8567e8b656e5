package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/authserver-dev/authserver/authserver/clientkeys"
	"github.com/authserver-dev/authserver/authserver/storage"
)

// This file is where an authorization request's parameters come from, when
// not simply from the query: pushed authorization requests (RFC 9126), the
// /par endpoint and the authorization endpoint's side of it, and signed
// request objects (RFC 9101) at both. Whatever the source, validateAuthorize
// (authorize.go) checks the parameters; this file decides which parameters
// those are.
//
// A pushed request is stored (storage.PushedRequest: the validated
// parameters, keyed by the hash of its request_uri, bound to its client) and
// looked up again on every use of its request_uri: the login page, its
// reload, the login and consent forms, which carry only client_id and
// request_uri. It is spent when a code is issued from it (spendPushed), so a
// second code can never come from one push.

// requestURIPrefix starts every request_uri this server issues (RFC 9126
// §2.2 uses this URN in its examples); any other request_uri is answered
// request_uri_not_supported.
const requestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// defaultPARTTL is a request_uri's lifetime when Config.PARTTL is zero.
const defaultPARTTL = 60 * time.Second

// fapi2MaxCodeTTL bounds the codes of a client with the fapi2 profile
// (FAPI 2.0 Security Profile §5.3.2.1: at most 60 seconds).
const fapi2MaxCodeTTL = 60 * time.Second

// requestSource says where the parameters of an authorization request came
// from, for the rules that depend on it (checkIndirection).
type requestSource int

const (
	// fromQuery: the authorization endpoint's own query or form.
	fromQuery requestSource = iota
	// fromRequestObject: a verified request object sent to the
	// authorization endpoint (request=).
	fromRequestObject
	// fromPushed: a pushed request, named by its request_uri.
	fromPushed
	// atPAR: the PAR endpoint, validating what it is about to store.
	atPAR
)

// parseAuthorize reads an authorization request: the pushed request its
// request_uri names (RFC 9126 §4), or the request object it carries
// (RFC 9101), or else its own parameters; validateAuthorize checks them.
func (s *Server) parseAuthorize(ctx context.Context, q url.Values) (*authzRequest, error) {
	switch {
	case len(q["request_uri"]) == 1 && strings.HasPrefix(q.Get("request_uri"), requestURIPrefix):
		return s.parsePushed(ctx, q)
	case q.Has("request") && !q.Has("request_uri"):
		return s.parseSigned(ctx, q)
	}
	return s.validateAuthorize(ctx, q, fromQuery)
}

// parRequired reports whether c must push its authorization requests:
// RFC 9126 §6 (require_pushed_authorization_requests), the fapi2 profile,
// or the server's policy for every client (§5).
func (s *Server) parRequired(c storage.Client) bool {
	return s.cfg.PARRequired || c.RequirePAR || c.Profile == storage.ProfileFAPI2
}

// codeTTL is the lifetime of c's authorization codes.
func (s *Server) codeTTL(c storage.Client) time.Duration {
	if c.Profile == storage.ProfileFAPI2 {
		return min(s.cfg.CodeTTL, fapi2MaxCodeTTL)
	}
	return s.cfg.CodeTTL
}

// checkIndirection applies the rules about where the request came from,
// once its client and redirect URI are established, so that a refusal is
// redirected: a client that must push (parRequired) may not send a request
// any other way (RFC 9126 §4: invalid_request; node-oidc-provider answers
// the same); the PAR endpoint refuses a request_uri (§2.1); and a
// request_uri that is not one of ours is request_uri_not_supported, the
// error OpenID Connect Core §6.2 names (the conformance suite expects it).
func (s *Server) checkIndirection(c storage.Client, q url.Values, src requestSource) error {
	switch {
	case src == atPAR && q.Has("request_uri"):
		return errInvalidRequest("request_uri must not be sent to the pushed authorization request endpoint (RFC 9126 §2.1); push the parameters themselves, or a request object")
	case src != atPAR && src != fromPushed && s.parRequired(c):
		return errInvalidRequest("pushed authorization request required: client %s must first POST its authorization request to %s, then send only client_id and the request_uri it gets here (RFC 9126)",
			c.ID, s.url(pathPAR))
	case q.Has("request") && q.Has("request_uri"):
		return errInvalidRequest("send a request object (request) or a request_uri, not both")
	case q.Has("request_uri"):
		return newError("request_uri_not_supported", http.StatusBadRequest,
			"request_uri is supported only for requests pushed to %s (a urn:ietf:params:oauth:request_uri: value)", s.url(pathPAR))
	}
	return nil
}

// parsePushed is an authorization request that names a pushed request: the
// stored parameters with the query's client_id, and nothing else of the
// query (RFC 9126 §4) but a prompt=login, which can only ask for more (see
// signedInSincePush). A request_uri that is unknown, expired, another
// client's or spent is an error page, not a redirect: the redirect URI is
// in the stored request that cannot be used, and one in the query is
// ignored, so none is established (RFC 6749 §4.1.2.1).
func (s *Server) parsePushed(ctx context.Context, q url.Values) (*authzRequest, error) {
	c, err := s.authorizeClient(ctx, q)
	if err != nil {
		return nil, err
	}
	uri := q.Get("request_uri")
	if bad := checkParam("request_uri", uri); bad != nil {
		return nil, &pageError{http.StatusBadRequest, "Invalid request", bad.sentence()}
	}
	p, err := s.store.GetPushedRequest(ctx, storage.Hash(uri), c.ID, s.now())
	switch {
	case errors.Is(err, storage.ErrAlreadyUsed):
		return nil, errRequestURISpent()
	case errors.Is(err, storage.ErrNotFound):
		return nil, &pageError{http.StatusBadRequest, "Invalid request",
			"The request_uri is unknown, has expired, or was pushed by another application (invalid_request_uri)."}
	case err != nil:
		return nil, err
	}
	params := cloneValues(p.Params)
	params.Set("client_id", c.ID)
	req, err := s.validateAuthorize(ctx, params, fromPushed)
	if req != nil {
		req.pushed, req.requestURI = &p, uri
		req.reauth = slices.Contains(strings.Fields(q.Get("prompt")), "login")
	}
	return req, err
}

func errRequestURISpent() *pageError {
	return &pageError{http.StatusBadRequest, "Invalid request",
		"This request_uri was already used to sign in (invalid_request_uri): the application must push a new request."}
}

// formParams are what the login and consent forms carry, and what their
// CSRF tokens are bound to: the request's parameters, or for a pushed
// request only its client_id and request_uri, which name it.
func (req *authzRequest) formParams() url.Values {
	if req.pushed == nil {
		return req.params
	}
	return url.Values{"client_id": {req.client.ID}, "request_uri": {req.requestURI}}
}

// signedInSincePush adapts a pushed request to the session: a sign-in
// after the request was pushed satisfies its prompt=login and max_age.
// Without this, the browser that the login form sends back with the
// request_uri alone (it cannot say that the user has just signed in) would
// be asked to sign in again, for ever. A prompt=login outside the pushed
// request, which our consent page's "Not you?" link sends, is honoured
// whatever the session's age.
func (req *authzRequest) signedInSincePush(sess *storage.Session) {
	if req.pushed == nil {
		return
	}
	if sess != nil && !sess.AuthTime.Before(req.pushed.CreatedAt) {
		req.prompts = slices.DeleteFunc(req.prompts, func(p string) bool { return p == "login" })
		req.maxAge = -1
	}
	if req.reauth && !slices.Contains(req.prompts, "login") {
		req.prompts = append(req.prompts, "login")
	}
}

// spendPushed marks the pushed request of req used, before its code is
// issued: of concurrent consents to one request_uri, one gets a code.
func (s *Server) spendPushed(ctx context.Context, req *authzRequest) error {
	if req.pushed == nil {
		return nil
	}
	err := s.store.SpendPushedRequest(ctx, req.pushed.URIHash, req.client.ID, s.now())
	switch {
	case errors.Is(err, storage.ErrAlreadyUsed):
		return errRequestURISpent()
	case errors.Is(err, storage.ErrNotFound):
		return &pageError{http.StatusBadRequest, "Invalid request",
			"The request_uri has expired while signing in (invalid_request_uri): go back to the application and start again."}
	}
	return err
}

// parseSigned is an authorization request that carries a request object:
// the object's parameters with the query's client_id, and nothing else of
// the query (RFC 9101 §6.3). An object that fails verification cannot say
// where to send the error, so it goes to the query's redirect_uri when that
// is registered for the client, and to a page otherwise.
func (s *Server) parseSigned(ctx context.Context, q url.Values) (*authzRequest, error) {
	c, err := s.authorizeClient(ctx, q)
	if err != nil {
		return nil, err
	}
	params, err := s.requestObjectParams(ctx, c, q)
	if err == nil {
		return s.validateAuthorize(ctx, params, fromRequestObject)
	}
	var refusal *protocolError
	if !errors.As(err, &refusal) {
		return nil, err
	}
	if req, _, terr := s.authorizeTarget(ctx, q); terr == nil {
		return req, err
	}
	return nil, &pageError{http.StatusBadRequest, "Invalid request object", refusal.Description + "."}
}

// requestObjectParams verifies the request object in q (request) of client
// c with c's keys (RFC 9101; fapi2: PS256, ES256 or EdDSA only, exp and nbf
// required) and returns the parameters it carries, with client_id. A
// refusal is a *protocolError invalid_request_object.
func (s *Server) requestObjectParams(ctx context.Context, c storage.Client, q url.Values) (url.Values, error) {
	if len(q["request"]) > 1 {
		return nil, errInvalidRequestObject("parameter request was sent more than once")
	}
	keys, err := s.clientKeySource(ctx, c)
	if err != nil {
		return nil, errInvalidRequestObject("the request object cannot be checked: %v", err)
	}
	policy := clientkeys.RequestObjectPolicy{}
	if c.Profile == storage.ProfileFAPI2 {
		policy = clientkeys.FAPI2RequestObjectPolicy()
	}
	params, err := s.jwtVerifier.VerifyRequestObject(ctx, q.Get("request"), c.ID, keys, s.cfg.Issuer, policy)
	if ce, ok := errors.AsType[*clientkeys.Error](err); ok {
		return nil, errInvalidRequestObject("%s", ce.Reason)
	}
	if err != nil {
		return nil, err
	}
	if err := spreadResource(params); err != nil {
		return nil, err
	}
	params.Set("client_id", c.ID)
	return params, nil
}

func errInvalidRequestObject(format string, args ...any) *protocolError {
	e := newError(clientkeys.CodeInvalidRequestObject, http.StatusBadRequest, format, args...)
	e.Description = descriptionSafe(e.Description)
	return e
}

// spreadResource turns a request object's resource claim, which RFC 8707
// §2 lets be an array of strings (the verifier hands it over as JSON), into
// repeated parameters.
func spreadResource(params url.Values) error {
	v := params.Get("resource")
	if !strings.HasPrefix(v, "[") {
		return nil
	}
	var list []string
	if err := json.Unmarshal([]byte(v), &list); err != nil {
		return errInvalidRequestObject("the request object's resource claim must be a string or an array of strings")
	}
	params["resource"] = list
	return nil
}

// descriptionSafe makes s fit error_description, which may not hold '"'
// or '\' (RFC 6749 §4.1.2.1), replacing them with "'".
func descriptionSafe(s string) string {
	return strings.NewReplacer(`"`, "'", `\`, "'").Replace(s)
}

// thumbprintRe is an RFC 7638 SHA-256 thumbprint, base64url: dpop_jkt.
var thumbprintRe = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// parseDPoPJKT checks dpop_jkt (RFC 9449 §10), "" when absent.
func parseDPoPJKT(v string) (string, error) {
	if v != "" && !thumbprintRe.MatchString(v) {
		return "", errInvalidRequest("dpop_jkt must be the base64url SHA-256 JWK thumbprint (RFC 7638) of the DPoP key, 43 characters")
	}
	return v, nil
}

// pushedResponse is RFC 9126 §2.2.
type pushedResponse struct {
	RequestURI string `json:"request_uri"`
	ExpiresIn  int64  `json:"expires_in"`
}

// handlePAR is the pushed authorization request endpoint (RFC 9126 §2).
// Every error is JSON as at the token endpoint (§2.3), never a redirect:
// the client itself is asking.
func (s *Server) handlePAR(w http.ResponseWriter, r *http.Request) {
	s.setDPoPNonce(w)
	resp, err := s.pushRequest(r)
	if err != nil {
		s.writeJSONError(w, r, parError(err))
		return
	}
	writeJSON(w, http.StatusCreated, resp)
}

// pushRequest authenticates the client as the token endpoint does (a
// public client too, by its client_id), checks a DPoP proof if one is sent,
// validates the request as the authorization endpoint would, and stores it.
func (s *Server) pushRequest(r *http.Request) (*pushedResponse, error) {
	if err := parseTokenForm(r); err != nil {
		return nil, err
	}
	ctx := r.Context()
	c, _, err := s.authenticateClient(ctx, r, s.url(pathPAR))
	if err != nil {
		return nil, err
	}
	f := r.PostForm
	if id := f.Get("client_id"); id != "" && id != c.ID {
		return nil, errInvalidRequest("client_id %s is not the client that authenticated", id)
	}
	proof, err := s.dpopProof(r, s.url(pathPAR), "", "")
	if err != nil {
		return nil, dpopTokenError(err)
	}
	// The authentication parameters are for authentication only (§2.1):
	// validateAuthorize keeps authorizeParams, never a client_secret or
	// client_assertion. With a request object, only its parameters count
	// (§3).
	params := cloneValues(f)
	if f.Has("request") && !f.Has("request_uri") {
		if params, err = s.requestObjectParams(ctx, c, f); err != nil {
			return nil, err
		}
	}
	params.Set("client_id", c.ID)
	req, err := s.validateAuthorize(ctx, params, atPAR)
	if err != nil {
		return nil, err
	}
	if proof != nil {
		// RFC 9449 §10.1: a proof at PAR binds the code as dpop_jkt would,
		// and both must then name the same key.
		if req.dpopJKT != "" && req.dpopJKT != proof.JKT {
			return nil, errInvalidRequest("dpop_jkt is not the thumbprint of the key that signed the DPoP proof")
		}
		req.params.Set("dpop_jkt", proof.JKT)
	}
	return s.storePushed(ctx, req)
}

// storePushed stores the validated request and answers its request_uri:
// 256 random bits, of which the store keeps only the hash.
func (s *Server) storePushed(ctx context.Context, req *authzRequest) (*pushedResponse, error) {
	uri := requestURIPrefix + randomToken()
	stored := cloneValues(req.params)
	stored.Del("client_id") // the row's own column, and the query's at use
	now := s.now()
	err := s.store.CreatePushedRequest(ctx, storage.PushedRequest{
		URIHash: storage.Hash(uri), ClientID: req.client.ID, Params: stored, CreatedAt: now, ExpiresAt: now.Add(s.cfg.PARTTL),
	})
	if err != nil {
		return nil, err
	}
	return &pushedResponse{RequestURI: uri, ExpiresIn: int64(s.cfg.PARTTL / time.Second)}, nil
}

// parError is err as the PAR endpoint answers it (RFC 9126 §2.3): what the
// authorization endpoint would show on a page (no usable redirect URI) is
// invalid_request, and a refusal is 400 whatever status the authorization
// endpoint would give it (access_denied's 403), but invalid_client's 401.
func parError(err error) error {
	if pe, ok := errors.AsType[*pageError](err); ok {
		return errInvalidRequest("%s", descriptionSafe(strings.TrimSuffix(pe.detail, ".")))
	}
	if pe, ok := errors.AsType[*protocolError](err); ok && pe.Status < 500 && pe.Status != http.StatusBadRequest &&
		pe.Status != http.StatusUnauthorized && pe.Status != http.StatusTooManyRequests {
		answer := *pe
		answer.Status = http.StatusBadRequest
		return &answer
	}
	return err
}
