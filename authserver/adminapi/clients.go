package adminapi

import (
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/authserver-dev/authserver/authserver/admin"
)

// clientInput is the body of POST /clients: the fields of a clients entry
// of the configuration file that an operator sets, and optionally the
// SHA-256 of a secret the client has already. What the database records
// (owner, registered, the times) is not input, so it is refused as an
// unknown field rather than silently ignored.
type clientInput struct {
	ID                               string   `json:"id"`
	Name                             string   `json:"name"`
	Public                           bool     `json:"public"`
	RedirectURIs                     []string `json:"redirect_uris"`
	PostLogoutRedirectURIs           []string `json:"post_logout_redirect_uris"`
	GrantTypes                       []string `json:"grant_types"`
	Scopes                           []string `json:"scopes"`
	Audience                         []string `json:"audience"`
	SkipConsent                      bool     `json:"skip_consent"`
	AllowIntrospection               bool     `json:"allow_introspection"`
	IDTokenSignedResponseAlg         string   `json:"id_token_signed_response_alg"`
	BackchannelLogoutURI             string   `json:"backchannel_logout_uri"`
	BackchannelLogoutSessionRequired bool     `json:"backchannel_logout_session_required"`
	// The client's authentication and keys; jwks is kept as sent
	// (compacted) and read back the same.
	TokenEndpointAuthMethod            string          `json:"token_endpoint_auth_method"`
	JWKS                               json.RawMessage `json:"jwks"`
	JWKSURI                            string          `json:"jwks_uri"`
	RequirePushedAuthorizationRequests bool            `json:"require_pushed_authorization_requests"`
	DPoPBoundAccessTokens              bool            `json:"dpop_bound_access_tokens"`
	Profile                            string          `json:"profile"`
	RequireMFA                         bool            `json:"require_mfa"`
	DefaultACRValues                   []string        `json:"default_acr_values"`
	SecretHash                         string          `json:"secret_hash"`
}

func (in clientInput) newClient() admin.NewClient {
	return admin.NewClient{
		Client: admin.Client{
			ID: in.ID, Name: in.Name, Public: in.Public,
			RedirectURIs: in.RedirectURIs, PostLogoutRedirectURIs: in.PostLogoutRedirectURIs,
			GrantTypes: in.GrantTypes, Scopes: in.Scopes, Audience: in.Audience,
			SkipConsent: in.SkipConsent, AllowIntrospection: in.AllowIntrospection,
			IDTokenSignedResponseAlg:           in.IDTokenSignedResponseAlg,
			BackchannelLogoutURI:               in.BackchannelLogoutURI,
			BackchannelLogoutSessionRequired:   in.BackchannelLogoutSessionRequired,
			TokenEndpointAuthMethod:            in.TokenEndpointAuthMethod,
			JWKS:                               in.JWKS,
			JWKSURI:                            in.JWKSURI,
			RequirePushedAuthorizationRequests: in.RequirePushedAuthorizationRequests,
			DPoPBoundAccessTokens:              in.DPoPBoundAccessTokens,
			Profile:                            in.Profile,
			RequireMFA:                         in.RequireMFA,
			DefaultACRValues:                   in.DefaultACRValues,
		},
		SecretHash: in.SecretHash,
	}
}

// clientCreated is the answer to POST /clients: the client, and its
// generated secret, which is shown this once (only its hash is kept).
type clientCreated struct {
	admin.Client
	ClientSecret string `json:"client_secret,omitempty"`
}

type clientList struct {
	Clients []admin.Client `json:"clients"`
}

type clientSecret struct {
	ClientSecret string `json:"client_secret"`
}

func (h *Handler) listClients(w http.ResponseWriter, r *http.Request) error {
	cs, err := h.svc.ListClients(r.Context())
	if err != nil {
		return err
	}
	out := clientList{Clients: make([]admin.Client, len(cs))}
	for i, c := range cs {
		out.Clients[i] = clientOut(c)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) createClient(w http.ResponseWriter, r *http.Request) error {
	var in clientInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	c, secret, err := h.svc.CreateClient(r.Context(), in.newClient())
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"clients/"+url.PathEscape(c.ID))
	writeJSON(w, http.StatusCreated, clientCreated{Client: clientOut(c), ClientSecret: secret})
	return nil
}

func (h *Handler) getClient(w http.ResponseWriter, r *http.Request) error {
	c, err := h.svc.GetClient(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, clientOut(c))
	return nil
}

func (h *Handler) updateClient(w http.ResponseWriter, r *http.Request) error {
	var p admin.ClientPatch
	if err := decode(w, r, &p); err != nil {
		return err
	}
	c, err := h.svc.UpdateClient(r.Context(), r.PathValue("id"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, clientOut(c))
	return nil
}

func (h *Handler) deleteClient(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.DeleteClient(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) rotateClientSecret(w http.ResponseWriter, r *http.Request) error {
	secret, err := h.svc.RotateClientSecret(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, clientSecret{ClientSecret: secret})
	return nil
}

// clientOut gives every list field a value: the document promises arrays,
// never null.
func clientOut(c admin.Client) admin.Client {
	c.RedirectURIs = list(c.RedirectURIs)
	c.PostLogoutRedirectURIs = list(c.PostLogoutRedirectURIs)
	c.GrantTypes = list(c.GrantTypes)
	c.Scopes = list(c.Scopes)
	c.Audience = list(c.Audience)
	return c
}

func list[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
