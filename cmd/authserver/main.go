// Command authserver is the OAuth 2.0 / OpenID Connect provider.
//
//	authserver [serve] [--config FILE] [--dev-tls]  run the provider (the default)
//	authserver migrate [--config FILE]              apply database migrations and exit
//	authserver check-config [--config FILE]         validate the configuration and print a summary
//	authserver version                              print the version and source revision
//	authserver keys list|rotate                     show the signing keys / advance rotation one step
//	authserver client add|list|remove               manage clients
//	authserver user add|passwd|list|remove          manage users (password on stdin)
//	authserver help [COMMAND]                       print the usage of a command
//
// With no configuration file it runs the embedded demo configuration:
// SQLite under ./data, a demo user and a demo client, on loopback only.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := exitCode(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr), os.Stderr)
	stop()
	os.Exit(code)
}

// run parses the command line and runs one command. Help goes to stdout and
// returns nil; a usage mistake returns a *usageError; log lines (audit events
// included) go to stderr in the format the configuration asks for.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	path, args, err := splitConfigFlag(args)
	if err != nil {
		return &usageError{msg: err.Error(), usage: rootUsage()}
	}
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, configFlag: path, getenv: os.Getenv}
	return dispatch(ctx, e, args)
}

// exitCode reports err on stderr and maps it to the exit status: 0, 2 for a
// usage mistake (with the usage), 1 for anything else.
func exitCode(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "authserver: %s\n\n%s", ue.msg, ue.usage)
		return 2
	}
	fmt.Fprintln(stderr, "authserver:", err)
	return 1
}

// env is what every command gets from the command line and the process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	configFlag     string // --config as given, "" when absent
	getenv         func(string) string
}

// configPath is the file to read; "" means the embedded demo configuration.
func (e *env) configPath() string { return config.Path(e.configFlag, e.getenv) }

// demo reports whether the embedded demo configuration runs.
func (e *env) demo() bool { return e.configPath() == "" }

// load reads the configuration, with every problem in it, and builds the
// process logger it asks for.
func (e *env) load() (config.Config, *slog.Logger, error) {
	cfg, err := config.Load(e.configPath(), e.getenv)
	var ve *config.ValidationError
	if errors.As(err, &ve) {
		return cfg, nil, fmt.Errorf("invalid configuration (%s), %d problem(s):\n%w", e.describeConfig(), len(ve.Problems), err)
	}
	if err != nil {
		return cfg, nil, err
	}
	return cfg, observe.NewLogger(e.stderr, cfg.Log.Format, cfg.Log.Level), nil
}

func (e *env) describeConfig() string {
	if p := e.configPath(); p != "" {
		return p
	}
	return "the embedded demo configuration"
}

// cmdContext is what a command that reads the configuration gets.
type cmdContext struct {
	cfg  config.Config
	log  *slog.Logger
	demo bool
	// source names the configuration in messages: its path, or the embedded demo.
	source string
	in     io.Reader
	out    io.Writer
	args   []string // positional arguments
}

// withConfig makes an action that loads the configuration first.
func withConfig(f func(ctx context.Context, c cmdContext) error) action {
	return func(ctx context.Context, e *env, args []string) error {
		cfg, log, err := e.load()
		if err != nil {
			return err
		}
		return f(ctx, cmdContext{cfg: cfg, log: log, demo: e.demo(), source: e.describeConfig(), in: e.stdin, out: e.stdout, args: args})
	}
}
