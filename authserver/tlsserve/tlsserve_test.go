package tlsserve

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/observe/observetest"
)

// waitFor waits until the log holds want, a bounded number of times.
func waitFor(t *testing.T, l *observetest.Logs, want string) {
	t.Helper()
	for range 1000 {
		if strings.Contains(l.String(), want) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("log never said %q:\n%s", want, l.String())
}

// newPair writes a fresh self-signed pair into its own directory.
func newPair(t *testing.T) DevCert {
	t.Helper()
	d, err := DevCertificate(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// install puts pair's files at the paths of dst by rename, as a
// certificate manager replaces them.
func install(t *testing.T, pair DevCert, dst DevCert) {
	t.Helper()
	for _, f := range [][2]string{{pair.KeyFile, dst.KeyFile}, {pair.CertFile, dst.CertFile}} {
		b, err := os.ReadFile(f[0])
		if err != nil {
			t.Fatal(err)
		}
		tmp := f[1] + ".new"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, f[1]); err != nil {
			t.Fatal(err)
		}
	}
}

// liveCertificate installs pair at paths of its own, as the configured
// certificate and key files that tests then replace, and loads it from there.
func liveCertificate(t *testing.T, pair DevCert) (DevCert, *Certificate) {
	t.Helper()
	live := DevCert{CertFile: filepath.Join(t.TempDir(), "cert.pem"), KeyFile: filepath.Join(t.TempDir(), "key.pem")}
	install(t, pair, live)
	cert, err := LoadCertificate(live.CertFile, live.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	return live, cert
}

type running struct {
	addr string
	log  *observetest.Logs
	stop func() error
}

// start runs s on a loopback port until the test ends or stop is called.
func start(t *testing.T, s *Server) *running {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Listener = ln
	if s.Handler == nil {
		s.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	}
	lb := &observetest.Logs{}
	s.Log = slog.New(slog.NewTextHandler(lb, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { stop() })
	return &running{addr: ln.Addr().String(), log: lb, stop: stop}
}

// presented is the fingerprint of the certificate a new handshake shows.
func presented(t *testing.T, addr string) string {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the test reads the certificate, it trusts nothing
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return Fingerprint(conn.ConnectionState().PeerCertificates[0].Raw)
}

// waitPresented waits until new handshakes show want.
func waitPresented(t *testing.T, addr, want string) {
	t.Helper()
	for range 1000 {
		if presented(t, addr) == want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the server never presented %s", want)
}

func trusting(t *testing.T, certFile string) *http.Client {
	t.Helper()
	pool, err := CertPool(certFile)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
}

// The public listener speaks https with HTTP/2 and refuses TLS below 1.2.
func TestRunServesHTTP2AndTLS12(t *testing.T) {
	t.Parallel()
	pair := newPair(t)
	cert, err := LoadCertificate(pair.CertFile, pair.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, &Server{Cert: cert})
	resp, err := trusting(t, pair.CertFile).Get("https://" + r.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("negotiated %s, want HTTP/2", resp.Proto)
	}
	_, err = tls.Dial("tcp", r.addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11}) //nolint:gosec // checks the server's minimum
	if err == nil {
		t.Error("a TLS 1.1 handshake succeeded")
	}
}

// A certificate replaced on disk is served from the next handshake on,
// without a signal; a replacement that does not load is logged and the
// previous certificate keeps serving.
func TestCertificateReloadsWhenFilesChange(t *testing.T) {
	t.Parallel()
	a, b := newPair(t), newPair(t)
	live, cert := liveCertificate(t, a)
	r := start(t, &Server{Cert: cert, PollInterval: 10 * time.Millisecond})
	if got := presented(t, r.addr); got != a.SHA256 {
		t.Fatalf("presented %s, want the first certificate %s", got, a.SHA256)
	}
	install(t, b, live)
	waitPresented(t, r.addr, b.SHA256)
	waitFor(t, r.log, "reloaded TLS certificate")

	// A key that does not match the certificate.
	install(t, DevCert{CertFile: a.CertFile, KeyFile: b.KeyFile}, live)
	waitFor(t, r.log, "reloading TLS certificate failed")
	if got := presented(t, r.addr); got != b.SHA256 {
		t.Errorf("after a bad replacement the server presents %s, want the previous %s", got, b.SHA256)
	}
	// Once the files are fixed, the next check loads them.
	install(t, a, live)
	waitPresented(t, r.addr, a.SHA256)
}

// Each value on Reload (SIGHUP) reloads the certificate at once, with file
// polling off; without TLS it is logged and nothing else happens.
func TestReloadOnSignal(t *testing.T) {
	t.Parallel()
	a, b := newPair(t), newPair(t)
	live, cert := liveCertificate(t, a)
	hup := make(chan os.Signal, 1)
	r := start(t, &Server{Cert: cert, PollInterval: -1, Reload: hup})
	install(t, b, live)
	if got := presented(t, r.addr); got != a.SHA256 {
		t.Fatalf("reloaded without a signal: presented %s", got)
	}
	hup <- syscall.SIGHUP
	waitFor(t, r.log, "reloaded TLS certificate")
	if got := presented(t, r.addr); got != b.SHA256 {
		t.Errorf("after SIGHUP the server presents %s, want %s", got, b.SHA256)
	}

	plainHup := make(chan os.Signal, 1)
	p := start(t, &Server{Reload: plainHup})
	plainHup <- syscall.SIGHUP
	waitFor(t, p.log, "SIGHUP: no TLS configured")
	resp, err := http.Get("http://" + p.addr + "/")
	if err != nil {
		t.Fatalf("after SIGHUP: %v", err)
	}
	resp.Body.Close()
}

// Shutdown lets a request that is running finish, stops accepting new
// connections meanwhile, and ends the background loops only after the
// drain; Run then returns nil.
func TestRunDrainsInFlightRequests(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	finished := false
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		mu.Lock()
		finished = true
		mu.Unlock()
		io.WriteString(w, "done")
	})
	loopSawFinished := make(chan bool, 1)
	loop := func(ctx context.Context) {
		<-ctx.Done()
		mu.Lock()
		defer mu.Unlock()
		loopSawFinished <- finished
	}
	r := start(t, &Server{Handler: handler, Background: []func(context.Context){loop}})

	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + r.addr + "/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{string(b), err}
	}()
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- r.stop() }()
	waitFor(t, r.log, "shutting down")
	refused := false
	for range 1000 {
		c, err := net.Dial("tcp", r.addr)
		if err != nil {
			refused = true
			break
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	if !refused {
		t.Error("new connections are still accepted during shutdown")
	}
	close(release)
	res := <-got
	if res.err != nil || res.body != "done" {
		t.Fatalf("in-flight request: %q, %v", res.body, res.err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !<-loopSawFinished {
		t.Error("the background loop was stopped before the in-flight request finished")
	}
}

// A request still running when the drain bound ends is cut, and Run still
// returns.
func TestRunDrainIsBounded(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done() // holds until its connection is closed
	})
	r := start(t, &Server{Handler: handler, DrainTimeout: 50 * time.Millisecond})
	errc := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + r.addr + "/stuck")
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-entered
	if err := r.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := <-errc; err == nil {
		t.Error("the stuck request got a response")
	}
	if !strings.Contains(r.log.String(), "drain timeout ended") {
		t.Errorf("no warning about the cut requests:\n%s", r.log)
	}
}

// The metrics handler is served at /metrics on its own listener.
func TestRunServesMetricsOnItsOwnListener(t *testing.T) {
	t.Parallel()
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "up 1\n") })
	r := start(t, &Server{Metrics: metrics, MetricsListener: mln})
	resp, err := http.Get("http://" + mln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "up 1\n" {
		t.Errorf("/metrics: %q", b)
	}
	if !strings.Contains(r.log.String(), "metrics listening") || !strings.Contains(r.log.String(), mln.Addr().String()) {
		t.Errorf("the metrics address is not logged:\n%s", r.log)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + mln.Addr().String() + "/metrics"); err == nil {
		t.Error("the metrics listener outlives Run")
	}
}

// The development certificate is made once with a private key, is valid
// for the loopback names only, is no CA, and is reused by the next start.
func TestDevCertificate(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	now := time.Now()
	d, err := DevCertificate(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Created || d.CertFile != filepath.Join(dir, DevCertFile) || d.KeyFile != filepath.Join(dir, DevKeyFile) {
		t.Fatalf("first call: %+v", d)
	}
	for name, want := range map[string]os.FileMode{dir: 0o700, d.KeyFile: 0o600} {
		if fi, err := os.Stat(name); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want mode %04o", name, fi.Mode().Perm(), err, want)
		}
	}
	pair, err := tls.LoadX509KeyPair(d.CertFile, d.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	leaf := pair.Leaf
	if leaf.IsCA || Fingerprint(leaf.Raw) != d.SHA256 {
		t.Errorf("IsCA=%v, fingerprint %s vs %s", leaf.IsCA, Fingerprint(leaf.Raw), d.SHA256)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	for _, host := range []string{"127.0.0.1", "::1", "localhost", "example.com", "10.0.0.1"} {
		_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host})
		if want := host != "example.com" && host != "10.0.0.1"; (err == nil) != want {
			t.Errorf("valid for %s: %v, want %v", host, err == nil, want)
		}
	}

	again, err := DevCertificate(dir, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if again.Created || again.SHA256 != d.SHA256 {
		t.Errorf("second call made a new certificate: %+v", again)
	}
	// Once expired, it is replaced.
	later, err := DevCertificate(dir, leaf.NotAfter.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !later.Created || later.SHA256 == d.SHA256 {
		t.Errorf("expired certificate kept: %+v", later)
	}
}

func TestDevIssuer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"http://127.0.0.1:9096", "https://127.0.0.1:9096", true},
		{"http://localhost:8080/auth", "https://localhost:8080/auth", true},
		{"http://[::1]:9096", "https://[::1]:9096", true},
		{"https://127.0.0.1:9096", "https://127.0.0.1:9096", true},
		{"https://auth.example.com", "https://auth.example.com", false},
	} {
		got, ok := DevIssuer(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("DevIssuer(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// CertPool trusts the certificate in a PEM file, and says so when the file
// holds none (a key file by mistake) or is missing, rather than returning a
// pool that trusts nothing.
func TestCertPool(t *testing.T) {
	t.Parallel()
	d := newPair(t)
	pool, err := CertPool(d.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(d.CertFile, d.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pair.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.1"}); err != nil {
		t.Errorf("the pool does not trust the file's certificate: %v", err)
	}
	for _, file := range []string{d.KeyFile, filepath.Join(t.TempDir(), "missing.pem")} {
		if _, err := CertPool(file); err == nil {
			t.Errorf("CertPool(%s): no error", file)
		}
	}
}

// The admin handler is served on its own listener, plain http, with every
// path its own, and is drained on shutdown like the others: a request in
// flight there is answered before Run returns, and the listener is closed
// after.
func TestRunServesAdminOnItsOwnListener(t *testing.T) {
	t.Parallel()
	aln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	admin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/admin/v1/slow" {
			close(entered)
			<-release
		}
		io.WriteString(w, "admin "+r.URL.Path)
	})
	r := start(t, &Server{Admin: admin, AdminListener: aln})
	url := "http://" + aln.Addr().String()
	resp, err := http.Get(url + "/admin/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "admin /admin/v1/openapi.json" {
		t.Errorf("admin listener: %q", b)
	}
	if !strings.Contains(r.log.String(), "admin API listening") || !strings.Contains(r.log.String(), aln.Addr().String()) {
		t.Errorf("the admin address is not logged:\n%s", r.log)
	}
	// The public listener does not serve the admin handler.
	resp, err = http.Get("http://" + r.addr + "/admin/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" {
		t.Errorf("public listener: %q", b)
	}

	got := make(chan string, 1)
	go func() {
		resp, err := http.Get(url + "/admin/v1/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- r.stop() }()
	waitFor(t, r.log, "shutting down")
	close(release)
	if body := <-got; body != "admin /admin/v1/slow" {
		t.Errorf("in-flight admin request: %q", body)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(url + "/admin/v1/openapi.json"); err == nil {
		t.Error("the admin listener outlives Run")
	}
}
