// Package authserver is the OAuth 2.0 / OpenID Connect provider: the
// authorize, login and consent pages, the user's account page, the token
// endpoint and its grants, userinfo, discovery and the JWKS. Server is an
// http.Handler.
//
// It depends on storage (persistence), keys (signing), templates (pages),
// password, observe and throttle; it must never import config, cmd or
// resource. go-oauth2 is imported by no other package of the module: its
// grant engine (manage.Manager) is wired to our stores and generators in
// engine.go, held by Server, and called from authorize.go, token.go and
// lifecycle.go.
package authserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/go-oauth2/oauth2/v4/manage"

	"github.com/authserver-dev/authserver/authserver/clientkeys"
	"github.com/authserver-dev/authserver/authserver/dpop"
	"github.com/authserver-dev/authserver/authserver/mfa"
	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/password"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/authserver/throttle"
	"github.com/authserver-dev/authserver/keys"
	"github.com/authserver-dev/authserver/templates"
)

// Config is everything a Server needs, already opened and validated by the
// caller (see package setup for the mapping from the YAML file).
type Config struct {
	// Issuer is the exact iss of every token and the base of every endpoint.
	Issuer string
	Store  storage.Store
	Keys   *keys.Manager
	Pages  *templates.Pages
	// AccessTokenAlg signs access tokens; IDTokenAlg is the default for ID
	// tokens (a client may choose another configured one).
	AccessTokenAlg string
	IDTokenAlg     string
	AccessTokenTTL time.Duration
	IDTokenTTL     time.Duration
	CodeTTL        time.Duration
	SessionTTL     time.Duration
	// RefreshTTL is the absolute lifetime of a refresh-token family,
	// RefreshIdleTTL the lifetime of each token in it.
	RefreshTTL        time.Duration
	RefreshIdleTTL    time.Duration
	RefreshReuseGrace time.Duration
	// JWKSMaxAge is the longest Cache-Control max-age of the JWKS.
	JWKSMaxAge time.Duration
	// DefaultAudience is the aud of access tokens of clients that name none.
	DefaultAudience []string
	// CSRFKey signs CSRF tokens; every replica must share it.
	CSRFKey []byte
	// RefreshKey derives a spent refresh token's successor (see refresh.go),
	// so a retry within the reuse grace window gets the same token on every
	// replica; every replica must share it. Empty means a random key, which
	// suits a single process only.
	RefreshKey []byte
	// CSRFTokenTTL is how long a login, consent or logout form stays good
	// (default 30 minutes).
	CSRFTokenTTL time.Duration
	// ReadyTimeout bounds the store ping of /readyz (default 2s).
	ReadyTimeout time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For,
	// Forwarded and X-Request-Id headers are believed; empty means none.
	TrustedProxies []netip.Prefix
	// Throttle are the back-off policies of failed sign-ins (per username,
	// throttle.KindUsername, and per client IP, KindIP) and of failed client
	// authentications (KindClient); a kind without a policy is not counted,
	// and nil turns throttling off. The counters are in Store, so replicas
	// share them.
	Throttle map[throttle.Kind]throttle.Policy
	// IPHashSlots bounds the password verifications one client IP may have
	// running at once on this replica; more wait, then get 429. 0: no bound
	// per address (the replica-wide bound remains).
	IPHashSlots int
	// PasswordParams are the argon2id parameters of the hashes the server
	// makes: the dummy hash verified for unknown usernames, and the upgrade
	// of an outdated hash at sign-in. Zero means password.DefaultParams.
	PasswordParams password.Params
	// BackchannelClient sends back-channel logout tokens; nil means a
	// client that follows no redirect. BackchannelSweepInterval is how often
	// sessions ended elsewhere (another replica, the CLI) are looked for
	// (default DefaultBackchannelSweep). See RunBackchannelLogout.
	BackchannelClient        *http.Client
	BackchannelSweepInterval time.Duration
	// Registration, when set, serves dynamic client registration (package
	// registration): RFC 7591 at POST /register and RFC 7592 at
	// GET, PUT and DELETE /register/{client_id} (r.PathValue("client_id")),
	// under the issuer's path, advertised as registration_endpoint. Nil: no
	// registration endpoint.
	Registration http.Handler
	// ScopeDescriptions say in words what custom scopes allow, for the
	// consent and account pages (the standard scopes have built-in words).
	ScopeDescriptions map[string]string
	// DPoPAlgorithms are the JWS algorithms accepted in DPoP proofs
	// (default dpop.DefaultAlgorithms), DPoPProofMaxAge how old a proof may
	// be (default 60s), and DPoPRequireNonce demands server nonces in
	// proofs at the token endpoint (RFC 9449 §8).
	DPoPAlgorithms   []string
	DPoPProofMaxAge  time.Duration
	DPoPRequireNonce bool
	// DPoPNonceKey makes the server nonces of DPoPRequireNonce (an HMAC of
	// the time window under it, dpopnonce.go), so that a nonce one replica
	// issued is good at every other; every replica must share it. Empty
	// means a random key, which suits a single process only.
	DPoPNonceKey []byte
	// PARRequired makes every client push its authorization requests
	// (RFC 9126 §5); PARTTL is a request_uri's lifetime (default 60s).
	PARRequired bool
	PARTTL      time.Duration
	// JWKSURIClient fetches clients' jwks_uri (private_key_jwt, request
	// objects); nil means a plain client. The cache adds its own timeout
	// and follows no redirect. A provider that lets untrusted parties
	// register clients should give one whose dialer refuses internal
	// addresses.
	JWKSURIClient *http.Client
	// WebAuthnRPID is the relying party id passkeys are bound to (default:
	// the issuer's host), WebAuthnRPName the name authenticators show
	// (default "authserver"), WebAuthnOrigins the origins ceremonies may
	// come from (default: the issuer's origin). See package mfa.
	WebAuthnRPID    string
	WebAuthnRPName  string
	WebAuthnOrigins []string
	// MFAKey seals the pending second step of a sign-in, passkey ceremony
	// state and TOTP secrets, and keys recovery-code hashes (package mfa);
	// every replica must share it, and changing it makes stored TOTP
	// secrets and recovery codes unusable. Empty means a random key, which
	// suits a single process (and tests) only.
	MFAKey []byte
	// Metrics counts what the server does; nil means a fresh set, so
	// tests need not make one.
	Metrics *observe.Metrics
	Logger  *slog.Logger
	Now     func() time.Time
}

// Server is the provider's HTTP handler.
type Server struct {
	cfg    Config
	store  storage.Store
	keys   *keys.Manager
	pages  *templates.Pages
	log    *slog.Logger
	now    func() time.Time
	engine *manage.Manager
	minter *minter
	mux    *http.ServeMux
	// handler is mux inside the observe middleware (request id, client IP,
	// access log, request metrics).
	handler http.Handler
	metrics *observe.Metrics
	// base is the issuer's path: "" for https://example.com, "/auth" for
	// https://example.com/auth. Every route, page link and cookie lives under it.
	base string
	// secureCookies is set when the issuer is https.
	secureCookies bool
	// crossOrigin refuses page form posts from other origins (sameOrigin).
	crossOrigin *http.CrossOriginProtection
	discovery   []byte
	// discoveryNoPassword is discovery without the password grant, served
	// while no client may use it (see passwordInUse).
	discoveryNoPassword []byte
	passwordGrant       passwordGrantCheck
	// dummyHash is verified against when a username is unknown, so that a
	// login takes as long whether or not the user exists.
	dummyHash string
	// hashSlots bounds concurrent password verifications; verify is
	// password.Verify (a field so a test can watch the bound).
	hashSlots chan struct{}
	verify    func(hash, pw string) (bool, error)
	// backchannel tells clients that their sessions ended (backchannel.go).
	backchannel *backchannelLogout
	// limiter is nil when throttling is off; ipSlots bounds hashes per
	// client IP (nil: no bound). See throttling.go.
	limiter        *throttle.Limiter
	ipSlots        *throttle.Slots
	ipHashWait     time.Duration
	passwordParams password.Params
	// dpop verifies DPoP proofs (senderproof.go), its replay cache in the
	// store; checkDPoPNonce is nil unless server nonces are required, and
	// dpopNonces makes them (dpopnonce.go).
	dpop           *dpop.Verifier
	checkDPoPNonce func(nonce string) bool
	dpopNonces     *dpopNonces
	// jwtVerifier checks client assertions and request objects, its replay
	// cache in the store; clientJWKS caches clients' jwks_uri and
	// inlineJWKS their parsed jwks (clientassertion.go).
	jwtVerifier *clientkeys.Verifier
	clientJWKS  *clientkeys.Cache
	inlineJWKS  *inlineKeySets
	// mfa runs passkey ceremonies, checks TOTP codes and hashes recovery
	// codes (package mfa); its keys come from Config.MFAKey, as does
	// pendingKey, which seals a sign-in's pending second step (pending.go).
	mfa        *mfa.Service
	pendingKey []byte
	// passkeys is false on an issuer at an IP address, which WebAuthn
	// cannot serve (newMFA).
	passkeys bool
}

// Endpoint paths, relative to the issuer. Clients find them via discovery.
const (
	pathAuthorize  = "/authorize"
	pathLogin      = "/login"
	pathToken      = "/token"
	pathUserinfo   = "/userinfo"
	pathRevoke     = "/revoke"
	pathIntrospect = "/introspect"
	pathLogout     = "/logout"
	pathJWKS       = "/jwks.json"
	pathDiscovery  = "/.well-known/openid-configuration"
	pathASMeta     = "/.well-known/oauth-authorization-server"
	pathRegister   = "/register"
	pathPAR        = "/par"
)

// New builds a Server. It does not start listening.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Keys == nil || cfg.Pages == nil {
		return nil, errors.New("authserver: Store, Keys and Pages are required")
	}
	iss, err := url.Parse(cfg.Issuer)
	if err != nil || iss.Host == "" {
		return nil, errors.New("authserver: Issuer must be an absolute URL")
	}
	if !issuerPath.MatchString(iss.Path) || iss.RawPath != "" || (iss.Path != "" && path.Clean(iss.Path) != iss.Path) {
		return nil, fmt.Errorf("authserver: the issuer's path %q must be slash-separated segments of letters, digits and - . _ ~, with no empty, . or .. segment and no trailing slash", iss.Path)
	}
	pages, err := cfg.Pages.WithBasePath(iss.Path)
	if err != nil {
		return nil, err
	}
	if len(cfg.CSRFKey) < 32 {
		return nil, errors.New("authserver: CSRFKey must have at least 32 bytes")
	}
	if len(cfg.RefreshKey) == 0 {
		cfg.RefreshKey = []byte(randomToken())
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	// Every line logged with a request's context carries its request id.
	cfg.Logger = observe.WithRequestContext(cfg.Logger)
	if cfg.Metrics == nil {
		cfg.Metrics = observe.NewMetrics()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.JWKSMaxAge <= 0 {
		cfg.JWKSMaxAge = time.Hour
	}
	if cfg.CSRFTokenTTL <= 0 {
		cfg.CSRFTokenTTL = 30 * time.Minute
	}
	if cfg.PARTTL <= 0 {
		cfg.PARTTL = defaultPARTTL
	}
	crossOrigin, err := newCrossOriginProtection(iss)
	if err != nil {
		return nil, err
	}
	if cfg.PasswordParams == (password.Params{}) {
		cfg.PasswordParams = password.DefaultParams
	}
	// The dummy hash costs what a real one costs only if it is made with
	// the parameters real hashes are made with.
	dummy, err := password.Hash(randomToken(), cfg.PasswordParams)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:            cfg,
		store:          cfg.Store,
		keys:           cfg.Keys,
		pages:          pages,
		base:           iss.Path,
		log:            cfg.Logger,
		metrics:        cfg.Metrics,
		now:            cfg.Now,
		secureCookies:  iss.Scheme == "https",
		crossOrigin:    crossOrigin,
		dummyHash:      dummy,
		hashSlots:      make(chan struct{}, 2*runtime.GOMAXPROCS(0)),
		verify:         password.Verify,
		passwordParams: cfg.PasswordParams,
	}
	if len(cfg.Throttle) > 0 {
		s.limiter = &throttle.Limiter{Store: cfg.Store, Policies: cfg.Throttle, Now: cfg.Now}
	}
	if cfg.IPHashSlots > 0 {
		s.ipSlots, s.ipHashWait = &throttle.Slots{PerKey: cfg.IPHashSlots}, ipHashWait
	}
	s.minter = &minter{
		issuer:     cfg.Issuer,
		keys:       cfg.Keys,
		accessAlg:  cfg.AccessTokenAlg,
		idAlg:      cfg.IDTokenAlg,
		defaultAud: cfg.DefaultAudience,
		idTokenTTL: cfg.IDTokenTTL,
		now:        cfg.Now,
	}
	if err := s.setupDPoP(); err != nil {
		return nil, fmt.Errorf("authserver: DPoP: %w", err)
	}
	if s.jwtVerifier, s.clientJWKS, err = newClientKeys(s); err != nil {
		return nil, fmt.Errorf("authserver: client keys: %w", err)
	}
	s.inlineJWKS = newInlineKeySets()
	if s.mfa, s.pendingKey, s.passkeys, err = newMFA(cfg, iss); err != nil {
		return nil, fmt.Errorf("authserver: passkeys and second factors: %w", err)
	}
	s.engine = newEngine(s)
	s.backchannel = newBackchannelLogout(s)
	if s.discoveryNoPassword, err = s.discoveryWithoutPassword(); err != nil {
		return nil, err
	}
	if s.discovery, err = s.discoveryDocument(); err != nil {
		return nil, err
	}
	s.routes()
	mw := &observe.Middleware{TrustedProxies: cfg.TrustedProxies, Logger: s.log, Metrics: s.metrics}
	s.handler = mw.Wrap(s.mux)
	return s, nil
}

// routes registers every endpoint under the issuer's path (s.path), so an
// issuer https://example.com/auth answers at /auth/authorize and not at
// /authorize: a reverse proxy forwards /auth/ unchanged.
func (s *Server) routes() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+s.path(pathDiscovery), s.handleDiscovery)
	mux.HandleFunc("GET "+s.path(pathASMeta), s.handleDiscovery)
	if s.base != "" {
		// RFC 8414 §3.1 puts the metadata of an issuer with a path at the
		// well-known path followed by the issuer's path; many clients append
		// it to the issuer instead (as OIDC Discovery does), so serve both.
		mux.HandleFunc("GET "+pathASMeta+s.base, s.handleDiscovery)
	}
	mux.HandleFunc("GET "+s.path(pathJWKS), s.handleJWKS)
	mux.HandleFunc("GET "+s.path(pathAuthorize), s.handleAuthorize)
	mux.HandleFunc("POST "+s.path(pathAuthorize), s.handlePostAuthorize)
	mux.HandleFunc("POST "+s.path(pathLogin), s.handleLogin)
	mux.HandleFunc("POST "+s.path(pathPasskeyLogin), s.handlePasskeyLogin)
	mux.HandleFunc("POST "+s.path(pathSecondStep), s.handleSecondStep)
	mux.HandleFunc("POST "+s.path(pathToken), s.handleToken)
	mux.HandleFunc("POST "+s.path(pathPAR), s.handlePAR)
	mux.HandleFunc("GET "+s.path(pathUserinfo), s.handleUserinfo)
	mux.HandleFunc("POST "+s.path(pathUserinfo), s.handleUserinfo)
	mux.HandleFunc("POST "+s.path(pathRevoke), s.handleRevoke)
	mux.HandleFunc("POST "+s.path(pathIntrospect), s.handleIntrospect)
	mux.HandleFunc("GET "+s.path(pathLogout), s.handleLogout)
	mux.HandleFunc("POST "+s.path(pathLogout), s.handleLogout)
	mux.HandleFunc("GET "+s.path(pathAccount), s.handleAccount)
	mux.HandleFunc("POST "+s.path(pathAccount), s.handleAccountAction)
	if reg := s.cfg.Registration; reg != nil {
		mux.Handle("POST "+s.path(pathRegister), reg)
		for _, m := range []string{"GET ", "PUT ", "DELETE "} {
			mux.Handle(m+s.path(pathRegister+"/{client_id}"), reg)
		}
	}
	// Probes answer at the root, where a load balancer or orchestrator asks
	// the listener directly, and under the issuer's path, which is all that a
	// reverse proxy forwarding only that path exposes.
	healthz := func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) }
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", s.handleReady)
	if s.base != "" {
		mux.HandleFunc("GET "+s.path("/healthz"), healthz)
		mux.HandleFunc("GET "+s.path("/readyz"), s.handleReady)
	}
	mux.Handle("GET "+s.path(templates.StaticPrefix), s.pages.AssetHandler())
	s.mux = mux
}

// ServeHTTP serves every endpoint of the provider.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// url returns the absolute URL of an endpoint path.
func (s *Server) url(path string) string { return strings.TrimSuffix(s.cfg.Issuer, "/") + path }

// path returns the request path of an endpoint path: the issuer's path, then
// p. Redirects and page links within the provider use it.
func (s *Server) path(p string) string { return s.base + p }

// issuerPath is what an issuer's path may be: empty, or segments of URL-safe
// characters that need no escaping and mean nothing to a ServeMux pattern.
var issuerPath = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+)*$`)
