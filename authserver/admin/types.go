package admin

import (
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
// once. Empty Name, GrantTypes and Scopes get the file's defaults.
type NewClient struct {
	Client
	SecretHash string `json:"secret_hash,omitempty"`
}

// ClientPatch changes the fields that are set (nil leaves a field as it
// is; an empty list clears one). Whether a client is public does not
// change: remove it and add it again.
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
	Owner         string            `json:"owner"`
	CreatedAt     time.Time         `json:"created_at"`
	UpdatedAt     time.Time         `json:"updated_at"`
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
