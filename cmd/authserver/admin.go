package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/password"
	"github.com/authserver-dev/authserver/authserver/setup"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/authserver/storage/sqlstore"
	"github.com/authserver-dev/authserver/config"
)

// The administration subcommands work on the database directly, so they work
// while the server runs (every replica reads the same rows).

// openStore opens the store as the server does, with the configured SQLite
// durability.
func openStore(ctx context.Context, cfg config.Config) (*sqlstore.Store, error) {
	return setup.OpenStore(ctx, cfg)
}

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

var clientAddCommand = &command{
	name:    "client add",
	summary: "register a client (a confidential client's secret is generated and printed once)",
	doc: "The client is validated as a clients entry of the configuration file would be. Without\n" +
		"--audience its access tokens carry tokens.default_audience, which must then be set.",
	setup: func(fs *flag.FlagSet) action {
		id := fs.String("id", "", "client `ID` (required)")
		name := fs.String("name", "", "`NAME` shown on the consent page (default: the id)")
		public := fs.Bool("public", false, "a public client (no secret; PKCE required)")
		var redirects, grants, scopes, audience list
		fs.Var(&redirects, "redirect-uri", "registered redirect `URI` (repeatable)")
		fs.Var(&grants, "grant", "`GRANT` type (repeatable; default authorization_code)")
		fs.Var(&scopes, "scope", "allowed `SCOPE` (repeatable; default openid profile email)")
		fs.Var(&audience, "audience", "`AUDIENCE` (aud) of its access tokens (repeatable; default tokens.default_audience)")
		return withOwner(func(ctx context.Context, c cmdContext, src string) error {
			cl := config.Client{ID: *id, Name: *name, RedirectURIs: redirects, GrantTypes: grants, Scopes: scopes, Audience: audience}
			return clientAdd(ctx, c, src, cl, *public)
		})
	},
}

var clientListCommand = &command{
	name: "client list", summary: "list the clients",
	setup: func(fs *flag.FlagSet) action { return withConfig(clientList) },
}

var clientRemoveCommand = &command{
	name: "client remove", args: "ID", nargs: 1, summary: "remove a client, revoking its refresh tokens and codes",
	doc: "Only a client added with `client add` can be removed here. One declared in the configuration\n" +
		"file belongs to the file: delete it there and restart, which removes it the same way.",
	setup: func(fs *flag.FlagSet) action { return withOwner(clientRemove) },
}

var userAddCommand = &command{
	name: "user add", args: "USERNAME", nargs: 1, summary: "add a user (the password is read from standard input)",
	doc: "The password is one line on standard input, so that it never shows in the process list:\n" +
		"  printf '%s\\n' \"$PASSWORD\" | authserver user add --email dave@example.com dave\n" +
		"--claims takes the other OpenID Connect standard claims as a JSON object with the keys of users[].claims:\n" +
		"  --claims '{\"given_name\":\"Dave\",\"phone_number\":\"+1 555 0100\",\"address\":{\"locality\":\"Paris\"}}'",
	setup: func(fs *flag.FlagSet) action {
		email := fs.String("email", "", "`EMAIL` address")
		name := fs.String("name", "", "full `NAME`")
		claims := fs.String("claims", "", "other standard claims as a `JSON` object (the keys of users[].claims)")
		return withOwner(func(ctx context.Context, c cmdContext, src string) error {
			std, err := parseUserClaims(*claims)
			if err != nil {
				return err
			}
			return userSave(ctx, c, src, "add", *email, *name, std)
		})
	},
}

var userPasswdCommand = &command{
	name: "user passwd", args: "USERNAME", nargs: 1, summary: "set a user's password (read from standard input), ending their sessions",
	doc: "The user's sessions end and their refresh tokens are revoked: whoever knew the old password keeps\n" +
		"nothing. A user declared in the configuration file gets a new password there (then restart).",
	setup: func(fs *flag.FlagSet) action {
		return withOwner(func(ctx context.Context, c cmdContext, src string) error {
			return userSave(ctx, c, src, "passwd", "", "", storage.StandardClaims{})
		})
	},
}

var userListCommand = &command{
	name: "user list", summary: "list the users",
	setup: func(fs *flag.FlagSet) action { return withConfig(userList) },
}

var userRemoveCommand = &command{
	name: "user remove", args: "USERNAME", nargs: 1, summary: "remove a user, ending their sessions and revoking their tokens",
	doc:   "Only a user added with `user add` can be removed here; one declared in the configuration file is removed there.",
	setup: func(fs *flag.FlagSet) action { return withOwner(userRemove) },
}

// withOwner is withConfig for the commands that change clients and users,
// which also name the configuration (src): entries it declares are its own
// (storage.OwnerFile), and these commands refuse to change them, since the
// next start would undo the change.
func withOwner(f func(ctx context.Context, c cmdContext, src string) error) action {
	return func(ctx context.Context, e *env, args []string) error {
		src := e.describeConfig()
		return withConfig(func(ctx context.Context, c cmdContext) error { return f(ctx, c, src) })(ctx, e, args)
	}
}

// fileOwned is the refusal to change an entry the configuration owns:
// declared in src, or (stored as file-owned but absent from src) in the
// configuration the server last started with.
func fileOwned(c cmdContext, kind, name, src string, declared bool) error {
	switch {
	case !declared:
		return fmt.Errorf("%s %s belongs to the configuration file the server last started with (it is not in %s, whose next start removes it); edit that file instead",
			kind, name, src)
	case c.demo:
		return fmt.Errorf("%s %s is declared in %s; write a configuration file of your own and run with --config FILE to change it", kind, name, src)
	}
	return fmt.Errorf("%s %s is declared in %s; edit the file instead", kind, name, src)
}

// ownerName is the OWNER column of the list commands: file (change it in the
// configuration file) or database (change it with these commands).
func ownerName(o storage.Owner) string {
	if o == storage.OwnerDatabase {
		return "database"
	}
	return string(o)
}

func declaresClient(cfg config.Config, id string) bool {
	return slices.ContainsFunc(cfg.Clients, func(c config.Client) bool { return c.ID == id })
}

func declaresUser(cfg config.Config, username string) bool {
	return slices.ContainsFunc(cfg.Users, func(u config.User) bool { return u.Username == username })
}

// clientFlags names, in validation messages about the one client being
// added, the flags the operator typed rather than the file's keys.
var clientFlags = strings.NewReplacer(
	"clients[0].redirect_uris", "--redirect-uri", "clients[0].grant_types", "--grant",
	"clients[0].scopes", "--scope", "clients[0].audience", "--audience", "clients[0].id", "--id",
	"clients[0].", "client ")

func clientAdd(ctx context.Context, c cmdContext, src string, cl config.Client, public bool) error {
	if declaresClient(c.cfg, cl.ID) {
		return fileOwned(c, "client", cl.ID, src, true)
	}
	var secret string
	if !public {
		secret = newSecret()
		cl.Secret = secret
	}
	// Validate the client as the configuration file would.
	check := c.cfg
	check.Clients = []config.Client{cl}
	check.ApplyDefaults()
	if err := check.Validate(); err != nil {
		return fmt.Errorf("the client is not valid:\n%s", clientFlags.Replace(err.Error()))
	}
	cl = check.Clients[0]
	store, err := openStore(ctx, c.cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	switch st, err := store.GetClient(ctx, cl.ID); {
	case err == nil && st.Owner == storage.OwnerFile:
		return fileOwned(c, "client", cl.ID, src, false)
	case err == nil:
		return fmt.Errorf("client %s exists; remove it first to register it anew", cl.ID)
	case !errors.Is(err, storage.ErrNotFound):
		return err
	}
	err = store.UpsertClient(ctx, storage.Client{ID: cl.ID, Name: cl.Name, SecretHash: hashIf(secret),
		RedirectURIs: cl.RedirectURIs, GrantTypes: cl.GrantTypes, Scopes: cl.Scopes, Audience: cl.Audience})
	if err != nil {
		return err
	}
	observe.Audit(ctx, c.log, observe.EventClientCreated, slog.String("client_id", cl.ID), slog.Bool("public", cl.Public()))
	if secret != "" {
		fmt.Fprintf(c.out, "client %s added; its secret (shown once, stored only as a hash):\n%s\n", cl.ID, secret)
	} else {
		fmt.Fprintf(c.out, "public client %s added\n", cl.ID)
	}
	return nil
}

func clientList(ctx context.Context, c cmdContext) error {
	store, err := openStore(ctx, c.cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	clients, err := store.ListClients(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTYPE\tOWNER\tGRANTS\tREDIRECT URIS")
	for _, cl := range clients {
		kind := "confidential"
		if cl.Public() {
			kind = "public"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cl.ID, kind, ownerName(cl.Owner), strings.Join(cl.GrantTypes, ","), strings.Join(cl.RedirectURIs, " "))
	}
	return tw.Flush()
}

func clientRemove(ctx context.Context, c cmdContext, src string) error {
	store, err := openStore(ctx, c.cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	id := c.args[0]
	st, err := store.GetClient(ctx, id)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	if declared := declaresClient(c.cfg, id); declared || (err == nil && st.Owner == storage.OwnerFile) {
		return fileOwned(c, "client", id, src, declared)
	}
	// Deleting the client also revokes its refresh tokens and codes.
	if err := store.DeleteClient(ctx, id, time.Now()); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("no client %s", id)
		}
		return err
	}
	observe.Audit(ctx, c.log, observe.EventClientRemoved, slog.String("client_id", id))
	return nil
}

func userList(ctx context.Context, c cmdContext) error {
	store, err := openStore(ctx, c.cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	users, err := store.ListUsers(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tSUB\tOWNER\tEMAIL\tNAME")
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Username, u.ID, ownerName(u.Owner), u.Email, u.Name)
	}
	return tw.Flush()
}

// userSave adds a user (sub "add") or sets an existing user's password
// (sub "passwd"), which ends their sessions and revokes their tokens.
func userSave(ctx context.Context, c cmdContext, src, sub, email, name string, claims storage.StandardClaims) error {
	store, err := openStore(ctx, c.cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	username := c.args[0]
	existing, err := store.GetUserByUsername(ctx, username)
	if declared := declaresUser(c.cfg, username); declared || (err == nil && existing.Owner == storage.OwnerFile) {
		return fileOwned(c, "user", username, src, declared)
	}
	switch {
	case sub == "add" && err == nil:
		return fmt.Errorf("user %s exists; use user passwd", username)
	case sub == "passwd" && errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("no user %s", username)
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		return err
	}
	pw, err := readPassword(c.in)
	if err != nil {
		return err
	}
	params := password.Params{MemoryKiB: c.cfg.Passwords.MemoryKiB, Iterations: c.cfg.Passwords.Iterations, Parallelism: c.cfg.Passwords.Parallelism}
	hash, err := password.Hash(pw, params)
	if err != nil {
		return err
	}
	if sub == "passwd" {
		// One transaction with the end of the user's sessions and tokens.
		if err := store.SetUserPassword(ctx, existing.ID, hash, time.Now()); err != nil {
			return err
		}
		observe.Audit(ctx, c.log, observe.EventUserPasswordChanged, slog.String("username", username), slog.String("user_id", existing.ID))
		fmt.Fprintf(c.out, "user %s saved; their sessions ended and their refresh tokens are revoked\n", username)
		return nil
	}
	now := time.Now()
	saved, err := store.UpsertUser(ctx, storage.User{Username: username, PasswordHash: hash, Email: email, Name: name, Claims: claims,
		CreatedAt: now, UpdatedAt: now})
	if err != nil {
		return err
	}
	observe.Audit(ctx, c.log, observe.EventUserCreated, slog.String("username", username), slog.String("user_id", saved.ID))
	fmt.Fprintf(c.out, "user %s saved\n", username)
	return nil
}

func userRemove(ctx context.Context, c cmdContext, src string) error {
	store, err := openStore(ctx, c.cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := store.GetUserByUsername(ctx, c.args[0])
	if declared := declaresUser(c.cfg, c.args[0]); declared || (err == nil && u.Owner == storage.OwnerFile) {
		return fileOwned(c, "user", c.args[0], src, declared)
	}
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("no user %s", c.args[0])
	}
	if err != nil {
		return err
	}
	// Deleting the user also ends their sessions and revokes their tokens.
	if err := store.DeleteUser(ctx, u.ID, time.Now()); err != nil {
		return err
	}
	observe.Audit(ctx, c.log, observe.EventUserRemoved, slog.String("username", u.Username), slog.String("user_id", u.ID))
	return nil
}

// readPassword reads one line; scripts pipe it in so it never shows in the
// process list.
func readPassword(in io.Reader) (string, error) {
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	pw := strings.TrimRight(line, "\r\n")
	if len(pw) < 8 {
		return "", errors.New("the password (read from standard input) must have at least 8 characters")
	}
	return pw, nil
}

// newSecret is a client secret of 256 random bits.
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashIf(secret string) string {
	if secret == "" {
		return ""
	}
	return storage.Hash(secret)
}

// parseUserClaims reads --claims: a JSON object with the keys of
// users[].claims, checked by the rules the configuration file follows.
func parseUserClaims(raw string) (storage.StandardClaims, error) {
	if raw == "" {
		return storage.StandardClaims{}, nil
	}
	var c config.UserClaims
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return storage.StandardClaims{}, fmt.Errorf("--claims: %v (want a JSON object with the keys of users[].claims)", err)
	}
	if ps := c.Problems("--claims "); len(ps) > 0 {
		msgs := make([]string, len(ps))
		for i, p := range ps {
			msgs[i] = p.Field + ": " + p.Message
		}
		return storage.StandardClaims{}, errors.New(strings.Join(msgs, "; "))
	}
	return setup.StandardClaims(c), nil
}
