package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/authserver-dev/authserver/authserver/admin"
	"github.com/authserver-dev/authserver/config"
)

// registrationTokenCreated is the JSON of registration-token create: the
// token's record and, once, the token itself.
type registrationTokenCreated struct {
	admin.RegistrationToken
	Token string `json:"token"`
}

var registrationTokenCreateCommand = &command{
	name: "registration-token create", summary: "make an initial access token for the registration endpoint, printed once",
	doc: "With registration.mode: initial_access_token, a client registers (RFC 7591) by sending the token\n" +
		"as a bearer token; each registration spends one use. Only the token's hash is stored: it is shown\n" +
		"once (with --output json as token), and registration-token list shows its ID, never the token.",
	setup: func(fs *flag.FlagSet) action {
		ttl := fs.Duration("ttl", 24*time.Hour, "how long the token can be used (1m to 2160h)")
		uses := fs.Int("uses", 1, "how many registrations it allows (1 to 1000)")
		desc := fs.String("description", "", "`TEXT` that says whom it is for, shown by registration-token list")
		out := outputFlag(fs)
		return withAdmin(func(ctx context.Context, a adminCtx) error {
			token, rt, err := a.svc.CreateRegistrationToken(ctx, *ttl, *uses, *desc)
			if err != nil {
				return inFlags(err, map[string]string{"ttl": "--ttl", "uses": "--uses", "description": "--description"})
			}
			if m := a.cfg.Registration.Mode; m != config.RegistrationInitialAccessToken {
				// In the log, which keeps its format (JSON for collectors).
				a.log.Warn("the registration endpoint takes initial access tokens only with registration.mode: "+config.RegistrationInitialAccessToken,
					"registration_mode", m)
			}
			return out.show(a.out, registrationTokenCreated{rt, token}, func() error {
				_, err := fmt.Fprintf(a.out, "registration token %s created: %d use(s) until %s; the token (shown once, stored only as a hash):\n%s\n",
					rt.ID, rt.UsesLeft, when(rt.ExpiresAt), token)
				return err
			})
		})
	},
}

var registrationTokenListCommand = &command{
	name: "registration-token list", summary: "list the initial access tokens that can still be used (never the tokens)",
	setup: func(fs *flag.FlagSet) action {
		out := outputFlag(fs)
		return withAdmin(func(ctx context.Context, a adminCtx) error {
			rts, err := a.svc.ListRegistrationTokens(ctx)
			if err != nil {
				return err
			}
			return out.show(a.out, nonNil(rts), func() error {
				tw := table(a.out, "ID\tUSES LEFT\tCREATED\tEXPIRES\tDESCRIPTION")
				for _, rt := range rts {
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", rt.ID, rt.UsesLeft, when(rt.CreatedAt), when(rt.ExpiresAt), dash(rt.Description))
				}
				return tw.Flush()
			})
		})
	},
}

var registrationTokenDeleteCommand = &command{
	name: "registration-token delete", args: "ID", nargs: 1, summary: "delete an initial access token, so that it registers nothing more",
	doc: "Clients it registered stay: remove them with client remove.",
	setup: func(fs *flag.FlagSet) action {
		return withAdmin(func(ctx context.Context, a adminCtx) error {
			if err := a.svc.DeleteRegistrationToken(ctx, a.args[0]); err != nil {
				return err
			}
			_, err := fmt.Fprintf(a.out, "registration token %s deleted\n", a.args[0])
			return err
		})
	},
}
