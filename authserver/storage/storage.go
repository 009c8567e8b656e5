// Package storage is the persistence contract of the authorization server:
// value types, the Store interface and its sentinel errors. Backends live in
// sub-packages (sqlstore serves SQLite and PostgreSQL through one SQL
// implementation) and must all pass the suite in storage/conformance.
//
// Secrets never reach a backend in the clear: authorization codes, refresh
// tokens, login-session ids and client secrets arrive already hashed
// (SHA-256, see Hash), passwords as argon2id/bcrypt strings. A backend only
// ever compares hashes for equality.
//
// This package imports nothing of ours but keys (whose SigningKey record it
// stores); it must not import authserver.
package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/authserver-dev/authserver/keys"
)

// ErrNotFound is returned when the record asked for does not exist (or has
// expired, for records with a lifetime).
var ErrNotFound = errors.New("storage: not found")

// ErrAlreadyUsed is returned by the consuming methods when the one-time
// record existed but was consumed before. Callers treat it as a replay.
var ErrAlreadyUsed = errors.New("storage: already used")

// ErrConflict is returned when a create would overwrite an existing record.
var ErrConflict = errors.New("storage: already exists")

// ErrUnavailable is wrapped into every error that means the database could
// not be reached or dropped the connection mid-request (an outage, a restart,
// a failover, an administrator's pg_terminate_backend). The request may
// succeed if it is sent again shortly, so callers answer "try again" (503)
// rather than "server error". A backend decides which of its errors are of
// this kind in one place; errors.Is(err, ErrUnavailable) is the whole test.
var ErrUnavailable = errors.New("storage: temporarily unavailable")

// Hash returns the hex SHA-256 of a high-entropy secret (code, refresh token,
// session id, generated client secret). Such secrets carry 256 random bits, so
// an unsalted fast hash is enough: it cannot be brute-forced, and it keeps the
// token endpoint fast.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Owner says who may change a client or user: the configuration file or the
// database (the CLI, a future API). Configuration is declarative: each start
// makes the file-owned entries exactly what the file declares, adding,
// updating and deleting them, and never touches a database-owned one; the
// CLI refuses to change a file-owned entry, which the next start would undo.
type Owner string

const (
	// OwnerDatabase is the zero value: an entry made with the CLI or an API.
	OwnerDatabase Owner = ""
	// OwnerFile is an entry declared in the configuration file.
	OwnerFile Owner = "file"
	// OwnerUnknown is an entry stored before ownership was recorded. The
	// next start takes over the ones its file declares (OwnerFile) and
	// gives the others to the database. Any upsert may take one over.
	OwnerUnknown Owner = "unknown"
)

// Client is a registered OAuth 2.0 client.
type Client struct {
	ID string
	// Owner is who may change or delete the client.
	Owner Owner
	// SecretHash is Hash(secret); empty for a public client, which must use PKCE.
	SecretHash             string
	Name                   string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	GrantTypes             []string
	Scopes                 []string
	// Audience is the aud of this client's access tokens; empty means the
	// server's default audience.
	Audience    []string
	SkipConsent bool
	// CanIntrospect allows the client to call the introspection endpoint
	// (RFC 7662 §2.1 requires that endpoint to be protected).
	CanIntrospect bool
	// IDTokenAlg is id_token_signed_response_alg; empty means the server default.
	IDTokenAlg string
	// BackchannelLogoutURI is where the client receives logout tokens when
	// a session it got tokens in ends (OpenID Connect Back-Channel Logout
	// 1.0 §2.2); empty means it is not told.
	BackchannelLogoutURI string
	// BackchannelLogoutSessionRequired is the client's wish for sid in its
	// logout tokens (§2.2); the server always sends sid, so it only records it.
	BackchannelLogoutSessionRequired bool
	// RegistrationTokenHash is Hash of the RFC 7592 registration access
	// token of a client registered through the registration endpoint; empty
	// for any other client (which that endpoint then refuses to manage).
	RegistrationTokenHash string
	// TokenEndpointAuthMethod is how the client authenticates (RFC 7591
	// §2): AuthSecretBasic, AuthSecretPost, AuthPrivateKeyJWT or AuthNone.
	// Empty is a client from before it was recorded: either secret method
	// when it has a secret, none when it has not (see AuthMethods).
	TokenEndpointAuthMethod string
	// JWKS is the client's public JWK Set as JSON (RFC 7591 §2 jwks), for
	// private_key_jwt assertions and request objects; JWKSURI is where to
	// fetch it instead. At most one is set.
	JWKS    string
	JWKSURI string
	// RequirePAR: the client's authorization requests must be pushed
	// (RFC 9126 §6). DPoPBound: its access tokens must be DPoP-bound
	// (RFC 9449 §5.2). Profile "fapi2" turns on what the FAPI 2.0 Security
	// Profile requires of the client; "" is none.
	RequirePAR bool
	DPoPBound  bool
	Profile    string
	// RequireMFA: the client's users must have signed in with a second
	// factor. DefaultACRValues are the acr_values of its requests that
	// send none (OIDC Registration §2 default_acr_values).
	RequireMFA       bool
	DefaultACRValues []string
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Client authentication methods (RFC 7591 §2 token_endpoint_auth_method).
const (
	AuthSecretBasic   = "client_secret_basic"
	AuthSecretPost    = "client_secret_post"
	AuthPrivateKeyJWT = "private_key_jwt"
	AuthNone          = "none"
)

// ProfileFAPI2 is Client.Profile for the FAPI 2.0 Security Profile.
const ProfileFAPI2 = "fapi2"

// AuthMethods are the authentication methods the client may use: its
// TokenEndpointAuthMethod, or for a client that has none recorded, both
// secret methods when it has a secret and none when it has not.
func (c Client) AuthMethods() []string {
	switch {
	case c.TokenEndpointAuthMethod != "":
		return []string{c.TokenEndpointAuthMethod}
	case c.SecretHash != "":
		return []string{AuthSecretBasic, AuthSecretPost}
	}
	return []string{AuthNone}
}

// Public reports whether the client cannot authenticate (RFC 6749 §2.1):
// it has no secret and no keys, and must use PKCE.
func (c Client) Public() bool {
	return c.TokenEndpointAuthMethod == AuthNone || (c.TokenEndpointAuthMethod == "" && c.SecretHash == "")
}

// User is an end user who signs in with a username and password.
type User struct {
	// ID is the stable, opaque subject identifier (the sub claim). It never
	// changes, even when the username does.
	ID       string
	Username string
	// Owner is who may change or delete the user.
	Owner         Owner
	PasswordHash  string
	Email         string
	EmailVerified bool
	Name          string
	// Claims are the user's other OpenID Connect standard claims.
	Claims StandardClaims
	// Disabled users cannot sign in (see SetUserDisabled).
	Disabled bool
	// RequireMFA: the user must complete a second step (passkey, TOTP or
	// recovery code) at every sign-in.
	RequireMFA bool
	CreatedAt  time.Time
	// UpdatedAt is also the updated_at claim (OIDC Core §5.1).
	UpdatedAt time.Time
}

// StandardClaims are the OpenID Connect Core §5.1 claims of a user beyond
// those with fields of their own in User (sub, preferred_username = the
// username, name, email, email_verified, updated_at). The JSON names are the
// claim names, so that a backend can store the struct as one JSON document:
// the set is fixed by the specification and never queried by field.
// Empty values are absent claims.
type StandardClaims struct {
	GivenName           string   `json:"given_name,omitempty"`
	FamilyName          string   `json:"family_name,omitempty"`
	MiddleName          string   `json:"middle_name,omitempty"`
	Nickname            string   `json:"nickname,omitempty"`
	Profile             string   `json:"profile,omitempty"`
	Picture             string   `json:"picture,omitempty"`
	Website             string   `json:"website,omitempty"`
	Gender              string   `json:"gender,omitempty"`
	Birthdate           string   `json:"birthdate,omitempty"`
	Zoneinfo            string   `json:"zoneinfo,omitempty"`
	Locale              string   `json:"locale,omitempty"`
	PhoneNumber         string   `json:"phone_number,omitempty"`
	PhoneNumberVerified bool     `json:"phone_number_verified,omitempty"`
	Address             *Address `json:"address,omitempty"`
}

// Address is the structured address claim (OIDC Core §5.1.1).
type Address struct {
	Formatted     string `json:"formatted,omitempty"`
	StreetAddress string `json:"street_address,omitempty"`
	Locality      string `json:"locality,omitempty"`
	Region        string `json:"region,omitempty"`
	PostalCode    string `json:"postal_code,omitempty"`
	Country       string `json:"country,omitempty"`
}

// AuthCode is an issued authorization code, keyed by Hash(code).
type AuthCode struct {
	CodeHash            string
	ClientID            string
	UserID              string
	RedirectURI         string
	Scope               string
	CodeChallenge       string
	CodeChallengeMethod string
	Nonce               string
	SessionID           string
	AuthTime            time.Time
	// ClaimsRequest is the authorization request's claims parameter (OIDC
	// Core §5.5) as the server normalised it, "" for none: the ID token and
	// userinfo of the grant honour it.
	ClaimsRequest string
	// DPoPJKT is the RFC 7638 thumbprint of the key the code is bound to
	// (dpop_jkt at authorization, RFC 9449 §10), "" for none: the token
	// request must prove that key.
	DPoPJKT string
	// Resource is the RFC 8707 resource indicators of the request,
	// space-separated, "" for the client's default audience.
	Resource string
	// AMR is the session's AMR when the code was issued.
	AMR       []string
	CreatedAt time.Time
	ExpiresAt time.Time
	// UsedAt is set once the code has been redeemed.
	UsedAt time.Time
	// FamilyID names the grant the code was redeemed into (the refresh-token
	// family and the access tokens' grant), so that a replay can revoke it.
	FamilyID string
}

// Session is a login session at the provider, keyed by Hash(cookie value).
type Session struct {
	// IDHash is Hash(cookie value). It is also the sid of the session's ID
	// tokens and the id an administrator or the user names it by: knowing
	// it does not give the cookie.
	IDHash    string
	UserID    string
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
	// UserAgent (at most MaxUserAgent bytes) and IP are what the browser
	// said and where it came from at sign-in, shown on /account.
	// CreateSession stores a longer UserAgent cut at a character boundary,
	// and invalid UTF-8 or NUL in it as U+FFFD: the header is the client's to
	// choose, and must neither grow a row nor fail a sign-in.
	UserAgent string
	IP        string
	// AMR are the RFC 8176 methods the sign-in used ("pwd", "otp", "hwk",
	// "swk", "user", "mfa"); empty for a session from before they were
	// recorded, which was a password sign-in.
	AMR []string
}

// MaxUserAgent bounds the stored User-Agent of a session.
const MaxUserAgent = 256

// RefreshToken is one refresh token of a family, keyed by Hash(token).
type RefreshToken struct {
	TokenHash string
	// FamilyID groups every token rotated from one original grant.
	FamilyID  string
	ClientID  string
	UserID    string
	Scope     string
	SessionID string
	Nonce     string
	AuthTime  time.Time
	// ClaimsRequest is the grant's claims request (see AuthCode), kept so
	// that refreshed ID tokens and access tokens honour it.
	ClaimsRequest string
	// DPoPJKT binds the token to a DPoP key (RFC 9449 §5: a public client's
	// refresh token is bound to the key of the request that got it); a
	// refresh must prove it. "" for an unbound token.
	DPoPJKT string
	// Resource is the grant's resource indicators (see AuthCode).
	Resource string
	// AMR is the grant's sign-in methods (see AuthCode).
	AMR       []string
	CreatedAt time.Time
	ExpiresAt time.Time
	// SpentAt is set when the token was rotated (exchanged for a new one).
	SpentAt time.Time
	// FamilyExpiresAt is the absolute end of the family, whatever rotations happen.
	FamilyExpiresAt time.Time
}

// ClientStore keeps registered clients.
type ClientStore interface {
	// UpsertClient creates the client or replaces every field of an existing
	// one with the same ID and the same Owner (CreatedAt is kept). An
	// existing client of another owner is ErrConflict and stays unchanged,
	// so that neither the file nor the CLI overwrites the other's client;
	// one of OwnerUnknown is taken over.
	UpsertClient(ctx context.Context, c Client) error
	// CreateClient stores a new client; ErrConflict, and nothing changed,
	// when the id exists (whoever owns it), so that of two concurrent
	// creates of one id exactly one succeeds and neither replaces the
	// other. CreatedAt and UpdatedAt are stored as given.
	CreateClient(ctx context.Context, c Client) error
	// GetClient returns ErrNotFound for an unknown id.
	GetClient(ctx context.Context, id string) (Client, error)
	ListClients(ctx context.Context) ([]Client, error)
	// DeleteClient removes the client and, in the same transaction, its
	// authorization codes and every refresh-token family of the client or
	// named on one of its redeemed codes (revoked as RevokeFamily does), so
	// that nothing issued to a removed client stays usable. Login sessions
	// belong to users and stay. ErrNotFound for an unknown id.
	DeleteClient(ctx context.Context, id string, now time.Time) error
}

// UserStore keeps end users.
type UserStore interface {
	// UpsertUser creates the user, or updates the one with the same Username
	// and the same Owner and keeps its ID. A new user with an empty ID gets
	// a random one. An existing user of another owner is ErrConflict and
	// stays unchanged (one of OwnerUnknown is taken over). It returns the
	// stored user. It ends no session even when the hash changes: a
	// password change goes through SetUserPassword.
	UpsertUser(ctx context.Context, u User) (User, error)
	// CreateUser stores a new user (with a random ID when u.ID is empty)
	// and returns it; ErrConflict, and nothing changed, when the username
	// or the ID exists.
	CreateUser(ctx context.Context, u User) (User, error)
	// SetUserPassword is a password change: it sets the user's hash and
	// UpdatedAt (now) and, in the same transaction, ends everything the old
	// password gave, as DeleteUser does but keeping the user: login sessions
	// and authorization codes deleted, refresh-token families revoked.
	// Whoever learned the old password keeps nothing. ErrNotFound for an
	// unknown id.
	SetUserPassword(ctx context.Context, id, passwordHash string, now time.Time) error
	GetUser(ctx context.Context, id string) (User, error)
	GetUserByUsername(ctx context.Context, username string) (User, error)
	// ReplacePasswordHash sets the user's password hash to newHash if it is
	// still oldHash, and changes nothing else (not UpdatedAt: the password is
	// the same, only its hash is stronger). A sign-in that verified oldHash
	// calls it to upgrade outdated hash parameters; the compare keeps it from
	// undoing a password change made meanwhile. ErrNotFound when the user is
	// gone or its hash is no longer oldHash.
	ReplacePasswordHash(ctx context.Context, userID, oldHash, newHash string) error
	ListUsers(ctx context.Context) ([]User, error)
	// SetUserDisabled sets the user's Disabled flag and UpdatedAt (now).
	// Disabling also ends, in the same transaction, everything the user
	// holds, as SetUserPassword does: sessions and authorization codes
	// deleted, refresh-token families revoked. Enabling gives nothing back.
	// ErrNotFound for an unknown id.
	SetUserDisabled(ctx context.Context, id string, disabled bool, now time.Time) error
	// DeleteUser removes the user and, in the same transaction, the user's
	// login sessions and authorization codes, and every refresh-token family
	// of the user or named on one of their redeemed codes (revoked as
	// RevokeFamily does), so that nothing issued to a deleted user stays
	// usable. ErrNotFound for an unknown id.
	DeleteUser(ctx context.Context, id string, now time.Time) error
}

// CodeRedemption is what a token request must match to redeem a code
// (RFC 6749 §4.1.3, RFC 7636 §4.6): the client the code was issued to, the
// redirect URI of its authorization request and its PKCE challenge. Only the
// code's own client, proving the same PKCE verifier, may consume the code or
// learn that it was used; anyone else holding a leaked code can neither
// burn it nor, by replaying it, revoke the grant it produced.
type CodeRedemption struct {
	ClientID    string
	RedirectURI string
	// CodeChallenge is the S256 challenge computed from the request's
	// code_verifier, or "" when the request sent none. It must equal the
	// stored CodeChallenge, which is "" for a code issued without PKCE.
	CodeChallenge string
	// DPoPJKT is the thumbprint of the key of the request's DPoP proof, ""
	// without one. A code bound to a key (AuthCode.DPoPJKT, RFC 9449 §10)
	// matches only a redemption proving that key, so that whoever holds
	// the code but not the key cannot burn it.
	DPoPJKT string
	// FamilyID names the grant the redemption creates; it is recorded on
	// the code so that a replay can revoke that grant.
	FamilyID string
}

// AuthCodeStore keeps authorization codes.
type AuthCodeStore interface {
	// CreateAuthCode stores a new code; ErrConflict if the hash exists.
	CreateAuthCode(ctx context.Context, c AuthCode) error
	// ConsumeAuthCode atomically marks the code used and returns it,
	// provided the code matches r in every field, so that of any number of
	// concurrent redemptions exactly one succeeds; r.FamilyID is recorded on
	// the code. A code that is unknown, expired (ExpiresAt <= now) or does
	// not match r gives ErrNotFound and is left exactly as it was (the right
	// client can still redeem it). A code used before that matches r gives
	// the stored record together with ErrAlreadyUsed, so that the caller can
	// revoke what it issued; one that does not match r gives ErrNotFound, so
	// a mismatching request never triggers a revocation.
	ConsumeAuthCode(ctx context.Context, codeHash string, r CodeRedemption, now time.Time) (AuthCode, error)
}

// SessionStore keeps login sessions.
type SessionStore interface {
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns ErrNotFound for an unknown or expired session.
	GetSession(ctx context.Context, idHash string, now time.Time) (Session, error)
	// DeleteSession deletes the session; an unknown one is not an error.
	// Sign-out goes through EndSession, which also revokes its tokens.
	DeleteSession(ctx context.Context, idHash string) error
	// ListUserSessions returns the user's unexpired sessions, newest
	// (CreatedAt) first.
	ListUserSessions(ctx context.Context, userID string, now time.Time) ([]Session, error)
}

// RefreshTokenStore keeps refresh tokens and their families.
type RefreshTokenStore interface {
	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	// GetRefreshToken returns the token whether or not it is spent; ErrNotFound
	// when unknown or when its family was revoked.
	GetRefreshToken(ctx context.Context, tokenHash string) (RefreshToken, error)
	// RotateRefreshToken atomically marks oldHash spent and stores next, so
	// that of concurrent rotations of one token exactly one succeeds. If the
	// old token was already spent it returns the stored old record and
	// ErrAlreadyUsed and stores nothing; ErrNotFound if unknown or revoked.
	// It is the only way a family gains a token after its first, and it
	// spends one for each it stores, so a family has at most one unspent
	// token at any time (the reuse grace window stores nothing: see the
	// refresh grant).
	RotateRefreshToken(ctx context.Context, oldHash string, next RefreshToken, now time.Time) (RefreshToken, error)
	// RevokeFamily revokes every token of the family (and records the
	// revocation so that access tokens of the family can be refused).
	RevokeFamily(ctx context.Context, familyID string, now time.Time) error
	// FamilyRevoked reports whether the family was revoked.
	FamilyRevoked(ctx context.Context, familyID string) (bool, error)
	// ListSessionRefreshTokens returns the unspent, unrevoked refresh tokens
	// bound to a login session (RefreshToken.SessionID), so sign-out can
	// revoke their families.
	ListSessionRefreshTokens(ctx context.Context, sessionID string) ([]RefreshToken, error)
}

// AccessTokenRevocationStore records revoked access tokens by jti. Access
// tokens are stateless JWTs; a record lives only until the token would have
// expired anyway.
type AccessTokenRevocationStore interface {
	// RevokeAccessToken records the jti; revoking twice is not an error.
	RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error
	// AccessTokenRevoked reports whether the jti was revoked.
	AccessTokenRevoked(ctx context.Context, jti string) (bool, error)
}

// Housekeeping deletes what can no longer be used.
type Housekeeping interface {
	// PurgeExpired deletes at most limit rows of each kind: codes past
	// ExpiresAt (used or not), sessions past ExpiresAt, refresh tokens past
	// ExpiresAt or FamilyExpiresAt and spent ones whose SpentAt is before
	// spentBefore, access-token revocations past their expiry, throttle
	// counters, session clients and registration tokens past their
	// expiry (and used-up registration tokens), pushed requests and seen
	// ids past their expiry, and family
	// revocations recorded before revokedBefore. Nothing live is touched. It
	// returns how many rows it deleted in all, so a caller can loop in small
	// batches until it returns less than it could have.
	PurgeExpired(ctx context.Context, now, spentBefore, revokedBefore time.Time, limit int) (int, error)
}

// ThrottleState is the failure count of one throttle key.
type ThrottleState struct {
	Failures    int
	LastFailure time.Time
}

// ThrottleStore keeps the counters of package throttle, shared by every
// replica. Keys are opaque fixed-length strings (hashes).
type ThrottleStore interface {
	// GetThrottle returns the key's state, or the zero state when the key is
	// unknown or its row expired (ExpiresAt <= now).
	GetThrottle(ctx context.Context, key string, now time.Time) (ThrottleState, error)
	// RecordThrottleFailure atomically adds one failure at now and returns
	// the new state, so that concurrent failures on several replicas all
	// count. A failure whose previous one came before resetBefore (or whose
	// row expired) starts again from one. The row expires at expiresAt.
	RecordThrottleFailure(ctx context.Context, key string, now, expiresAt, resetBefore time.Time) (ThrottleState, error)
	// ResetThrottle forgets the key; forgetting an unknown key is not an error.
	ResetThrottle(ctx context.Context, key string) error
}

// ConsentGrant is a user's standing approval of a client: the scopes the
// user has allowed it so far (space-separated, each once). An authorization
// request for a subset needs no consent page (see ConsentStore).
type ConsentGrant struct {
	UserID    string
	ClientID  string
	Scope     string
	CreatedAt time.Time
	// UpdatedAt is when scopes were last added.
	UpdatedAt time.Time
}

// ConsentStore keeps remembered consent. A grant lives until it is revoked
// or its user or client is deleted (DeleteUser and DeleteClient delete it
// with them); it has no expiry.
type ConsentStore interface {
	// GetConsent returns the user's grant to the client; ErrNotFound when
	// there is none.
	GetConsent(ctx context.Context, userID, clientID string) (ConsentGrant, error)
	// GrantConsent adds scope (space-separated) to the user's grant to the
	// client, creating it at now if there is none, and returns the stored
	// grant: its Scope is the union, the scopes granted before first, then
	// the new ones in the order given. Concurrent grants for one user and
	// client all count (none is lost). UpdatedAt becomes now when a scope was
	// added. ErrNotFound when the user or the client does not exist.
	GrantConsent(ctx context.Context, userID, clientID, scope string, now time.Time) (ConsentGrant, error)
	// ListUserConsents returns the user's grants, by client id.
	ListUserConsents(ctx context.Context, userID string) ([]ConsentGrant, error)
	// RevokeConsent deletes the user's grant to the client and, in the same
	// transaction, ends what the grant allowed: every refresh-token family
	// of that user and client, named by its tokens or redeemed codes, is
	// revoked as RevokeFamily does (recorded at now, tokens deleted), and
	// the user's authorization codes for the client are deleted. The next
	// authorization asks for consent again. ErrNotFound, and nothing
	// changed, when there is no such grant.
	RevokeConsent(ctx context.Context, userID, clientID string, now time.Time) error
}

// SessionClient records that a client received tokens in a login session,
// so that ending the session can send the client a back-channel logout
// token. It lives as long as the session could (ExpiresAt is the session's).
type SessionClient struct {
	// SessionID is the session's IDHash, the sid of its ID tokens.
	SessionID string
	ClientID  string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// SessionClientStore keeps the clients of each login session. The records
// are an outbox: a session ends by deleting it (DeleteSession, or the
// cascades of SetUserPassword and DeleteUser, in any process), and a server
// then takes the session's records and notifies each client once. Taking a
// record deletes it, so of any number of replicas taking at once each record
// goes to exactly one.
type SessionClientStore interface {
	// RecordSessionClient stores sc; recording the same session and client
	// again is not an error and keeps the first record.
	RecordSessionClient(ctx context.Context, sc SessionClient) error
	// TakeSessionClients deletes the records of one session and returns
	// those not expired (ExpiresAt > now), each to exactly one caller.
	TakeSessionClients(ctx context.Context, sessionID string, now time.Time) ([]SessionClient, error)
	// TakeEndedSessionClients deletes and returns at most limit unexpired
	// records whose session no longer exists: it ended before it expired.
	// Records of a session that is still stored (even expired) stay, so a
	// session that merely expires is never reported as ended. Each record
	// goes to exactly one caller.
	TakeEndedSessionClients(ctx context.Context, now time.Time, limit int) ([]SessionClient, error)
}

// RegistrationToken is an RFC 7591 §3 initial access token: it allows
// UsesLeft more registrations at the registration endpoint until ExpiresAt.
// Only its hash is stored.
type RegistrationToken struct {
	// ID names the token in listings and for deletion; it is random and
	// says nothing about the token.
	ID          string
	TokenHash   string
	Description string
	UsesLeft    int
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// RegistrationTokenStore keeps initial access tokens.
type RegistrationTokenStore interface {
	// CreateRegistrationToken stores t; ErrConflict if its ID or hash exists.
	CreateRegistrationToken(ctx context.Context, t RegistrationToken) error
	// UseRegistrationToken atomically spends one use of the token with
	// this hash and returns it (UsesLeft after the use), so that of
	// concurrent registrations no more succeed than it had uses. An
	// unknown, expired (ExpiresAt <= now) or used-up token is ErrNotFound.
	UseRegistrationToken(ctx context.Context, tokenHash string, now time.Time) (RegistrationToken, error)
	// ListRegistrationTokens returns the tokens that can still be used,
	// newest first.
	ListRegistrationTokens(ctx context.Context, now time.Time) ([]RegistrationToken, error)
	// DeleteRegistrationToken deletes the token with this ID; ErrNotFound
	// when there is none.
	DeleteRegistrationToken(ctx context.Context, id string) error
}

// PushedRequest is an RFC 9126 pushed authorization request, keyed by
// Hash(request_uri) and bound to its client.
type PushedRequest struct {
	URIHash  string
	ClientID string
	// Params is the validated authorization request.
	Params    map[string][]string
	CreatedAt time.Time
	ExpiresAt time.Time
	// UsedAt is set when a code was issued from it (SpendPushedRequest).
	UsedAt time.Time
}

// PushedRequestStore keeps pushed authorization requests.
type PushedRequestStore interface {
	// CreatePushedRequest stores r; ErrConflict if its hash exists.
	CreatePushedRequest(ctx context.Context, r PushedRequest) error
	// GetPushedRequest returns the request with this hash for this
	// client; ErrNotFound when unknown, another client's or expired
	// (ExpiresAt <= now), ErrAlreadyUsed once spent. Reading does not
	// spend it: the login page may be reloaded.
	GetPushedRequest(ctx context.Context, uriHash, clientID string, now time.Time) (PushedRequest, error)
	// SpendPushedRequest marks the request used at now, atomically: of
	// concurrent spends exactly one succeeds, the others get
	// ErrAlreadyUsed; ErrNotFound as GetPushedRequest.
	SpendPushedRequest(ctx context.Context, uriHash, clientID string, now time.Time) error
}

// ReplayStore remembers one-time identifiers (the jti of DPoP proofs and
// client assertions) for every replica.
type ReplayStore interface {
	// SeenOnce records id until expiresAt and reports whether it was
	// recorded before (and not yet expired at now): of concurrent calls
	// with one id exactly one gets false. Ids are opaque fixed-length
	// strings (hashes).
	SeenOnce(ctx context.Context, id string, expiresAt, now time.Time) (bool, error)
}

// WebAuthnCredential is a user's passkey. ID is the WebAuthn credential id
// (base64url), unique across users; Credential is the WebAuthn library's
// record of it as JSON (public key, sign count, flags), no secret.
type WebAuthnCredential struct {
	ID         string
	UserID     string
	Label      string
	Credential []byte
	CreatedAt  time.Time
	LastUsedAt time.Time
}

// TOTP is a user's one-time-code authenticator (RFC 6238). Secret is sealed
// by the caller (the store never sees it in the clear). It counts as a
// factor only once ConfirmedAt is set. LastStep is the highest time step
// accepted, so that no code is accepted twice.
type TOTP struct {
	UserID      string
	Secret      string
	CreatedAt   time.Time
	ConfirmedAt time.Time
	LastStep    int64
}

// MFAStore keeps users' second factors. Every method's user must exist;
// deleting the user deletes them.
type MFAStore interface {
	// CreateWebAuthnCredential stores a new passkey; ErrConflict when its
	// id exists (for any user).
	CreateWebAuthnCredential(ctx context.Context, c WebAuthnCredential) error
	// GetWebAuthnCredential returns the passkey with this credential id
	// (a discoverable sign-in names only that); ErrNotFound when none.
	GetWebAuthnCredential(ctx context.Context, id string) (WebAuthnCredential, error)
	// ListWebAuthnCredentials returns the user's passkeys, oldest first.
	ListWebAuthnCredentials(ctx context.Context, userID string) ([]WebAuthnCredential, error)
	// UpdateWebAuthnCredential replaces the record (sign count, flags)
	// and LastUsedAt of the user's passkey after a sign-in; ErrNotFound
	// when the user has no such passkey.
	UpdateWebAuthnCredential(ctx context.Context, userID, id string, credential []byte, lastUsed time.Time) error
	// RenameWebAuthnCredential sets the label of the user's passkey;
	// ErrNotFound when the user has no such passkey.
	RenameWebAuthnCredential(ctx context.Context, userID, id, label string) error
	// DeleteWebAuthnCredential deletes the user's passkey; ErrNotFound
	// when the user has no such passkey.
	DeleteWebAuthnCredential(ctx context.Context, userID, id string) error

	// PutTOTP stores the user's authenticator, replacing any (a new
	// enrolment starts unconfirmed).
	PutTOTP(ctx context.Context, t TOTP) error
	// GetTOTP returns the user's authenticator, confirmed or not;
	// ErrNotFound when none.
	GetTOTP(ctx context.Context, userID string) (TOTP, error)
	// UseTOTPStep records that a code of time step step was accepted,
	// atomically: it succeeds only when step is above LastStep (then
	// LastStep = step, and ConfirmedAt = now if it was unset), so that of
	// concurrent uses of one code exactly one succeeds; ErrAlreadyUsed
	// for a step at or below LastStep; ErrNotFound when none.
	UseTOTPStep(ctx context.Context, userID string, step int64, now time.Time) error
	// DeleteTOTP deletes the user's authenticator; ErrNotFound when none.
	DeleteTOTP(ctx context.Context, userID string) error

	// ReplaceRecoveryCodes makes hashes the user's recovery codes,
	// deleting the previous ones, in one transaction.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string, now time.Time) error
	// UseRecoveryCode spends the user's code with this hash, atomically:
	// of concurrent uses exactly one succeeds; ErrAlreadyUsed when spent
	// before, ErrNotFound when the user has no such code.
	UseRecoveryCode(ctx context.Context, userID, hash string, now time.Time) error
	// CountRecoveryCodes returns how many of the user's codes are unspent.
	CountRecoveryCodes(ctx context.Context, userID string) (int, error)
	// DeleteMFA deletes every passkey, the authenticator and the recovery
	// codes of the user, in one transaction (an administrator's reset).
	DeleteMFA(ctx context.Context, userID string) error
}

// Store is everything the server persists. Backends assert it at compile time.
type Store interface {
	ClientStore
	UserStore
	AuthCodeStore
	SessionStore
	RefreshTokenStore
	AccessTokenRevocationStore
	ThrottleStore
	ConsentStore
	SessionClientStore
	RegistrationTokenStore
	PushedRequestStore
	ReplayStore
	MFAStore
	Housekeeping
	keys.Store
	// Ping checks that the database answers now, within ctx's deadline; the
	// readiness check calls it. Its error wraps ErrUnavailable when the
	// database cannot be reached.
	Ping(ctx context.Context) error
	Close() error
}
