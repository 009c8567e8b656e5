package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/authserver-dev/authserver/authserver/admin"
)

// clientFlagNames maps the fields of a clients entry (and of the JSON) to
// the flags that set them, for the service's validation messages.
var clientFlagNames = map[string]string{
	"id":                                    "--id",
	"name":                                  "--name",
	"public":                                "--public",
	"secret_hash":                           "--secret-hash",
	"redirect_uris":                         "--redirect-uri",
	"post_logout_redirect_uris":             "--post-logout-redirect-uri",
	"grant_types":                           "--grant",
	"scopes":                                "--scope",
	"audience":                              "--audience",
	"skip_consent":                          "--skip-consent",
	"allow_introspection":                   "--allow-introspection",
	"id_token_signed_response_alg":          "--id-token-alg",
	"backchannel_logout_uri":                "--backchannel-logout-uri",
	"backchannel_logout_session_required":   "--backchannel-logout-session-required",
	"token_endpoint_auth_method":            "--token-endpoint-auth-method",
	"jwks":                                  "--jwks",
	"jwks_uri":                              "--jwks-uri",
	"require_pushed_authorization_requests": "--require-par",
	"dpop_bound_access_tokens":              "--dpop-bound",
	"profile":                               "--profile",
	"require_mfa":                           "--require-mfa",
	"default_acr_values":                    "--default-acr-value",
}

// clientFields are the flags of the fields that client add and client
// update share.
type clientFields struct {
	name, idTokenAlg, bclURI                    *string
	skipConsent, introspection, bclSessionReq   *bool
	redirects, postLogout, grants, scopes, auds list
	authMethod, jwksURI, profile                *string
	requirePAR, dpopBound, requireMFA           *bool
	jwks                                        jwksFlag
	acrValues                                   list
}

// jwksFlag is --jwks: the client's public JWK Set as JSON, given inline
// when the value starts with { and otherwise read from the file the value
// names (the jwks.json a client publishes). It must be JSON; whether it is
// a good key set is the service's to say.
type jwksFlag struct{ doc json.RawMessage }

func (j *jwksFlag) String() string { return "" }
func (j *jwksFlag) Set(v string) error {
	b := []byte(v)
	if !strings.HasPrefix(strings.TrimSpace(v), "{") {
		var err error
		if b, err = os.ReadFile(v); err != nil {
			return fmt.Errorf("reading the JWK Set: %w", err)
		}
	}
	if !json.Valid(b) {
		return errors.New(`not valid JSON: give a JWK Set ({"keys":[...]}) inline, or the path of a file holding one`)
	}
	j.doc = b
	return nil
}

func clientFieldFlags(fs *flag.FlagSet, update bool) *clientFields {
	f := &clientFields{}
	dflt := func(add, upd string) string {
		if update {
			return upd
		}
		return add
	}
	f.name = fs.String("name", "", "`NAME` shown on the consent page"+dflt(" (default: the id)", ""))
	repeat := dflt(" (repeatable", " (repeatable; replaces the list")
	fs.Var(&f.redirects, "redirect-uri", "registered redirect `URI`"+repeat+"; compared exactly)")
	fs.Var(&f.postLogout, "post-logout-redirect-uri", "`URI` that logout may return to"+repeat+")")
	fs.Var(&f.grants, "grant", "`GRANT` type: authorization_code, refresh_token, client_credentials or password"+repeat+dflt("; default authorization_code)", ")"))
	fs.Var(&f.scopes, "scope", "allowed `SCOPE`"+repeat+dflt("; default openid profile email)", ")"))
	fs.Var(&f.auds, "audience", "`AUDIENCE` (aud) of its access tokens"+repeat+dflt("; default tokens.default_audience)", ")"))
	f.skipConsent = fs.Bool("skip-consent", false, "never ask users for consent (first-party clients only)")
	f.introspection = fs.Bool("allow-introspection", false, "may call the introspection endpoint (RFC 7662)")
	f.idTokenAlg = fs.String("id-token-alg", "", "`ALG` of its ID tokens (id_token_signed_response_alg; default signing.id_token_algorithm)")
	f.bclURI = fs.String("backchannel-logout-uri", "", "`URI` that receives a logout token when a session it got tokens in ends")
	f.bclSessionReq = fs.Bool("backchannel-logout-session-required", false, "it needs sid in its logout tokens (always sent; recorded)")
	f.authMethod = fs.String("token-endpoint-auth-method", "", "`METHOD` of client authentication: client_secret_basic, client_secret_post, private_key_jwt or none"+
		dflt(" (default: either secret method, or none with --public)", " (among the first three only)"))
	fs.Var(&f.jwks, "jwks", "the client's public JWK Set: inline JSON starting with {, or the `FILE` holding it (for private_key_jwt)")
	f.jwksURI = fs.String("jwks-uri", "", "`URL` where the client serves its JWK Set instead (https, or http on a loopback host)")
	f.requirePAR = fs.Bool("require-par", false, "its authorization requests must be pushed to /par (RFC 9126)")
	f.dpopBound = fs.Bool("dpop-bound", false, "its access tokens must be DPoP-bound (RFC 9449)")
	f.profile = fs.String("profile", "", "`PROFILE` fapi2: the FAPI 2.0 Security Profile (implies --require-par and --dpop-bound)")
	f.requireMFA = fs.Bool("require-mfa", false, "its users must have signed in with a second factor (a password-only session is stepped up)"+
		dflt("", "; --require-mfa=false lifts it"))
	fs.Var(&f.acrValues, "default-acr-value", "`ACR` asked for when a request sends no acr_values: urn:authserver:acr:password, "+
		"urn:authserver:acr:mfa or urn:authserver:acr:phishing-resistant"+repeat+")")
	return f
}

// client is the client the flags describe, for client add.
func (f *clientFields) client() admin.Client {
	return admin.Client{
		Name: *f.name, RedirectURIs: f.redirects, PostLogoutRedirectURIs: f.postLogout, GrantTypes: f.grants,
		Scopes: f.scopes, Audience: f.auds, SkipConsent: *f.skipConsent, AllowIntrospection: *f.introspection,
		IDTokenSignedResponseAlg: *f.idTokenAlg, BackchannelLogoutURI: *f.bclURI,
		BackchannelLogoutSessionRequired: *f.bclSessionReq,
		TokenEndpointAuthMethod:          *f.authMethod, JWKS: f.jwks.doc, JWKSURI: *f.jwksURI,
		RequirePushedAuthorizationRequests: *f.requirePAR, DPoPBoundAccessTokens: *f.dpopBound, Profile: *f.profile,
		RequireMFA: *f.requireMFA, DefaultACRValues: f.acrValues,
	}
}

// clearable are the flags that client update --clear empties.
var clearable = []string{"redirect-uri", "post-logout-redirect-uri", "grant", "scope", "audience", "default-acr-value", "jwks", "jwks-uri"}

// patch is the change the flags given on the command line describe (a flag
// not given changes nothing), for client update.
func (f *clientFields) patch(fs *flag.FlagSet, clear list) (admin.ClientPatch, error) {
	var p admin.ClientPatch
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	lists := map[string]struct {
		field **[]string
		value list
	}{
		"redirect-uri": {&p.RedirectURIs, f.redirects}, "post-logout-redirect-uri": {&p.PostLogoutRedirectURIs, f.postLogout},
		"grant": {&p.GrantTypes, f.grants}, "scope": {&p.Scopes, f.scopes}, "audience": {&p.Audience, f.auds},
		"default-acr-value": {&p.DefaultACRValues, f.acrValues},
	}
	for _, name := range clear {
		if !slices.Contains(clearable, name) {
			return p, argError(fmt.Sprintf("--clear %s: want one of %s", name, strings.Join(clearable, ", ")))
		}
		if set[name] {
			return p, argError(fmt.Sprintf("--clear %s and --%s exclude each other: --%s alone replaces the value", name, name, name))
		}
		switch name {
		case "jwks":
			p.JWKS = &json.RawMessage{'{', '}'} // the empty object: no keys
		case "jwks-uri":
			p.JWKSURI = new(string)
		default:
			*lists[name].field = &[]string{}
		}
	}
	for name, l := range lists {
		if set[name] {
			v := slices.Clone([]string(l.value))
			*l.field = &v
		}
	}
	if set["name"] {
		p.Name = f.name
	}
	if set["skip-consent"] {
		p.SkipConsent = f.skipConsent
	}
	if set["allow-introspection"] {
		p.AllowIntrospection = f.introspection
	}
	if set["id-token-alg"] {
		p.IDTokenSignedResponseAlg = f.idTokenAlg
	}
	if set["backchannel-logout-uri"] {
		p.BackchannelLogoutURI = f.bclURI
	}
	if set["backchannel-logout-session-required"] {
		p.BackchannelLogoutSessionRequired = f.bclSessionReq
	}
	if set["token-endpoint-auth-method"] {
		p.TokenEndpointAuthMethod = f.authMethod
	}
	if set["jwks"] {
		p.JWKS = &f.jwks.doc
	}
	if set["jwks-uri"] {
		p.JWKSURI = f.jwksURI
	}
	if set["require-par"] {
		p.RequirePushedAuthorizationRequests = f.requirePAR
	}
	if set["dpop-bound"] {
		p.DPoPBoundAccessTokens = f.dpopBound
	}
	if set["profile"] {
		p.Profile = f.profile
	}
	if set["require-mfa"] {
		p.RequireMFA = f.requireMFA
	}
	if p == (admin.ClientPatch{}) {
		return p, argError("nothing to change: give the flags of the fields to change")
	}
	return p, nil
}

// clientWithSecret is the JSON of client add and rotate-secret: the client
// and, when one was generated, its secret (client_secret, as in RFC 7591).
type clientWithSecret struct {
	admin.Client
	ClientSecret string `json:"client_secret,omitempty"`
}

var clientAddCommand = &command{
	name:    "client add",
	summary: "register a client (a confidential client's secret is generated and printed once)",
	doc: "The client is validated as a clients entry of the configuration file would be, and belongs to the\n" +
		"database: the file never touches it. An id that exists already is refused (exit 4), as is one the\n" +
		"file declares. Without --audience its access tokens carry tokens.default_audience, which must then\n" +
		"be set. Without --public and --secret-hash a secret of 256 random bits is generated, printed once\n" +
		"(with --output json as client_secret) and stored only as a hash. A client with\n" +
		"--token-endpoint-auth-method private_key_jwt gets no secret: it signs JWTs with its own keys,\n" +
		"whose public half --jwks (a JSON file, or inline JSON starting with {) or --jwks-uri gives.",
	setup: func(fs *flag.FlagSet) action {
		id := fs.String("id", "", "client `ID` (required)")
		public := fs.Bool("public", false, "a public client (no secret; PKCE required)")
		secretHash := fs.String("secret-hash", "", "hex `SHA-256` of a secret the client has already, instead of a generated one")
		f := clientFieldFlags(fs, false)
		out := outputFlag(fs)
		needID := func([]string) error {
			if *id == "" {
				return argError("--id is required")
			}
			return nil
		}
		return checked(needID, withAdmin(func(ctx context.Context, a adminCtx) error {
			nc := admin.NewClient{Client: f.client(), SecretHash: *secretHash}
			nc.ID, nc.Public = *id, *public
			cl, secret, err := a.svc.CreateClient(ctx, nc)
			if err != nil {
				return inFlags(err, clientFlagNames)
			}
			return out.show(a.out, clientWithSecret{cl, secret}, func() error {
				switch {
				case secret != "":
					_, err = fmt.Fprintf(a.out, "client %s added; its secret (shown once, stored only as a hash):\n%s\n", cl.ID, secret)
				case cl.Public:
					_, err = fmt.Fprintf(a.out, "public client %s added\n", cl.ID)
				case cl.TokenEndpointAuthMethod == "private_key_jwt":
					_, err = fmt.Fprintf(a.out, "client %s added; it has no secret: it authenticates with JWTs signed by its own keys (private_key_jwt)\n", cl.ID)
				default:
					_, err = fmt.Fprintf(a.out, "client %s added, with the secret whose hash --secret-hash gave\n", cl.ID)
				}
				return err
			})
		}))
	},
}

var clientShowCommand = &command{
	name: "client show", args: "ID", nargs: 1, summary: "show every field of a client",
	setup: func(fs *flag.FlagSet) action {
		out := outputFlag(fs)
		return withAdmin(func(ctx context.Context, a adminCtx) error {
			cl, err := a.svc.GetClient(ctx, a.args[0])
			if err != nil {
				return err
			}
			return out.show(a.out, cl, func() error { return printClient(a.out, cl) })
		})
	},
}

var clientListCommand = &command{
	name: "client list", summary: "list the clients",
	setup: func(fs *flag.FlagSet) action {
		out := outputFlag(fs)
		return withAdmin(func(ctx context.Context, a adminCtx) error {
			clients, err := a.svc.ListClients(ctx)
			if err != nil {
				return err
			}
			return out.show(a.out, nonNil(clients), func() error {
				tw := table(a.out, "ID\tTYPE\tOWNER\tGRANTS\tREDIRECT URIS")
				for _, cl := range clients {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cl.ID, clientType(cl), cl.Owner, strings.Join(cl.GrantTypes, ","), strings.Join(cl.RedirectURIs, " "))
				}
				return tw.Flush()
			})
		})
	},
}

var clientUpdateCommand = &command{
	name: "client update", args: "ID", nargs: 1, summary: "change fields of a client added with client add",
	doc: "Only the flags given change a field; the others stay as they are. A list flag given replaces the\n" +
		"whole list (give it once per entry); --clear FLAG empties one, e.g. --clear audience or\n" +
		"--clear jwks. Whether a client is public does not change: remove it and add it again; its secret\n" +
		"changes with client rotate-secret. --token-endpoint-auth-method moves a confidential client among\n" +
		"client_secret_basic, client_secret_post and private_key_jwt when it has what the method needs\n" +
		"(keys: --jwks or --jwks-uri; a secret: one it had before); a client that moves to private_key_jwt\n" +
		"keeps its secret's hash, unused, so that moving back needs no new secret. The result is validated\n" +
		"as client add validates. A client declared in the configuration file is changed there (exit 4 here).",
	setup: func(fs *flag.FlagSet) action {
		f := clientFieldFlags(fs, true)
		var clear list
		fs.Var(&clear, "clear", "empty the list of this `FLAG`: "+strings.Join(clearable, ", ")+" (repeatable)")
		out := outputFlag(fs)
		var p admin.ClientPatch
		makePatch := func([]string) (err error) {
			p, err = f.patch(fs, clear)
			return err
		}
		return checked(makePatch, withAdmin(func(ctx context.Context, a adminCtx) error {
			cl, err := a.svc.UpdateClient(ctx, a.args[0], p)
			if err != nil {
				return inFlags(err, clientFlagNames)
			}
			return out.show(a.out, cl, func() error {
				fmt.Fprintf(a.out, "client %s updated\n\n", cl.ID)
				return printClient(a.out, cl)
			})
		}))
	},
}

var clientRemoveCommand = &command{
	name: "client remove", args: "ID", nargs: 1, summary: "remove a client, revoking its refresh tokens, codes and consent grants",
	doc: "Only a client added with `client add` can be removed here. One declared in the configuration\n" +
		"file belongs to the file: delete it there and restart, which removes it the same way.",
	setup: func(fs *flag.FlagSet) action {
		return withAdmin(func(ctx context.Context, a adminCtx) error {
			if err := a.svc.DeleteClient(ctx, a.args[0]); err != nil {
				return err
			}
			_, err := fmt.Fprintf(a.out, "client %s removed, with its codes, refresh tokens and consent grants\n", a.args[0])
			return err
		})
	},
}

var clientRotateSecretCommand = &command{
	name: "client rotate-secret", args: "ID", nargs: 1, summary: "give a confidential client a new secret, printed once",
	doc: "The old secret stops working at once: give the new one to the client first thing. Tokens it\n" +
		"already holds stay valid. The secret has 256 random bits and is stored only as a hash; with\n" +
		"--output json it is client_secret.",
	setup: func(fs *flag.FlagSet) action {
		out := outputFlag(fs)
		return withAdmin(func(ctx context.Context, a adminCtx) error {
			secret, err := a.svc.RotateClientSecret(ctx, a.args[0])
			if err != nil {
				return err
			}
			if *out == "text" {
				_, err = fmt.Fprintf(a.out, "client %s has a new secret; the old one no longer works (shown once, stored only as a hash):\n%s\n", a.args[0], secret)
				return err
			}
			cl, err := a.svc.GetClient(ctx, a.args[0])
			if err != nil {
				return fmt.Errorf("the secret was rotated, but reading the client back failed (%w); the new secret is:\n%s", err, secret)
			}
			return out.show(a.out, clientWithSecret{cl, secret}, nil)
		})
	},
}

func clientType(cl admin.Client) string {
	if cl.Public {
		return "public"
	}
	return "confidential"
}

// printClient is the text of client show: every field, by the names of
// the configuration file.
func printClient(w io.Writer, cl admin.Client) error {
	f := newFields(w)
	f.add("id", cl.ID)
	f.add("name", cl.Name)
	f.add("type", clientType(cl))
	f.add("owner", cl.Owner)
	f.add("registered", cl.Registered)
	f.add("redirect_uris", cl.RedirectURIs)
	f.add("post_logout_redirect_uris", cl.PostLogoutRedirectURIs)
	f.add("grant_types", cl.GrantTypes)
	f.add("scopes", cl.Scopes)
	f.add("audience", cl.Audience)
	f.add("skip_consent", cl.SkipConsent)
	f.add("allow_introspection", cl.AllowIntrospection)
	f.add("id_token_signed_response_alg", cl.IDTokenSignedResponseAlg)
	f.add("backchannel_logout_uri", cl.BackchannelLogoutURI)
	f.add("backchannel_logout_session_required", cl.BackchannelLogoutSessionRequired)
	f.add("token_endpoint_auth_method", authMethodText(cl))
	f.add("jwks", keysText(cl.JWKS))
	f.add("jwks_uri", cl.JWKSURI)
	f.add("require_pushed_authorization_requests", cl.RequirePushedAuthorizationRequests)
	f.add("dpop_bound_access_tokens", cl.DPoPBoundAccessTokens)
	f.add("profile", cl.Profile)
	f.add("require_mfa", cl.RequireMFA)
	f.add("default_acr_values", cl.DefaultACRValues)
	f.add("created_at", cl.CreatedAt)
	f.add("updated_at", cl.UpdatedAt)
	return f.flush()
}

// authMethodText is token_endpoint_auth_method in client show; when none is
// recorded, what that means.
func authMethodText(cl admin.Client) string {
	switch {
	case cl.TokenEndpointAuthMethod != "":
		return cl.TokenEndpointAuthMethod
	case cl.Public:
		return "none (not set)"
	}
	return "client_secret_basic or client_secret_post (not set)"
}

// keysText sums up a JWK Set in client show (--output json has it whole):
// how many keys, and each one's kid and type.
func keysText(jwks json.RawMessage) string {
	if len(jwks) == 0 {
		return ""
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			Kty string `json:"kty"`
			Alg string `json:"alg"`
		} `json:"keys"`
	}
	if json.Unmarshal(jwks, &set) != nil {
		return string(jwks)
	}
	parts := make([]string, len(set.Keys))
	for i, k := range set.Keys {
		parts[i] = strings.TrimSpace(k.Kty + " " + k.Alg)
		if k.Kid != "" {
			parts[i] = k.Kid + " (" + parts[i] + ")"
		}
	}
	n := "keys"
	if len(parts) == 1 {
		n = "key"
	}
	return fmt.Sprintf("%d %s: %s", len(parts), n, strings.Join(parts, ", "))
}
