package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/config"
)

// maxClientID bounds a client id: it travels in URLs, Basic credentials and
// the sub claim of the client's own tokens.
const maxClientID = 255

// CreateClient validates c by the rules of a clients entry of the file and
// stores it as database-owned. An existing id (of any owner) is
// KindConflict; an id the configuration declares is KindFileOwned; an id
// that is a user's id (sub) is KindConflict. It returns the stored client
// and, for a confidential client without SecretHash, its new secret
// (shown once: only its hash is kept). Audit: client.created.
func (s *Service) CreateClient(ctx context.Context, c NewClient) (Client, string, error) {
	created, secret, err := s.createClient(ctx, c, "")
	if err != nil {
		return Client{}, "", err
	}
	s.audit(ctx, observe.EventClientCreated, slog.String("client_id", created.ID), slog.Bool("public", created.Public))
	return created, secret, nil
}

// GetClient returns the client; KindNotFound for an unknown id.
func (s *Service) GetClient(ctx context.Context, id string) (Client, error) {
	c, err := s.o.Store.GetClient(ctx, id)
	if err != nil {
		return Client{}, notFound(err, fmt.Sprintf("no client %q", id))
	}
	return toClient(c), nil
}

// ListClients returns every client, by id.
func (s *Service) ListClients(ctx context.Context) ([]Client, error) {
	stored, err := s.o.Store.ListClients(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Client, len(stored))
	for i, c := range stored {
		out[i] = toClient(c)
	}
	slices.SortFunc(out, func(a, b Client) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// UpdateClient applies p to a database-owned client and validates the
// result as CreateClient does. Audit: client.updated (with the changed
// field names). A patch that changes nothing writes nothing and records no
// event.
func (s *Service) UpdateClient(ctx context.Context, id string, p ClientPatch) (Client, error) {
	st, err := s.changeableClient(ctx, id)
	if err != nil {
		return Client{}, err
	}
	next := toClient(st)
	p.apply(&next)
	return s.replaceClient(ctx, st, next)
}

// RotateClientSecret gives a confidential database-owned client a new
// secret and returns it; the old one stops working at once. A public client
// is KindInvalid. Audit: client.secret_rotated.
func (s *Service) RotateClientSecret(ctx context.Context, id string) (string, error) {
	st, err := s.changeableClient(ctx, id)
	if err != nil {
		return "", err
	}
	switch {
	case st.Public():
		return "", errorf(KindInvalid, "client %s is public: it has no secret to rotate (it proves itself with PKCE)", id)
	case st.TokenEndpointAuthMethod == storage.AuthPrivateKeyJWT:
		// A secret would be a second credential that no endpoint accepts
		// from it, and one to leak.
		return "", errorf(KindInvalid, "client %s authenticates with private_key_jwt: it uses no secret; rotate its keys instead (update jwks, or publish the new key at its jwks_uri)", id)
	}
	secret := randomToken()
	st.SecretHash = storage.Hash(secret)
	st.Owner = storage.OwnerDatabase
	st.UpdatedAt = s.o.Now()
	if err := s.o.Store.UpsertClient(ctx, st); err != nil {
		return "", s.upsertFailed(err, id)
	}
	s.audit(ctx, observe.EventClientSecretRotated, slog.String("client_id", id))
	return secret, nil
}

// DeleteClient removes a database-owned client with its codes, refresh
// tokens and consent grants (storage DeleteClient). Audit: client.removed.
func (s *Service) DeleteClient(ctx context.Context, id string) error {
	if _, err := s.changeableClient(ctx, id); err != nil {
		return err
	}
	if err := s.o.Store.DeleteClient(ctx, id, s.o.Now()); err != nil {
		return notFound(err, fmt.Sprintf("no client %q", id))
	}
	s.audit(ctx, observe.EventClientRemoved, slog.String("client_id", id))
	return nil
}

// createClient validates c and stores it as a new database-owned client,
// with the hash of its registration access token when it was registered at
// the endpoint. It returns the stored client and the generated secret.
func (s *Service) createClient(ctx context.Context, c NewClient, registrationTokenHash string) (Client, string, error) {
	if s.declaresClient(c.ID) {
		return Client{}, "", s.fileOwned("client", c.ID, true)
	}
	cl, ps := configClient(c.Client)
	var secret string
	method := c.TokenEndpointAuthMethod
	public := c.Public || method == storage.AuthNone
	switch {
	case c.Public && method != "" && method != storage.AuthNone:
		ps = append(ps, config.Problem{Field: "token_endpoint_auth_method", Message: fmt.Sprintf("is %s, but the client is public: a public client uses none (or leave the method out)", method)})
	case public && c.SecretHash != "":
		ps = append(ps, config.Problem{Field: "secret_hash", Message: "is set, but a public client has no secret: leave it out, or make the client confidential"})
	case c.SecretHash != "":
		// storage.Hash is lower-case hex, and hashes are compared as strings.
		cl.SecretHash = strings.ToLower(c.SecretHash)
	case !public && method != storage.AuthPrivateKeyJWT:
		secret = randomToken()
		cl.Secret = secret
	}
	cl, more := s.checkClient(cl, c.JWKS)
	ps = append(ps, more...)
	if msg := clientIDProblem(cl.ID); msg != "" && !hasProblem(ps, "id") {
		ps = append([]config.Problem{{Field: "id", Message: msg}}, ps...)
	}
	if len(ps) > 0 {
		return Client{}, "", invalid("the client", ps)
	}

	switch st, err := s.o.Store.GetClient(ctx, cl.ID); {
	case err == nil && st.Owner == storage.OwnerFile:
		return Client{}, "", s.fileOwned("client", cl.ID, false)
	case err == nil:
		return Client{}, "", errorf(KindConflict, "client %s exists already; update it, or remove it first to create it anew", cl.ID)
	case !errors.Is(err, storage.ErrNotFound):
		return Client{}, "", err
	}
	// A client's own tokens (client credentials) carry its id as sub, the
	// claim that names users everywhere else (see setup.Seed).
	switch u, err := s.o.Store.GetUser(ctx, cl.ID); {
	case err == nil:
		return Client{}, "", errorf(KindConflict, "client id %s is the id (sub) of user %s; client ids and user ids share the sub claim of tokens: choose another id",
			cl.ID, u.Username)
	case !errors.Is(err, storage.ErrNotFound):
		return Client{}, "", err
	}

	now := s.o.Now()
	st := storageClient(cl, c.JWKS)
	st.Owner = storage.OwnerDatabase
	st.RegistrationTokenHash = registrationTokenHash
	st.CreatedAt, st.UpdatedAt = now, now
	// Create, not upsert: of two creates of one id at once, the second is
	// refused rather than replacing the first.
	if err := s.o.Store.CreateClient(ctx, st); errors.Is(err, storage.ErrConflict) {
		return Client{}, "", errorf(KindConflict, "client %s exists", cl.ID)
	} else if err != nil {
		return Client{}, "", err
	}
	created, err := s.GetClient(ctx, cl.ID)
	return created, secret, err
}

// replaceClient validates next as the new fields of the stored client st
// and stores them, keeping its id, secret hash and registration access
// token. Whether it is public does not change; its authentication method
// may change among the confidential ones when it has what the new one
// needs (see ClientPatch). Audit: client.updated with the changed fields.
func (s *Service) replaceClient(ctx context.Context, st storage.Client, next Client) (Client, error) {
	cl, ps := configClient(next)
	cl.ID = st.ID
	method := next.TokenEndpointAuthMethod
	switch public := method == storage.AuthNone || (method == "" && st.SecretHash == ""); {
	case public != st.Public():
		ps = append(ps, config.Problem{Field: "token_endpoint_auth_method", Message: fmt.Sprintf(
			"cannot change %s: a client stays public (none) or confidential; remove it and add it again", methodWords(st.TokenEndpointAuthMethod, method))})
	case method == storage.AuthPrivateKeyJWT:
		// The secret's hash stays stored, unused: validated as the file
		// validates a private_key_jwt client, which has none.
	case st.SecretHash == "" && !public:
		ps = append(ps, config.Problem{Field: "token_endpoint_auth_method", Message: fmt.Sprintf(
			"cannot be %s: the client has no secret (it was made for private_key_jwt); remove it and add it again with a secret", method)})
	default:
		cl.SecretHash = st.SecretHash
	}
	cl, more := s.checkClient(cl, next.JWKS)
	if hasProblem(ps, "token_endpoint_auth_method") {
		// What the file would ask for next (a secret) is not the fix.
		more = slices.DeleteFunc(more, func(p config.Problem) bool { return p.Field == "secret" || p.Field == "secret_hash" })
	}
	if ps = append(ps, more...); len(ps) > 0 {
		return Client{}, invalid("the client", ps)
	}
	updated := storageClient(cl, next.JWKS)
	updated.SecretHash = st.SecretHash
	updated.Owner = storage.OwnerDatabase
	updated.RegistrationTokenHash = st.RegistrationTokenHash
	updated.CreatedAt, updated.UpdatedAt = st.CreatedAt, s.o.Now()
	fields := clientChanges(toClient(st), toClient(updated))
	if len(fields) == 0 {
		return toClient(st), nil
	}
	if err := s.o.Store.UpsertClient(ctx, updated); err != nil {
		return Client{}, s.upsertFailed(err, st.ID)
	}
	s.audit(ctx, observe.EventClientUpdated, slog.String("client_id", st.ID), slog.Any("fields", fields))
	return s.GetClient(ctx, st.ID)
}

// changeableClient returns the stored client id if this service may change
// it: KindFileOwned when the configuration owns it, KindNotFound when there
// is none.
func (s *Service) changeableClient(ctx context.Context, id string) (storage.Client, error) {
	if s.declaresClient(id) {
		return storage.Client{}, s.fileOwned("client", id, true)
	}
	st, err := s.o.Store.GetClient(ctx, id)
	switch {
	case err != nil:
		return storage.Client{}, notFound(err, fmt.Sprintf("no client %q", id))
	case st.Owner == storage.OwnerFile:
		return storage.Client{}, s.fileOwned("client", id, false)
	}
	return st, nil
}

// upsertFailed explains an UpsertClient refused because the client became
// another owner's since it was read (a start with a file declaring it).
func (s *Service) upsertFailed(err error, id string) error {
	if errors.Is(err, storage.ErrConflict) {
		return s.fileOwned("client", id, false)
	}
	return err
}

func (s *Service) declaresClient(id string) bool {
	return slices.ContainsFunc(s.o.Config.Clients, func(c config.Client) bool { return c.ID == id })
}

// checkClient validates cl exactly as the configuration file's only client
// would be, then its jwks (the JSON cl.JWKS was read from) as setup checks
// the file's (JWKSProblems), and returns it with the file's defaults
// applied and the problems found in it.
func (s *Service) checkClient(cl config.Client, jwks json.RawMessage) (config.Client, []config.Problem) {
	check := s.o.Config
	check.Clients = []config.Client{cl}
	check.Users = nil
	check.ApplyDefaults()
	ps := entryProblems(check.Validate(), "clients[0]")
	if !slices.ContainsFunc(ps, func(p config.Problem) bool { return p.Field == "jwks" || strings.HasPrefix(p.Field, "jwks.") }) {
		ps = append(ps, JWKSProblems(jwks)...)
	}
	return check.Clients[0], ps
}

// methodWords names a change of authentication method for a refusal.
func methodWords(from, to string) string {
	word := func(m string) string {
		if m == "" {
			return "the default method"
		}
		return m
	}
	return fmt.Sprintf("from %s to %s", word(from), word(to))
}

// clientIDProblem is what the database asks of a client id beyond the
// file's rules ("" when nothing): it is typed on command lines, sent in
// HTTP Basic credentials and URLs and printed in logs.
func clientIDProblem(id string) string {
	switch {
	case id == "":
		return "" // the file's rules report it
	case len(id) > maxClientID:
		return fmt.Sprintf("is %d bytes long; a client id has at most %d", len(id), maxClientID)
	case !utf8.ValidString(id):
		return "is not valid UTF-8"
	case strings.ContainsFunc(id, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		return fmt.Sprintf("%q contains whitespace or a control character; use letters, digits and punctuation such as - _ . :", id)
	}
	return ""
}

// apply sets the fields of p on c.
func (p ClientPatch) apply(c *Client) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setList := func(dst *[]string, v *[]string) {
		if v != nil {
			*dst = *v
		}
	}
	setBool := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	set(&c.Name, p.Name)
	setList(&c.RedirectURIs, p.RedirectURIs)
	setList(&c.PostLogoutRedirectURIs, p.PostLogoutRedirectURIs)
	setList(&c.GrantTypes, p.GrantTypes)
	setList(&c.Scopes, p.Scopes)
	setList(&c.Audience, p.Audience)
	setBool(&c.SkipConsent, p.SkipConsent)
	setBool(&c.AllowIntrospection, p.AllowIntrospection)
	set(&c.IDTokenSignedResponseAlg, p.IDTokenSignedResponseAlg)
	set(&c.BackchannelLogoutURI, p.BackchannelLogoutURI)
	setBool(&c.BackchannelLogoutSessionRequired, p.BackchannelLogoutSessionRequired)
	set(&c.TokenEndpointAuthMethod, p.TokenEndpointAuthMethod)
	if p.JWKS != nil {
		c.JWKS = *p.JWKS
		if noJWKS(c.JWKS) {
			c.JWKS = nil
		}
	}
	set(&c.JWKSURI, p.JWKSURI)
	setBool(&c.RequirePushedAuthorizationRequests, p.RequirePushedAuthorizationRequests)
	setBool(&c.DPoPBoundAccessTokens, p.DPoPBoundAccessTokens)
	set(&c.Profile, p.Profile)
	setBool(&c.RequireMFA, p.RequireMFA)
	setList(&c.DefaultACRValues, p.DefaultACRValues)
}

// clientChanges names, as in the JSON, the fields that differ between a
// and b.
func clientChanges(a, b Client) []string {
	var out []string
	for _, f := range []struct {
		name string
		same bool
	}{
		{"name", a.Name == b.Name},
		{"redirect_uris", slices.Equal(a.RedirectURIs, b.RedirectURIs)},
		{"post_logout_redirect_uris", slices.Equal(a.PostLogoutRedirectURIs, b.PostLogoutRedirectURIs)},
		{"grant_types", slices.Equal(a.GrantTypes, b.GrantTypes)},
		{"scopes", slices.Equal(a.Scopes, b.Scopes)},
		{"audience", slices.Equal(a.Audience, b.Audience)},
		{"skip_consent", a.SkipConsent == b.SkipConsent},
		{"allow_introspection", a.AllowIntrospection == b.AllowIntrospection},
		{"id_token_signed_response_alg", a.IDTokenSignedResponseAlg == b.IDTokenSignedResponseAlg},
		{"backchannel_logout_uri", a.BackchannelLogoutURI == b.BackchannelLogoutURI},
		{"backchannel_logout_session_required", a.BackchannelLogoutSessionRequired == b.BackchannelLogoutSessionRequired},
		{"token_endpoint_auth_method", a.TokenEndpointAuthMethod == b.TokenEndpointAuthMethod},
		{"jwks", bytes.Equal(a.JWKS, b.JWKS)},
		{"jwks_uri", a.JWKSURI == b.JWKSURI},
		{"require_pushed_authorization_requests", a.RequirePushedAuthorizationRequests == b.RequirePushedAuthorizationRequests},
		{"dpop_bound_access_tokens", a.DPoPBoundAccessTokens == b.DPoPBoundAccessTokens},
		{"profile", a.Profile == b.Profile},
		{"require_mfa", a.RequireMFA == b.RequireMFA},
		{"default_acr_values", slices.Equal(a.DefaultACRValues, b.DefaultACRValues)},
	} {
		if !f.same {
			out = append(out, f.name)
		}
	}
	return out
}

// configClient is c as a clients entry of the file, without a secret,
// and the problem of a jwks that is not a JSON object (which no entry of
// the file could hold).
func configClient(c Client) (config.Client, []config.Problem) {
	var jwks map[string]any
	var ps []config.Problem
	if !noJWKS(c.JWKS) {
		if err := json.Unmarshal(c.JWKS, &jwks); err != nil || jwks == nil {
			ps = append(ps, config.Problem{Field: "jwks", Message: `is not a JSON object: a JWK Set is {"keys":[{"kty":"EC",...}]} with the client's public keys`})
			jwks = nil
		}
	}
	return config.Client{
		ID:                               c.ID,
		Name:                             c.Name,
		RedirectURIs:                     c.RedirectURIs,
		PostLogoutRedirectURIs:           c.PostLogoutRedirectURIs,
		GrantTypes:                       c.GrantTypes,
		Scopes:                           c.Scopes,
		Audience:                         c.Audience,
		SkipConsent:                      c.SkipConsent,
		AllowIntrospection:               c.AllowIntrospection,
		IDTokenSignedResponseAlg:         c.IDTokenSignedResponseAlg,
		BackchannelLogoutURI:             c.BackchannelLogoutURI,
		BackchannelLogoutSessionRequired: c.BackchannelLogoutSessionRequired,

		TokenEndpointAuthMethod:            c.TokenEndpointAuthMethod,
		JWKS:                               jwks,
		JWKSURI:                            c.JWKSURI,
		RequirePushedAuthorizationRequests: c.RequirePushedAuthorizationRequests,
		DPoPBoundAccessTokens:              c.DPoPBoundAccessTokens,
		Profile:                            c.Profile,
		RequireMFA:                         c.RequireMFA,
		DefaultACRValues:                   c.DefaultACRValues,
	}, ps
}

// storageClient is the stored form of a validated clients entry; only the
// hash of its secret is kept. jwks is the JSON the entry's JWKS was read
// from, kept as it was given (compacted), so that it reads back the same.
func storageClient(cl config.Client, jwks json.RawMessage) storage.Client {
	var keys string
	if !noJWKS(jwks) {
		var b bytes.Buffer
		if json.Compact(&b, jwks) == nil { // validated: always
			keys = b.String()
		}
	}
	secretHash := cl.SecretHash
	if cl.Secret != "" {
		secretHash = storage.Hash(cl.Secret)
	}
	return storage.Client{
		ID:                               cl.ID,
		SecretHash:                       secretHash,
		Name:                             cl.Name,
		RedirectURIs:                     cl.RedirectURIs,
		PostLogoutRedirectURIs:           cl.PostLogoutRedirectURIs,
		GrantTypes:                       cl.GrantTypes,
		Scopes:                           cl.Scopes,
		Audience:                         cl.Audience,
		SkipConsent:                      cl.SkipConsent,
		CanIntrospect:                    cl.AllowIntrospection,
		IDTokenAlg:                       cl.IDTokenSignedResponseAlg,
		BackchannelLogoutURI:             cl.BackchannelLogoutURI,
		BackchannelLogoutSessionRequired: cl.BackchannelLogoutSessionRequired,
		TokenEndpointAuthMethod:          cl.TokenEndpointAuthMethod,
		JWKS:                             keys,
		JWKSURI:                          cl.JWKSURI,
		RequirePAR:                       cl.RequirePushedAuthorizationRequests,
		DPoPBound:                        cl.DPoPBoundAccessTokens,
		Profile:                          cl.Profile,
		RequireMFA:                       cl.RequireMFA,
		DefaultACRValues:                 cl.DefaultACRValues,
	}
}

func toClient(c storage.Client) Client {
	var jwks json.RawMessage
	if c.JWKS != "" {
		jwks = json.RawMessage(c.JWKS)
	}
	return Client{
		ID:                                 c.ID,
		Name:                               c.Name,
		Public:                             c.Public(),
		RedirectURIs:                       nonNil(c.RedirectURIs),
		PostLogoutRedirectURIs:             nonNil(c.PostLogoutRedirectURIs),
		GrantTypes:                         nonNil(c.GrantTypes),
		Scopes:                             nonNil(c.Scopes),
		Audience:                           nonNil(c.Audience),
		SkipConsent:                        c.SkipConsent,
		AllowIntrospection:                 c.CanIntrospect,
		IDTokenSignedResponseAlg:           c.IDTokenAlg,
		BackchannelLogoutURI:               c.BackchannelLogoutURI,
		BackchannelLogoutSessionRequired:   c.BackchannelLogoutSessionRequired,
		TokenEndpointAuthMethod:            c.TokenEndpointAuthMethod,
		JWKS:                               jwks,
		JWKSURI:                            c.JWKSURI,
		RequirePushedAuthorizationRequests: c.RequirePAR,
		DPoPBoundAccessTokens:              c.DPoPBound,
		Profile:                            c.Profile,
		RequireMFA:                         c.RequireMFA,
		DefaultACRValues:                   nonNil(c.DefaultACRValues),
		Owner:                              ownerName(c.Owner),
		Registered:                         c.RegistrationTokenHash != "",
		CreatedAt:                          c.CreatedAt,
		UpdatedAt:                          c.UpdatedAt,
	}
}
