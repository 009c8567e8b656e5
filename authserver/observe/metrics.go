package observe

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Label values that are known in advance. They are created at zero, so a
// dashboard or an alert on a rate sees the series before the first event.
const (
	OutcomeSucceeded = "succeeded"
	OutcomeFailed    = "failed"

	ThrottleLogin      = "login"
	ThrottleClientAuth = "client_auth"

	// RouteUnmatched is the route label of a request no pattern matched, so
	// that scanners probing random paths cannot create series.
	RouteUnmatched = "unmatched"
)

// grantTypes are the grant_type values the token endpoint can issue for.
var grantTypes = []string{"authorization_code", "refresh_token", "password", "client_credentials"}

// Metrics are the Prometheus metrics of one server. They live in their own
// registry, never the global default one, so that two servers in one process
// (tests, or two providers embedded in one program) count separately and
// never collide on registration.
//
// Every label value is bounded: route patterns (not paths), status codes,
// grant types the server supports, fixed outcomes and kinds. Never put a
// client-supplied string in a label.
//
// The methods are safe on a nil *Metrics (they do nothing), so code that
// counts need not check whether metrics are wired.
type Metrics struct {
	reg             *prometheus.Registry
	requests        *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	tokensIssued    *prometheus.CounterVec
	logins          *prometheus.CounterVec
	throttled       *prometheus.CounterVec
	refreshReuse    prometheus.Counter
	revocations     prometheus.Counter
	keyRotations    prometheus.Counter
	storeErrors     prometheus.Counter
	backchannel     *prometheus.CounterVec
	registryHandler http.Handler
}

// NewMetrics creates the metrics of one server in a fresh registry, with the
// Go runtime and process collectors.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authserver_http_requests_total",
			Help: "HTTP requests served, by route pattern (\"unmatched\" when no route matched) and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "authserver_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		tokensIssued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authserver_tokens_issued_total",
			Help: "Successful token responses, by grant type.",
		}, []string{"grant_type"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authserver_logins_total",
			Help: "Password sign-ins on the login form and the password grant, by outcome (succeeded, failed).",
		}, []string{"outcome"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authserver_throttled_requests_total",
			Help: "Requests refused by throttling, by kind (login, client_auth).",
		}, []string{"kind"}),
		refreshReuse: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authserver_refresh_reuse_detected_total",
			Help: "Spent refresh tokens presented again; each revoked its whole family.",
		}),
		revocations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authserver_revocations_total",
			Help: "Tokens revoked at the revocation endpoint (RFC 7009).",
		}),
		keyRotations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authserver_key_rotations_total",
			Help: "Changes of the signing-key set seen by the key schedule (rotation by this or another replica).",
		}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authserver_store_errors_total",
			Help: "Internal (mostly storage) errors answered as server_error or an error page.",
		}),
		backchannel: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authserver_backchannel_logouts_total",
			Help: "Back-channel logout tokens sent to relying parties, by outcome (succeeded, failed after every attempt or refused).",
		}, []string{"outcome"}),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.tokensIssued, m.logins, m.throttled,
		m.refreshReuse, m.revocations, m.keyRotations, m.storeErrors, m.backchannel,
	)
	for _, gt := range grantTypes {
		m.tokensIssued.WithLabelValues(gt)
	}
	for _, o := range []string{OutcomeSucceeded, OutcomeFailed} {
		m.logins.WithLabelValues(o)
		m.backchannel.WithLabelValues(o)
	}
	for _, k := range []string{ThrottleLogin, ThrottleClientAuth} {
		m.throttled.WithLabelValues(k)
	}
	m.registryHandler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	return m
}

// Handler serves the metrics in the Prometheus exposition format. Mount it
// on a listener of its own (observability.metrics_listen), not on the
// public one.
func (m *Metrics) Handler() http.Handler { return m.registryHandler }

// Registry is the registry the metrics live in, for a program that wants to
// add its own collectors next to them.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// request counts one served request. route must be a ServeMux pattern or
// RouteUnmatched.
func (m *Metrics) request(route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

// TokenIssued counts a successful token response for grantType, which must
// be a grant type the server supports (never the raw form value).
func (m *Metrics) TokenIssued(grantType string) {
	if m != nil {
		m.tokensIssued.WithLabelValues(grantType).Inc()
	}
}

// Login counts a password sign-in; outcome is OutcomeSucceeded or OutcomeFailed.
func (m *Metrics) Login(outcome string) {
	if m != nil {
		m.logins.WithLabelValues(outcome).Inc()
	}
}

// Throttled counts a request refused by throttling; kind is ThrottleLogin or
// ThrottleClientAuth.
func (m *Metrics) Throttled(kind string) {
	if m != nil {
		m.throttled.WithLabelValues(kind).Inc()
	}
}

// RefreshReuseDetected counts a replayed refresh token.
func (m *Metrics) RefreshReuseDetected() {
	if m != nil {
		m.refreshReuse.Inc()
	}
}

// Revocation counts a token revoked at the revocation endpoint.
func (m *Metrics) Revocation() {
	if m != nil {
		m.revocations.Inc()
	}
}

// KeyRotation counts a change of the signing-key set.
func (m *Metrics) KeyRotation() {
	if m != nil {
		m.keyRotations.Inc()
	}
}

// BackchannelLogout counts one back-channel logout; outcome is
// OutcomeSucceeded or OutcomeFailed.
func (m *Metrics) BackchannelLogout(outcome string) {
	if m != nil {
		m.backchannel.WithLabelValues(outcome).Inc()
	}
}

// StoreError counts an internal error the server could only answer with
// server_error (or the error page).
func (m *Metrics) StoreError() {
	if m != nil {
		m.storeErrors.Inc()
	}
}
