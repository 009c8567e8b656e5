// Command resource is the sample API: it accepts only access tokens from the
// issuer, for its audience, and checks scopes (GET /api/profile needs
// api.read, POST /api/notes needs api.write). By default it verifies JWT
// access tokens locally; with --introspect it asks the issuer about every
// token (cached 10s), so that a revoked token stops working. DPoP-bound tokens
// (RFC 9449) are accepted with "Authorization: DPoP" and a proof, and refused
// as bearer tokens; --require-dpop refuses bearer tokens altogether. It shows
// API teams how to use package resource and must not import any other
// package of this module.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/authserver-dev/authserver/resource"
)

// issuerWait is how long start-up waits for the issuer, which is often
// started at the same moment (by hand, or by a test harness).
const issuerWait = 30 * time.Second

// envClientSecret carries the introspection secret without putting it on
// the command line, where every user of the machine can read it (ps).
const envClientSecret = "RESOURCE_CLIENT_SECRET"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usageHead = `Usage:
  resource [serve] [FLAGS]   serve the sample API (the default)
  resource version           print the version and the source revision
  resource help              print this help

The sample API accepts only access tokens of the issuer for its audience:
GET /api/profile needs the scope api.read, POST /api/notes needs api.write.
A DPoP-bound token (RFC 9449) must come as "Authorization: DPoP <token>"
with a DPoP proof for the request; behind a proxy, --public-url says which
URL the proofs name.

The introspection secret (--introspect) comes from, in this order:
--client-secret-file FILE, --client-secret S (visible in ps: avoid),
$` + envClientSecret + `.

Flags:
`

// run parses the command line and serves the API. It returns the exit
// status: 0, 2 for a usage mistake, 1 for any other failure.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "help", "-h", "-help", "--help":
			printUsage(stdout)
			return 0
		case "version", "-version", "--version":
			printVersion(stdout)
			return 0
		case "serve":
			args = args[1:]
		default:
			if !strings.HasPrefix(args[0], "-") {
				fmt.Fprintf(stderr, "resource: unknown command %q\n\n", args[0])
				printUsage(stderr)
				return 2
			}
		}
	}
	o, listen, err := parseFlags(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "resource: %v\n\n", err)
		printUsage(stderr)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	v, err := startVerifier(ctx, o, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	srv := newServer(listen, newAPI(v), log)
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	log.Info("sample API listening", "url", "http://"+listen, "issuer", o.issuer, "audience", o.audience, "introspect", o.introspect,
		"require_dpop", o.dpop.Required)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("serve", "err", err)
		return 1
	}
	return 0
}

// newServer is the API's HTTP server, with the provider's timeouts: a
// client that sends its headers or body slowly, or keeps idle connections
// open, cannot hold connections forever.
func newServer(addr string, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

func newFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("resource", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run prints errors and usage, each to its stream
	fs.Usage = func() {}
	return fs
}

func printUsage(w io.Writer) {
	fs := newFlagSet()
	declareFlags(fs, &options{}, new(string), new(string))
	fmt.Fprint(w, usageHead)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func declareFlags(fs *flag.FlagSet, o *options, listen, secretFile *string) {
	fs.StringVar(&o.issuer, "issuer", "http://localhost:9096", "issuer `URL` of the authorization server")
	fs.StringVar(&o.audience, "audience", "http://127.0.0.1:9095", "this API's identifier, required in the tokens' aud")
	fs.StringVar(listen, "listen", "127.0.0.1:9095", "`host:port` to listen on")
	fs.BoolVar(&o.introspect, "introspect", false,
		"check every token at the issuer's introspection endpoint (RFC 7662), so revocations are seen within 10s, instead of verifying JWTs locally")
	fs.StringVar(&o.clientID, "client-id", "", "with --introspect: this API's client `ID` at the issuer (it must be allowed to introspect)")
	fs.StringVar(&o.clientSecret, "client-secret", "", "with --introspect: the client `secret`; prefer --client-secret-file or $"+envClientSecret+", command lines are visible to other users")
	fs.StringVar(secretFile, "client-secret-file", "", "with --introspect: read the client secret from `FILE` (one line)")
	fs.BoolVar(&o.dpop.Required, "require-dpop", false, "accept DPoP-bound access tokens only (RFC 9449; FAPI 2.0): bearer tokens are refused")
	fs.StringVar(&o.dpop.PublicURL, "public-url", "", "the `URL` (scheme, host, path prefix) clients reach this API at, which DPoP proofs name (htu); default: the request's Host, for an API reached directly")
}

// parseFlags reads the command line; the client secret comes from a flag,
// else from $RESOURCE_CLIENT_SECRET.
func parseFlags(args []string, getenv func(string) string) (options, string, error) {
	var o options
	var listen, secretFile string
	fs := newFlagSet()
	declareFlags(fs, &o, &listen, &secretFile)
	if err := fs.Parse(args); err != nil {
		return o, "", err
	}
	if fs.NArg() > 0 {
		return o, "", fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	secret, err := clientSecret(o.clientSecret, secretFile, getenv(envClientSecret))
	if err != nil {
		return o, "", err
	}
	o.clientSecret = secret
	return o, listen, nil
}

// clientSecret picks the secret: a flag (the value or the file) wins over
// the environment, which wins over nothing.
func clientSecret(flagValue, file, env string) (string, error) {
	switch {
	case flagValue != "" && file != "":
		return "", errors.New("give --client-secret or --client-secret-file, not both")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("--client-secret-file: %w", err)
		}
		s := strings.TrimRight(string(b), "\r\n")
		if s == "" {
			return "", fmt.Errorf("--client-secret-file: %s is empty", file)
		}
		return s, nil
	case flagValue != "":
		return flagValue, nil
	}
	return env, nil
}

// options are the command-line settings of the token check.
type options struct {
	issuer, audience       string
	introspect             bool
	clientID, clientSecret string
	dpop                   resource.DPoPConfig
}

// startVerifier builds the token check o asks for: local JWT verification,
// or introspection at the issuer for an API that must see revocations.
func startVerifier(ctx context.Context, o options, log *slog.Logger) (resource.TokenVerifier, error) {
	if o.introspect {
		in, err := waitForIssuer(ctx, o.issuer, log, func(ctx context.Context) (*resource.Introspector, error) {
			return resource.NewIntrospector(ctx, resource.IntrospectionConfig{Issuer: o.issuer, Audience: o.audience,
				ClientID: o.clientID, ClientSecret: o.clientSecret, DPoP: o.dpop, Logger: log})
		})
		if err != nil { // not `return in, err`: a nil *Introspector is a non-nil TokenVerifier
			return nil, err
		}
		return in, nil
	}
	v, err := waitForIssuer(ctx, o.issuer, log, func(ctx context.Context) (*resource.Verifier, error) {
		return resource.NewVerifier(ctx, resource.Config{Issuer: o.issuer, Audience: o.audience, DPoP: o.dpop, Logger: log})
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
