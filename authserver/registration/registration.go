// Package registration serves dynamic client registration: RFC 7591 at
// POST <issuer>/register, and RFC 7592 management of the clients registered
// there at GET, PUT and DELETE <issuer>/register/{client_id}.
//
// It owns what only registration has: reading the RFC's JSON metadata,
// registration.* (mode, allowed scopes and grant types), the rules of
// application_type (OpenID Connect Registration 1.0 §2, RFC 8252), what a
// registered client never gets (skip_consent, introspection, the password
// grant, an audience of its own, the admin scope), and the RFC's error and
// bearer-token answers. Everything else is the admin service's
// (authserver/admin): the rules every client follows (those of a clients
// entry of the configuration file), initial access tokens, storing the
// client as database-owned with the hash of its registration access token,
// and the audit event client.registered.
//
// It imports admin, storage, observe and config; only setup imports it.
// The client's keys (jwks) are checked with admin.JWKSProblems, as the
// admin service and setup check them.
// Package authserver mounts the Handler (authserver.Config.Registration)
// without importing it.
package registration

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/authserver-dev/authserver/authserver/admin"
	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/config"
)

// ClientReader reads a stored client. An RFC 7592 update may name the
// client's secret (client_secret), which must then be its current one;
// admin.Client does not carry the secret's hash, the store does.
type ClientReader interface {
	GetClient(ctx context.Context, id string) (storage.Client, error)
}

// Options are what a Handler works with.
type Options struct {
	// Service does the work: it spends initial access tokens and creates,
	// reads, replaces and deletes registered clients.
	Service *admin.Service
	// Clients is the provider's store (see ClientReader).
	Clients ClientReader
	// Config is the validated configuration (defaults applied): issuer,
	// registration.*, tokens.default_audience and signing.
	Config config.Config
	// Logger receives audit events (refused initial access tokens) and
	// errors of the store; nil is slog.Default.
	Logger *slog.Logger
}

// Handler is the registration endpoint and the client configuration
// endpoint, an http.Handler for the routes above (the client's id is
// r.PathValue("client_id")). It is safe for concurrent use.
type Handler struct {
	svc     *admin.Service
	clients ClientReader
	cfg     config.Config
	issuer  string // without a trailing slash
	// loopbackIssuer relaxes the rule for backchannel_logout_uri: on a
	// development server on this machine, the server may post to it.
	loopbackIssuer bool
	log            *slog.Logger
}

// New returns the handler for a registration.mode other than off. It
// refuses a configuration without tokens.default_audience: a registered
// client never chooses the audience of its access tokens (it could name any
// API that trusts this issuer), so they carry the default audience, and a
// token without an audience would be accepted by every such API.
func New(o Options) (*Handler, error) {
	cfg := o.Config
	switch m := cfg.Registration.Mode; m {
	case config.RegistrationOpen, config.RegistrationInitialAccessToken:
	default:
		return nil, fmt.Errorf("registration.mode is %q: there is no registration endpoint to serve (modes %s and %s have one)",
			m, config.RegistrationInitialAccessToken, config.RegistrationOpen)
	}
	if o.Service == nil || o.Clients == nil {
		return nil, errors.New("registration: Options.Service and Options.Clients are required")
	}
	if len(cfg.Tokens.DefaultAudience) == 0 {
		return nil, fmt.Errorf("registration.mode is %s, but tokens.default_audience is empty: a registered client's access tokens carry "+
			"tokens.default_audience (a client that registers itself never chooses an audience of its own), so set tokens.default_audience "+
			"to the identifier(s) of the API(s) those tokens are for, or set registration.mode: off", cfg.Registration.Mode)
	}
	u, err := url.Parse(cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("registration: issuer %q: %w", cfg.Issuer, err)
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &Handler{
		svc:            o.Service,
		clients:        o.Clients,
		cfg:            cfg,
		issuer:         strings.TrimSuffix(cfg.Issuer, "/"),
		loopbackIssuer: config.IsLoopbackHost(u.Hostname()),
		log:            observe.WithRequestContext(logger),
	}, nil
}

// actor names the registration endpoint in the admin service's audit events.
const actor = "registration"

// ServeHTTP dispatches to the registration endpoint (no client_id) or the
// client configuration endpoint. Every answer may carry a secret or says
// something about one, so none is cached (RFC 7591 §3.2, RFC 7592 §3).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	r = r.WithContext(admin.WithActor(r.Context(), actor))
	id := r.PathValue("client_id")
	switch {
	case id == "" && r.Method == http.MethodPost:
		h.register(w, r)
	case id != "" && r.Method == http.MethodGet:
		h.read(w, r, id)
	case id != "" && r.Method == http.MethodPut:
		h.replace(w, r, id)
	case id != "" && r.Method == http.MethodDelete:
		h.delete(w, r, id)
	default:
		allow := "POST"
		if id != "" {
			allow = "GET, PUT, DELETE"
		}
		w.Header().Set("Allow", allow)
		writeError(w, &regError{status: http.StatusMethodNotAllowed, code: "invalid_request", description: "use " + allow})
	}
}

// register is RFC 7591 §3.1. In mode initial_access_token the request
// must carry a token, but the metadata is checked before a use of it is
// spent, so that a mistake in the metadata does not cost one.
func (h *Handler) register(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token := ""
	if h.cfg.Registration.Mode == config.RegistrationInitialAccessToken {
		t, ok := bearerToken(r)
		if !ok {
			h.denied(ctx, "no initial access token")
			writeError(w, errNoToken("registration needs an initial access token (from `authserver registration-token create`) as Authorization: Bearer"))
			return
		}
		token = t
	}
	m, rerr := readMembers(w, r)
	if rerr != nil {
		writeError(w, rerr)
		return
	}
	req, rerr := h.parse(m, nil)
	if rerr != nil {
		writeError(w, rerr)
		return
	}
	if token != "" {
		if err := h.svc.UseRegistrationToken(ctx, token); err != nil {
			if admin.KindOf(err) == admin.KindNotFound {
				h.denied(ctx, "unknown, expired or used-up initial access token")
				writeError(w, errBadToken("the initial access token is unknown, expired or used up"))
				return
			}
			h.failed(w, r, err)
			return
		}
	}
	c, secret, rat, err := h.svc.RegisterClient(ctx, req.client)
	if err != nil {
		h.failed(w, r, err)
		return
	}
	observe.SetClientID(ctx, c.ID)
	writeJSON(w, http.StatusCreated, h.info(c, req.applicationType, secret, rat))
}

// read is RFC 7592 §2.1.
func (h *Handler) read(w http.ResponseWriter, r *http.Request, id string) {
	c, token, ok := h.authorized(w, r, id)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, h.info(c, inferredAppType(c), "", token))
}

// replace is RFC 7592 §2.2: the request is the client's whole metadata, and
// what it leaves out is reset to its default, as at registration. The
// client's id, secret and registration access token stay.
func (h *Handler) replace(w http.ResponseWriter, r *http.Request, id string) {
	c, token, ok := h.authorized(w, r, id)
	if !ok {
		return
	}
	m, rerr := readMembers(w, r)
	if rerr != nil {
		writeError(w, rerr)
		return
	}
	if rerr, err := h.checkIdentity(r.Context(), m, c); err != nil || rerr != nil {
		if err != nil {
			h.failed(w, r, err)
		} else {
			writeError(w, rerr)
		}
		return
	}
	req, rerr := h.parse(m, &c)
	if rerr != nil {
		writeError(w, rerr)
		return
	}
	updated, err := h.svc.ReplaceRegisteredClient(r.Context(), id, req.client)
	if err != nil {
		h.failed(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.info(updated, req.applicationType, "", token))
}

// delete is RFC 7592 §2.3: the client goes with its codes, refresh tokens
// and consent grants (admin DeleteClient), and its registration access
// token with it.
func (h *Handler) delete(w http.ResponseWriter, r *http.Request, id string) {
	if _, _, ok := h.authorized(w, r, id); !ok {
		return
	}
	if err := h.svc.DeleteClient(r.Context(), id); err != nil {
		h.failed(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

const badRegistrationToken = "the registration access token is not valid for this client"

// authorized checks the registration access token of the client id names.
// Every failure is the same 401 (RFC 7592 §2): an unknown id, a client not
// registered here (one of the file or the CLI) and a wrong token look
// alike, so the endpoint does not tell which clients exist.
func (h *Handler) authorized(w http.ResponseWriter, r *http.Request, id string) (admin.Client, string, bool) {
	ctx := r.Context()
	token, ok := bearerToken(r)
	if !ok {
		writeError(w, errNoToken("send the client's registration access token as Authorization: Bearer"))
		return admin.Client{}, "", false
	}
	c, err := h.svc.RegisteredClient(ctx, id, token)
	if err != nil {
		if admin.KindOf(err) == admin.KindNotFound {
			h.denied(ctx, "registration access token not valid for the client", slog.String("client_id", truncate(id, 255)))
			writeError(w, errBadToken(badRegistrationToken))
		} else {
			h.failed(w, r, err)
		}
		return admin.Client{}, "", false
	}
	observe.SetClientID(ctx, c.ID)
	return c, token, true
}

// truncate bounds a value the caller chose before it is logged.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// denied records a refused credential. The token itself is never logged.
func (h *Handler) denied(ctx context.Context, reason string, attrs ...slog.Attr) {
	attrs = append([]slog.Attr{slog.String("endpoint", actor), slog.String("reason", reason)}, attrs...)
	observe.Audit(ctx, h.log, observe.EventAdminDenied, attrs...)
}

// failed answers an error of the admin service: the caller's mistakes as
// RFC 7591 §3.2.2 errors, anything else (the database) as 503 or 500,
// logged and never shown.
func (h *Handler) failed(w http.ResponseWriter, r *http.Request, err error) {
	var ae *admin.Error
	if errors.As(err, &ae) && ae.Kind == admin.KindInvalid {
		ps := make(problems, 0, len(ae.Problems))
		for _, p := range ae.Problems {
			ps = append(ps, problem{field: rfcField(p.Field), message: p.Message})
		}
		if len(ps) == 0 {
			ps = append(ps, problem{message: ae.Message})
		}
		writeError(w, ps.err())
		return
	}
	if admin.KindOf(err) == admin.KindNotFound { // a managed client deleted meanwhile
		writeError(w, errBadToken(badRegistrationToken))
		return
	}
	h.log.ErrorContext(r.Context(), "registration failed", "error", err)
	if errors.Is(err, storage.ErrUnavailable) {
		w.Header().Set("Retry-After", "3")
		writeError(w, &regError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable", description: "the database cannot be reached now; try again shortly"})
		return
	}
	writeError(w, &regError{status: http.StatusInternalServerError, code: "server_error", description: "the registration could not be completed"})
}
