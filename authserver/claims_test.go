package authserver_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/setup"
	"github.com/authserver-dev/authserver/config"
)

// The tests of this file cover the standard claims (OIDC Core §5.1, §5.4)
// and the claims request parameter (§5.5), through the real code flow with
// go-oidc and x/oauth2. Conformance modules: oidcc-scope-profile,
// oidcc-scope-email, oidcc-scope-address, oidcc-scope-phone, oidcc-scope-all,
// oidcc-claims-essential, oidcc-request-uri-unsigned (rejected as
// unsupported), oidcc-ensure-request-object-with-redirect-uri and
// oidcc-unsigned-request-object (rejected as unsupported).

const (
	claimsRP       = "claims-rp"
	claimsSecret   = "claims-rp-secret-0123456789abcdefghij"
	claimsRedirect = "http://127.0.0.1:7795/cb"
	// acr is the authentication context class of a password sign-in.
	acr = "urn:authserver:acr:password"
)

// aliceClaims are every standard claim but middle_name, so that a request
// for a claim the user does not have can be seen to release nothing.
var aliceClaims = config.UserClaims{
	GivenName: "Alice", FamilyName: "Example", Nickname: "ali",
	Profile: "https://example.com/alice", Picture: "https://example.com/alice.png", Website: "https://alice.example.com",
	Gender: "female", Birthdate: "1990-12-31", Zoneinfo: "Europe/Paris", Locale: "fr-FR",
	PhoneNumber: "+33 1 23 45 67 89", PhoneNumberVerified: true,
	Address: config.Address{Formatted: "1 rue de Rivoli\n75001 Paris", StreetAddress: "1 rue de Rivoli", Locality: "Paris",
		PostalCode: "75001", Country: "France"},
}

// aliceValues are the JSON values alice's claims must have, by claim name.
var aliceValues = map[string]any{
	"name": "Alice Example", "preferred_username": "alice", "given_name": "Alice", "family_name": "Example",
	"nickname": "ali", "profile": "https://example.com/alice", "picture": "https://example.com/alice.png",
	"website": "https://alice.example.com", "gender": "female", "birthdate": "1990-12-31", "zoneinfo": "Europe/Paris",
	"locale": "fr-FR", "email": "alice@example.com", "email_verified": true,
	"phone_number": "+33 1 23 45 67 89", "phone_number_verified": true,
	"address": map[string]any{"formatted": "1 rue de Rivoli\n75001 Paris", "street_address": "1 rue de Rivoli",
		"locality": "Paris", "postal_code": "75001", "country": "France"},
}

// claimsProvider starts a provider whose alice has every claim of
// aliceClaims and a client that may ask for every scope, redirecting to
// redirect.
func claimsProvider(t *testing.T, redirect string) *authtest.Provider {
	t.Helper()
	return authtest.Start(t, func(c *config.Config) {
		c.Users[0].Claims = aliceClaims
		c.Clients = append(c.Clients, config.Client{ID: claimsRP, Name: "Claims RP", Secret: claimsSecret,
			RedirectURIs: []string{redirect}, GrantTypes: []string{"authorization_code", "refresh_token"},
			Scopes: []string{"openid", "profile", "email", "address", "phone", "offline_access"}})
	})
}

// claimsFlow is one sign-in of alice with the claims client.
type claimsFlow struct {
	t        *testing.T
	p        *authtest.Provider
	op       *oidc.Provider
	oc       *oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func newClaimsFlow(t *testing.T, p *authtest.Provider, redirect string) *claimsFlow {
	t.Helper()
	op, err := oidc.NewProvider(context.Background(), p.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return &claimsFlow{t: t, p: p, op: op,
		oc:       &oauth2.Config{ClientID: claimsRP, ClientSecret: claimsSecret, Endpoint: op.Endpoint(), RedirectURL: redirect},
		verifier: op.Verifier(&oidc.Config{ClientID: claimsRP})}
}

// authURL is the authorization URL for scope with the extra parameters.
func (f *claimsFlow) authURL(scope string, extra map[string]string) string {
	f.oc.Scopes = strings.Fields(scope)
	opts := []oauth2.AuthCodeOption{oidc.Nonce("n-1")}
	for k, v := range extra {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	return f.oc.AuthCodeURL("st-1", opts...)
}

// signIn signs alice in at a fresh browser, approving consent, and returns
// the redirect back to the client.
func (f *claimsFlow) signIn(scope string, extra map[string]string) url.Values {
	f.t.Helper()
	loc := f.p.SignIn(f.t, f.p.Browser(f.t), f.authURL(scope, extra), "alice", "alice-password", "allow")
	return loc.Query()
}

// tokens redeems the code of a successful sign-in and returns the token and
// the verified ID token's claims.
func (f *claimsFlow) tokens(q url.Values) (*oauth2.Token, map[string]any) {
	f.t.Helper()
	if q.Get("code") == "" {
		f.t.Fatalf("no code: %v", q)
	}
	tok, err := f.oc.Exchange(context.Background(), q.Get("code"))
	if err != nil {
		f.t.Fatalf("exchange: %v", err)
	}
	return tok, f.idClaims(tok)
}

func (f *claimsFlow) idClaims(tok *oauth2.Token) map[string]any {
	f.t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	idt, err := f.verifier.Verify(context.Background(), raw)
	if err != nil {
		f.t.Fatalf("ID token: %v", err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		f.t.Fatal(err)
	}
	return claims
}

// userinfo is the userinfo answer for the access token, through go-oidc.
func (f *claimsFlow) userinfo(tok *oauth2.Token) map[string]any {
	f.t.Helper()
	ui, err := f.op.UserInfo(context.Background(), oauth2.StaticTokenSource(tok))
	if err != nil {
		f.t.Fatalf("userinfo: %v", err)
	}
	var claims map[string]any
	if err := ui.Claims(&claims); err != nil {
		f.t.Fatal(err)
	}
	return claims
}

// userClaimsOf drops the protocol claims of an ID token or userinfo answer.
func userClaimsOf(claims map[string]any) []string {
	var out []string
	for name := range claims {
		switch name {
		case "iss", "sub", "aud", "azp", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "acr", "amr":
		default:
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func sorted(names ...string) []string { return slices.Sorted(slices.Values(names)) }

// checkValues fails for any claim whose value is not alice's.
func checkValues(t *testing.T, where string, claims map[string]any) {
	t.Helper()
	for _, name := range userClaimsOf(claims) {
		if name == "updated_at" {
			if n, ok := claims[name].(float64); !ok || n <= 0 {
				t.Errorf("%s: updated_at = %v, want seconds since 1970", where, claims[name])
			}
			continue
		}
		got, _ := json.Marshal(claims[name])
		want, _ := json.Marshal(aliceValues[name])
		if string(got) != string(want) {
			t.Errorf("%s: %s = %s, want %s", where, name, got, want)
		}
	}
}

var (
	profileClaims = []string{"name", "family_name", "given_name", "nickname", "preferred_username",
		"profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"} // no middle_name: alice has none
	emailClaims   = []string{"email", "email_verified"}
	addressClaims = []string{"address"}
	phoneClaims   = []string{"phone_number", "phone_number_verified"}
)

// Each scope releases exactly its OIDC Core §5.4 claims, with the user's
// values, at userinfo and (our choice, for relying parties that read only
// the ID token) in the ID token. oidcc-scope-profile, -email, -address,
// -phone, -all.
func TestScopesReleaseStandardClaims(t *testing.T) {
	t.Parallel()
	p := claimsProvider(t, claimsRedirect)
	for _, tc := range []struct {
		scope string
		want  []string
	}{
		{"openid", nil},
		{"openid profile", profileClaims},
		{"openid email", emailClaims},
		{"openid address", addressClaims},
		{"openid phone", phoneClaims},
		{"openid profile email address phone", slices.Concat(profileClaims, emailClaims, addressClaims, phoneClaims)},
	} {
		t.Run(tc.scope, func(t *testing.T) {
			f := newClaimsFlow(t, p, claimsRedirect)
			tok, idClaims := f.tokens(f.signIn(tc.scope, nil))
			want := sorted(tc.want...)
			ui := f.userinfo(tok)
			if got := userClaimsOf(ui); !slices.Equal(got, want) {
				t.Errorf("userinfo claims %v\nwant %v", got, want)
			}
			if ui["sub"] != idClaims["sub"] || ui["sub"] == "" {
				t.Errorf("userinfo sub %v, ID token sub %v", ui["sub"], idClaims["sub"])
			}
			checkValues(t, "userinfo", ui)
			if got := userClaimsOf(idClaims); !slices.Equal(got, want) {
				t.Errorf("ID token claims %v\nwant %v", got, want)
			}
			checkValues(t, "ID token", idClaims)
			// How the user signed in, asked for or not (a password here).
			if idClaims["acr"] != acr || ui["acr"] != acr {
				t.Errorf("acr %v in the ID token, %v in userinfo, want %s", idClaims["acr"], ui["acr"], acr)
			}
		})
	}
}

// Discovery lists exactly what can be released and the scopes that release
// it, and says that the claims parameter works.
func TestDiscoveryAdvertisesClaims(t *testing.T) {
	t.Parallel()
	p := claimsProvider(t, claimsRedirect)
	resp, err := http.Get(p.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Scopes          []string `json:"scopes_supported"`
		Claims          []string `json:"claims_supported"`
		ClaimsParameter bool     `json:"claims_parameter_supported"`
		ACRValues       []string `json:"acr_values_supported"`
		RequestParam    *bool    `json:"request_parameter_supported"`
		RequestURIParam *bool    `json:"request_uri_parameter_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	wantClaims := sorted("iss", "sub", "aud", "azp", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "acr", "amr",
		"name", "given_name", "family_name", "middle_name", "nickname", "preferred_username", "profile", "picture",
		"website", "gender", "birthdate", "zoneinfo", "locale", "updated_at", "email", "email_verified", "address",
		"phone_number", "phone_number_verified")
	if got := sorted(doc.Claims...); !slices.Equal(got, wantClaims) {
		t.Errorf("claims_supported %v\nwant %v", got, wantClaims)
	}
	for _, sc := range []string{"openid", "profile", "email", "address", "phone", "offline_access"} {
		if !slices.Contains(doc.Scopes, sc) {
			t.Errorf("scopes_supported %v lacks %s", doc.Scopes, sc)
		}
	}
	if !doc.ClaimsParameter || !slices.Equal(doc.ACRValues, []string{acr, "urn:authserver:acr:mfa", "urn:authserver:acr:phishing-resistant"}) {
		t.Errorf("claims_parameter_supported %v, acr_values_supported %v", doc.ClaimsParameter, doc.ACRValues)
	}
	// Signed request objects are supported (par.go); a request_uri only
	// from the PAR endpoint, which request_uri_parameter_supported does not
	// cover (RFC 9126 §5).
	if doc.RequestParam == nil || !*doc.RequestParam || doc.RequestURIParam == nil || *doc.RequestURIParam {
		t.Errorf("request_parameter_supported %v, request_uri_parameter_supported %v: want true and false (absent means true)",
			doc.RequestParam, doc.RequestURIParam)
	}
}

// The claims parameter releases single claims without their scope, to the
// ID token or userinfo as asked, only claims the user has, and keeps doing
// so for the tokens a refresh issues. oidcc-claims-essential.
func TestClaimsParameterReleasesNamedClaims(t *testing.T) {
	t.Parallel()
	p := claimsProvider(t, claimsRedirect)
	f := newClaimsFlow(t, p, claimsRedirect)
	claims := `{"userinfo":{"given_name":{"essential":true},"phone_number":null,"middle_name":null,"no_such_claim":null},` +
		`"id_token":{"email":{"essential":true},"nickname":null,"acr":{"essential":true,"values":["urn:other","` + acr + `"]}},` +
		`"other_member":{"name":null}}`

	// The consent page names the claims that no granted scope covers.
	b := p.Browser(t)
	pg := authtest.Get(t, b, f.authURL("openid offline_access", map[string]string{"claims": claims}))
	pg = pg.Submit(t, b, url.Values{"username": {"alice"}, "password": {"alice-password"}})
	for _, name := range []string{"given_name", "phone_number", "email", "nickname"} {
		if !strings.Contains(pg.Body, `<code class="scope-name">`+name+`</code>`) {
			t.Errorf("consent page does not name %s:\n%s", name, pg.Body)
		}
	}
	pg = pg.Submit(t, b, url.Values{"decision": {"allow"}})
	if pg.Location == nil {
		t.Fatalf("consent did not redirect: %d\n%s", pg.Status, pg.Body)
	}
	tok, idClaims := f.tokens(pg.Location.Query())

	check := func(when string, tok *oauth2.Token, idClaims map[string]any) {
		t.Helper()
		if got, want := userClaimsOf(idClaims), sorted("email", "nickname"); !slices.Equal(got, want) {
			t.Errorf("%s: ID token claims %v, want %v", when, got, want)
		}
		if idClaims["acr"] != acr {
			t.Errorf("%s: ID token acr = %v, want %s", when, idClaims["acr"], acr)
		}
		checkValues(t, when+" ID token", idClaims)
		ui := f.userinfo(tok)
		if got, want := userClaimsOf(ui), sorted("given_name", "phone_number"); !slices.Equal(got, want) {
			t.Errorf("%s: userinfo claims %v, want %v", when, got, want)
		}
		checkValues(t, when+" userinfo", ui)
	}
	check("code", tok, idClaims)

	// A refresh keeps the request: the refresh token carries it.
	refreshed, err := f.oc.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	check("refresh", refreshed, f.idClaims(refreshed))
	// And the rotated token keeps it for the next refresh.
	again, err := f.oc.TokenSource(context.Background(), &oauth2.Token{RefreshToken: refreshed.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("second refresh: %v", err)
	}
	check("second refresh", again, f.idClaims(again))
}

// An essential acr the server cannot meet fails the authentication
// (OIDC Core §5.5.1.1); a malformed claims parameter is invalid_request.
// Both reach the client with state and iss.
func TestClaimsParameterErrors(t *testing.T) {
	t.Parallel()
	p := claimsProvider(t, claimsRedirect)
	for _, tc := range []struct{ name, claims, want string }{
		{"essential acr not met", `{"id_token":{"acr":{"essential":true,"values":["urn:mfa"]}}}`, "unmet_authentication_requirements"},
		{"essential acr value not met", `{"id_token":{"acr":{"essential":true,"value":"urn:mfa"}}}`, "unmet_authentication_requirements"},
		{"not JSON", `{"userinfo":`, "invalid_request"},
		{"not an object", `["name"]`, "invalid_request"},
		{"null", `null`, "invalid_request"},
		{"member not an object", `{"userinfo":["name"]}`, "invalid_request"},
		{"claim neither null nor object", `{"id_token":{"email":true}}`, "invalid_request"},
		{"essential not a boolean", `{"id_token":{"email":{"essential":"yes"}}}`, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newClaimsFlow(t, p, claimsRedirect)
			// The error comes before any sign-in: no page is shown.
			pg := authtest.Get(t, p.Browser(t), f.authURL("openid", map[string]string{"claims": tc.claims}))
			if pg.Location == nil {
				t.Fatalf("no redirect: %d\n%s", pg.Status, pg.Body)
			}
			q := pg.Location.Query()
			if q.Get("error") != tc.want || q.Get("state") != "st-1" || q.Get("iss") != p.URL || q.Get("error_description") == "" {
				t.Fatalf("redirect %s, want error %s", pg.Location, tc.want)
			}
		})
	}
	t.Run("voluntary acr not met is not an error", func(t *testing.T) {
		f := newClaimsFlow(t, p, claimsRedirect)
		_, idClaims := f.tokens(f.signIn("openid", map[string]string{"claims": `{"id_token":{"acr":{"values":["urn:mfa"]}}}`}))
		if idClaims["acr"] != acr {
			t.Errorf("acr = %v, want %s", idClaims["acr"], acr)
		}
	})
}

// An unsigned request object is refused (invalid_request_object: request
// objects must be signed with the client's keys, par.go) and a request_uri
// not from the PAR endpoint is answered with the error OIDC Core §6 names,
// at the validated redirect URI with state; an unregistered redirect URI
// still gets the error page. oidcc-request-uri-unsigned (rejected as
// unsupported); oidcc-unsigned-request-object is skipped by the suite, as
// discovery does not list none.
func TestRequestObjectsNotSupported(t *testing.T) {
	t.Parallel()
	p := claimsProvider(t, claimsRedirect)
	for _, tc := range []struct{ name, param, want string }{
		{"request", "request", "invalid_request_object"},
		{"request_uri", "request_uri", "request_uri_not_supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newClaimsFlow(t, p, claimsRedirect)
			pg := authtest.Get(t, p.Browser(t), f.authURL("openid", map[string]string{tc.param: "eyJhbGciOiJub25lIn0.e30."}))
			if pg.Location == nil || !strings.HasPrefix(pg.Location.String(), claimsRedirect+"?") {
				t.Fatalf("no redirect to the client: %d %v", pg.Status, pg.Location)
			}
			q := pg.Location.Query()
			if q.Get("error") != tc.want || q.Get("state") != "st-1" || q.Get("iss") != p.URL {
				t.Fatalf("redirect %s, want %s", pg.Location, tc.want)
			}
		})
		t.Run(tc.name+" with an unregistered redirect_uri", func(t *testing.T) {
			f := newClaimsFlow(t, p, claimsRedirect+"/elsewhere")
			pg := authtest.Get(t, p.Browser(t), f.authURL("openid", map[string]string{tc.param: "eyJhbGciOiJub25lIn0.e30."}))
			if pg.Location != nil || pg.Status != http.StatusBadRequest {
				t.Fatalf("want the error page, got %d %v", pg.Status, pg.Location)
			}
		})
	}
}

// updated_at is when the user last changed: seeding the same file again
// keeps it, a changed claim moves it.
func TestSeedKeepsUpdatedAtUntilTheUserChanges(t *testing.T) {
	t.Parallel()
	p := claimsProvider(t, claimsRedirect)
	ctx := context.Background()
	get := func() time.Time {
		t.Helper()
		u, err := p.App.Store.GetUserByUsername(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		return u.UpdatedAt
	}
	first := get()
	if first.IsZero() {
		t.Fatal("a seeded user has no updated_at")
	}
	opts := setup.Options{Now: p.Clock.Now, Logger: slog.New(slog.DiscardHandler)}
	p.Clock.Advance(time.Hour)
	if err := setup.Seed(ctx, p.App.Store, p.Config, opts); err != nil {
		t.Fatal(err)
	}
	if again := get(); !again.Equal(first) {
		t.Errorf("seeding the same file moved updated_at from %v to %v", first, again)
	}
	cfg := p.Config
	cfg.Users = slices.Clone(cfg.Users)
	cfg.Users[0].Claims.Nickname = "al"
	if err := setup.Seed(ctx, p.App.Store, cfg, opts); err != nil {
		t.Fatal(err)
	}
	if changed := get(); !changed.After(first) {
		t.Errorf("a changed nickname left updated_at at %v (first %v)", changed, first)
	}
}
