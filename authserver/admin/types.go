package admin

import (
	"encoding/json"
	"time"

	"github.com/authserver-dev/authserver/config"
)

// The JSON names are those of the configuration file, so that a client or
// user reads the same in the file, in `--output json` and in the API.

// Client is a registered client as an administrator sees it: every field
// of a clients entry but the secret, and what the database records.
type Client struct {
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
	// TokenEndpointAuthMethod is client_secret_basic, client_secret_post,
	// private_key_jwt or none; empty, as in the file, is either secret
	// method for a client with a secret and none for one without.
	TokenEndpointAuthMethod string `json:"token_endpoint_auth_method"`
	// JWKS is the client's public JWK Set, the JSON as it was given
	// (compacted), absent when it has none; JWKSURI is where the client
	// serves it instead. At most one is set.
	JWKS    json.RawMessage `json:"jwks,omitempty"`
	JWKSURI string          `json:"jwks_uri"`
	// RequirePushedAuthorizationRequests and DPoPBoundAccessTokens are
	// RFC 9126 §6 and RFC 9449 §5.2; Profile is "" or fapi2 (which implies
	// both, whatever they say).
	RequirePushedAuthorizationRequests bool   `json:"require_pushed_authorization_requests"`
	DPoPBoundAccessTokens              bool   `json:"dpop_bound_access_tokens"`
	Profile                            string `json:"profile"`
	// RequireMFA: the client's users must have signed in with a second
	// factor. DefaultACRValues are the acr_values of its requests that send
	// none (urn:authserver:acr:password, …:mfa, …:phishing-resistant).
	RequireMFA       bool     `json:"require_mfa"`
	DefaultACRValues []string `json:"default_acr_values"`
	// Owner is "file" or "database" (read only).
	Owner string `json:"owner"`
	// Registered: created at the registration endpoint (read only).
	Registered bool      `json:"registered"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// NewClient is what CreateClient and RegisterClient take: the client's
// fields (Owner, Registered and the times are ignored) and, for a
// confidential client, optionally the SHA-256 (64 hex) of a secret it has
// already; without it a secret of 256 random bits is generated and returned
// once. A private_key_jwt client gets no secret (it has keys), and
// TokenEndpointAuthMethod none makes a public client as Public does.
// Empty Name, GrantTypes and Scopes get the file's defaults.
type NewClient struct {
	Client
	SecretHash string `json:"secret_hash,omitempty"`
}

// ClientPatch changes the fields that are set (nil leaves a field as it
// is; an empty list, an empty string or, for JWKS, an empty object {}
// clears one). Whether a client is public does not change: remove it and
// add it again. TokenEndpointAuthMethod may change between
// client_secret_basic, client_secret_post and private_key_jwt when the
// client has what the new method needs: keys (JWKS or JWKSURI) for
// private_key_jwt, a secret for the other two. A client that moves to
// private_key_jwt keeps its secret's hash, unused (no endpoint accepts a
// secret from it), so that moving back needs no new secret; a client made
// with private_key_jwt has no secret and cannot move to a secret method.
type ClientPatch struct {
	Name                             *string   `json:"name,omitempty"`
	RedirectURIs                     *[]string `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs           *[]string `json:"post_logout_redirect_uris,omitempty"`
	GrantTypes                       *[]string `json:"grant_types,omitempty"`
	Scopes                           *[]string `json:"scopes,omitempty"`
	Audience                         *[]string `json:"audience,omitempty"`
	SkipConsent                      *bool     `json:"skip_consent,omitempty"`
	AllowIntrospection               *bool     `json:"allow_introspection,omitempty"`
	IDTokenSignedResponseAlg         *string   `json:"id_token_signed_response_alg,omitempty"`
	BackchannelLogoutURI             *string   `json:"backchannel_logout_uri,omitempty"`
	BackchannelLogoutSessionRequired *bool     `json:"backchannel_logout_session_required,omitempty"`

	TokenEndpointAuthMethod            *string          `json:"token_endpoint_auth_method,omitempty"`
	JWKS                               *json.RawMessage `json:"jwks,omitempty"`
	JWKSURI                            *string          `json:"jwks_uri,omitempty"`
	RequirePushedAuthorizationRequests *bool            `json:"require_pushed_authorization_requests,omitempty"`
	DPoPBoundAccessTokens              *bool            `json:"dpop_bound_access_tokens,omitempty"`
	Profile                            *string          `json:"profile,omitempty"`
	RequireMFA                         *bool            `json:"require_mfa,omitempty"`
	DefaultACRValues                   *[]string        `json:"default_acr_values,omitempty"`
}

// User is an end user as an administrator sees it: every field of a users
// entry but the password.
type User struct {
	// ID is the subject (sub), stable for ever.
	ID            string            `json:"id"`
	Username      string            `json:"username"`
	Email         string            `json:"email"`
	EmailVerified bool              `json:"email_verified"`
	Name          string            `json:"name"`
	Claims        config.UserClaims `json:"claims"`
	Disabled      bool              `json:"disabled"`
	// RequireMFA: the user must complete a second step at every sign-in.
	RequireMFA bool      `json:"require_mfa"`
	Owner      string    `json:"owner"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// NewUser is what CreateUser takes: the user's fields (ID, Owner, Disabled
// and the times are ignored) and the password in the clear, which is hashed
// with the configured argon2id parameters and never stored or logged.
type NewUser struct {
	User
	Password string `json:"password"`
}

// UserPatch changes the fields that are set. The username is the key of a
// user and does not change.
type UserPatch struct {
	Email         *string            `json:"email,omitempty"`
	EmailVerified *bool              `json:"email_verified,omitempty"`
	Name          *string            `json:"name,omitempty"`
	Claims        *config.UserClaims `json:"claims,omitempty"`
	RequireMFA    *bool              `json:"require_mfa,omitempty"`
}

// Factors are a user's second factors as an administrator sees them: what
// they are and when they were used, never a key, a secret or a code.
type Factors struct {
	// Passkeys are the user's WebAuthn credentials, oldest first.
	Passkeys []Passkey `json:"passkeys"`
	// TOTP is the user's one-time-code authenticator; absent when none.
	TOTP *TOTPInfo `json:"totp,omitempty"`
	// RecoveryCodesLeft counts the unspent recovery codes.
	RecoveryCodesLeft int `json:"recovery_codes_left"`
}

// Passkey is one WebAuthn credential of a user.
type Passkey struct {
	// ID is the credential id (base64url), which names it to RemovePasskey.
	ID        string    `json:"id"`
	Label     string    `json:"label"`
	CreatedAt time.Time `json:"created_at"`
	// LastUsedAt is absent for a passkey never used to sign in.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// TOTPInfo is a user's TOTP authenticator. An unconfirmed one (enrolment
// begun, no right code yet) is no factor.
type TOTPInfo struct {
	CreatedAt time.Time `json:"created_at"`
	Confirmed bool      `json:"confirmed"`
}

// Session is a login session of a user.
type Session struct {
	// ID is the session's sid (the hash of its cookie, never the cookie).
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	AuthTime  time.Time `json:"auth_time"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UserAgent string    `json:"user_agent"`
	IP        string    `json:"ip"`
}

// Grant is a user's remembered consent to a client.
type Grant struct {
	UserID     string    `json:"user_id"`
	ClientID   string    `json:"client_id"`
	ClientName string    `json:"client_name"`
	Scopes     []string  `json:"scopes"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Key is a published signing key (no key material).
type Key struct {
	ID        string `json:"kid"`
	Algorithm string `json:"alg"`
	// State is active (signs), next (published, signs from ActivatesAt)
	// or retired (published until ExpiresAt, so its tokens still verify).
	State       string    `json:"state"`
	CreatedAt   time.Time `json:"created_at"`
	ActivatesAt time.Time `json:"activates_at,omitzero"`
	RetiredAt   time.Time `json:"retired_at,omitzero"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
}

// Rotation is what RotateKeys changed.
type Rotation struct {
	Before []Key `json:"before"`
	After  []Key `json:"after"`
	// Created are keys published now (they sign after the publish lead);
	// Promoted started signing; Retired stopped signing.
	Created  []Key `json:"created"`
	Promoted []Key `json:"promoted"`
	Retired  []Key `json:"retired"`
	// Warning says what relying parties may see when a key was promoted
	// before its publish lead had passed (force); empty otherwise.
	Warning string `json:"warning,omitempty"`
}

// RegistrationToken is an initial access token (RFC 7591 §3), without the
// token itself.
type RegistrationToken struct {
	ID          string    `json:"id"`
	Description string    `json:"description"`
	UsesLeft    int       `json:"uses_left"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
}
