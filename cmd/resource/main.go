// Command resource is the sample API: it accepts only access tokens from the
// issuer, for its audience, and checks scopes (GET /api/profile needs
// api.read, POST /api/notes needs api.write). By default it verifies JWT
// access tokens locally; with --introspect it asks the issuer about every
// token (cached 10s), so that a revoked token stops working. It shows API teams how to use
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
	var o options
	flag.StringVar(&o.issuer, "issuer", "http://127.0.0.1:9096", "issuer URL of the authorization server")
	flag.StringVar(&o.audience, "audience", "http://127.0.0.1:9095", "this API's identifier, required in the tokens' aud")
	listen := flag.String("listen", "127.0.0.1:9095", "address to listen on")
	flag.BoolVar(&o.introspect, "introspect", false,
		"check every token at the issuer's introspection endpoint (RFC 7662), so revocations are seen within 10s, instead of verifying JWTs locally")
	flag.StringVar(&o.clientID, "client-id", "", "with --introspect: this API's client ID at the issuer (it must be allowed to introspect)")
	flag.StringVar(&o.clientSecret, "client-secret", "", "with --introspect: the client secret; prefer $RESOURCE_CLIENT_SECRET, command lines are visible to other users")
	flag.Parse()
	// Read after parsing, not as the flag default, so that -help never
	// prints the secret.
	if o.clientSecret == "" {
		o.clientSecret = os.Getenv("RESOURCE_CLIENT_SECRET")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	v, err := startVerifier(ctx, o, log)
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
	log.Info("sample API listening", "url", "http://"+*listen, "issuer", o.issuer, "audience", o.audience, "introspect", o.introspect)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
}

// options are the command-line settings of the token check.
type options struct {
	issuer, audience       string
	introspect             bool
	clientID, clientSecret string
}

// startVerifier builds the token check o asks for: local JWT verification,
// or introspection at the issuer for an API that must see revocations.
func startVerifier(ctx context.Context, o options, log *slog.Logger) (resource.TokenVerifier, error) {
	if o.introspect {
		in, err := waitForIssuer(ctx, o.issuer, log, func(ctx context.Context) (*resource.Introspector, error) {
			return resource.NewIntrospector(ctx, resource.IntrospectionConfig{Issuer: o.issuer, Audience: o.audience,
				ClientID: o.clientID, ClientSecret: o.clientSecret, Logger: log})
		})
		if err != nil { // not `return in, err`: a nil *Introspector is a non-nil TokenVerifier
			return nil, err
		}
		return in, nil
	}
	v, err := waitForIssuer(ctx, o.issuer, log, func(ctx context.Context) (*resource.Verifier, error) {
		return resource.NewVerifier(ctx, resource.Config{Issuer: o.issuer, Audience: o.audience, Logger: log})
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// waitForIssuer retries start with exponential backoff for up to
// issuerWait, except for configuration errors, which no wait can fix.
func waitForIssuer[T any](ctx context.Context, issuer string, log *slog.Logger, start func(context.Context) (T, error)) (T, error) {
	deadline := time.Now().Add(issuerWait)
	delay := 250 * time.Millisecond
	for {
		v, err := start(ctx)
		if err == nil || errors.Is(err, resource.ErrInvalidConfig) || time.Now().Add(delay).After(deadline) {
			return v, err
		}
		log.Info("waiting for the issuer", "issuer", issuer, "retry_in", delay, "err", err)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
		delay = min(2*delay, 4*time.Second)
	}
}
