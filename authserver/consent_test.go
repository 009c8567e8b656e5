package authserver_test

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/authtest"
)

// consentRP is a relying party with one browser, configured through
// discovery like a third-party app: it sends authorization requests, reads
// where the browser stops (a provider page or the redirect back to it) and
// redeems codes with x/oauth2, verifying ID tokens with go-oidc.
type consentRP struct {
	t        *testing.T
	p        *authtest.Provider
	b        *http.Client
	provider *oidc.Provider
	oc       *oauth2.Config
}

// newConsentRP is the demo client (confidential, consent required) with a
// fresh browser.
func newConsentRP(t *testing.T, p *authtest.Provider) *consentRP {
	t.Helper()
	provider, oc := codeClient(t, p)
	return &consentRP{t: t, p: p, b: p.Browser(t), provider: provider, oc: oc}
}

// withBrowser is the same client in another browser (another person).
func (c *consentRP) withBrowser() *consentRP {
	d := *c
	d.b = c.p.Browser(c.t)
	return &d
}

// consentAttempt is one authorization request and where the browser stopped.
type consentAttempt struct {
	rp              *consentRP
	state, verifier string
	pg              *authtest.Page
}

// start sends an authorization request for scope, with extra parameters as
// name, value pairs.
func (c *consentRP) start(scope string, params ...string) *consentAttempt {
	c.t.Helper()
	a := &consentAttempt{rp: c, state: oauth2.GenerateVerifier()[:20], verifier: oauth2.GenerateVerifier()}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(a.verifier), oidc.Nonce("n-" + a.state)}
	for i := 0; i+1 < len(params); i += 2 {
		opts = append(opts, oauth2.SetAuthURLParam(params[i], params[i+1]))
	}
	oc := *c.oc
	oc.Scopes = strings.Fields(scope)
	a.pg = authtest.Get(c.t, c.b, oc.AuthCodeURL(a.state, opts...))
	return a
}

func (a *consentAttempt) onLogin() bool {
	return a.pg.Location == nil && strings.Contains(a.pg.Body, `name="password"`)
}

func (a *consentAttempt) onConsent() bool {
	return a.pg.Location == nil && strings.Contains(a.pg.Body, `name="decision"`)
}

var consentScopeName = regexp.MustCompile(`<code class="scope-name">([^<]*)</code>`)

// asked returns the scopes the consent page asks for; it fails the test on
// any other page.
func (a *consentAttempt) asked() []string {
	a.rp.t.Helper()
	if !a.onConsent() {
		a.rp.t.Fatalf("expected the consent page, got status %d at %s (location %v):\n%s", a.pg.Status, a.pg.URL, a.pg.Location, a.pg.Body)
	}
	var names []string
	for _, m := range consentScopeName.FindAllStringSubmatch(a.pg.Body, -1) {
		names = append(names, m[1])
	}
	return names
}

// login submits the login page as the user.
func (a *consentAttempt) login(username, password string) *consentAttempt {
	a.rp.t.Helper()
	if !a.onLogin() {
		a.rp.t.Fatalf("expected the login page, got status %d at %s (location %v):\n%s", a.pg.Status, a.pg.URL, a.pg.Location, a.pg.Body)
	}
	a.pg = a.pg.Submit(a.rp.t, a.rp.b, map[string][]string{"username": {username}, "password": {password}})
	return a
}

// decide answers the consent page.
func (a *consentAttempt) decide(decision string) *consentAttempt {
	a.rp.t.Helper()
	a.asked()
	a.pg = a.pg.Submit(a.rp.t, a.rp.b, map[string][]string{"decision": {decision}})
	return a
}

// back checks that the browser went back to the client's redirect URI with
// this request's state and the issuer (RFC 9207), and returns the response.
func (a *consentAttempt) back() map[string]string {
	t := a.rp.t
	t.Helper()
	loc := a.pg.Location
	if loc == nil {
		t.Fatalf("the browser did not go back to the client: status %d at %s:\n%s", a.pg.Status, a.pg.URL, a.pg.Body)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != a.rp.oc.RedirectURL {
		t.Fatalf("redirected to %s, want the client's %s", loc, a.rp.oc.RedirectURL)
	}
	q := loc.Query()
	if q.Get("state") != a.state || q.Get("iss") != a.rp.p.URL {
		t.Fatalf("response %s: want state %s and iss %s", loc, a.state, a.rp.p.URL)
	}
	out := map[string]string{}
	for k := range q {
		out[k] = q.Get(k)
	}
	return out
}

// authError is the error the request ended with at the client.
func (a *consentAttempt) authError() string {
	a.rp.t.Helper()
	q := a.back()
	if q["error"] == "" {
		a.rp.t.Fatalf("want an error response, got %v", q)
	}
	return q["error"]
}

// redeem exchanges the code the request ended with and returns the tokens
// and the verified ID token.
func (a *consentAttempt) redeem() (*oauth2.Token, *oidc.IDToken) {
	t := a.rp.t
	t.Helper()
	q := a.back()
	if q["code"] == "" {
		t.Fatalf("want a code, got %v", q)
	}
	tok, err := a.rp.oc.Exchange(context.Background(), q["code"], oauth2.VerifierOption(a.verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := a.rp.provider.Verifier(&oidc.Config{ClientID: a.rp.oc.ClientID, Now: a.rp.p.Clock.Now}).Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	if idt.Nonce != "n-"+a.state {
		t.Fatalf("nonce %q, want n-%s", idt.Nonce, a.state)
	}
	return tok, idt
}

func sameScopes(got []string, want ...string) bool {
	return slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want)))
}

// oidcc-prompt-none-logged-in, and the rest of remembered consent: an
// approval is kept, a subset needs no page, prompt=none succeeds silently
// with the same sub, prompt=consent asks again, new scopes are asked for
// alone and added, another user is asked for their own consent, and
// revoking the grant needs consent again and ends the grant's tokens.
func TestRememberedConsent(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, nil)
	rp := newConsentRP(t, p)

	first := rp.start("openid profile").login("alice", "alice-password")
	if got := first.asked(); !sameScopes(got, "openid", "profile") {
		t.Fatalf("first consent page asks for %v", got)
	}
	_, idt := first.decide("allow").redeem()
	sub := idt.Subject

	t.Run("a subset needs no consent page", func(t *testing.T) {
		_, again := rp.start("openid").redeem()
		if again.Subject != sub {
			t.Fatalf("sub %s, want %s", again.Subject, sub)
		}
	})
	t.Run("prompt=none succeeds silently with the same sub", func(t *testing.T) {
		_, silent := rp.start("openid profile", "prompt", "none").redeem()
		if silent.Subject != sub {
			t.Fatalf("sub %s, want %s", silent.Subject, sub)
		}
	})
	t.Run("prompt=consent always asks", func(t *testing.T) {
		a := rp.start("openid", "prompt", "consent")
		if got := a.asked(); !sameScopes(got, "openid") {
			t.Fatalf("prompt=consent asks for %v", got)
		}
		a.decide("allow").redeem()
		// Also through a new sign-in, in another browser.
		a = rp.withBrowser().start("openid", "prompt", "login consent").login("alice", "alice-password")
		if got := a.asked(); !sameScopes(got, "openid") {
			t.Fatalf("prompt=consent after signing in asks for %v", got)
		}
		a.decide("allow").redeem()
	})
	t.Run("new scopes are asked for alone", func(t *testing.T) {
		a := rp.start("openid profile email offline_access")
		if got := a.asked(); !sameScopes(got, "email", "offline_access") {
			t.Fatalf("consent page for new scopes asks for %v, want only email and offline_access", got)
		}
		tok, _ := a.decide("allow").redeem()
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token for offline_access")
		}
		g, err := p.App.Store.GetConsent(t.Context(), sub, "demo-web")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Fields(g.Scope); !sameScopes(got, "openid", "profile", "email", "offline_access") {
			t.Fatalf("grant after approving new scopes: %v, want the union", got)
		}
		_, silent := rp.start("email offline_access openid", "prompt", "none").redeem()
		if silent.Subject != sub {
			t.Fatalf("sub %s, want %s", silent.Subject, sub)
		}
	})
	t.Run("another user is asked", func(t *testing.T) {
		a := rp.withBrowser().start("openid").login("bob", "bob-password")
		if got := a.asked(); !sameScopes(got, "openid") {
			t.Fatalf("bob's consent page asks for %v", got)
		}
	})
	t.Run("revoking the grant needs consent again and ends its tokens", func(t *testing.T) {
		tok, _ := rp.start("openid offline_access").redeem() // silently
		if err := p.App.Store.RevokeConsent(t.Context(), sub, "demo-web", p.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		if status, body := refresh(t, p, tok.RefreshToken, "", "demo-web", "demo-web-secret-not-for-production"); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("refresh after the grant was revoked: %d %v", status, body)
		}
		if _, err := rp.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok)); err == nil {
			t.Fatal("userinfo accepts an access token of the revoked grant")
		}
		if e := rp.start("openid", "prompt", "none").authError(); e != "consent_required" {
			t.Fatalf("prompt=none after revocation: %s, want consent_required", e)
		}
		a := rp.start("openid profile")
		if got := a.asked(); !sameScopes(got, "openid", "profile") {
			t.Fatalf("consent page after revocation asks for %v", got)
		}
	})
}

// oidcc-prompt-none-not-logged-in, and prompt=none without a grant: both are
// errors at the validated redirect URI with state and iss, never a page.
func TestPromptNoneErrors(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, nil)
	rp := newConsentRP(t, p)
	if e := rp.start("openid", "prompt", "none").authError(); e != "login_required" {
		t.Fatalf("prompt=none signed out: %s, want login_required", e)
	}
	// Signed in, but the user denied: nothing is remembered.
	if e := rp.start("openid").login("alice", "alice-password").decide("deny").authError(); e != "access_denied" {
		t.Fatalf("deny: %s", e)
	}
	if e := rp.start("openid", "prompt", "none").authError(); e != "consent_required" {
		t.Fatalf("prompt=none signed in without a grant: %s, want consent_required", e)
	}
	if _, err := p.App.Store.GetConsent(t.Context(), "x", "demo-web"); err == nil {
		t.Fatal("a grant exists for nobody")
	}
}

// A skip_consent client keeps skipping consent, with or without a grant,
// except that prompt=consent asks it too.
func TestSkipConsentClientAndPromptConsent(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, nil)
	provider, err := oidc.NewProvider(context.Background(), p.URL)
	if err != nil {
		t.Fatal(err)
	}
	rp := &consentRP{t: t, p: p, b: p.Browser(t), provider: provider, oc: &oauth2.Config{
		ClientID: "code-only", ClientSecret: "code-only-secret-0123456789abcdefgh",
		Endpoint: provider.Endpoint(), RedirectURL: "http://127.0.0.1:7779/cb",
	}}
	rp.start("openid email").login("alice", "alice-password").redeem()
	rp.start("openid email", "prompt", "none").redeem()
	a := rp.start("openid email", "prompt", "consent")
	if got := a.asked(); !sameScopes(got, "openid", "email") {
		t.Fatalf("prompt=consent for a skip_consent client asks for %v", got)
	}
	a.decide("allow").redeem()
}
