package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// appConfig is what the web app and the password mode need to know.
type appConfig struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	Listen       string // host:port; the redirect URI is http://<Listen>/callback
	APIURL       string
	Scopes       []string
	// DPoP makes the app hold an ephemeral ES256 key and send DPoP proofs
	// (RFC 9449) with its token requests and API calls, so that its access
	// tokens are bound to the key.
	DPoP bool

	// Provider, when set, is used instead of discovery, so tests need no
	// network. Without discovery there is no end_session_endpoint.
	Provider *oidc.Provider
	// DiscoveryTimeout bounds how long newApp waits for a provider that is
	// still starting; zero means 30 s.
	DiscoveryTimeout time.Duration
	HTTPClient       *http.Client // zero means a client with a 15 s timeout
	Logger           *slog.Logger // zero means discard
	Now              func() time.Time
}

// app is the demo web app. Its state lives in memory: a restart forgets every
// session, which is what a demo wants.
type app struct {
	cfg        appConfig
	log        *slog.Logger
	client     *http.Client // with --dpop, it adds the proofs
	dpop       *dpopKey     // nil without --dpop
	oauth      *oauth2.Config
	verifier   *oidc.IDTokenVerifier
	endSession string // the provider's end_session_endpoint, if any
	baseURL    string // http://<listen>, without a trailing slash
	now        func() time.Time
	pages      *pages
	logins     *store[pendingLogin]
	sessions   *store[*session]
}

// Lifetimes of the server-side state. A login attempt needs only the time a
// person takes to sign in and approve; a session lasts a working day.
const (
	loginTTL    = 10 * time.Minute
	sessionTTL  = 8 * time.Hour
	maxLogins   = 10000 // bounds memory if someone hammers /login
	maxSessions = 10000
)

// newApp discovers the provider (unless cfg.Provider is set) and builds the app.
func newApp(ctx context.Context, cfg appConfig) (*app, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ClientID == "" {
		return nil, errors.New("a client ID is required")
	}
	base, err := baseURL(cfg.Listen)
	if err != nil {
		return nil, err
	}
	provider := cfg.Provider
	if provider == nil {
		provider, err = discover(ctx, cfg)
		if err != nil {
			return nil, err
		}
	}
	var meta struct {
		EndSession  string   `json:"end_session_endpoint"`
		AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
		DPoPAlgs    []string `json:"dpop_signing_alg_values_supported"`
	}
	// A hand-made provider has no discovery document; that only means no
	// RP-initiated logout and auto-detected client authentication.
	discovered := provider.Claims(&meta) == nil
	endpoint := provider.Endpoint()
	endpoint.AuthStyle = authStyle(discovered, meta.AuthMethods, cfg.ClientSecret)
	client, key := cfg.HTTPClient, (*dpopKey)(nil)
	if cfg.DPoP {
		if err := checkDPoPSupport(discovered, meta.DPoPAlgs); err != nil {
			return nil, err
		}
		if key, err = newDPoPKey(cfg.Now); err != nil {
			return nil, err
		}
		if client, err = dpopClient(cfg.HTTPClient, key, endpoint.TokenURL); err != nil {
			return nil, err
		}
	}

	pg, err := loadPages()
	if err != nil {
		return nil, err
	}
	return &app{
		cfg:    cfg,
		log:    cfg.Logger,
		client: client,
		dpop:   key,
		oauth: &oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Endpoint:     endpoint,
			RedirectURL:  base + "/callback",
			Scopes:       cfg.Scopes,
		},
		verifier:   provider.Verifier(&oidc.Config{ClientID: cfg.ClientID, Now: cfg.Now}),
		endSession: meta.EndSession,
		baseURL:    base,
		now:        cfg.Now,
		pages:      pg,
		logins:     newStore[pendingLogin](loginTTL, maxLogins, cfg.Now),
		sessions:   newStore[*session](sessionTTL, maxSessions, cfg.Now),
	}, nil
}

// authStyle picks how the client authenticates at the token endpoint from
// what discovery advertises. Auto-detection would try one style, then the
// other, and report only the second error, which hides the provider's real
// answer (say invalid_grant behind an invalid_client).
func authStyle(discovered bool, methods []string, secret string) oauth2.AuthStyle {
	switch {
	case secret == "":
		return oauth2.AuthStyleInParams // a public client sends only client_id
	case !discovered:
		return oauth2.AuthStyleAutoDetect
	case len(methods) == 0 || slices.Contains(methods, "client_secret_basic"):
		// OIDC Discovery 1.0 §3: absent means client_secret_basic.
		return oauth2.AuthStyleInHeader
	case slices.Contains(methods, "client_secret_post"):
		return oauth2.AuthStyleInParams
	default:
		return oauth2.AuthStyleAutoDetect
	}
}

// baseURL is where the browser reaches the app. A wildcard listen address
// cannot be put in a redirect URI, so it becomes the loopback address.
func baseURL(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("--listen %q: %w", listen, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// discover fetches the provider's discovery document, retrying with backoff
// while the provider may still be starting. An issuer mismatch is a
// configuration error and is not retried.
func discover(ctx context.Context, cfg appConfig) (*oidc.Provider, error) {
	timeout := cfg.DiscoveryTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	deadline := time.Now().Add(timeout)
	ctx = oidc.ClientContext(ctx, cfg.HTTPClient)
	delay := 250 * time.Millisecond
	for {
		provider, err := oidc.NewProvider(ctx, cfg.Issuer)
		if err == nil {
			return provider, nil
		}
		var mismatch *oidc.IssuerMismatchError
		if errors.As(err, &mismatch) {
			return nil, fmt.Errorf("discovery: %w (check --issuer)", err)
		}
		if time.Now().Add(delay).After(deadline) {
			return nil, fmt.Errorf("discovery at %s failed for %s: %w", cfg.Issuer, timeout, err)
		}
		cfg.Logger.Info("waiting for the provider", "issuer", cfg.Issuer, "retry_in", delay, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, 4*time.Second)
	}
}

// Handler routes the app's pages.
func (a *app) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /login", a.login)
	mux.HandleFunc("GET /login/mfa", a.loginMFA)
	mux.HandleFunc("GET /callback", a.callback)
	mux.HandleFunc("GET /me", a.me)
	mux.HandleFunc("POST /refresh", a.refresh)
	mux.HandleFunc("POST /call", a.call)
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("POST /backchannel-logout", a.backchannelLogout)
	mux.Handle("GET "+a.pages.cssPath, a.pages.stylesheet())
	return mux
}

// formActionOrigins are where the app's forms may lead: itself, and the
// provider's logout endpoint that POST /logout redirects to (browsers apply
// form-action to redirects after a form submission).
func (a *app) formActionOrigins() []string {
	if a.endSession == "" {
		return nil
	}
	u, err := url.Parse(a.endSession)
	if err != nil || u.Host == "" {
		return nil
	}
	return []string{u.Scheme + "://" + u.Host}
}
