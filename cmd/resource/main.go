// Command resource is the sample API: it accepts only access tokens from the
// issuer, for its audience, and checks scopes (GET /api/profile needs
// api.read, POST /api/notes needs api.write). It shows API teams how to use
// package resource and must not import any other package of this module.
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/authserver-dev/authserver/resource"
)

// issuerWait is how long start-up waits for the issuer, which is often
// started at the same moment (by hand, or by a test harness).
const issuerWait = 30 * time.Second

func main() {
	issuer := flag.String("issuer", "http://127.0.0.1:9096", "issuer URL of the authorization server")
	audience := flag.String("audience", "http://127.0.0.1:9095", "this API's identifier, required in the tokens' aud")
	listen := flag.String("listen", "127.0.0.1:9095", "address to listen on")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	v, err := waitForVerifier(ctx, resource.Config{Issuer: *issuer, Audience: *audience, Logger: log}, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		os.Exit(1)
	}

	srv := &http.Server{Addr: *listen, Handler: newAPI(v), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	log.Info("sample API listening", "url", "http://"+*listen, "issuer", *issuer, "audience", *audience)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
}

// waitForVerifier retries NewVerifier with exponential backoff for up to
// issuerWait, except for configuration errors, which no wait can fix.
func waitForVerifier(ctx context.Context, cfg resource.Config, log *slog.Logger) (*resource.Verifier, error) {
	deadline := time.Now().Add(issuerWait)
	delay := 250 * time.Millisecond
	for {
		v, err := resource.NewVerifier(ctx, cfg)
		if err == nil || errors.Is(err, resource.ErrInvalidConfig) || time.Now().Add(delay).After(deadline) {
			return v, err
		}
		log.Info("waiting for the issuer", "issuer", cfg.Issuer, "retry_in", delay, "err", err)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		delay = min(2*delay, 4*time.Second)
	}
}
