package adminapi

import (
	"context"
	_ "embed"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/authserver-dev/authserver/authserver/admin"
	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/resource"
)

// Prefix is the path under which the API lives; a breaking change of the
// API gets a new version prefix.
const Prefix = "/admin/v1/"

// openAPIDocument describes every route of the API (see routes).
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument returns the OpenAPI 3.1 document of the API.
func OpenAPIDocument() []byte { return append([]byte(nil), openAPIDocument...) }

// Config is what the API works with.
type Config struct {
	// Service performs every operation.
	Service *admin.Service
	// Store answers for the state of tokens and their clients.
	Store TokenState
	// Issuer is the provider's issuer; Audience the aud an admin token must
	// carry (admin.audience).
	Issuer   string
	Audience string
	// Provider is the provider's own http.Handler: the token verifier reads
	// discovery and the JWKS from it in-process.
	Provider http.Handler
	Logger   *slog.Logger
	// Metrics counts the API's requests by route; nil counts nothing.
	Metrics *observe.Metrics
	// Now is the clock of token lifetimes; nil means time.Now.
	Now func() time.Time
}

// Handler serves the API. Build it with New.
type Handler struct {
	svc  *admin.Service
	auth *authenticator
	log  *slog.Logger
	mux  *http.ServeMux
	next http.Handler
}

// minRefetch bounds how often tokens with unknown kids make the verifier
// read the JWKS again. Reading it in-process costs little, and a short
// bound lets a token signed by a key rotated in a moment ago through.
const minRefetch = time.Second

// New builds the API. It reads the provider's discovery document and JWKS
// (in-process) to start its token verifier, so cfg.Provider must be ready
// to serve.
func New(ctx context.Context, cfg Config) (*Handler, error) {
	if cfg.Service == nil || cfg.Store == nil || cfg.Provider == nil {
		return nil, errors.New("adminapi: Service, Store and Provider are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	transport, err := newInProcess(cfg.Issuer, cfg.Provider)
	if err != nil {
		return nil, err
	}
	v, err := resource.NewVerifier(ctx, resource.Config{
		Issuer:             cfg.Issuer,
		Audience:           cfg.Audience,
		HTTPClient:         &http.Client{Transport: transport, Timeout: 10 * time.Second},
		Now:                cfg.Now,
		MinRefetchInterval: minRefetch,
		Logger:             cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	h := &Handler{
		svc:  cfg.Service,
		auth: &authenticator{verifier: v, state: cfg.Store, realm: cfg.Audience, log: cfg.Logger},
		log:  cfg.Logger,
		mux:  http.NewServeMux(),
	}
	for _, rt := range h.routes() {
		if rt.public {
			h.mux.HandleFunc(rt.pattern(), h.unauthenticated(rt.serve))
		} else {
			h.mux.HandleFunc(rt.pattern(), h.auth.wrap(rt.serve))
		}
	}
	// Everything else under the prefix is authenticated first, so that the
	// API's shape is told only to its callers.
	h.mux.HandleFunc(Prefix, h.auth.wrap(h.unrouted))
	h.mux.HandleFunc("/", h.unauthenticated(h.unrouted))
	h.next = (&observe.Middleware{Logger: cfg.Logger, Metrics: cfg.Metrics, Now: cfg.Now}).Wrap(h.mux)
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.next.ServeHTTP(w, r) }

// route is one operation of the API. Every route is in openapi.json, and
// every path and method of openapi.json is a route (TestRoutesMatchDocument).
type route struct {
	method, path string
	// public routes are served without a token: only the document.
	public bool
	serve  func(http.ResponseWriter, *http.Request) error
}

func (rt route) pattern() string { return rt.method + " " + rt.path }

func (h *Handler) routes() []route {
	const p = "/admin/v1"
	return []route{
		{method: "GET", path: p + "/openapi.json", public: true, serve: serveDocument},

		{method: "GET", path: p + "/clients", serve: h.listClients},
		{method: "POST", path: p + "/clients", serve: h.createClient},
		{method: "GET", path: p + "/clients/{id}", serve: h.getClient},
		{method: "PATCH", path: p + "/clients/{id}", serve: h.updateClient},
		{method: "DELETE", path: p + "/clients/{id}", serve: h.deleteClient},
		{method: "POST", path: p + "/clients/{id}/secret", serve: h.rotateClientSecret},

		{method: "GET", path: p + "/users", serve: h.listUsers},
		{method: "POST", path: p + "/users", serve: h.createUser},
		{method: "GET", path: p + "/users/{id}", serve: h.getUser},
		{method: "PATCH", path: p + "/users/{id}", serve: h.updateUser},
		{method: "DELETE", path: p + "/users/{id}", serve: h.deleteUser},
		{method: "PUT", path: p + "/users/{id}/password", serve: h.setPassword},
		{method: "POST", path: p + "/users/{id}/disable", serve: h.setDisabled(true)},
		{method: "POST", path: p + "/users/{id}/enable", serve: h.setDisabled(false)},

		{method: "GET", path: p + "/users/{id}/sessions", serve: h.listSessions},
		{method: "DELETE", path: p + "/users/{id}/sessions", serve: h.endSessions},
		{method: "DELETE", path: p + "/users/{id}/sessions/{sid}", serve: h.endSession},

		{method: "GET", path: p + "/users/{id}/factors", serve: h.listFactors},
		{method: "DELETE", path: p + "/users/{id}/factors/passkeys/{pid}", serve: h.removePasskey},
		{method: "DELETE", path: p + "/users/{id}/factors/totp", serve: h.removeTOTP},
		{method: "POST", path: p + "/users/{id}/factors/reset", serve: h.resetFactors},

		{method: "GET", path: p + "/users/{id}/grants", serve: h.listGrants},
		{method: "DELETE", path: p + "/users/{id}/grants/{client_id}", serve: h.revokeGrant},

		{method: "GET", path: p + "/keys", serve: h.listKeys},
		{method: "POST", path: p + "/keys/rotate", serve: h.rotateKeys},

		{method: "GET", path: p + "/registration-tokens", serve: h.listRegistrationTokens},
		{method: "POST", path: p + "/registration-tokens", serve: h.createRegistrationToken},
		{method: "DELETE", path: p + "/registration-tokens/{id}", serve: h.deleteRegistrationToken},
	}
}

func (h *Handler) unauthenticated(serve func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := serve(w, r); err != nil {
			writeError(w, r, h.log, err)
		}
	}
}

// unrouted answers a path that is no route: 405 with Allow when the path
// exists for another method, 404 otherwise.
func (h *Handler) unrouted(w http.ResponseWriter, r *http.Request) error {
	var allow []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := h.mux.Handler(probe); pattern != Prefix && pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		return newProblem(http.StatusNotFound, TypeNotFound, "no such resource; the routes are in "+Prefix+"openapi.json")
	}
	for _, m := range allow {
		w.Header().Add("Allow", m)
	}
	return newProblem(http.StatusMethodNotAllowed, TypeMethodNotAllowed, r.Method+" is not an operation of this resource")
}

func serveDocument(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(openAPIDocument)
	return nil
}
