package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/authserver-dev/authserver/authserver/admin"
)

// The keys commands work on the database, so a running server picks a
// change up at its next key check (signing.key_check_interval), without a
// restart.

var keysListCommand = &command{
	name: "keys list", summary: "show the signing keys and their rotation schedule",
	setup: func(fs *flag.FlagSet) action {
		out := outputFlag(fs)
		return withAdminKeys(func(ctx context.Context, a adminCtx) error {
			ks, err := a.svc.ListKeys(ctx)
			if err != nil {
				return err
			}
			return out.show(a.out, nonNil(ks), func() error { return printKeys(a.out, ks) })
		})
	},
}

var keysRotateCommand = &command{
	name: "keys rotate", summary: "advance the key rotation one step now",
	doc: "Where there is no next key, one is published for each algorithm: it signs once signing.publish_lead\n" +
		"has passed, so that relying parties have fetched it by then. Where a next key exists, it starts\n" +
		"signing and the active key retires (published until its tokens have expired). Promoting a next\n" +
		"key before its publish lead has passed is refused (exit 4) unless --force: a relying party that\n" +
		"cached the JWKS before the key appeared rejects its tokens until it fetches the JWKS again.\n" +
		"A running server picks the change up at its next key check (signing.key_check_interval).",
	setup: func(fs *flag.FlagSet) action {
		force := fs.Bool("force", false, "promote the next key even before its publish lead has passed (say, after a key leaked)")
		out := outputFlag(fs)
		return withAdminKeys(func(ctx context.Context, a adminCtx) error {
			r, err := a.svc.RotateKeys(ctx, *force)
			if err != nil {
				return err
			}
			r.Before, r.After = nonNil(r.Before), nonNil(r.After)
			r.Created, r.Promoted, r.Retired = nonNil(r.Created), nonNil(r.Promoted), nonNil(r.Retired)
			return out.show(a.out, r, func() error { return printRotation(a.out, r) })
		})
	},
}

func printRotation(w io.Writer, r admin.Rotation) error {
	for _, k := range r.Created {
		fmt.Fprintf(w, "published %s (%s): it signs from %s\n", k.ID, k.Algorithm, when(k.ActivatesAt))
	}
	for _, k := range r.Promoted {
		fmt.Fprintf(w, "promoted %s (%s): it signs now\n", k.ID, k.Algorithm)
	}
	for _, k := range r.Retired {
		fmt.Fprintf(w, "retired %s (%s): published until %s, so its tokens still verify\n", k.ID, k.Algorithm, when(k.ExpiresAt))
	}
	if len(r.Created)+len(r.Promoted)+len(r.Retired) == 0 {
		fmt.Fprintln(w, "nothing changed")
	}
	if r.Warning != "" {
		fmt.Fprintf(w, "\nwarning: %s\n", r.Warning)
	}
	fmt.Fprintln(w)
	return printKeys(w, r.After)
}

func printKeys(w io.Writer, ks []admin.Key) error {
	tw := table(w, "KID\tALG\tSTATE\tCREATED\tSIGNS FROM\tRETIRED\tUNPUBLISHED AT")
	for _, k := range ks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, k.State, when(k.CreatedAt), when(k.ActivatesAt), when(k.RetiredAt), when(k.ExpiresAt))
	}
	return tw.Flush()
}
