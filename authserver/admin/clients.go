package admin

import (
	"context"
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
	if st.Public() {
		return "", errorf(KindInvalid, "client %s is public: it has no secret to rotate (it proves itself with PKCE)", id)
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
	cl := configClient(c.Client)
	var secret string
	var ps []config.Problem
	switch {
	case c.Public && c.SecretHash != "":
		ps = append(ps, config.Problem{Field: "secret_hash", Message: "is set, but a public client has no secret: leave it out, or make the client confidential"})
	case c.SecretHash != "":
		// storage.Hash is lower-case hex, and hashes are compared as strings.
		cl.SecretHash = strings.ToLower(c.SecretHash)
	case !c.Public:
		secret = randomToken()
		cl.Secret = secret
	}
	cl, more := s.checkClient(cl)
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
	st := storageClient(cl)
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
// and stores them, keeping its id, secret (and so whether it is public) and
// registration access token. Audit: client.updated with the changed fields.
func (s *Service) replaceClient(ctx context.Context, st storage.Client, next Client) (Client, error) {
	cl := configClient(next)
	cl.ID = st.ID
	cl.SecretHash = st.SecretHash
	cl, ps := s.checkClient(cl)
	if len(ps) > 0 {
		return Client{}, invalid("the client", ps)
	}
	updated := storageClient(cl)
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
// would be, and returns it with the file's defaults applied and the
// problems found in it.
func (s *Service) checkClient(cl config.Client) (config.Client, []config.Problem) {
	check := s.o.Config
	check.Clients = []config.Client{cl}
	check.Users = nil
	check.ApplyDefaults()
	return check.Clients[0], entryProblems(check.Validate(), "clients[0]")
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
	} {
		if !f.same {
			out = append(out, f.name)
		}
	}
	return out
}

// configClient is c as a clients entry of the file, without credentials.
func configClient(c Client) config.Client {
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
	}
}

// storageClient is the stored form of a validated clients entry; only the
// hash of its secret is kept.
func storageClient(cl config.Client) storage.Client {
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
	}
}

func toClient(c storage.Client) Client {
	return Client{
		ID:                               c.ID,
		Name:                             c.Name,
		Public:                           c.Public(),
		RedirectURIs:                     nonNil(c.RedirectURIs),
		PostLogoutRedirectURIs:           nonNil(c.PostLogoutRedirectURIs),
		GrantTypes:                       nonNil(c.GrantTypes),
		Scopes:                           nonNil(c.Scopes),
		Audience:                         nonNil(c.Audience),
		SkipConsent:                      c.SkipConsent,
		AllowIntrospection:               c.CanIntrospect,
		IDTokenSignedResponseAlg:         c.IDTokenAlg,
		BackchannelLogoutURI:             c.BackchannelLogoutURI,
		BackchannelLogoutSessionRequired: c.BackchannelLogoutSessionRequired,
		Owner:                            ownerName(c.Owner),
		Registered:                       c.RegistrationTokenHash != "",
		CreatedAt:                        c.CreatedAt,
		UpdatedAt:                        c.UpdatedAt,
	}
}
