package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strings"
	"text/tabwriter"

	"github.com/authserver-dev/authserver/authserver/setup"
	"github.com/authserver-dev/authserver/config"
)

var checkConfigCommand = &command{
	name:    "check-config",
	summary: "validate the configuration and print a summary",
	doc: "Reads the configuration exactly as serve would (file, environment overrides, defaults) and\n" +
		"reports every problem at once, decoding and validation alike: exit status 0 when it is valid,\n" +
		"1 otherwise. It opens no database and writes nothing; passwords in the storage DSN are masked.",
	setup: func(fs *flag.FlagSet) action {
		return func(ctx context.Context, e *env, args []string) error { return checkConfig(e) }
	},
}

func checkConfig(e *env) error {
	cfg, _, err := e.load()
	if err != nil {
		return err
	}
	if e.demo() {
		if err := demoProblem(cfg); err != nil {
			return err
		}
	}
	// The keys of private_key_jwt clients need more than the file's rules
	// (public keys only, usable sizes): the start would refuse them.
	var ve *config.ValidationError
	if err := setup.CheckClientKeys(cfg); errors.As(err, &ve) {
		return fmt.Errorf("invalid configuration (%s), %d problem(s):\n%w", e.describeConfig(), len(ve.Problems), err)
	} else if err != nil {
		return err
	}
	return printSummary(e.stdout, e.describeConfig(), cfg)
}

// printSummary shows what the server will use, without any secret.
func printSummary(w io.Writer, source string, cfg config.Config) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	line := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, args...)) }
	line("configuration", "%s", source)
	line("issuer", "%s", cfg.Issuer)
	if cfg.TLS.CertFile != "" {
		line("listen", "%s (https: cert %s, key %s)", cfg.Listen, cfg.TLS.CertFile, cfg.TLS.KeyFile)
	} else {
		line("listen", "%s (http)", cfg.Listen)
	}
	storage := cfg.Storage.Driver + " " + maskDSN(cfg.Storage.DSN)
	if cfg.Storage.Driver == "sqlite" {
		storage += " (synchronous " + cfg.Storage.SQLiteSynchronous + ")"
	}
	line("storage", "%s", storage)
	line("signing", "%s; access tokens %s, ID tokens %s", strings.Join(cfg.Signing.Algorithms, ", "),
		cfg.Signing.AccessAlgorithm(), cfg.Signing.IDTokenAlgorithm)
	if len(cfg.Tokens.DefaultAudience) > 0 {
		line("default audience", "%s", strings.Join(cfg.Tokens.DefaultAudience, ", "))
	} else {
		line("default audience", "none (every client names its own)")
	}
	if len(cfg.Server.TrustedProxies) > 0 {
		line("trusted proxies", "%s", strings.Join(cfg.Server.TrustedProxies, ", "))
	} else {
		line("trusted proxies", "none")
	}
	line("metrics", "%s", cfg.Observability.MetricsListen)
	line("log", "%s, level %s", cfg.Log.Format, cfg.Log.Level)
	line("clients", "%d", len(cfg.Clients))
	for _, c := range cfg.Clients {
		kind := "confidential"
		if c.Public() {
			kind = "public"
		}
		fmt.Fprintf(tw, "  %s\t%s, grants %s\n", c.ID, kind, strings.Join(c.GrantTypes, ", "))
	}
	names := make([]string, len(cfg.Users))
	for i, u := range cfg.Users {
		names[i] = u.Username
	}
	if len(names) > 0 {
		line("users", "%d: %s", len(names), strings.Join(names, ", "))
	} else {
		line("users", "0")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "configuration is valid")
	return err
}

// kvPassword finds password=... in a key/value DSN ("host=db password=x").
var kvPassword = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// maskDSN hides the password of a database DSN, in URL or key/value form.
func maskDSN(dsn string) string {
	const mask = "xxxxx"
	if u, err := url.Parse(dsn); err == nil && strings.Contains(dsn, "://") {
		q := u.Query()
		_, inUser := u.User.Password()
		if !inUser && !q.Has("password") {
			return dsn
		}
		if inUser {
			u.User = url.UserPassword(u.User.Username(), mask)
		}
		if q.Has("password") {
			q.Set("password", mask)
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	return kvPassword.ReplaceAllString(dsn, "${1}"+mask)
}

// demoProblem keeps the embedded demo configuration on this machine: its
// client secret and its user's password are published in the README, so on
// any other address they would let anyone in.
func demoProblem(cfg config.Config) error {
	issuerHost := ""
	if u, err := url.Parse(cfg.Issuer); err == nil {
		issuerHost = u.Hostname()
	}
	listenHost, _, _ := net.SplitHostPort(cfg.Listen)
	if config.IsLoopbackHost(issuerHost) && listenHost != "" && config.IsLoopbackHost(listenHost) {
		return nil
	}
	return fmt.Errorf("the embedded demo configuration runs only on loopback, but the issuer is %s and listen is %s:\n"+
		"its client secret and user password are published, so anyone who can reach it could sign in.\n"+
		"Write a configuration file (start from config/authserver.yaml, with your own clients and users),\n"+
		"check it with `authserver check-config --config FILE`, then run `authserver serve --config FILE`",
		cfg.Issuer, cfg.Listen)
}
