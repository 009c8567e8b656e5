// Package authserver is the OAuth 2.0 / OpenID Connect provider: the
// authorize, login and consent pages, the token endpoint and its grants,
// userinfo, discovery and the JWKS. Server is an http.Handler.
//
// It depends on storage (persistence), keys (signing) and templates (pages);
// it must never import cmd or resource. go-oauth2 is confined to engine.go.
package authserver

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/go-oauth2/oauth2/v4/manage"

	"github.com/authserver-dev/authserver/authserver/password"
	"github.com/authserver-dev/authserver/authserver/storage"
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
	// secureCookies is set when the issuer is https.
	secureCookies bool
	discovery     []byte
	// dummyHash is verified against when a username is unknown, so that a
	// login takes as long whether or not the user exists.
	dummyHash string
	// hashSlots bounds concurrent password verifications; verify is
	// password.Verify (a field so a test can watch the bound).
	hashSlots chan struct{}
	verify    func(hash, pw string) (bool, error)
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
	if len(cfg.CSRFKey) < 32 {
		return nil, errors.New("authserver: CSRFKey must have at least 32 bytes")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.JWKSMaxAge <= 0 {
		cfg.JWKSMaxAge = time.Hour
	}
	dummy, err := password.Hash(randomToken(), password.DefaultParams)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:           cfg,
		store:         cfg.Store,
		keys:          cfg.Keys,
		pages:         cfg.Pages,
		log:           cfg.Logger,
		now:           cfg.Now,
		secureCookies: iss.Scheme == "https",
		dummyHash:     dummy,
		hashSlots:     make(chan struct{}, 2*runtime.GOMAXPROCS(0)),
		verify:        password.Verify,
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
	s.engine = newEngine(s)
	if s.discovery, err = s.discoveryDocument(); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathDiscovery, s.handleDiscovery)
	mux.HandleFunc("GET "+pathASMeta, s.handleDiscovery)
	mux.HandleFunc("GET "+pathJWKS, s.handleJWKS)
	mux.HandleFunc("GET "+pathAuthorize, s.handleAuthorize)
	mux.HandleFunc("POST "+pathAuthorize, s.handlePostAuthorize)
	mux.HandleFunc("POST "+pathLogin, s.handleLogin)
	mux.HandleFunc("POST "+pathToken, s.handleToken)
	mux.HandleFunc("GET "+pathUserinfo, s.handleUserinfo)
	mux.HandleFunc("POST "+pathUserinfo, s.handleUserinfo)
	mux.HandleFunc("POST "+pathRevoke, s.handleRevoke)
	mux.HandleFunc("POST "+pathIntrospect, s.handleIntrospect)
	mux.HandleFunc("GET "+pathLogout, s.handleLogout)
	mux.HandleFunc("POST "+pathLogout, s.handleLogout)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.Handle("GET /static/", s.pages.AssetHandler())
	s.mux = mux
}

// ServeHTTP serves every endpoint of the provider.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// url returns the absolute URL of an endpoint path.
func (s *Server) url(path string) string { return strings.TrimSuffix(s.cfg.Issuer, "/") + path }
