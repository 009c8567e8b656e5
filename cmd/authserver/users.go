package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/authserver-dev/authserver/authserver/admin"
	"github.com/authserver-dev/authserver/config"
)

// userFlagNames maps the fields of a users entry to the flags that set them.
var userFlagNames = map[string]string{
	"username":       "USERNAME",
	"password":       "the password",
	"email":          "--email",
	"email_verified": "--email-verified",
	"name":           "--name",
	"claims":         "--claims",
	"require_mfa":    "--require-mfa",
}

// passwordDoc is the help on passwords of the command cmd ("add --email
// dave@example.com", "passwd").
func passwordDoc(cmd string) string {
	return "The password comes from a prompt that does not echo it (asked twice) when standard input\n" +
		"is a terminal; otherwise it is one line of standard input, so that it never shows in the process list:\n" +
		"  printf '%s\\n' \"$PASSWORD\" | authserver user " + cmd + " dave"
}

const claimsDoc = "--claims takes the other OpenID Connect standard claims as a JSON object with the keys of users[].claims:\n" +
	"  --claims '{\"given_name\":\"Dave\",\"phone_number\":\"+1 555 0100\",\"address\":{\"locality\":\"Paris\"}}'"

// userFields are the flags that user add and user update share.
type userFields struct {
	email, name, claims       *string
	emailVerified, requireMFA *bool
}

func userFieldFlags(fs *flag.FlagSet, update bool) *userFields {
	claims := "other standard claims as a `JSON` object (the keys of users[].claims)"
	mfa := "the user must complete a second step (passkey, TOTP code or recovery code) at every sign-in"
	if update {
		claims += "; replaces all of them ('{}' removes them)"
		mfa += "; --require-mfa=false lifts it"
	}
	return &userFields{
		email:         fs.String("email", "", "`EMAIL` address"),
		emailVerified: fs.Bool("email-verified", false, "the email address is known to be the user's"),
		name:          fs.String("name", "", "full `NAME`"),
		claims:        fs.String("claims", "", claims),
		requireMFA:    fs.Bool("require-mfa", false, mfa),
	}
}

var userAddCommand = &command{
	name: "user add", args: "USERNAME", nargs: 1, summary: "add a user (the password is asked for, or read from standard input)",
	doc: passwordDoc("add --email dave@example.com") + "\n" + claimsDoc + "\n" +
		"A username that exists already is refused (exit 4), as is one the configuration file declares.",
	setup: func(fs *flag.FlagSet) action {
		f := userFieldFlags(fs, false)
		out := outputFlag(fs)
		var claims config.UserClaims
		parse := func([]string) (err error) {
			claims, err = parseUserClaims(*f.claims)
			return err
		}
		return checked(parse, withAdmin(func(ctx context.Context, a adminCtx) error {
			pw, err := readPassword(a.in, a.errOut, a.args[0])
			if err != nil {
				return err
			}
			nu := admin.NewUser{Password: pw}
			nu.Username, nu.Email, nu.EmailVerified, nu.Name, nu.Claims = a.args[0], *f.email, *f.emailVerified, *f.name, claims
			nu.RequireMFA = *f.requireMFA
			u, err := a.svc.CreateUser(ctx, nu)
			if err != nil {
				return inFlags(err, userFlagNames)
			}
			return out.show(a.out, u, func() error {
				_, err := fmt.Fprintf(a.out, "user %s added (sub %s)\n", u.Username, u.ID)
				return err
			})
		}))
	},
}

var userShowCommand = &command{
	name: "user show", args: "USERNAME", nargs: 1, summary: "show every field of a user (never the password)",
	setup: func(fs *flag.FlagSet) action {
		out := outputFlag(fs)
		return withAdmin(func(ctx context.Context, a adminCtx) error {
			u, err := a.svc.UserByUsername(ctx, a.args[0])
			if err != nil {
				return err
			}
			return out.show(a.out, u, func() error { return printUser(a.out, u) })
		})
	},
}

var userListCommand = &command{
	name: "user list", summary: "list the users",
	setup: func(fs *flag.FlagSet) action {
		out := outputFlag(fs)
		return withAdmin(func(ctx context.Context, a adminCtx) error {
			users, err := a.svc.ListUsers(ctx)
			if err != nil {
				return err
			}
			return out.show(a.out, nonNil(users), func() error {
				tw := table(a.out, "USERNAME\tSUB\tOWNER\tSTATE\tEMAIL\tNAME")
				for _, u := range users {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Username, u.ID, u.Owner, userState(u), u.Email, u.Name)
				}
				return tw.Flush()
			})
		})
	},
}

var userUpdateCommand = &command{
	name: "user update", args: "USERNAME", nargs: 1, summary: "change fields of a user added with user add",
	doc: "Only the flags given change a field; the others stay as they are (--email '' removes the address).\n" +
		"The username does not change; the password changes with user passwd.\n" + claimsDoc + "\n" +
		"--require-mfa makes the user complete a second step at every sign-in (--require-mfa=false lifts it);\n" +
		"a user with no second factor yet signs in with the password only to /account, to enrol one.",
	setup: func(fs *flag.FlagSet) action {
		f := userFieldFlags(fs, true)
		out := outputFlag(fs)
		var p admin.UserPatch
		makePatch := func([]string) error {
			set := map[string]bool{}
			fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
			if set["email"] {
				p.Email = f.email
			}
			if set["email-verified"] {
				p.EmailVerified = f.emailVerified
			}
			if set["name"] {
				p.Name = f.name
			}
			if set["claims"] {
				claims, err := parseUserClaims(*f.claims)
				if err != nil {
					return err
				}
				p.Claims = &claims
			}
			if set["require-mfa"] {
				p.RequireMFA = f.requireMFA
			}
			if p == (admin.UserPatch{}) {
				return argError("nothing to change: give the flags of the fields to change")
			}
			return nil
		}
		return checked(makePatch, withAdmin(func(ctx context.Context, a adminCtx) error {
			u, err := a.svc.UserByUsername(ctx, a.args[0])
			if err != nil {
				return err
			}
			if u, err = a.svc.UpdateUser(ctx, u.ID, p); err != nil {
				return inFlags(err, userFlagNames)
			}
			return out.show(a.out, u, func() error {
				fmt.Fprintf(a.out, "user %s updated\n\n", u.Username)
				return printUser(a.out, u)
			})
		}))
	},
}

var userPasswdCommand = &command{
	name: "user passwd", args: "USERNAME", nargs: 1, summary: "set a user's password, ending their sessions and revoking their refresh tokens",
	doc: passwordDoc("passwd") + "\n" +
		"The user's sessions end and their refresh tokens are revoked: whoever knew the old password keeps\n" +
		"nothing. A user declared in the configuration file gets a new password there (then restart).",
	setup: func(fs *flag.FlagSet) action {
		return withAdmin(func(ctx context.Context, a adminCtx) error {
			u, err := a.svc.UserByUsername(ctx, a.args[0])
			if err != nil {
				return err
			}
			pw, err := readPassword(a.in, a.errOut, u.Username)
			if err != nil {
				return err
			}
			if err := a.svc.SetPassword(ctx, u.ID, pw); err != nil {
				return inFlags(err, userFlagNames)
			}
			_, err = fmt.Fprintf(a.out, "user %s has a new password; their sessions ended and their refresh tokens are revoked\n", u.Username)
			return err
		})
	},
}

var userDisableCommand = &command{
	name: "user disable", args: "USERNAME", nargs: 1, summary: "stop a user from signing in, ending their sessions and grants",
	doc: "Their sessions end, their refresh tokens are revoked and their codes deleted at once; they cannot sign\n" +
		"in until `user enable`, which gives nothing of that back. A user declared in the configuration\n" +
		"file is removed there instead.",
	setup: func(fs *flag.FlagSet) action { return setDisabled(true) },
}

var userEnableCommand = &command{
	name: "user enable", args: "USERNAME", nargs: 1, summary: "let a disabled user sign in again",
	setup: func(fs *flag.FlagSet) action { return setDisabled(false) },
}

func setDisabled(disabled bool) action {
	return withAdmin(func(ctx context.Context, a adminCtx) error {
		u, err := a.svc.UserByUsername(ctx, a.args[0])
		if err != nil {
			return err
		}
		if err := a.svc.SetDisabled(ctx, u.ID, disabled); err != nil {
			return err
		}
		msg := "user %s is enabled: they can sign in again\n"
		if disabled {
			msg = "user %s is disabled: their sessions ended and their refresh tokens are revoked\n"
		}
		_, err = fmt.Fprintf(a.out, msg, u.Username)
		return err
	})
}

var userRemoveCommand = &command{
	name: "user remove", args: "USERNAME", nargs: 1, summary: "remove a user, ending their sessions and revoking their tokens",
	doc: "Only a user added with `user add` can be removed here; one declared in the configuration file is removed there.",
	setup: func(fs *flag.FlagSet) action {
		return withAdmin(func(ctx context.Context, a adminCtx) error {
			u, err := a.svc.UserByUsername(ctx, a.args[0])
			if err != nil {
				return err
			}
			if err := a.svc.DeleteUser(ctx, u.ID); err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.out, "user %s removed, with their sessions, codes, refresh tokens and grants\n", u.Username)
			return err
		})
	},
}

func userState(u admin.User) string {
	if u.Disabled {
		return "disabled"
	}
	return "enabled"
}

// printUser is the text of user show: every field, by the names of the
// configuration file.
func printUser(w io.Writer, u admin.User) error {
	f := newFields(w)
	f.add("username", u.Username)
	f.add("id (sub)", u.ID)
	f.add("owner", u.Owner)
	f.add("state", userState(u))
	f.add("email", u.Email)
	f.add("email_verified", u.EmailVerified)
	f.add("name", u.Name)
	f.add("require_mfa", u.RequireMFA)
	c := u.Claims
	for _, kv := range [][2]string{
		{"given_name", c.GivenName}, {"family_name", c.FamilyName}, {"middle_name", c.MiddleName},
		{"nickname", c.Nickname}, {"profile", c.Profile}, {"picture", c.Picture}, {"website", c.Website},
		{"gender", c.Gender}, {"birthdate", c.Birthdate}, {"zoneinfo", c.Zoneinfo}, {"locale", c.Locale},
		{"phone_number", c.PhoneNumber},
	} {
		f.add("claims."+kv[0], kv[1])
	}
	f.add("claims.phone_number_verified", c.PhoneNumberVerified)
	a := c.Address
	for _, kv := range [][2]string{
		{"formatted", a.Formatted}, {"street_address", a.StreetAddress}, {"locality", a.Locality},
		{"region", a.Region}, {"postal_code", a.PostalCode}, {"country", a.Country},
	} {
		f.add("claims.address."+kv[0], kv[1])
	}
	f.add("created_at", u.CreatedAt)
	f.add("updated_at", u.UpdatedAt)
	return f.flush()
}
