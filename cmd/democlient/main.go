// Command democlient is a small web app that signs a user in at the provider
// with the authorization code flow and PKCE, shows the verified ID token and
// calls the sample API; "democlient password" does the same from a terminal
// with the password grant.
//
// With --dpop it binds its access tokens to a key made at start (RFC 9449):
// it signs a DPoP proof for every token request and API call.
//
// It imports only the standard library, golang.org/x/oauth2,
// github.com/coreos/go-oidc/v3 and, for the DPoP proofs, go-jose (which
// go-oidc uses itself), never a package of this module: it proves that the
// provider works for a third-party app over HTTP alone.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
