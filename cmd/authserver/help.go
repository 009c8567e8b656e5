package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/authserver-dev/authserver/config"
)

// A command is one entry of the command line: a leaf that runs, or a group
// (keys, client, user) of leaves. Its flags are declared by setup, so that
// the help lists exactly the flags that the command parses.
type command struct {
	name    string // "serve", "client add"
	args    string // positional arguments in the synopsis, e.g. "USERNAME"
	summary string
	doc     string
	// nargs is the number of positional arguments the command takes, or
	// the fewest when maxArgs is larger (session end takes 1 or 2).
	nargs, maxArgs int
	// noConfig marks commands that read no configuration.
	noConfig bool
	// setup declares the command's flags on fs and returns what runs it.
	setup func(fs *flag.FlagSet) action
	subs  []*command
}

type action func(ctx context.Context, e *env, args []string) error

// usageError is a mistake on the command line: exit status 2, with usage.
type usageError struct{ msg, usage string }

func (e *usageError) Error() string { return e.msg }

// commands is the whole command line, in the order the help lists it.
var commands = []*command{
	serveCommand,
	{name: "migrate", summary: "create or upgrade the database and exit",
		doc: "Opens the database, creating it if there is none, applies the embedded migrations that are missing\n" +
			"and prints the schema version. Besides serve, it is the only command that creates a database: the\n" +
			"administration commands refuse to work on one that does not exist.",
		setup: func(fs *flag.FlagSet) action {
			return withConfig(func(ctx context.Context, c cmdContext) error { return migrate(ctx, c.cfg, c.out) })
		}},
	checkConfigCommand,
	versionCommand,
	{name: "client", summary: "manage the clients", subs: []*command{
		clientAddCommand, clientShowCommand, clientListCommand, clientUpdateCommand, clientRemoveCommand, clientRotateSecretCommand}},
	{name: "user", summary: "manage the users", subs: []*command{
		userAddCommand, userShowCommand, userListCommand, userUpdateCommand, userPasswdCommand,
		userDisableCommand, userEnableCommand, userRemoveCommand,
		userFactorsCommand, userFactorRemoveCommand, userFactorsResetCommand}},
	{name: "session", summary: "list and end users' login sessions", subs: []*command{sessionListCommand, sessionEndCommand}},
	{name: "grant", summary: "list and revoke users' consent to clients", subs: []*command{grantListCommand, grantRevokeCommand}},
	{name: "keys", summary: "show or rotate the signing keys", subs: []*command{keysListCommand, keysRotateCommand}},
	{name: "registration-token", summary: "manage the initial access tokens of dynamic client registration", subs: []*command{
		registrationTokenCreateCommand, registrationTokenListCommand, registrationTokenDeleteCommand}},
	{name: "help", args: "[COMMAND [SUBCOMMAND]]", summary: "print the usage of a command", noConfig: true},
}

var serveCommand = &command{
	name:    "serve",
	summary: "run the provider (the default command)",
	doc: "Serves the provider on listen (plain http, or https with tls.cert_file and tls.key_file).\n" +
		"Without --config and $" + config.EnvConfig + " it runs the embedded demo configuration (SQLite under ./data,\n" +
		"user alice, client demo-web), which refuses any issuer or listen address that is not loopback.",
	setup: func(fs *flag.FlagSet) action {
		devTLS := fs.Bool("dev-tls", false, "serve https with a self-signed certificate for 127.0.0.1, ::1 and localhost, created once under the data directory")
		return withConfig(func(ctx context.Context, c cmdContext) error {
			if c.demo {
				if err := demoProblem(c.cfg); err != nil {
					return err
				}
			}
			return serve(ctx, c.cfg, serveOptions{Demo: c.demo, DevTLS: *devTLS, ConfigSource: c.source}, c.log)
		})
	},
}

var versionCommand = &command{
	name: "version", summary: "print the version and the source revision", noConfig: true,
	setup: func(fs *flag.FlagSet) action {
		return func(ctx context.Context, e *env, args []string) error { return printVersion(e.stdout) }
	},
}

// dispatch finds the command that args name and runs it.
func dispatch(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help":
			fmt.Fprint(e.stdout, rootUsage())
			return nil
		case "-version", "--version":
			return printVersion(e.stdout)
		case "help":
			return helpCommand(e, args[1:])
		}
	}
	// No command, or flags first, means serve.
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return execute(ctx, e, serveCommand, args)
	}
	c := find(commands, args[0])
	if c == nil {
		return &usageError{msg: fmt.Sprintf("unknown command %q", args[0]), usage: rootUsage()}
	}
	args = args[1:]
	if c.subs == nil {
		return execute(ctx, e, c, args)
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if wantsHelp(args) {
			fmt.Fprint(e.stdout, groupUsage(c))
			return nil
		}
		return &usageError{msg: fmt.Sprintf("%s needs a subcommand", c.name), usage: groupUsage(c)}
	}
	sub := find(c.subs, c.name+" "+args[0])
	if sub == nil {
		return &usageError{msg: fmt.Sprintf("unknown command %q", c.name+" "+args[0]), usage: groupUsage(c)}
	}
	return execute(ctx, e, sub, args[1:])
}

// execute parses a leaf command's flags and runs it; -h or --help anywhere
// in args prints its usage instead, before any configuration is read.
func execute(ctx context.Context, e *env, c *command, args []string) error {
	fs, run := c.flagSet()
	if wantsHelp(args) {
		fmt.Fprint(e.stdout, leafUsage(c, fs))
		return nil
	}
	args, err := parseInterspersed(fs, args)
	if err != nil {
		return &usageError{msg: err.Error(), usage: leafUsage(c, fs)}
	}
	if msg := c.checkArgs(args); msg != "" {
		return &usageError{msg: msg, usage: leafUsage(c, fs)}
	}
	err = run(ctx, e, args)
	// A mistake only the command can see (flags that exclude each other).
	var ae argError
	if errors.As(err, &ae) {
		return &usageError{msg: c.name + ": " + string(ae), usage: leafUsage(c, fs)}
	}
	return err
}

// parseInterspersed parses the flags wherever they are among the positional
// arguments, which it returns: `user add dave --email d@example.com` as well
// as `user add --email d@example.com dave`. After "--" every argument is
// positional, for one that starts with a dash.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		// Parse stops at the first positional argument, or consumes "--".
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(positional, rest...), nil
		}
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// argError is a usage mistake found by a command's action; execute turns it
// into a *usageError with the command's usage.
type argError string

func (e argError) Error() string { return string(e) }

// checkArgs says what is wrong with the number of positional arguments, or
// "" when it is right.
func (c *command) checkArgs(args []string) string {
	most := max(c.nargs, c.maxArgs)
	switch n := len(args); {
	case n >= c.nargs && n <= most:
		return ""
	case most == 0:
		return fmt.Sprintf("%s takes no arguments, got %q", c.name, args)
	case n < c.nargs:
		return fmt.Sprintf("%s needs %s", c.name, c.args)
	case most == 1:
		return fmt.Sprintf("%s takes one %s, got %q", c.name, c.args, args)
	}
	return fmt.Sprintf("%s takes %s, got %q", c.name, c.args, args)
}

func (c *command) flagSet() (*flag.FlagSet, action) {
	fs := flag.NewFlagSet("authserver "+c.name, flag.ContinueOnError)
	// Errors and help are printed by dispatch, each to its stream.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if !c.noConfig {
		// Only for the help: --config is taken out of the arguments before
		// any command sees them, so it may come before or after the command.
		fs.String("config", "", "configuration `FILE` (default: $"+config.EnvConfig+", else the embedded demo configuration)")
	}
	var run action
	if c.setup != nil {
		run = c.setup(fs)
	}
	return fs, run
}

func helpCommand(e *env, args []string) error {
	if len(args) == 0 || wantsHelp(args[:1]) {
		fmt.Fprint(e.stdout, rootUsage())
		return nil
	}
	c := find(commands, args[0])
	if c == nil {
		return &usageError{msg: fmt.Sprintf("unknown command %q", args[0]), usage: rootUsage()}
	}
	if c.subs != nil && len(args) > 1 {
		sub := find(c.subs, c.name+" "+args[1])
		if sub == nil {
			return &usageError{msg: fmt.Sprintf("unknown command %q", c.name+" "+args[1]), usage: groupUsage(c)}
		}
		c = sub
	}
	if c.subs != nil {
		fmt.Fprint(e.stdout, groupUsage(c))
		return nil
	}
	fs, _ := c.flagSet()
	fmt.Fprint(e.stdout, leafUsage(c, fs))
	return nil
}

func find(cs []*command, name string) *command {
	for _, c := range cs {
		if c.name == name {
			return c
		}
	}
	return nil
}

// wantsHelp reports whether args ask for help before any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// splitConfigFlag takes --config (or -config) out of args, wherever it is.
func splitConfigFlag(args []string) (path string, rest []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return path, append(rest, args[i:]...), nil
		case a == "--config" || a == "-config":
			if i+1 >= len(args) {
				return "", nil, errors.New("flag needs an argument: --config")
			}
			path = args[i+1]
			i++
		case strings.HasPrefix(a, "--config="), strings.HasPrefix(a, "-config="):
			_, path, _ = strings.Cut(a, "=")
		default:
			rest = append(rest, a)
		}
	}
	return path, rest, nil
}

func rootUsage() string {
	var b strings.Builder
	b.WriteString(`Usage: authserver [COMMAND] [--config FILE] [FLAGS]

authserver is an OAuth 2.0 and OpenID Connect provider. Without a command it serves.

Commands:
`)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, c := range commands {
		if c.subs == nil {
			fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(c.name+" "+c.args), c.summary)
			continue
		}
		for _, s := range c.subs {
			fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(s.name+" "+s.args), s.summary)
		}
	}
	tw.Flush()
	b.WriteString(`
Global flags (before or after the command):
  --config FILE   configuration file; default $` + config.EnvConfig + `, else the embedded demo
                  configuration (loopback only; see config/authserver.yaml)
  -h, --help      print this help, or a command's with COMMAND --help
  --version       print the version and the source revision

Environment: ` + config.EnvConfig + `, ` + config.EnvListen + `, ` + config.EnvIssuer + `,
` + config.EnvStorageDriver + `, ` + config.EnvStorageDSN + ` override the file;
AUTHSERVER_KEY_ENCRYPTION_KEY (base64 of 32 bytes) seals the signing keys.

Exit status: 0 done, 1 error, 2 usage mistake, 3 not found, 4 conflict (the id exists, the
entry belongs to the configuration file, or the change is unsafe without --force).
The administration commands print text, or one JSON document with --output json.

Run 'authserver help COMMAND' for the flags of a command.
`)
	return b.String()
}

func groupUsage(c *command) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: authserver %s COMMAND [--config FILE] [FLAGS]\n\n%s.\n\nCommands:\n", c.name, upper(c.summary))
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, s := range c.subs {
		fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(s.name+" "+s.args), s.summary)
	}
	tw.Flush()
	fmt.Fprintf(&b, "\nRun 'authserver help %s COMMAND' for the flags of a command.\n", c.name)
	return b.String()
}

func leafUsage(c *command, fs *flag.FlagSet) string {
	var b strings.Builder
	synopsis := "authserver " + c.name
	if !c.noConfig {
		synopsis += " [--config FILE]"
	}
	hasFlags := false
	fs.VisitAll(func(f *flag.Flag) { hasFlags = hasFlags || f.Name != "config" })
	if hasFlags {
		synopsis += " [FLAGS]"
	}
	if c.args != "" {
		synopsis += " " + c.args
	}
	fmt.Fprintf(&b, "Usage: %s\n\n%s.\n", synopsis, upper(c.summary))
	if c.doc != "" {
		fmt.Fprintf(&b, "\n%s\n", c.doc)
	}
	if hasFlags || !c.noConfig {
		b.WriteString("\nFlags:\n")
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return b.String()
}

func upper(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
