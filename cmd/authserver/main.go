// Command authserver is the OAuth 2.0 / OpenID Connect provider.
//
//	authserver [serve] [--config FILE] [--dev-tls]   run the provider (the default)
//	authserver migrate [--config FILE]               create or upgrade the database and exit
//	authserver check-config [--config FILE]          validate the configuration and print a summary
//	authserver version                               print the version and source revision
//	authserver client add|show|list|update|remove|rotate-secret
//	authserver user add|show|list|update|passwd|disable|enable|remove
//	authserver session list|end                      a user's login sessions
//	authserver grant list|revoke                     a user's remembered consent to clients
//	authserver keys list|rotate                      the signing keys
//	authserver registration-token create|list|delete initial access tokens for dynamic registration
//	authserver help [COMMAND]                        print the usage of a command
//
// The administration commands (client to registration-token) are a thin
// layer over the administration service, package authserver/admin: they work
// on the database of the configuration, which must exist (`migrate` or
// `serve` creates it), print text or, with --output json, one JSON document,
// and exit 0 (done), 1 (error), 2 (usage mistake), 3 (not found) or 4
// (conflict: the entry exists, belongs to the configuration file, or the
// change would be unsafe without --force).
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

	"github.com/authserver-dev/authserver/authserver/admin"
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

// Exit statuses, for scripts.
const (
	exitError    = 1
	exitUsage    = 2
	exitNotFound = 3
	exitConflict = 4
)

// exitCode reports err on stderr and maps it to the exit status: 0; 2 for a
// usage mistake (with the usage); 3 for what the administration service did
// not find; 4 for a conflict (an existing id, an entry of the configuration
// file, an unforced unsafe change); 1 for anything else.
func exitCode(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "authserver: %s\n\n%s", ue.msg, ue.usage)
		return exitUsage
	}
	fmt.Fprintln(stderr, "authserver:", err)
	switch admin.KindOf(err) {
	case admin.KindNotFound:
		return exitNotFound
	case admin.KindConflict, admin.KindFileOwned:
		return exitConflict
	}
	return exitError
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
	// errOut is standard error, for prompts and warnings meant for the
	// person at the terminal rather than for the log.
	errOut io.Writer
	args   []string // positional arguments
}

// withConfig makes an action that loads the configuration first.
func withConfig(f func(ctx context.Context, c cmdContext) error) action {
	return func(ctx context.Context, e *env, args []string) error {
		cfg, log, err := e.load()
		if err != nil {
			return err
		}
		return f(ctx, cmdContext{cfg: cfg, log: log, demo: e.demo(), source: e.describeConfig(), in: e.stdin, out: e.stdout, errOut: e.stderr, args: args})
	}
}
