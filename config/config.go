// Package config owns the authorization server's YAML configuration: the schema
// (whose key names are a contract that operators script against, see docs/ARCHITECTURE.md),
// the defaults, the AUTHSERVER_* environment overrides, strict decoding that names
// unknown keys and their lines, and Validate, which reports every problem at once
// with the path of the offending field.
//
// The demo configuration used when no file is given is the embedded
// authserver.yaml, which is also the documented example.
//
// config imports only the standard library and gopkg.in/yaml.v3. It must not
// import any package of this module: everything else depends on it, so an import
// the other way would be a cycle, and cmd maps Config onto the other packages'
// own Config types.
package config

import (
	_ "embed"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config is the whole configuration file. The yaml tag names are the stable
// schema; rename nothing without a migration note for operators. omitempty
// only keeps optional keys out of marshalled output, so a Config written with
// yaml.Marshal reads back unchanged.
type Config struct {
	// Issuer is the OIDC issuer identifier (OIDC Core §2, RFC 8414 §2). Default:
	// "http://" + Listen when Listen is a loopback address, so moving the port with
	// AUTHSERVER_LISTEN alone keeps discovery consistent; otherwise
	// http://127.0.0.1:<port>. https instead of http when TLS is set.
	Issuer    string    `yaml:"issuer"`
	Listen    string    `yaml:"listen"` // default 127.0.0.1:9096
	Storage   Storage   `yaml:"storage"`
	Signing   Signing   `yaml:"signing"`
	Tokens    Tokens    `yaml:"tokens"`
	Sessions  Sessions  `yaml:"sessions"`
	Passwords Passwords `yaml:"passwords"`
	// Housekeeping deletes expired codes, sessions, tokens and revocations.
	Housekeeping Housekeeping `yaml:"housekeeping"`
	// UI lets operators replace the pages and the logo.
	UI UI `yaml:"ui"`
	// TLS serves https in-process; empty means plain http (loopback, or
	// behind a TLS-terminating proxy).
	TLS TLS `yaml:"tls"`
	// Server configures how requests reach the provider.
	Server Server `yaml:"server"`
	// Observability configures the metrics listener.
	Observability Observability `yaml:"observability"`
	// Log configures the process log (access log, audit events, errors).
	Log Log `yaml:"log"`
	// Security configures brute-force throttling.
	Security Security `yaml:"security"`
	// Admin configures the administration HTTP API.
	Admin Admin `yaml:"admin"`
	// Registration configures dynamic client registration (RFC 7591).
	Registration Registration `yaml:"registration"`
	// WebAuthn configures passkeys.
	WebAuthn WebAuthn `yaml:"webauthn"`
	// PAR configures pushed authorization requests (RFC 9126).
	PAR PAR `yaml:"par"`
	// DPoP configures sender-constrained tokens (RFC 9449).
	DPoP DPoP `yaml:"dpop"`
	// Scopes describe custom scopes in words for the consent and account
	// pages; the standard OpenID Connect scopes have built-in words.
	Scopes  []Scope  `yaml:"scopes,omitempty"`
	Clients []Client `yaml:"clients"`
	Users   []User   `yaml:"users"`
}

// Admin configures the administration API (REST+JSON under /admin/v1/).
type Admin struct {
	// Listen is its own host:port, kept off the public listener. Empty (the
	// default) turns the API off.
	Listen string `yaml:"listen,omitempty"`
	// Audience is the aud that an access token must carry to be accepted
	// by the API (with scope admin). Default DefaultAdminAudience; give the
	// administration client this audience.
	Audience string `yaml:"audience,omitempty"`
}

// DefaultAdminAudience is admin.audience when it is not set.
const DefaultAdminAudience = "urn:authserver:admin"

// AdminScope is the scope an access token needs at the admin API.
const AdminScope = "admin"

// Registration modes (registration.mode).
const (
	RegistrationOff                = "off"
	RegistrationInitialAccessToken = "initial_access_token"
	RegistrationOpen               = "open"
)

// Registration configures the RFC 7591 registration endpoint and the RFC
// 7592 management of the clients it registers.
type Registration struct {
	// Mode is off (default: no endpoint), initial_access_token (a token
	// made with `authserver registration-token create` or the admin API is
	// required) or open (anyone may register; allowed only on a loopback
	// issuer unless ForceOpen).
	Mode string `yaml:"mode"`
	// ForceOpen allows mode open on a public issuer: anyone on the
	// internet can then create clients.
	ForceOpen bool `yaml:"force_open,omitempty"`
	// AllowedScopes are the scopes a registered client may ask for
	// (default openid, profile, email, offline_access). admin is never
	// allowed.
	AllowedScopes []string `yaml:"allowed_scopes,omitempty"`
	// AllowedGrantTypes are the grant types a registered client may ask
	// for (default authorization_code, refresh_token); password is never
	// allowed.
	AllowedGrantTypes []string `yaml:"allowed_grant_types,omitempty"`
}

// WebAuthn configures passkeys (WebAuthn Level 2).
type WebAuthn struct {
	// RPID is the relying party id passkeys are bound to: a registrable
	// domain suffix of the issuer's host. Default: the issuer's host.
	// Changing it makes every enrolled passkey unusable.
	RPID string `yaml:"rp_id,omitempty"`
	// RPName is the name authenticators show (default "authserver").
	RPName string `yaml:"rp_name,omitempty"`
	// Origins are the origins ceremonies may come from (default: the
	// issuer's origin).
	Origins []string `yaml:"origins,omitempty"`
}

// PAR configures the pushed authorization request endpoint, /par.
type PAR struct {
	// Required: every client must push its authorization requests
	// (require_pushed_authorization_requests in discovery). Default false:
	// only clients that require it.
	Required bool `yaml:"required,omitempty"`
	// RequestURITTL is how long a request_uri lives (default 60s, at most 10m).
	RequestURITTL Duration `yaml:"request_uri_ttl"`
}

// DPoP configures proof-of-possession (RFC 9449).
type DPoP struct {
	// Algorithms accepted for proofs (default ES256, EdDSA, PS256, RS256).
	Algorithms []string `yaml:"algorithms,omitempty"`
	// RequireNonce makes the token endpoint demand a server nonce in
	// every proof (§8): a proof made in advance cannot be used.
	RequireNonce bool `yaml:"require_nonce,omitempty"`
	// ProofMaxAge is how old (iat) a proof may be (default 60s, at most 5m).
	ProofMaxAge Duration `yaml:"proof_max_age"`
}

// Scope is a custom scope and what it lets an application do, in words
// for the user ("Read your notes").
type Scope struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
}

// TLS names the certificate and key files (PEM). Both or neither must be set.
// They are read again on SIGHUP and when the files change.
type TLS struct {
	CertFile string `yaml:"cert_file,omitempty"`
	KeyFile  string `yaml:"key_file,omitempty"`
}

// Server configures the HTTP front of the provider.
type Server struct {
	// TrustedProxies are the CIDR ranges (or single addresses) of reverse
	// proxies whose X-Forwarded-For, Forwarded and X-Request-Id headers are
	// believed. Empty (the default): no proxy is trusted, and the client IP is
	// the TCP peer.
	TrustedProxies []string `yaml:"trusted_proxies,omitempty"`
}

// Observability configures metrics.
type Observability struct {
	// MetricsListen is the host:port of the Prometheus /metrics listener,
	// kept off the public listener. Default 127.0.0.1:9097; "off" disables it.
	MetricsListen string `yaml:"metrics_listen"`
}

// Security groups the defences that have settings.
type Security struct {
	Throttle Throttle `yaml:"throttle"`
}

// Throttle is the brute-force back-off: after the free failures of a key
// (a username, a client IP, a client id) each further failure blocks that
// key for base_delay, doubling up to max_delay; a key quiet for reset_after
// starts again. The counters are in the database, so replicas share them.
type Throttle struct {
	// Enabled defaults to true; false turns every counter off.
	Enabled *bool `yaml:"enabled,omitempty"`
	// FreeFailures per username (default 5).
	FreeFailures int `yaml:"free_failures"`
	// IPFreeFailures per client IP (default 20: several users may share an
	// address behind NAT).
	IPFreeFailures int `yaml:"ip_free_failures"`
	// ClientFreeFailures per client id on the token, revocation and
	// introspection endpoints (default 5).
	ClientFreeFailures int      `yaml:"client_free_failures"`
	BaseDelay          Duration `yaml:"base_delay"`  // default 1s
	MaxDelay           Duration `yaml:"max_delay"`   // default 15m
	ResetAfter         Duration `yaml:"reset_after"` // default 1h
	// IPHashSlots is how many password hashes one client IP may have
	// running at once on a replica (default 2).
	IPHashSlots int `yaml:"ip_hash_slots"`
}

// On reports whether throttling is enabled.
func (t Throttle) On() bool { return t.Enabled == nil || *t.Enabled }

// Log configures the process log.
type Log struct {
	Format string `yaml:"format"` // text (default) | json
	Level  string `yaml:"level"`  // debug | info (default) | warn | error
}

// Storage selects the database.
type Storage struct {
	Driver string `yaml:"driver"` // sqlite | postgres; default sqlite
	// DSN defaults to ./data/authserver.db for sqlite; postgres has no default
	// because guessing a database server would hide a misconfiguration.
	DSN string `yaml:"dsn"`
	// SQLiteSynchronous is SQLite's synchronous pragma in WAL mode: full
	// (default: a committed transaction survives a power cut) or normal
	// (faster; a power cut may lose the last transactions, never corrupt).
	SQLiteSynchronous string `yaml:"sqlite_synchronous,omitempty"`
}

// Signing configures the token signing keys.
type Signing struct {
	// Algorithms are the key types kept in rotation; the first signs access
	// tokens. Allowed: ES256, RS256, EdDSA. Default [ES256, RS256].
	Algorithms []string `yaml:"algorithms"`
	// IDTokenAlgorithm signs ID tokens of clients without
	// id_token_signed_response_alg. Default RS256, which OIDC Core §15.1 requires
	// every provider to support; it must be one of Algorithms.
	IDTokenAlgorithm string `yaml:"id_token_algorithm"`
	// AccessTokenAlgorithm signs access tokens; empty means the first of
	// Algorithms (see AccessAlgorithm).
	AccessTokenAlgorithm string `yaml:"access_token_algorithm,omitempty"`
	// RSABits is the size of new RS256 keys: 2048 (default) or 3072.
	RSABits int `yaml:"rsa_bits"`
	// RotationPeriod is how long a key signs before the next one takes over
	// (default 720h).
	RotationPeriod Duration `yaml:"rotation_period"`
	// PublishLead is how long a new key is published in the JWKS before it
	// signs (default 24h). It must exceed JWKSMaxAge plus KeyCheckInterval, so
	// that every cached JWKS and every replica knows the key first.
	PublishLead Duration `yaml:"publish_lead"`
	// JWKSMaxAge is the Cache-Control max-age of the JWKS (default 1h).
	JWKSMaxAge Duration `yaml:"jwks_max_age"`
	// KeyCheckInterval is how often each replica advances the rotation and
	// picks up keys changed by another process (default 1m).
	KeyCheckInterval Duration `yaml:"key_check_interval"`
	// KeyEncryptionKeyFile holds the key that encrypts private signing keys at
	// rest. ApplyDefaults leaves it empty on purpose: use KEKFile, which derives
	// the default from the final storage DSN.
	KeyEncryptionKeyFile string `yaml:"key_encryption_key_file,omitempty"`
}

// Tokens sets lifetimes and the default audience of access tokens.
type Tokens struct {
	AccessTokenTTL Duration `yaml:"access_token_ttl"` // default 15m
	IDTokenTTL     Duration `yaml:"id_token_ttl"`     // default 15m
	// AuthCodeTTL defaults to 60s; RFC 6749 §4.1.2 recommends at most 10 minutes,
	// which Validate enforces.
	AuthCodeTTL Duration `yaml:"auth_code_ttl"`
	// RefreshTokenTTL is the absolute lifetime of a refresh token family: rotation
	// never extends it. Default 720h.
	RefreshTokenTTL Duration `yaml:"refresh_token_ttl"`
	// RefreshIdleTTL ends a family that is not used for this long. Default 168h.
	RefreshIdleTTL Duration `yaml:"refresh_idle_ttl"`
	// RefreshReuseGrace is how long after a refresh token was rotated it may be
	// presented again without counting as reuse: the retry gets the same
	// successor token as the first use (with a fresh access token), never a
	// second live token, so the concurrent refreshes of an SPA or CLI are
	// forgiven without forking the family. Outside the window, or once the
	// successor was itself rotated, presenting it is reuse and revokes the
	// family. Default 5s (0s means the default); at most 1m.
	RefreshReuseGrace Duration `yaml:"refresh_reuse_grace"`
	// DefaultAudience is the aud of access tokens for clients without their own
	// audience. No default: without it every client must name its audience
	// (the demo file sets the sample API, http://127.0.0.1:9095).
	DefaultAudience []string `yaml:"default_audience"`
}

// Sessions configures the browser login session.
type Sessions struct {
	TTL Duration `yaml:"ttl"` // default 12h
}

// Passwords are the argon2id parameters for user passwords. The defaults
// (19 MiB, 2 passes, 1 lane) are the OWASP Password Storage Cheat Sheet's
// minimum for argon2id, within RFC 9106 §4's recommendations.
type Passwords struct {
	MemoryKiB   uint32 `yaml:"memory_kib"`  // default 19456
	Iterations  uint32 `yaml:"iterations"`  // default 2
	Parallelism uint8  `yaml:"parallelism"` // default 1
}

// AccessAlgorithm is the algorithm that signs access tokens.
func (s Signing) AccessAlgorithm() string {
	if s.AccessTokenAlgorithm != "" || len(s.Algorithms) == 0 {
		return s.AccessTokenAlgorithm
	}
	return s.Algorithms[0]
}

// Housekeeping configures the background deletion of what can no longer be used.
type Housekeeping struct {
	Interval  Duration `yaml:"interval"`   // default 10m
	BatchSize int      `yaml:"batch_size"` // default 500 rows per kind and statement
}

// UI configures the pages.
type UI struct {
	// TemplatesDir, when set, holds login.html, consent.html, error.html,
	// logout.html, logged_out.html and logo.svg replacing the built-in ones
	// (any subset).
	TemplatesDir string `yaml:"templates_dir,omitempty"`
}

// Client is an OAuth 2.0 client registration.
type Client struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"` // default: ID
	// Secret in the clear; absent (and no SecretHash) makes a public client,
	// which must use PKCE.
	Secret string `yaml:"secret,omitempty"`
	// SecretHash is the hex SHA-256 of the secret, so a config file need not
	// hold the secret itself. Mutually exclusive with Secret.
	SecretHash             string   `yaml:"secret_hash,omitempty"`
	RedirectURIs           []string `yaml:"redirect_uris"`
	PostLogoutRedirectURIs []string `yaml:"post_logout_redirect_uris,omitempty"`
	// GrantTypes default [authorization_code]. Allowed: authorization_code,
	// refresh_token, password, client_credentials.
	GrantTypes []string `yaml:"grant_types"`
	Scopes     []string `yaml:"scopes"` // default [openid, profile, email]
	// Audience is the aud of this client's access tokens; empty means
	// tokens.default_audience.
	Audience    []string `yaml:"audience,omitempty"`
	SkipConsent bool     `yaml:"skip_consent"`
	// AllowIntrospection lets the client call the introspection endpoint
	// (RFC 7662); resource servers that must see revocations at once need it.
	AllowIntrospection bool `yaml:"allow_introspection,omitempty"`
	// IDTokenSignedResponseAlg (OIDC Dynamic Client Registration §2); empty
	// means signing.id_token_algorithm.
	IDTokenSignedResponseAlg string `yaml:"id_token_signed_response_alg,omitempty"`
	// BackchannelLogoutURI receives a logout token when a session the
	// client got tokens in ends (OpenID Connect Back-Channel Logout 1.0
	// §2.2); empty: the client is not told.
	BackchannelLogoutURI string `yaml:"backchannel_logout_uri,omitempty"`
	// BackchannelLogoutSessionRequired: the client needs sid in its logout
	// tokens. The server always sends it; the flag is recorded.
	BackchannelLogoutSessionRequired bool `yaml:"backchannel_logout_session_required,omitempty"`
	// TokenEndpointAuthMethod (RFC 7591 §2): client_secret_basic,
	// client_secret_post, private_key_jwt or none. Empty: either secret
	// method for a client with a secret, none for one without.
	TokenEndpointAuthMethod string `yaml:"token_endpoint_auth_method,omitempty"`
	// JWKS is the client's public JWK Set ({keys: [...]}), for
	// private_key_jwt and signed request objects; JWKSURI is where the
	// client publishes it instead (https, or http on loopback). At most one.
	// An empty mapping is none. JWKSJSON gives it as the JSON the store keeps.
	JWKS    map[string]any `yaml:"jwks,omitempty"`
	JWKSURI string         `yaml:"jwks_uri,omitempty"`
	// RequirePushedAuthorizationRequests (RFC 9126 §6): the client's
	// authorization requests must come through /par.
	RequirePushedAuthorizationRequests bool `yaml:"require_pushed_authorization_requests,omitempty"`
	// DPoPBoundAccessTokens (RFC 9449 §5.2): the client's access tokens
	// are always DPoP-bound; a token request without a proof is refused.
	DPoPBoundAccessTokens bool `yaml:"dpop_bound_access_tokens,omitempty"`
	// Profile fapi2 applies the FAPI 2.0 Security Profile to the client:
	// PAR, PKCE S256, DPoP and private_key_jwt required, PS256/ES256/EdDSA
	// only, codes of at most 60s. Empty: none. The server treats a fapi2
	// client as requiring PAR and DPoP whatever the two flags above say;
	// ApplyDefaults does not set them, so the file reads as written.
	Profile string `yaml:"profile,omitempty"`
	// RequireMFA: the client's users must sign in with a second factor
	// (a password-only session is stepped up first).
	RequireMFA bool `yaml:"require_mfa,omitempty"`
	// DefaultACRValues are the acr_values of the client's requests that
	// send none (OIDC Registration §2).
	DefaultACRValues []string `yaml:"default_acr_values,omitempty"`
}

// Public reports whether the client cannot authenticate (RFC 6749 §2.1):
// token_endpoint_auth_method none, or no method and no secret. A
// private_key_jwt client has no secret and is confidential all the same.
func (c Client) Public() bool {
	return c.TokenEndpointAuthMethod == AuthNone || (c.TokenEndpointAuthMethod == "" && c.Secret == "" && c.SecretHash == "")
}

// User is a seeded user account. Exactly one of Password and PasswordHash is set.
type User struct {
	Username      string `yaml:"username"`
	Password      string `yaml:"password,omitempty"`
	PasswordHash  string `yaml:"password_hash,omitempty"`
	Email         string `yaml:"email,omitempty"`
	EmailVerified bool   `yaml:"email_verified"`
	Name          string `yaml:"name"`
	// Claims are the user's other standard claims (see UserClaims).
	Claims UserClaims `yaml:"claims,omitempty"`
	// Disabled users cannot sign in; disabling one ends their sessions
	// and revokes their refresh tokens at the next start, and enabling
	// gives nothing back. The entry stays, so the user's id (sub) does.
	Disabled bool `yaml:"disabled,omitempty"`
	// RequireMFA: the user must sign in with a second factor (a passkey,
	// a TOTP code or a recovery code). Until they have enrolled one, they
	// may sign in with the password only to /account, to enrol it.
	RequireMFA bool `yaml:"require_mfa,omitempty"`
}

// Environment variables that override the file. AUTHSERVER_CONFIG is read by
// Path, not by Load.
const (
	EnvConfig        = "AUTHSERVER_CONFIG"
	EnvListen        = "AUTHSERVER_LISTEN"
	EnvIssuer        = "AUTHSERVER_ISSUER"
	EnvStorageDriver = "AUTHSERVER_STORAGE_DRIVER"
	EnvStorageDSN    = "AUTHSERVER_STORAGE_DSN"
)

// Defaults that are not derived from other fields.
const (
	DefaultListen     = "127.0.0.1:9096"
	DefaultIssuer     = "http://127.0.0.1:9096"
	DefaultDriver     = "sqlite"
	DefaultSQLiteDSN  = "./data/authserver.db"
	DefaultIDTokenAlg = "RS256"
	// DefaultMetricsListen keeps /metrics on loopback; MetricsOff disables it.
	DefaultMetricsListen = "127.0.0.1:9097"
	MetricsOff           = "off"
	// DefaultRefreshReuseGrace covers the concurrent refreshes of one app.
	DefaultRefreshReuseGrace = 5 * time.Second
	defaultDataDir           = "./data"
	kekFileName              = "key-encryption-key"
)

//go:embed authserver.yaml
var exampleYAML []byte

// Example returns the embedded authserver.yaml: the demo configuration and the
// documented example, for a `print the example config` command.
func Example() []byte { return append([]byte(nil), exampleYAML...) }

// Default returns the demo configuration used when no file is given: the
// embedded authserver.yaml with defaults applied. Every call returns a fresh
// value, so callers may modify it.
func Default() Config {
	c, err := Parse(exampleYAML)
	if err != nil {
		// A test decodes the embedded file, so this is a build defect.
		panic("config: embedded authserver.yaml: " + err.Error())
	}
	c.ApplyDefaults()
	return c
}

// Path chooses the configuration file: the --config flag value, else
// $AUTHSERVER_CONFIG, else "" (the embedded demo configuration).
func Path(flagValue string, getenv func(string) string) string {
	if flagValue != "" || getenv == nil {
		return flagValue
	}
	return getenv(EnvConfig)
}

// Load reads the file at path (or the embedded demo configuration when path is
// ""), decodes it strictly, applies the environment overrides read through
// getenv, fills defaults and validates. getenv is normally os.Getenv; nil means
// no overrides, which keeps tests independent of the process environment.
//
// Overrides are applied before defaults rather than after: an override only
// replaces a value, so the outcome is the same, except that derived defaults
// (the issuer from listen, the sqlite DSN for the driver) follow the override.
//
// Problems in the file and in its values are returned together, in one
// *ValidationError, so one run of `authserver check-config` shows them all.
func Load(path string, getenv func(string) string) (Config, error) {
	data := exampleYAML
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		data = b
	}
	return load(data, getenv)
}

// ApplyEnv replaces fields with the non-empty AUTHSERVER_* variables that
// getenv returns. A nil getenv does nothing.
func (c *Config) ApplyEnv(getenv func(string) string) {
	if getenv == nil {
		return
	}
	for _, o := range []struct {
		name string
		dst  *string
	}{
		{EnvListen, &c.Listen},
		{EnvIssuer, &c.Issuer},
		{EnvStorageDriver, &c.Storage.Driver},
		{EnvStorageDSN, &c.Storage.DSN},
	} {
		if v := getenv(o.name); v != "" {
			*o.dst = v
		}
	}
}

// ApplyDefaults fills every zero field that has a default. It never overwrites
// a value that is set, so it is safe to call more than once; a value set to
// zero explicitly (for example access_token_ttl: 0s) therefore gets the default.
func (c *Config) ApplyDefaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.Issuer == "" {
		c.Issuer = issuerFor(c.Listen)
		if c.TLS.CertFile != "" { // the listener speaks only https
			c.Issuer = "https" + strings.TrimPrefix(c.Issuer, "http")
		}
	}
	if c.Storage.Driver == "" {
		c.Storage.Driver = DefaultDriver
	}
	if c.Storage.DSN == "" && c.Storage.Driver == "sqlite" {
		c.Storage.DSN = DefaultSQLiteDSN
	}
	if c.Storage.SQLiteSynchronous == "" && c.Storage.Driver == "sqlite" {
		c.Storage.SQLiteSynchronous = "full"
	}
	if c.Observability.MetricsListen == "" {
		c.Observability.MetricsListen = DefaultMetricsListen
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	th := &c.Security.Throttle
	if th.Enabled == nil {
		on := true
		th.Enabled = &on
	}
	for _, d := range []struct {
		v   *int
		def int
	}{{&th.FreeFailures, 5}, {&th.IPFreeFailures, 20}, {&th.ClientFreeFailures, 5}, {&th.IPHashSlots, 2}} {
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	setDuration(&th.BaseDelay, time.Second)
	setDuration(&th.MaxDelay, 15*time.Minute)
	setDuration(&th.ResetAfter, time.Hour)

	if len(c.Signing.Algorithms) == 0 {
		c.Signing.Algorithms = []string{"ES256", "RS256"}
	}
	if c.Signing.RSABits == 0 {
		c.Signing.RSABits = 2048
	}
	setDuration(&c.Signing.RotationPeriod, 720*time.Hour)
	setDuration(&c.Signing.PublishLead, 24*time.Hour)
	setDuration(&c.Signing.JWKSMaxAge, time.Hour)
	setDuration(&c.Signing.KeyCheckInterval, time.Minute)
	if c.Signing.IDTokenAlgorithm == "" {
		c.Signing.IDTokenAlgorithm = DefaultIDTokenAlg
	}

	t := &c.Tokens
	setDuration(&t.AccessTokenTTL, 15*time.Minute)
	setDuration(&t.IDTokenTTL, 15*time.Minute)
	setDuration(&t.AuthCodeTTL, 60*time.Second)
	setDuration(&t.RefreshTokenTTL, 720*time.Hour)
	setDuration(&t.RefreshIdleTTL, 168*time.Hour)
	setDuration(&t.RefreshReuseGrace, DefaultRefreshReuseGrace)
	// DefaultAudience has no default: the demo's sample API must not become
	// the audience of a real deployment.
	setDuration(&c.Sessions.TTL, 12*time.Hour)
	setDuration(&c.Housekeeping.Interval, 10*time.Minute)
	if c.Housekeeping.BatchSize == 0 {
		c.Housekeeping.BatchSize = 500
	}
	setDuration(&c.PAR.RequestURITTL, 60*time.Second)
	setDuration(&c.DPoP.ProofMaxAge, 60*time.Second)
	if len(c.DPoP.Algorithms) == 0 {
		c.DPoP.Algorithms = []string{"ES256", "EdDSA", "PS256", "RS256"}
	}
	if c.Admin.Audience == "" {
		c.Admin.Audience = DefaultAdminAudience
	}
	// rp_id and origins stay empty: WebAuthnRPID and WebAuthnOrigins
	// derive them from the issuer, so the file reads as written and an
	// issuer set by AUTHSERVER_ISSUER moves them too.
	if c.WebAuthn.RPName == "" {
		c.WebAuthn.RPName = DefaultRPName
	}
	r := &c.Registration
	if r.Mode == "" {
		r.Mode = RegistrationOff
	}
	if len(r.AllowedScopes) == 0 {
		r.AllowedScopes = []string{"openid", "profile", "email", "offline_access"}
	}
	if len(r.AllowedGrantTypes) == 0 {
		r.AllowedGrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken}
	}

	if c.Passwords.MemoryKiB == 0 {
		c.Passwords.MemoryKiB = 19456
	}
	if c.Passwords.Iterations == 0 {
		c.Passwords.Iterations = 2
	}
	if c.Passwords.Parallelism == 0 {
		c.Passwords.Parallelism = 1
	}

	for i := range c.Clients {
		cl := &c.Clients[i]
		if cl.Name == "" {
			cl.Name = cl.ID
		}
		if len(cl.GrantTypes) == 0 {
			cl.GrantTypes = []string{GrantAuthorizationCode}
		}
		if len(cl.Scopes) == 0 {
			cl.Scopes = []string{"openid", "profile", "email"}
		}
	}
}

func setDuration(d *Duration, def time.Duration) {
	if *d == 0 {
		*d = Duration(def)
	}
}

// issuerFor derives the default issuer from the listen address. Wildcard hosts
// become 127.0.0.1 because a browser on this machine reaches them there. A
// non-loopback host yields an http issuer that Validate refuses, which is the
// point: such a deployment must name its public https issuer.
func issuerFor(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return DefaultIssuer
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// KEKFile is the key-encryption-key file: signing.key_encryption_key_file if
// set, else "key-encryption-key" next to the sqlite database, else
// ./data/key-encryption-key (postgres, or an in-memory sqlite database).
func (c Config) KEKFile() string {
	if c.Signing.KeyEncryptionKeyFile != "" {
		return c.Signing.KeyEncryptionKeyFile
	}
	dir := defaultDataDir
	if p := sqliteFile(c.Storage); p != "" {
		dir = filepath.Dir(p)
	}
	return filepath.Join(dir, kekFileName)
}

// sqliteFile returns the database file named by a sqlite DSN, or "" when there
// is none. modernc.org/sqlite accepts both a plain path and a "file:" URI with
// query parameters.
func sqliteFile(s Storage) string {
	if s.Driver != "" && s.Driver != "sqlite" {
		return ""
	}
	dsn := s.DSN
	if strings.HasPrefix(dsn, "file:") {
		dsn = strings.TrimPrefix(dsn, "file:")
		dsn, _, _ = strings.Cut(dsn, "?")
	}
	if dsn == "" || dsn == ":memory:" || strings.Contains(s.DSN, "mode=memory") {
		return ""
	}
	return dsn
}
