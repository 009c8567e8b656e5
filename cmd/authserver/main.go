// Command authserver is the OAuth 2.0 / OpenID Connect provider.
//
//	authserver [serve] [--config FILE]   run the provider (the default)
//	authserver migrate [--config FILE]   apply database migrations and exit
//	authserver keys list [--config FILE] show the signing keys
//
// With no configuration file it runs the embedded demo configuration:
// SQLite under ./data, a demo user and a demo client.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/authserver-dev/authserver/config"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], log); err != nil {
		fmt.Fprintln(os.Stderr, "authserver:", err)
		os.Exit(1)
	}
}

// run dispatches the subcommand; each one loads the configuration the same way.
func run(ctx context.Context, args []string, log *slog.Logger) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	sub := ""
	if cmd == "keys" && len(args) > 0 && args[0][0] != '-' {
		sub, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("authserver "+cmd, flag.ContinueOnError)
	path := fs.String("config", "", "configuration file (default: $"+config.EnvConfig+", else the embedded demo configuration)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(config.Path(*path, os.Getenv), os.Getenv)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	switch {
	case cmd == "serve":
		return serve(ctx, cfg, log)
	case cmd == "migrate":
		return migrate(ctx, cfg)
	case cmd == "keys" && sub == "list":
		return listKeys(ctx, cfg)
	}
	return fmt.Errorf("unknown command %q; use serve, migrate or keys list", cmd+" "+sub)
}
