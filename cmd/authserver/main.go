// Command authserver is the OAuth 2.0 / OpenID Connect provider.
//
//	authserver [serve] [--config FILE]   run the provider (the default)
//	authserver migrate [--config FILE]   apply database migrations and exit
//	authserver keys list|rotate          show the signing keys / advance rotation one step
//	authserver client add|list|remove    manage clients
//	authserver user add|passwd|list|remove  manage users (password on stdin)
//
// With no configuration file it runs the embedded demo configuration:
// SQLite under ./data, a demo user and a demo client.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/authserver-dev/authserver/config"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, log); err != nil {
		fmt.Fprintln(os.Stderr, "authserver:", err)
		os.Exit(1)
	}
}

// run dispatches the subcommand; each one loads the configuration the same way.
func run(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer, log *slog.Logger) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	sub := ""
	if (cmd == "keys" || cmd == "client" || cmd == "user") && len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		sub, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("authserver "+cmd, flag.ContinueOnError)
	path := fs.String("config", "", "configuration file (default: $"+config.EnvConfig+", else the embedded demo configuration)")
	// --config may come anywhere; the subcommand's own flags follow it.
	args, rest := splitConfigFlag(args)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(config.Path(*path, os.Getenv), os.Getenv)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	if len(rest) > 0 && cmd != "client" && cmd != "user" {
		return fmt.Errorf("unexpected arguments %q", rest)
	}
	switch {
	case cmd == "serve":
		return serve(ctx, cfg, serveOptions{Demo: config.Path(*path, os.Getenv) == ""}, log)
	case cmd == "migrate":
		return migrate(ctx, cfg, stdout)
	case cmd == "keys":
		return keysCmd(ctx, cfg, sub, stdout)
	case cmd == "client":
		return clientCmd(ctx, cfg, sub, rest, stdout)
	case cmd == "user":
		return userCmd(ctx, cfg, sub, rest, stdin, stdout)
	}
	return fmt.Errorf("unknown command %q; use serve, migrate, keys, client or user", strings.TrimSpace(cmd+" "+sub))
}

// splitConfigFlag separates --config (and -config) from the other arguments.
func splitConfigFlag(args []string) (cfgArgs, rest []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--config" || a == "-config":
			cfgArgs = append(cfgArgs, a)
			if i+1 < len(args) {
				cfgArgs = append(cfgArgs, args[i+1])
				i++
			}
		case strings.HasPrefix(a, "--config=") || strings.HasPrefix(a, "-config="):
			cfgArgs = append(cfgArgs, a)
		default:
			rest = append(rest, a)
		}
	}
	return cfgArgs, rest
}
