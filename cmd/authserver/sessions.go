package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
)

// Sessions and grants are named by username here, and by user id in the
// service. Ending a session or revoking a grant changes no entry of the
// configuration file, so these work on file users too.

var sessionListCommand = &command{
	name: "session list", args: "USERNAME", nargs: 1, summary: "list a user's live login sessions, newest first",
	doc: "The ID of a session is its sid (the hash of its cookie, never the cookie): give it to session end.",
	setup: func(fs *flag.FlagSet) action {
		out := outputFlag(fs)
		return withAdmin(func(ctx context.Context, a adminCtx) error {
			u, err := a.svc.UserByUsername(ctx, a.args[0])
			if err != nil {
				return err
			}
			sessions, err := a.svc.ListSessions(ctx, u.ID)
			if err != nil {
				return err
			}
			return out.show(a.out, nonNil(sessions), func() error {
				tw := table(a.out, "ID\tSIGNED IN\tEXPIRES\tIP\tUSER AGENT")
				for _, s := range sessions {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, when(s.AuthTime), when(s.ExpiresAt), dash(s.IP), dash(s.UserAgent))
				}
				return tw.Flush()
			})
		})
	},
}

var sessionEndCommand = &command{
	name: "session end", args: "USERNAME [SESSION_ID]", nargs: 1, maxArgs: 2,
	summary: "end one of a user's sessions, or all of them with --all",
	doc: "A session ends as at sign-out: its cookie no longer signs in, its refresh tokens are revoked\n" +
		"and the clients with a backchannel_logout_uri get a logout token. Either name the session\n" +
		"(an ID from session list) or give --all, optionally keeping one with --except SESSION_ID.",
	setup: func(fs *flag.FlagSet) action {
		all := fs.Bool("all", false, "end every session of the user")
		except := fs.String("except", "", "with --all, keep the session with this `SESSION_ID`")
		check := func(args []string) error {
			switch {
			case *all && len(args) == 2:
				return argError("give either a SESSION_ID or --all, not both")
			case !*all && len(args) == 1:
				return argError("give the SESSION_ID to end (see session list), or --all")
			case *except != "" && !*all:
				return argError("--except goes with --all")
			}
			return nil
		}
		return checked(check, withAdmin(func(ctx context.Context, a adminCtx) error {
			u, err := a.svc.UserByUsername(ctx, a.args[0])
			if err != nil {
				return err
			}
			if !*all {
				if err := a.svc.EndSession(ctx, u.ID, a.args[1]); err != nil {
					return err
				}
				_, err = fmt.Fprintf(a.out, "session %s of %s ended\n", a.args[1], u.Username)
				return err
			}
			n, err := a.svc.EndSessions(ctx, u.ID, *except)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.out, "%d session(s) of %s ended\n", n, u.Username)
			return err
		}))
	},
}

var grantListCommand = &command{
	name: "grant list", args: "USERNAME", nargs: 1, summary: "list the clients a user gave consent to, with the scopes",
	setup: func(fs *flag.FlagSet) action {
		out := outputFlag(fs)
		return withAdmin(func(ctx context.Context, a adminCtx) error {
			u, err := a.svc.UserByUsername(ctx, a.args[0])
			if err != nil {
				return err
			}
			grants, err := a.svc.ListGrants(ctx, u.ID)
			if err != nil {
				return err
			}
			return out.show(a.out, nonNil(grants), func() error {
				tw := table(a.out, "CLIENT\tNAME\tSCOPES\tGRANTED\tUPDATED")
				for _, g := range grants {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", g.ClientID, dash(g.ClientName), strings.Join(g.Scopes, " "), when(g.CreatedAt), when(g.UpdatedAt))
				}
				return tw.Flush()
			})
		})
	},
}

var grantRevokeCommand = &command{
	name: "grant revoke", args: "USERNAME CLIENT_ID", nargs: 2, summary: "revoke a user's consent to a client, and the refresh tokens it allowed",
	doc: "The client's next authorization for this user asks for consent again.",
	setup: func(fs *flag.FlagSet) action {
		return withAdmin(func(ctx context.Context, a adminCtx) error {
			u, err := a.svc.UserByUsername(ctx, a.args[0])
			if err != nil {
				return err
			}
			if err := a.svc.RevokeGrant(ctx, u.ID, a.args[1]); err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.out, "%s's consent to %s is revoked, with the refresh tokens it allowed\n", u.Username, a.args[1])
			return err
		})
	},
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
