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
	"os"
	"strings"
	"time"
)

// Environment variables that carry secrets without putting them on the
// command line, where every user of the machine can read them (ps).
const (
	envClientSecret = "DEMOCLIENT_CLIENT_SECRET"
	envPassword     = "DEMOCLIENT_PASSWORD"
)

const usageHead = `Usage:
  democlient [serve] [FLAGS]   run the demo web app (the default)
  democlient password [FLAGS]  sign in from the terminal with the password grant
  democlient version           print the version and the source revision
  democlient help [password]   print this help, or the password mode's

Secrets can stay off the command line, which ps shows to every user:
  client secret  --client-secret-file FILE or --client-secret S, else $` + envClientSecret + `,
                 else the demo's demo-web-secret-not-for-production (--client-secret "" for a public client)
  password       --password-file FILE or --password S, else $` + envPassword + `,
                 else the demo's alice-password (password mode)

`

// run parses the command line and starts the web app or the password mode.
// It returns the process exit code: 0 on success (and for help), 2 for a
// usage error, 1 for any other failure.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	mode := "serve"
	if len(args) > 0 {
		switch args[0] {
		case "help", "-h", "-help", "--help":
			if len(args) > 1 && args[1] == "password" {
				mode = "password"
			}
			printUsage(stdout, mode)
			return 0
		case "version", "-version", "--version":
			printVersion(stdout)
			return 0
		case "serve", "password":
			mode, args = args[0], args[1:]
		default:
			if !strings.HasPrefix(args[0], "-") {
				fmt.Fprintf(stderr, "democlient: unknown command %q\n\n", args[0])
				printUsage(stderr, mode)
				return 2
			}
		}
	}
	cfg, creds, err := parseFlags(mode, args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout, mode)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "democlient: %v\n\n", err)
		printUsage(stderr, mode)
		return 2
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
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

func printUsage(w io.Writer, mode string) {
	fs, _, _ := flagSet(mode)
	fmt.Fprint(w, usageHead)
	fmt.Fprintf(w, "Flags of %s:\n", strings.TrimSpace("democlient "+map[string]string{"serve": "", "password": "password"}[mode]))
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// secretFlags are a secret's flag, its file flag and its variable.
type secretFlags struct {
	value, file *string
	flag, env   string
}

// flagSet declares the flags of a mode; parseFlags and the help share it.
func flagSet(mode string) (*flag.FlagSet, *flagValues, []secretFlags) {
	v := &flagValues{}
	fs := flag.NewFlagSet("democlient", flag.ContinueOnError)
	if mode == "password" {
		fs.Init("democlient password", flag.ContinueOnError)
	}
	fs.SetOutput(io.Discard) // run prints errors and usage, each to its stream
	fs.Usage = func() {}
	fs.StringVar(&v.cfg.Issuer, "issuer", "http://localhost:9096", "issuer `URL` of the provider")
	fs.StringVar(&v.cfg.ClientID, "client-id", "demo-web", "client `ID` registered at the provider")
	fs.StringVar(&v.cfg.ClientSecret, "client-secret", "demo-web-secret-not-for-production", "client `secret` (empty for a public client); visible in ps, prefer --client-secret-file or $"+envClientSecret)
	fs.StringVar(&v.secretFile, "client-secret-file", "", "read the client secret from `FILE` (one line)")
	fs.StringVar(&v.cfg.Listen, "listen", "127.0.0.1:9094", "`host:port` to serve on; the redirect URI is http://<listen>/callback")
	fs.StringVar(&v.cfg.APIURL, "api", "http://127.0.0.1:9095/api/profile", "API `URL` to call with the access token")
	fs.StringVar(&v.scopes, "scopes", "openid profile email offline_access api.read", "`scopes` to request, separated by spaces")
	fs.BoolVar(&v.cfg.DPoP, "dpop", false, "bind the access tokens to a key made at start (RFC 9449 DPoP): send a proof with every token request and API call")
	secrets := []secretFlags{{&v.cfg.ClientSecret, &v.secretFile, "client-secret", envClientSecret}}
	if mode == "password" {
		fs.StringVar(&v.creds.Username, "username", "alice", "`username` for the password grant")
		fs.StringVar(&v.creds.Password, "password", "alice-password", "`password` for the password grant; visible in ps, prefer --password-file or $"+envPassword)
		fs.StringVar(&v.passwordFile, "password-file", "", "read the password from `FILE` (one line)")
		secrets = append(secrets, secretFlags{&v.creds.Password, &v.passwordFile, "password", envPassword})
	}
	return fs, v, secrets
}

type flagValues struct {
	cfg                      appConfig
	creds                    credentials
	scopes                   string
	secretFile, passwordFile string
}

// parseFlags reads the provider flags shared by both modes, plus the
// credentials in password mode. Each secret comes from its flag or file
// flag, else its environment variable, else the demo's value.
func parseFlags(mode string, args []string, getenv func(string) string) (appConfig, credentials, error) {
	fs, v, secrets := flagSet(mode)
	if err := fs.Parse(args); err != nil {
		return v.cfg, v.creds, err
	}
	if fs.NArg() > 0 {
		return v.cfg, v.creds, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, s := range secrets {
		switch {
		case set[s.flag] && *s.file != "":
			return v.cfg, v.creds, fmt.Errorf("give --%s or --%s-file, not both", s.flag, s.flag)
		case *s.file != "":
			b, err := os.ReadFile(*s.file)
			if err != nil {
				return v.cfg, v.creds, fmt.Errorf("--%s-file: %w", s.flag, err)
			}
			if *s.value = strings.TrimRight(string(b), "\r\n"); *s.value == "" {
				return v.cfg, v.creds, fmt.Errorf("--%s-file: %s is empty", s.flag, *s.file)
			}
		case set[s.flag]:
		case getenv(s.env) != "":
			*s.value = getenv(s.env)
		}
	}
	v.cfg.Scopes = strings.Fields(strings.ReplaceAll(v.scopes, ",", " "))
	return v.cfg, v.creds, nil
}

// newHTTPServer is the web app's server, with the provider's timeouts: a
// client that sends its headers or body slowly, or keeps idle connections
// open, cannot hold connections forever.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
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
	srv := newHTTPServer(a.Handler(), cfg.Logger)
	cfg.Logger.Info("demo client ready", "url", a.baseURL+"/", "issuer", cfg.Issuer, "client_id", cfg.ClientID,
		"backchannel_logout_uri", a.baseURL+"/backchannel-logout")
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
