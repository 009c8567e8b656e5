package tlsserve

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// Defaults of Server's tunables.
const (
	DefaultPollInterval = 5 * time.Second
	DefaultDrainTimeout = 20 * time.Second
)

// Server is the provider's process: a public listener, an optional metrics
// listener and the background loops, run until a context ends.
type Server struct {
	// Handler serves the public listener, Listener.
	Handler  http.Handler
	Listener net.Listener
	// Cert, when set, makes the public listener https; nil means plain
	// http.
	Cert *Certificate
	// Metrics is served at /metrics on MetricsListener, plain http, kept off
	// the public listener. Either nil means no metrics listener.
	Metrics         http.Handler
	MetricsListener net.Listener
	// Admin serves AdminListener, plain http, kept off the public listener
	// like the metrics: the administration API, whose listener the
	// operator keeps on loopback or a private network. Either nil means no
	// admin listener.
	Admin         http.Handler
	AdminListener net.Listener
	// Background loops run with a context that ends after the listeners
	// have drained; Run returns once they all have.
	Background []func(context.Context)
	// Reload delivers SIGHUP (the caller subscribes with signal.Notify, as
	// early as it can, so that the signal never kills the process): each
	// value reloads Cert.
	Reload <-chan os.Signal
	// PollInterval is how often Cert's files are checked for a change
	// (default DefaultPollInterval; negative: never).
	PollInterval time.Duration
	// DrainTimeout bounds how long in-flight requests may take to finish
	// once shutdown starts (default DefaultDrainTimeout); connections still
	// open then are closed.
	DrainTimeout time.Duration
	Log          *slog.Logger
}

// Run serves until ctx ends, then shuts down gracefully: it logs "shutting
// down", stops accepting, lets in-flight requests finish within
// DrainTimeout, and stops the background loops. It returns nil after a
// shutdown asked for by ctx, or the error that stopped a listener.
func (s *Server) Run(ctx context.Context) error {
	log := s.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	errc := make(chan error, 3)
	public := s.httpServer(s.Handler, log)
	servers := []*http.Server{public}
	if s.Cert != nil {
		public.TLSConfig = s.Cert.TLSConfig()
		go func() { errc <- public.ServeTLS(s.Listener, "", "") }()
	} else {
		go func() { errc <- public.Serve(s.Listener) }()
	}
	if s.Metrics != nil && s.MetricsListener != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", s.Metrics)
		m := s.httpServer(mux, log)
		servers = append(servers, m)
		go func() { errc <- m.Serve(s.MetricsListener) }()
		log.Info("metrics listening", "addr", s.MetricsListener.Addr().String(), "url", "http://"+s.MetricsListener.Addr().String()+"/metrics")
	}
	if s.Admin != nil && s.AdminListener != nil {
		a := s.httpServer(s.Admin, log)
		servers = append(servers, a)
		go func() { errc <- a.Serve(s.AdminListener) }()
		log.Info("admin API listening", "addr", s.AdminListener.Addr().String())
	}

	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	for _, loop := range s.Background {
		wg.Go(func() { loop(bg) })
	}
	if s.Cert != nil && s.PollInterval >= 0 {
		wg.Go(func() { s.watch(bg, log) })
	}

	var err error
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case err = <-errc:
			log.Error("listener failed", "err", err)
			break wait
		case <-s.Reload:
			s.reload(log, "SIGHUP")
		}
	}

	drain := s.DrainTimeout
	if drain <= 0 {
		drain = DefaultDrainTimeout
	}
	log.Info("shutting down", "drain_timeout", drain.String())
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
	defer cancel()
	for _, srv := range servers {
		if e := srv.Shutdown(dctx); e != nil {
			log.Warn("requests still running when the drain timeout ended; closing their connections", "err", e)
			_ = srv.Close()
		}
	}
	stopBackground()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (s *Server) httpServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		// TLS handshake failures and recovered handler panics land here.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// reload reads the certificate again and says what happened; a bad pair
// leaves the previous one serving.
func (s *Server) reload(log *slog.Logger, reason string) {
	if s.Cert == nil {
		log.Info(reason + ": no TLS configured")
		return
	}
	if err := s.Cert.Reload(); err != nil {
		log.Error("reloading TLS certificate failed; still serving the previous one", "reason", reason, "err", err)
		return
	}
	leaf := s.Cert.Leaf()
	log.Info("reloaded TLS certificate", "reason", reason, "sha256", Fingerprint(leaf.Raw),
		"not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
}

// watch reloads the certificate when its files change.
func (s *Server) watch(ctx context.Context, log *slog.Logger) {
	every := s.PollInterval
	if every == 0 {
		every = DefaultPollInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if s.Cert.changed() {
				s.reload(log, "files changed")
			}
		}
	}
}
