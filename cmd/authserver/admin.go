package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/authserver-dev/authserver/authserver/admin"
	"github.com/authserver-dev/authserver/authserver/setup"
	"github.com/authserver-dev/authserver/authserver/storage/sqlstore"
	"github.com/authserver-dev/authserver/config"
)

// The administration commands (client, user, session, grant, keys,
// registration-token) are a thin layer over the administration service,
// package authserver/admin, which owns every rule: validation, the
// file-owned rule, audit events, revocations. Here they only turn flags into
// its types, print what it returns, and let exitCode map its error kinds to
// exit statuses. They work on the database directly, so they work while the
// server runs: every replica reads the same rows.

// adminCtx is what an administration command gets: its configuration and
// the service on its database.
type adminCtx struct {
	cmdContext
	svc *admin.Service
}

// withAdmin makes an action that loads the configuration, opens its
// database (never creating one, see requireDatabase) and runs f with the
// service, on a ctx whose audit events say by=cli.
func withAdmin(f func(ctx context.Context, a adminCtx) error) action {
	return adminAction(false, f)
}

// withAdminKeys is withAdmin for the keys commands, whose service also
// holds the signing keys (which needs the key-encryption key).
func withAdminKeys(f func(ctx context.Context, a adminCtx) error) action {
	return adminAction(true, f)
}

func adminAction(withKeys bool, f func(ctx context.Context, a adminCtx) error) action {
	return withConfig(func(ctx context.Context, c cmdContext) error {
		if err := requireDatabase(ctx, c.cfg.Storage); err != nil {
			return err
		}
		store, err := setup.OpenStore(ctx, c.cfg)
		if err != nil {
			return err
		}
		defer store.Close()
		o := admin.Options{Store: store, Config: c.cfg, Logger: c.log, ConfigSource: c.source, Demo: c.demo}
		if withKeys {
			if o.Keys, err = setup.KeyManager(ctx, c.cfg, store, setup.Options{Logger: c.log, Getenv: os.Getenv}); err != nil {
				return err
			}
		}
		return f(admin.WithActor(ctx, "cli"), adminCtx{cmdContext: c, svc: admin.New(o)})
	})
}

// checked runs check on the positional arguments (and the parsed flags it
// closes over) before a: a usage mistake (argError) is reported before any
// configuration or database is opened.
func checked(check func(args []string) error, a action) action {
	return func(ctx context.Context, e *env, args []string) error {
		if err := check(args); err != nil {
			return err
		}
		return a(ctx, e, args)
	}
}

// requireDatabase refuses a database that does not exist yet. Opening the
// store would create it, so a command run from the wrong folder, or with
// the wrong --config, would report success on an empty database of its own
// while the server's stays untouched. Only migrate and serve create one.
func requireDatabase(ctx context.Context, s config.Storage) error {
	ok, err := sqlstore.Initialized(ctx, s.Driver, s.DSN)
	if err != nil {
		return fmt.Errorf("looking for the %s database: %w", s.Driver, err)
	}
	if ok {
		return nil
	}
	where := maskDSN(s.DSN) + " (its schema has not been created)"
	if s.Driver == "sqlite" {
		where, _, _ = strings.Cut(strings.TrimPrefix(s.DSN, "file:"), "?")
		if abs, err := filepath.Abs(where); err == nil {
			where = abs
		}
	}
	return fmt.Errorf("no database at %s; run `authserver migrate` or check --config", where)
}

// list is a repeatable string flag. An empty value is refused: it would
// make an entry that matches nothing, and `client update --clear` is the
// way to empty a list.
type list []string

func (l *list) String() string { return strings.Join(*l, ",") }
func (l *list) Set(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("empty value (to empty a list, use client update --clear FLAG)")
	}
	*l = append(*l, v)
	return nil
}

// output is the --output flag: text for people, json for scripts.
type output string

func (o *output) String() string { return string(*o) }
func (o *output) Set(v string) error {
	if v != "text" && v != "json" {
		return errors.New("want text or json")
	}
	*o = output(v)
	return nil
}

func outputFlag(fs *flag.FlagSet) *output {
	o := output("text")
	fs.Var(&o, "output", "`FORMAT` of the result: text, or json (one document, with the names of the configuration file)")
	return &o
}

// show prints v as one JSON document when --output json, else runs text.
func (o output) show(w io.Writer, v any, text func() error) error {
	if o != "json" {
		return text()
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// nonNil makes an empty list print as [] rather than null in JSON.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// table is a tabwriter with the columns of the list commands.
func table(w io.Writer, header string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	return tw
}

// fields prints name/value lines, the text form of the show commands.
type fields struct{ tw *tabwriter.Writer }

func newFields(w io.Writer) fields { return fields{tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)} }

func (f fields) add(name string, value any) {
	var s string
	switch v := value.(type) {
	case []string:
		s = strings.Join(v, " ")
	case time.Time:
		s = when(v)
	default:
		s = fmt.Sprint(v)
	}
	if s == "" {
		s = "-"
	}
	fmt.Fprintf(f.tw, "%s\t%s\n", name, s)
}

func (f fields) flush() error { return f.tw.Flush() }

// when is a time in the listings: UTC RFC 3339, "-" for none.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// inFlags renames the fields of the problems in a KindInvalid error from
// the configuration file's names ("redirect_uris[0]", also as
// "clients[0].redirect_uris[0]") to the flags the operator typed
// ("--redirect-uri[0]"), keeping its Kind.
func inFlags(err error, names map[string]string) error {
	var e *admin.Error
	if !errors.As(err, &e) || len(e.Problems) == 0 {
		return err
	}
	renamed := *e
	renamed.Problems = make([]config.Problem, len(e.Problems))
	for i, p := range e.Problems {
		p.Field = flagField(names, p.Field)
		renamed.Problems[i] = p
	}
	return &renamed
}

// flagField is the flag for one problem's field, or the field as it was
// when no flag sets it.
func flagField(names map[string]string, field string) string {
	rest := field
	for _, entry := range []string{"clients[", "users["} {
		if strings.HasPrefix(rest, entry) {
			if _, after, ok := strings.Cut(rest, "]."); ok {
				rest = after
			}
		}
	}
	key := rest
	if i := strings.IndexAny(key, "[."); i >= 0 {
		key = key[:i]
	}
	flagName, ok := names[key]
	if !ok {
		return field
	}
	suffix := rest[len(key):]
	if strings.HasPrefix(suffix, ".") { // --claims phone_number
		suffix = " " + suffix[1:]
	}
	return flagName + suffix
}

// readPassword reads a password: from a prompt that does not echo, asked
// twice, when standard input is a terminal; else one line of standard
// input, so that scripts can pipe it in and it never shows in the process
// list. Its rules (length) are the service's.
func readPassword(in io.Reader, prompt io.Writer, username string) (string, error) {
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return promptPassword(int(f.Fd()), prompt, username)
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password on standard input: pipe it in as one line, e.g. printf '%s\\n' \"$PASSWORD\" | authserver user ...")
	}
	return pw, nil
}

func promptPassword(fd int, prompt io.Writer, username string) (string, error) {
	ask := func(p string) (string, error) {
		fmt.Fprint(prompt, p)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(prompt) // the user's Enter was not echoed
		return string(b), err
	}
	pw, err := ask("New password for " + username + ": ")
	if err != nil {
		return "", err
	}
	again, err := ask("Again: ")
	if err != nil {
		return "", err
	}
	if pw != again {
		return "", errors.New("the two passwords differ; nothing was changed")
	}
	return pw, nil
}

// parseUserClaims reads --claims: a JSON object with the keys of
// users[].claims. Unknown keys are refused here (the service never sees
// them); the rules of each claim are checked here with the flag's name and
// again by the service.
func parseUserClaims(raw string) (config.UserClaims, error) {
	var c config.UserClaims
	if raw == "" {
		return c, nil
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("--claims: %v (want a JSON object with the keys of users[].claims)", err)
	}
	if dec.More() {
		return c, errors.New("--claims: want one JSON object")
	}
	if ps := c.Problems("--claims "); len(ps) > 0 {
		return c, &admin.Error{Kind: admin.KindInvalid, Message: "--claims is not valid", Problems: ps}
	}
	return c, nil
}
