package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/authserver-dev/authserver/authserver/password"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/authserver/storage/sqlstore"
	"github.com/authserver-dev/authserver/config"
)

// The administration subcommands work on the database directly, so they work
// while the server runs (every replica reads the same rows).

func openStore(ctx context.Context, cfg config.Config) (*sqlstore.Store, error) {
	return sqlstore.Open(ctx, cfg.Storage.Driver, cfg.Storage.DSN)
}

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func clientCmd(ctx context.Context, cfg config.Config, sub string, args []string, out io.Writer) error {
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	switch sub {
	case "list":
		clients, err := store.ListClients(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTYPE\tGRANTS\tREDIRECT URIS")
		for _, c := range clients {
			kind := "confidential"
			if c.Public() {
				kind = "public"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, kind, strings.Join(c.GrantTypes, ","), strings.Join(c.RedirectURIs, " "))
		}
		return tw.Flush()
	case "remove":
		if len(args) != 1 {
			return errors.New("usage: authserver client remove ID")
		}
		return store.DeleteClient(ctx, args[0])
	case "add":
		fs := flag.NewFlagSet("client add", flag.ContinueOnError)
		id := fs.String("id", "", "client id (required)")
		name := fs.String("name", "", "name shown on the consent page")
		public := fs.Bool("public", false, "a public client (no secret; PKCE required)")
		var redirects, grants, scopes list
		fs.Var(&redirects, "redirect-uri", "registered redirect URI (repeatable)")
		fs.Var(&grants, "grant", "grant type (repeatable; default authorization_code)")
		fs.Var(&scopes, "scope", "allowed scope (repeatable; default openid profile email)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		c := config.Client{ID: *id, Name: *name, RedirectURIs: redirects, GrantTypes: grants, Scopes: scopes}
		var secret string
		if !*public {
			secret = newSecret()
			c.Secret = secret
		}
		// Validate the client as the configuration file would.
		check := cfg
		check.Clients = []config.Client{c}
		check.ApplyDefaults()
		if err := check.Validate(); err != nil {
			return err
		}
		c = check.Clients[0]
		err := store.UpsertClient(ctx, storage.Client{ID: c.ID, Name: c.Name, SecretHash: hashIf(secret),
			RedirectURIs: c.RedirectURIs, GrantTypes: c.GrantTypes, Scopes: c.Scopes})
		if err != nil {
			return err
		}
		if secret != "" {
			fmt.Fprintf(out, "client %s added; its secret (shown once, stored only as a hash):\n%s\n", c.ID, secret)
		} else {
			fmt.Fprintf(out, "public client %s added\n", c.ID)
		}
		return nil
	}
	return fmt.Errorf("unknown command client %q; use add, list or remove", sub)
}

func userCmd(ctx context.Context, cfg config.Config, sub string, args []string, in io.Reader, out io.Writer) error {
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	params := password.Params{MemoryKiB: cfg.Passwords.MemoryKiB, Iterations: cfg.Passwords.Iterations, Parallelism: cfg.Passwords.Parallelism}
	switch sub {
	case "list":
		users, err := store.ListUsers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USERNAME\tSUB\tEMAIL\tNAME")
		for _, u := range users {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Username, u.ID, u.Email, u.Name)
		}
		return tw.Flush()
	case "add", "passwd":
		fs := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
		email := fs.String("email", "", "email address")
		name := fs.String("name", "", "full name")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return fmt.Errorf("usage: authserver user %s [flags] USERNAME (the password is read from standard input)", sub)
		}
		username := fs.Arg(0)
		existing, err := store.GetUserByUsername(ctx, username)
		switch {
		case sub == "add" && err == nil:
			return fmt.Errorf("user %s exists; use user passwd", username)
		case sub == "passwd" && errors.Is(err, storage.ErrNotFound):
			return fmt.Errorf("no user %s", username)
		case err != nil && !errors.Is(err, storage.ErrNotFound):
			return err
		}
		pw, err := readPassword(in)
		if err != nil {
			return err
		}
		hash, err := password.Hash(pw, params)
		if err != nil {
			return err
		}
		u := existing
		u.Username, u.PasswordHash = username, hash
		if sub == "add" {
			u.Email, u.Name = *email, *name
		}
		if _, err := store.UpsertUser(ctx, u); err != nil {
			return err
		}
		fmt.Fprintf(out, "user %s saved\n", username)
		return nil
	case "remove":
		if len(args) != 1 {
			return errors.New("usage: authserver user remove USERNAME")
		}
		u, err := store.GetUserByUsername(ctx, args[0])
		if err != nil {
			return err
		}
		// Deleting the user also ends their sessions and revokes their tokens.
		return store.DeleteUser(ctx, u.ID, time.Now())
	}
	return fmt.Errorf("unknown command user %q; use add, passwd, list or remove", sub)
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
