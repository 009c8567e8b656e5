package observe_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/observe/observetest"
)

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// serve sends one request from peer through the middleware around a mux
// whose handlers log two lines and record a client id, and returns the
// response and the log.
func serve(t *testing.T, trusted []string, peer string, header http.Header, target string) (*httptest.ResponseRecorder, []observetest.Line, *observe.Metrics) {
	t.Helper()
	logs := &observetest.Logs{}
	log := observe.NewLogger(logs, "json", "info")
	var prefixes []netip.Prefix
	for _, p := range trusted {
		prefixes = append(prefixes, netip.MustParsePrefix(p))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		log.InfoContext(r.Context(), "first line of the handler")
		observe.SetClientID(r.Context(), "demo-web")
		log.WarnContext(r.Context(), "second line of the handler", "client_ip_seen", observe.ClientIP(r.Context()).String())
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte("12345"))
	})
	metrics := observe.NewMetrics()
	mw := &observe.Middleware{TrustedProxies: prefixes, Logger: log, Metrics: metrics}
	req := httptest.NewRequest(http.MethodPost, target, nil)
	req.RemoteAddr = peer
	for k, vs := range header {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	mw.Wrap(mux).ServeHTTP(rec, req)
	return rec, logs.Lines(t), metrics
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		trusted []string
		peer    string
		sent    string
		want    string // "" means a generated one
	}{
		{"none sent, generated", nil, "192.0.2.1:1234", "", ""},
		{"from an untrusted peer, ignored", nil, "192.0.2.1:1234", "proxy-id-1", ""},
		{"from a peer outside the trusted range, ignored", []string{"10.0.0.0/8"}, "192.0.2.1:1234", "proxy-id-1", ""},
		{"from a trusted proxy, taken", []string{"10.0.0.0/8"}, "10.1.2.3:1234", "proxy-id-1", "proxy-id-1"},
		{"from a trusted proxy over IPv6, taken", []string{"2001:db8::/32"}, "[2001:db8::7]:443", "abc-DEF_123:xyz", "abc-DEF_123:xyz"},
		{"too long, replaced", []string{"10.0.0.0/8"}, "10.1.2.3:1234", strings.Repeat("a", 129), ""},
		{"with a space, replaced", []string{"10.0.0.0/8"}, "10.1.2.3:1234", "two words", ""},
		{"with a newline, replaced", []string{"10.0.0.0/8"}, "10.1.2.3:1234", "id\nlevel=AUDIT", ""},
		{"with a quote, replaced", []string{"10.0.0.0/8"}, "10.1.2.3:1234", `id"x`, ""},
		{"not ASCII, replaced", []string{"10.0.0.0/8"}, "10.1.2.3:1234", "idé", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			if tc.sent != "" {
				h.Set("X-Request-Id", tc.sent)
			}
			rec, lines, _ := serve(t, tc.trusted, tc.peer, h, "/token")
			got := rec.Header().Get("X-Request-Id")
			if tc.want != "" && got != tc.want {
				t.Errorf("X-Request-Id = %q, want %q", got, tc.want)
			}
			if tc.want == "" && !generatedID.MatchString(got) {
				t.Errorf("X-Request-Id = %q, want a generated 32-hex id", got)
			}
			// Every line of the request carries the id it was answered with.
			if len(lines) != 3 {
				t.Fatalf("want 2 handler lines and 1 access-log line, got %d:\n%v", len(lines), lines)
			}
			for _, l := range lines {
				if l.Str("request_id") != got {
					t.Errorf("line without the request id %q: %s", got, l.Raw)
				}
			}
		})
	}
}

func TestRequestIDsDiffer(t *testing.T) {
	t.Parallel()
	a, _, _ := serve(t, nil, "192.0.2.1:1", nil, "/token")
	b, _, _ := serve(t, nil, "192.0.2.1:1", nil, "/token")
	if a.Header().Get("X-Request-Id") == b.Header().Get("X-Request-Id") {
		t.Error("two requests got the same generated id")
	}
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	proxies := []string{"10.0.0.0/8", "2001:db8:ffff::/48"}
	for _, tc := range []struct {
		name    string
		trusted []string
		peer    string
		header  http.Header
		want    string
	}{
		{"no proxy: the peer", nil, "192.0.2.1:1234", nil, "192.0.2.1"},
		{"untrusted peer: X-Forwarded-For ignored", nil, "192.0.2.1:1234",
			http.Header{"X-Forwarded-For": {"203.0.113.9"}}, "192.0.2.1"},
		{"untrusted peer: Forwarded ignored", proxies, "192.0.2.1:1234",
			http.Header{"Forwarded": {"for=203.0.113.9"}}, "192.0.2.1"},
		{"trusted peer: the forwarded client", proxies, "10.0.0.1:1234",
			http.Header{"X-Forwarded-For": {"203.0.113.9"}}, "203.0.113.9"},
		{"spoofed entries left of the real client are ignored", proxies, "10.0.0.1:1234",
			http.Header{"X-Forwarded-For": {"198.51.100.66, 203.0.113.9"}}, "203.0.113.9"},
		{"a chain of trusted proxies is skipped", proxies, "10.0.0.1:1234",
			http.Header{"X-Forwarded-For": {"198.51.100.66, 203.0.113.9, 10.0.0.2", "10.0.0.3"}}, "203.0.113.9"},
		{"every hop trusted: the left-most", proxies, "10.0.0.1:1234",
			http.Header{"X-Forwarded-For": {"10.9.9.9, 10.0.0.2"}}, "10.9.9.9"},
		{"an unreadable hop: the proxy that reported it", proxies, "10.0.0.1:1234",
			http.Header{"X-Forwarded-For": {"203.0.113.9, garbage, 10.0.0.2"}}, "10.0.0.2"},
		{"empty header from a trusted proxy: the proxy", proxies, "10.0.0.1:1234", nil, "10.0.0.1"},
		{"Forwarded with IPv6 and port", proxies, "[2001:db8:ffff::1]:443",
			http.Header{"Forwarded": {`for=198.51.100.66, for="[2001:db8:cafe::17]:4711";proto=https;by=10.0.0.1`}}, "2001:db8:cafe::17"},
		{"Forwarded unknown: the proxy", proxies, "10.0.0.1:1234",
			http.Header{"Forwarded": {"for=unknown"}}, "10.0.0.1"},
		{"X-Forwarded-For wins over Forwarded", proxies, "10.0.0.1:1234",
			http.Header{"X-Forwarded-For": {"203.0.113.9"}, "Forwarded": {"for=198.51.100.66"}}, "203.0.113.9"},
		{"IPv4-mapped peer", []string{"10.0.0.0/8"}, "[::ffff:10.0.0.1]:1234",
			http.Header{"X-Forwarded-For": {"203.0.113.9:5555"}}, "203.0.113.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, lines, _ := serve(t, tc.trusted, tc.peer, tc.header, "/token")
			access := observetest.Where(lines, "msg", "request")
			if len(access) != 1 {
				t.Fatalf("want one access-log line, got %d", len(access))
			}
			if got := access[0].Str("client_ip"); got != tc.want {
				t.Errorf("access log client_ip = %q, want %q", got, tc.want)
			}
			if got := lines[1].Str("client_ip_seen"); got != tc.want {
				t.Errorf("observe.ClientIP in the handler = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAccessLog(t *testing.T) {
	t.Parallel()
	rec, lines, metrics := serve(t, nil, "192.0.2.1:1234", nil, "/token?code=secret-code-in-query&x=1")
	access := observetest.Where(lines, "msg", "request")
	if len(access) != 1 {
		t.Fatalf("want one access-log line, got %d:\n%v", len(access), lines)
	}
	l := access[0]
	for key, want := range map[string]any{
		"level": "INFO", "method": "POST", "route": "POST /token", "status": 400.0, "bytes": 5.0,
		"client_id": "demo-web", "client_ip": "192.0.2.1", "request_id": rec.Header().Get("X-Request-Id"),
	} {
		if l.Fields[key] != want {
			t.Errorf("access log %s = %v, want %v", key, l.Fields[key], want)
		}
	}
	if _, ok := l.Fields["duration"].(float64); !ok {
		t.Errorf("access log has no duration: %s", l.Raw)
	}
	for _, l := range lines {
		if strings.Contains(l.Raw, "secret-code-in-query") || strings.Contains(l.Raw, "x=1") {
			t.Errorf("the query string was logged: %s", l.Raw)
		}
	}
	fams := observetest.Scrape(t, metrics.Handler())
	if got := fams.Value("authserver_http_requests_total", "route", "POST /token", "code", "400"); got != 1 {
		t.Errorf(`requests_total{route="POST /token",code="400"} = %v, want 1`, got)
	}
	if got := fams.Value("authserver_http_request_duration_seconds", "route", "POST /token"); got != 1 {
		t.Errorf(`request_duration_seconds{route="POST /token"} count = %v, want 1`, got)
	}
}

func TestAccessLogUnmatchedRoute(t *testing.T) {
	t.Parallel()
	logs := &observetest.Logs{}
	metrics := observe.NewMetrics()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /known", func(http.ResponseWriter, *http.Request) {})
	mw := &observe.Middleware{Logger: observe.NewLogger(logs, "json", "info"), Metrics: metrics}
	for _, path := range []string{"/random/1", "/random/2?token=x", "/known/../etc"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		mw.Wrap(mux).ServeHTTP(httptest.NewRecorder(), req)
	}
	req := httptest.NewRequest(http.MethodPost, "/known", nil) // 405: no pattern either
	mw.Wrap(mux).ServeHTTP(httptest.NewRecorder(), req)
	for _, l := range logs.Lines(t) {
		if l.Str("route") != "unmatched" {
			t.Errorf("route = %q, want unmatched: %s", l.Str("route"), l.Raw)
		}
	}
	fams := observetest.Scrape(t, metrics.Handler())
	routes := fams.LabelValues("authserver_http_requests_total", "route")
	if len(routes) == 0 {
		t.Fatal("no request was counted")
	}
	for _, r := range routes {
		if r != "unmatched" {
			t.Errorf("route label %q, want only unmatched (404, 405, redirect to a cleaned path)", r)
		}
	}
}

func TestRequestIDOnEveryLineOfAForeignLogger(t *testing.T) {
	t.Parallel()
	// A logger not built by NewLogger (a program's own) gets the id too
	// once the server wraps it.
	logs := &observetest.Logs{}
	log := observe.WithRequestContext(slog.New(slog.NewJSONHandler(logs, nil)))
	if observe.WithRequestContext(log) != log {
		t.Error("wrapping twice made a new logger")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /x", func(_ http.ResponseWriter, r *http.Request) {
		log.With("k", "v").InfoContext(r.Context(), "with attrs")
		log.WithGroup("g").InfoContext(r.Context(), "with a group")
		log.Info("no context") // outside the request's context: no id
	})
	rec := httptest.NewRecorder()
	(&observe.Middleware{Logger: log}).Wrap(mux).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	id := rec.Header().Get("X-Request-Id")
	lines := logs.Lines(t)
	if len(lines) != 4 {
		t.Fatalf("want 4 lines, got %d", len(lines))
	}
	for _, l := range lines {
		switch {
		case l.Str("msg") == "no context":
			if l.Str("request_id") != "" {
				t.Errorf("a line without the request context has a request id: %s", l.Raw)
			}
		case l.Str("msg") == "with a group":
			if !strings.Contains(l.Raw, id) {
				t.Errorf("line without the request id: %s", l.Raw)
			}
		case l.Str("request_id") != id:
			t.Errorf("line without the request id: %s", l.Raw)
		}
	}
}

func TestAuditCarriesClientIPAndFixedLevel(t *testing.T) {
	t.Parallel()
	logs := &observetest.Logs{}
	// Even at the highest configurable level, audit events are written.
	log := observe.NewLogger(logs, "json", "error")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /x", func(_ http.ResponseWriter, r *http.Request) {
		observe.Audit(r.Context(), log, observe.EventLoginFailed, slog.String("username", "mallory"))
	})
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	req.RemoteAddr = "198.51.100.7:4000"
	(&observe.Middleware{Logger: log}).Wrap(mux).ServeHTTP(httptest.NewRecorder(), req)
	lines := logs.Lines(t)
	if len(lines) != 1 { // the access log is at info, below error
		t.Fatalf("want only the audit line, got %d:\n%v", len(lines), lines)
	}
	l := lines[0]
	if l.Str("level") != "AUDIT" || l.Str("event") != "login.failed" || l.Str("client_ip") != "198.51.100.7" ||
		l.Str("username") != "mallory" || l.Str("request_id") == "" {
		t.Errorf("audit line = %s", l.Raw)
	}
}
