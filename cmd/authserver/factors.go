package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/authserver-dev/authserver/authserver/admin"
)

// A user's second factors are named by username here, as sessions are.
// They are the user's, not entries of the configuration file, so these
// commands work on file users too.

const factorsDoc = "Removing a factor ends every session of the user (a session does not record which passkey\n" +
	"signed it in); refresh tokens of offline_access stay, as after a sign-out: `user disable` or\n" +
	"`user passwd` ends those too."

var userFactorsCommand = &command{
	name: "user factors", args: "USERNAME", nargs: 1, summary: "list a user's second factors: passkeys, TOTP, recovery codes",
	doc: "Shows each passkey's ID (give it to user factor-remove), label and when it was enrolled and last\n" +
		"used; whether a TOTP authenticator is enrolled and confirmed; how many recovery codes are unspent.\n" +
		"Never a key, a secret or a code.",
	setup: func(fs *flag.FlagSet) action {
		out := outputFlag(fs)
		return withAdmin(func(ctx context.Context, a adminCtx) error {
			u, err := a.svc.UserByUsername(ctx, a.args[0])
			if err != nil {
				return err
			}
			f, err := a.svc.ListFactors(ctx, u.ID)
			if err != nil {
				return err
			}
			return out.show(a.out, f, func() error { return printFactors(a.out, u, f) })
		})
	},
}

var userFactorRemoveCommand = &command{
	name: "user factor-remove", args: "USERNAME passkey ID | USERNAME totp", nargs: 2, maxArgs: 3,
	summary: "remove one of a user's passkeys, or their TOTP authenticator, ending their sessions",
	doc: "The ID of a passkey is listed by user factors. Recovery codes stay; user factors-reset removes\n" +
		"everything.\n" + factorsDoc,
	setup: func(fs *flag.FlagSet) action {
		check := func(args []string) error {
			switch {
			case args[1] == "passkey" && len(args) != 3:
				return argError("give the ID of the passkey to remove (see user factors): user factor-remove " + args[0] + " passkey ID")
			case args[1] == "totp" && len(args) != 2:
				return argError("totp takes no ID: a user has one TOTP authenticator")
			case args[1] != "passkey" && args[1] != "totp":
				return argError(fmt.Sprintf("unknown factor %q: give passkey ID or totp", args[1]))
			}
			return nil
		}
		return checked(check, withAdmin(func(ctx context.Context, a adminCtx) error {
			u, err := a.svc.UserByUsername(ctx, a.args[0])
			if err != nil {
				return err
			}
			what := "the TOTP authenticator"
			if a.args[1] == "passkey" {
				what = "passkey " + a.args[2]
				err = a.svc.RemovePasskey(ctx, u.ID, a.args[2])
			} else {
				err = a.svc.RemoveTOTP(ctx, u.ID)
			}
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.out, "%s of %s removed; their sessions ended\n", what, u.Username)
			return err
		}))
	},
}

var userFactorsResetCommand = &command{
	name: "user factors-reset", args: "USERNAME", nargs: 1,
	summary: "remove every second factor and recovery code of a user, ending their sessions",
	doc: "For a user who lost their passkeys or authenticator: they then sign in with their password alone,\n" +
		"or, when MFA is required of them, only to /account, to enrol a factor again.\n" + factorsDoc,
	setup: func(fs *flag.FlagSet) action {
		return withAdmin(func(ctx context.Context, a adminCtx) error {
			u, err := a.svc.UserByUsername(ctx, a.args[0])
			if err != nil {
				return err
			}
			if err := a.svc.ResetFactors(ctx, u.ID); err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.out, "every second factor and recovery code of %s removed; their sessions ended\n", u.Username)
			return err
		})
	},
}

// printFactors is the text of user factors.
func printFactors(w io.Writer, u admin.User, f admin.Factors) error {
	if len(f.Passkeys) == 0 {
		fmt.Fprintf(w, "passkeys: none\n")
	} else {
		tw := table(w, "PASSKEY ID\tLABEL\tENROLLED\tLAST USED")
		for _, p := range f.Passkeys {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.ID, dash(p.Label), when(p.CreatedAt), when(p.LastUsedAt))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	fs := newFields(w)
	fs.add("totp", totpText(f.TOTP))
	fs.add("recovery_codes_left", f.RecoveryCodesLeft)
	fs.add("require_mfa", u.RequireMFA)
	return fs.flush()
}

func totpText(t *admin.TOTPInfo) string {
	switch {
	case t == nil:
		return "none"
	case !t.Confirmed:
		return "enrolment begun " + when(t.CreatedAt) + ", not confirmed (no factor yet)"
	}
	return "enrolled " + when(t.CreatedAt)
}
