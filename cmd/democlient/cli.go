package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// run parses the command line and starts the web app or the password mode.
// It returns the process exit code: 0 on success, 2 for a usage error, 1 for
// any other failure.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	mode := "serve"
	if len(args) > 0 && args[0] == "password" {
		mode, args = "password", args[1:]
	}
	cfg, creds, err := parseFlags(mode, args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	cfg.Logger = logger
	if mode == "password" {
		err = runPassword(ctx, cfg, creds, stdout)
	} else {
		err = serve(ctx, cfg)
	}
	if err != nil {
		fmt.Fprintln(stderr, "democlient:", err)
		return 1
	}
	return 0
}

// credentials are the resource owner's, for the password mode only.
type credentials struct{ Username, Password string }

// parseFlags reads the provider flags shared by both modes, plus the
// credentials in password mode. Parse errors are printed by the flag package.
func parseFlags(mode string, args []string, stderr io.Writer) (appConfig, credentials, error) {
	var cfg appConfig
	var creds credentials
	var scopes string
	fs := flag.NewFlagSet("democlient", flag.ContinueOnError)
	if mode == "password" {
		fs.Init("democlient password", flag.ContinueOnError)
	}
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Issuer, "issuer", "http://127.0.0.1:9096", "issuer URL of the provider")
	fs.StringVar(&cfg.ClientID, "client-id", "demo-web", "client ID registered at the provider")
	fs.StringVar(&cfg.ClientSecret, "client-secret", "demo-secret", "client secret (empty for a public client)")
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:9094", "address to serve on; the redirect URI is http://<listen>/callback")
	fs.StringVar(&cfg.APIURL, "api", "http://127.0.0.1:9095/api/profile", "API URL to call with the access token")
	fs.StringVar(&scopes, "scopes", "openid profile email offline_access api.read", "scopes to request, separated by spaces")
	if mode == "password" {
		fs.StringVar(&creds.Username, "username", "alice", "username for the password grant")
		fs.StringVar(&creds.Password, "password", "alice-password", "password for the password grant")
	}
	if err := fs.Parse(args); err != nil {
		return cfg, creds, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected argument %q", fs.Arg(0))
		fmt.Fprintln(stderr, err)
		fs.Usage()
		return cfg, creds, err
	}
	cfg.Scopes = strings.Fields(strings.ReplaceAll(scopes, ",", " "))
	return cfg, creds, nil
}

// serve runs the web app on cfg.Listen until ctx is cancelled.
func serve(ctx context.Context, cfg appConfig) error {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	a, err := newApp(ctx, cfg)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	cfg.Logger.Info("demo client ready", "url", a.baseURL+"/", "issuer", cfg.Issuer, "client_id", cfg.ClientID)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}
