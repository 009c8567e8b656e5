package observe

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// HeaderRequestID carries the request id: accepted from a trusted proxy,
// always returned on the response.
const HeaderRequestID = "X-Request-Id"

// maxRequestIDLen bounds a request id taken from a proxy, so a header cannot
// bloat every log line of the request.
const maxRequestIDLen = 128

type requestKey struct{}

// requestInfo is what the middleware learns about one request, shared by
// pointer through its context so that handlers can add to it (the client id)
// and the access log, written after the handler returns, sees it.
type requestInfo struct {
	id       string
	clientIP netip.Addr
	// clientID is set by a handler once it knows the (registered) client.
	// A request is served by one goroutine, so it needs no lock.
	clientID string
}

func infoFrom(ctx context.Context) *requestInfo {
	ri, _ := ctx.Value(requestKey{}).(*requestInfo)
	return ri
}

// RequestID is the id of the request ctx belongs to, or "" outside a request.
func RequestID(ctx context.Context) string {
	if ri := infoFrom(ctx); ri != nil {
		return ri.id
	}
	return ""
}

// ClientIP is the client's address as the trusted proxies report it (the
// TCP peer when it is not a trusted proxy). It is the zero Addr outside a
// request. Audit events and throttling key on it.
func ClientIP(ctx context.Context) netip.Addr {
	if ri := infoFrom(ctx); ri != nil {
		return ri.clientIP
	}
	return netip.Addr{}
}

// SetClientID records the registered client a request is for, for its
// access-log line. Call it only with the id of a client found in the store,
// never with an unverified form value.
func SetClientID(ctx context.Context, id string) {
	if ri := infoFrom(ctx); ri != nil {
		ri.clientID = id
	}
}

// ClientID is the client id recorded with SetClientID, or "".
func ClientID(ctx context.Context) string {
	if ri := infoFrom(ctx); ri != nil {
		return ri.clientID
	}
	return ""
}

// Middleware gives every request an id and a client IP, and logs and counts
// it once it is served.
type Middleware struct {
	// TrustedProxies may set the client IP (X-Forwarded-For, Forwarded) and
	// the request id (X-Request-Id). Empty: nobody may.
	TrustedProxies []netip.Prefix
	// Logger receives the access-log line (info) of each request.
	Logger  *slog.Logger
	Metrics *Metrics
	// Now is the clock of the duration; nil means time.Now.
	Now func() time.Time
}

// Wrap returns next with the middleware around it. next should be an
// *http.ServeMux (or route through one): the route label and the access
// log's route are the pattern it matched (Request.Pattern), never the path.
func (m *Middleware) Wrap(next http.Handler) http.Handler {
	now := m.Now
	if now == nil {
		now = time.Now
	}
	log := m.Logger
	if log == nil {
		log = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := now()
		peer := peerAddr(r.RemoteAddr)
		trusted := m.trusted(peer)
		ri := &requestInfo{clientIP: peer}
		if trusted {
			ri.clientIP = m.forwardedClient(r.Header, peer)
			ri.id = saneRequestID(r.Header.Get(HeaderRequestID))
		}
		if ri.id == "" {
			ri.id = newRequestID()
		}
		w.Header().Set(HeaderRequestID, ri.id)
		r = r.WithContext(context.WithValue(r.Context(), requestKey{}, ri))
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)

		d := now().Sub(start)
		// ServeMux sets Pattern on the request it is given, so it is
		// readable here once the handler has returned.
		route := r.Pattern
		if route == "" {
			route = RouteUnmatched
		}
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		m.Metrics.request(route, status, d)
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Int64("bytes", rec.bytes),
			slog.Duration("duration", d),
		}
		if ri.clientID != "" {
			attrs = append(attrs, slog.String("client_id", ri.clientID))
		}
		if ri.clientIP.IsValid() {
			attrs = append(attrs, slog.String("client_ip", ri.clientIP.String()))
		}
		// The query string is never logged: codes and tokens travel there.
		log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	})
}

func (m *Middleware) trusted(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range m.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedClient is the client IP of a request whose TCP peer is a trusted
// proxy: walking the X-Forwarded-For chain (or, without one, Forwarded's
// for= values) from the right, the first address that is not itself a
// trusted proxy. Everything left of it was written by the client and is not
// believed. If every hop is trusted, the left-most one is the client; if a
// hop is unreadable, the proxy that reported it is.
func (m *Middleware) forwardedClient(h http.Header, peer netip.Addr) netip.Addr {
	hops := forwardedFor(h)
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			return client
		}
		client = a
		if !m.trusted(a) {
			return a
		}
	}
	return client
}

// forwardedFor lists the hops of X-Forwarded-For (every header line, in
// order) or, when it is absent, the for= parameters of Forwarded (RFC 7239).
func forwardedFor(h http.Header) []string {
	var hops []string
	if xff := h.Values("X-Forwarded-For"); len(xff) > 0 {
		for _, line := range xff {
			for _, hop := range strings.Split(line, ",") {
				hops = append(hops, strings.TrimSpace(hop))
			}
		}
		return hops
	}
	for _, line := range h.Values("Forwarded") {
		for _, elem := range strings.Split(line, ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					hops = append(hops, strings.Trim(v, `"`))
				}
			}
		}
	}
	return hops
}

// parseHop reads one forwarded address: an IP, an IP:port, or [IPv6]:port.
// "unknown" and obfuscated identifiers (RFC 7239 §6) are not addresses.
func parseHop(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// peerAddr is the IP of the TCP peer (Request.RemoteAddr is "ip:port").
func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(remote); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

// saneRequestID returns id if it is fit to be copied into every log line
// and header: non-empty, at most maxRequestIDLen, visible ASCII only (no
// spaces, no control characters that could forge log lines). Else "".
func saneRequestID(id string) string {
	if id == "" || len(id) > maxRequestIDLen {
		return ""
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return ""
		}
	}
	return id
}

// newRequestID is 128 random bits, hex: unique without coordination
// between replicas.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// recorder notes the status and size of a response for the access log.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 { // 1xx are interim responses
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (flush,
// deadlines) through the recorder.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
