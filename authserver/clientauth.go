package authserver

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/authserver-dev/authserver/authserver/clientkeys"
	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/storage"
)

// clientCredentials are what a request presented to authenticate its
// client, before anything is looked up.
type clientCredentials struct {
	// method is how: storage.AuthSecretBasic, AuthSecretPost,
	// AuthPrivateKeyJWT, or AuthNone for a client_id alone.
	method string
	// id is the client_id sent (header or body); "" when only the
	// assertion names the client.
	id        string
	secret    string
	assertion string
}

// authenticateClient authenticates the client of a request to the token,
// PAR, revocation or introspection endpoint, whose absolute URL is
// endpointURL (an accepted aud of a client assertion). r.PostForm must have
// been read by parseTokenForm. It runs before anything about the request
// is looked at (defect 11: the user must never be checked first), and
// returns the client with the secret it presented ("" unless it used a
// secret method), for the grant engine.
//
// The client may use only the method it is registered for
// (storage.Client.AuthMethods; RFC 7591 §2 token_endpoint_auth_method): a
// secret sent by a private_key_jwt client, or Basic by a client registered
// for client_secret_post, is refused, so that registering the stronger
// method actually removes the weaker one. A client with profile fapi2 may
// use private_key_jwt only (FAPI 2.0 Security Profile §5.3.2.1).
//
// A wrong secret and a refused assertion are both counted against the
// client for throttling; both are answered invalid_client (RFC 6749 §5.2,
// RFC 7521 §4.2.1) with a description that names the fix, never the
// credential.
func (s *Server) authenticateClient(ctx context.Context, r *http.Request, endpointURL string) (storage.Client, string, error) {
	cred, err := readClientCredentials(r)
	if err != nil {
		return storage.Client{}, "", err
	}
	if cred.id == "" && cred.method == storage.AuthPrivateKeyJWT {
		// RFC 7521 §4.2: client_id is optional with an assertion; its sub
		// names the client, and VerifyAssertion then checks it is signed by
		// that client's key.
		if cred.id, err = clientkeys.UnverifiedClientID(cred.assertion); err != nil {
			return storage.Client{}, "", errInvalidClient("%s", reasonOf(err))
		}
	}
	if cred.id == "" {
		return storage.Client{}, "", errInvalidClient("client authentication is required: send client_id (and client_secret or client_assertion for a confidential client)")
	}
	c, err := s.store.GetClient(ctx, cred.id)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Client{}, "", errInvalidClient("client %s is not registered", cred.id)
	}
	if err != nil {
		return storage.Client{}, "", err
	}
	observe.SetClientID(ctx, c.ID)
	if !c.Public() {
		// Before any credential is checked, so that the right one is
		// refused during back-off too (see throttling.go). Public clients
		// have nothing to guess and are never counted.
		if err := s.refuseIfBlocked(ctx, observe.ThrottleClientAuth, slog.String("client_id", c.ID), clientKey(c.ID)); err != nil {
			return storage.Client{}, "", err
		}
	}
	if err := checkAuthMethod(c, cred.method); err != nil {
		return storage.Client{}, "", err
	}
	switch cred.method {
	case storage.AuthSecretBasic, storage.AuthSecretPost:
		if !secretMatches(c, cred.secret) {
			return storage.Client{}, "", s.clientAuthFailed(ctx, c, errInvalidClient("client authentication failed for client %s", c.ID))
		}
	case storage.AuthPrivateKeyJWT:
		err := s.verifyClientAssertion(ctx, c, cred.assertion, endpointURL)
		if ce := (*clientkeys.Error)(nil); errors.As(err, &ce) {
			return storage.Client{}, "", s.clientAuthFailed(ctx, c, errInvalidClient("%s", ce.Reason))
		}
		if err != nil {
			return storage.Client{}, "", err
		}
	}
	return c, cred.secret, nil
}

// clientAuthFailed counts a wrong credential of c and returns refusal.
// Only a wrong secret or a refused assertion is a guess worth counting. A
// success does not reset the counter: a busy client authenticating every
// second would otherwise launder an attacker's guesses; it ages out
// (reset_after).
func (s *Server) clientAuthFailed(ctx context.Context, c storage.Client, refusal *protocolError) error {
	if err := s.countFailure(ctx, clientKey(c.ID)); err != nil {
		return err
	}
	return refusal
}

// readClientCredentials reads the client's credentials from the Basic
// header and the form, refusing a request that uses more than one method
// (RFC 6749 §2.3: the client MUST NOT).
func readClientCredentials(r *http.Request) (clientCredentials, error) {
	f := r.PostForm
	hasAssertion := f.Has("client_assertion") || f.Has("client_assertion_type")
	id, secret, basic := r.BasicAuth()
	var cred clientCredentials
	switch {
	case basic && (f.Has("client_secret") || hasAssertion):
		return cred, errInvalidRequest("use one client authentication method: Basic credentials, client_secret in the body or client_assertion, not several (RFC 6749 §2.3)")
	case f.Has("client_secret") && hasAssertion:
		return cred, errInvalidRequest("use one client authentication method: client_secret or client_assertion, not both (RFC 6749 §2.3)")
	case basic:
		return readBasic(f, id, secret)
	case hasAssertion:
		return readAssertion(f)
	}
	cred = clientCredentials{method: storage.AuthSecretPost, id: f.Get("client_id"), secret: f.Get("client_secret")}
	if cred.secret == "" {
		cred.method = storage.AuthNone
	}
	return cred, nil
}

// readBasic decodes client_secret_basic credentials. An empty password is
// a public client naming itself in the header, which some libraries do.
func readBasic(f url.Values, id, secret string) (clientCredentials, error) {
	// RFC 6749 §2.3.1: the id and secret are form-urlencoded before
	// base64, so "+", "/" and "=" arrive escaped (defect 8).
	var errID, errSecret error
	id, errID = url.QueryUnescape(id)
	secret, errSecret = url.QueryUnescape(secret)
	if errID != nil || errSecret != nil {
		return clientCredentials{}, errInvalidClient("the Basic credentials are not form-urlencoded (RFC 6749 §2.3.1)")
	}
	// The form was checked by parseTokenForm; the header only now.
	for _, bad := range []*paramError{checkParam("client_id", id), checkParam("client_secret", secret)} {
		if bad != nil {
			return clientCredentials{}, bad.tokenError()
		}
	}
	if formID := f.Get("client_id"); formID != "" && formID != id {
		return clientCredentials{}, errInvalidRequest("client_id in the body differs from the Basic credentials")
	}
	cred := clientCredentials{method: storage.AuthSecretBasic, id: id, secret: secret}
	if secret == "" {
		cred.method = storage.AuthNone
	}
	return cred, nil
}

// readAssertion reads private_key_jwt credentials (RFC 7521 §4.2).
func readAssertion(f url.Values) (clientCredentials, error) {
	typ, assertion := f.Get("client_assertion_type"), f.Get("client_assertion")
	switch {
	case typ == "":
		return clientCredentials{}, errInvalidRequest("client_assertion_type is required with client_assertion: send %s (RFC 7523 §2.2)", clientkeys.AssertionType)
	case assertion == "":
		return clientCredentials{}, errInvalidRequest("client_assertion is required with client_assertion_type (RFC 7521 §4.2)")
	case typ != clientkeys.AssertionType:
		return clientCredentials{}, errInvalidClient("client_assertion_type is not supported: the only one is %s (RFC 7523 §2.2)", clientkeys.AssertionType)
	}
	return clientCredentials{method: storage.AuthPrivateKeyJWT, id: f.Get("client_id"), assertion: assertion}, nil
}

// checkAuthMethod refuses a method c is not registered for, naming the one
// to use.
func checkAuthMethod(c storage.Client, used string) error {
	if c.Profile == storage.ProfileFAPI2 && c.TokenEndpointAuthMethod != storage.AuthPrivateKeyJWT {
		// Validation refuses this registration; a client stored some other
		// way must not slip through with a weaker method.
		return errInvalidClient("client %s has profile fapi2, which allows private_key_jwt only, but is registered for %s: register its public keys (jwks or jwks_uri) and token_endpoint_auth_method private_key_jwt",
			c.ID, strings.Join(c.AuthMethods(), " or "))
	}
	allowed := c.AuthMethods()
	switch {
	case slices.Contains(allowed, used):
		return nil
	case c.Public():
		return errInvalidClient("client %s is public (token_endpoint_auth_method none) and must not send a client_secret or client_assertion: send client_id alone", c.ID)
	case used == storage.AuthNone:
		return errInvalidClient("client %s is confidential and must authenticate: use %s", c.ID, howToAuthenticate(allowed))
	}
	return errInvalidClient("client %s is registered for %s, not %s: use %s", c.ID, strings.Join(allowed, " or "), used, howToAuthenticate(allowed))
}

// howToAuthenticate says in words how to use each of methods.
func howToAuthenticate(methods []string) string {
	words := make([]string, len(methods))
	for i, m := range methods {
		switch m {
		case storage.AuthSecretBasic:
			words[i] = "client_secret_basic (client_id and client_secret in an Authorization: Basic header)"
		case storage.AuthSecretPost:
			words[i] = "client_secret_post (client_id and client_secret in the form body)"
		case storage.AuthPrivateKeyJWT:
			words[i] = "private_key_jwt (client_assertion_type " + clientkeys.AssertionType + " and a client_assertion JWT signed with the client's key, RFC 7523 §2.2)"
		default:
			words[i] = m
		}
	}
	return strings.Join(words, " or ")
}

// reasonOf is the client-safe words of a clientkeys refusal.
func reasonOf(err error) string {
	if ce := (*clientkeys.Error)(nil); errors.As(err, &ce) {
		return ce.Reason
	}
	return "the client assertion could not be read"
}
