package authserver_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"testing"

	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/authtest"
)

// The tests of this file cover resource indicators (RFC 8707): resource at
// the authorization, PAR and token endpoints chooses the access token's aud
// among the client's audiences (par-web: apiA and apiB), the grant keeps
// its choice across refreshes, and a token request may only narrow it.

// resourceCode runs a pushed code flow of par-web asking for resources and
// offline_access, and returns the code and verifier.
func resourceCode(t *testing.T, p *authtest.Provider, state string, resources ...string) (string, string) {
	t.Helper()
	form, verifier := authzForm(parWeb, parWebRedirect, state)
	form.Set("scope", "openid offline_access api.read")
	form["resource"] = resources
	uri := pushed(t, p, form, parWeb, parWebSecret, nil)
	return codeFrom(t, p, p.SignIn(t, p.Browser(t), pushedURL(p, parWeb, uri), "alice", "alice-password", "allow"), parWebRedirect, state), verifier
}

// refreshWith refreshes as par-web, naming resources.
func refreshWith(t *testing.T, p *authtest.Provider, refresh string, resources ...string) pkReply {
	t.Helper()
	return pkPost(t, p, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "resource": resources}, parWeb, parWebSecret)
}

func TestResourceIndicatorsChooseAudience(t *testing.T) {
	t.Parallel()
	p := startPAR(t, nil)
	ctx := context.Background()
	oc := webOAuth2(p)

	t.Run("one resource, kept across refreshes", func(t *testing.T) {
		code, verifier := resourceCode(t, p, "st-one", apiA)
		tok, err := oc.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		if aud := audOf(t, tok.AccessToken); !slices.Equal(aud, []string{apiA}) {
			t.Errorf("aud %v, want [%s]", aud, apiA)
		}
		r := refreshWith(t, p, tok.RefreshToken)
		if aud := audOf(t, wantToken(t, "refresh", r)); !slices.Equal(aud, []string{apiA}) {
			t.Errorf("refreshed aud %v, want [%s]", aud, apiA)
		}
		// apiB is one of the client's audiences, but not of this grant.
		next, _ := r.body["refresh_token"].(string)
		wantTarget(t, "refresh outside the grant", refreshWith(t, p, next, apiB))
		// The refusal spent nothing: the token still refreshes.
		wantToken(t, "refresh after the refusal", refreshWith(t, p, next))
	})

	t.Run("two resources, narrowed at the token endpoint", func(t *testing.T) {
		code, verifier := resourceCode(t, p, "st-two", apiA, apiB)
		tok, err := oc.Exchange(ctx, code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", apiB))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		if aud := audOf(t, tok.AccessToken); !slices.Equal(aud, []string{apiB}) {
			t.Errorf("aud %v, want [%s]", aud, apiB)
		}
		// The refresh token keeps the grant's two.
		if aud := audOf(t, wantToken(t, "refresh for apiA", refreshWith(t, p, tok.RefreshToken, apiA))); !slices.Equal(aud, []string{apiA}) {
			t.Errorf("refreshed aud %v, want [%s]", aud, apiA)
		}
	})

	t.Run("code exchange outside the grant", func(t *testing.T) {
		code, verifier := resourceCode(t, p, "st-narrow", apiA)
		r := pkPost(t, p, "/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {parWebRedirect},
			"code_verifier": {verifier}, "resource": {apiB}}, parWeb, parWebSecret)
		wantTarget(t, "exchange for apiB", r)
	})

	t.Run("without resource: the client's audience list", func(t *testing.T) {
		code, verifier := resourceCode(t, p, "st-none")
		tok, err := oc.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		if aud := audOf(t, tok.AccessToken); !slices.Equal(aud, []string{apiA, apiB}) {
			t.Errorf("aud %v", aud)
		}
	})

	t.Run("through the login and consent forms", func(t *testing.T) {
		// Not pushed: both values must survive the forms' hidden fields.
		form, verifier := authzForm(parWeb, parWebRedirect, "st-forms")
		form.Set("scope", "openid offline_access api.read")
		form["resource"] = []string{apiA, apiB}
		b := p.Browser(t)
		pg := submitEvery(t, b, authtest.Get(t, b, p.URL+"/authorize?"+form.Encode()), url.Values{"username": {"alice"}, "password": {"alice-password"}})
		if pg.Location == nil {
			pg = submitEvery(t, b, pg, url.Values{"decision": {"allow"}})
		}
		if pg.Location == nil {
			t.Fatalf("sign-in did not return to the client: %d\n%s", pg.Status, pg.Body)
		}
		tok, err := oc.Exchange(ctx, codeFrom(t, p, pg.Location, parWebRedirect, "st-forms"), oauth2.VerifierOption(verifier),
			oauth2.SetAuthURLParam("resource", apiB))
		if err != nil {
			t.Fatalf("exchange for apiB: %v", err)
		}
		if aud := audOf(t, wantToken(t, "refresh for apiA", refreshWith(t, p, tok.RefreshToken, apiA))); !slices.Equal(aud, []string{apiA}) {
			t.Errorf("refreshed aud %v", aud)
		}
	})
}

// A resource the client may not have, or that is not an absolute URI
// without a fragment, is invalid_target: redirected at the authorization
// endpoint, 400 at the PAR and token endpoints.
func TestResourceIndicatorsRefused(t *testing.T) {
	t.Parallel()
	p := startPAR(t, nil)
	for _, resource := range []string{"https://evil.example.com", apiA + "#frag", "/relative", "urn"} {
		t.Run(resource, func(t *testing.T) {
			form, _ := authzForm(parWeb, parWebRedirect, "st-bad")
			form.Set("resource", resource)
			if e := errorFrom(t, p, authtest.Get(t, p.Browser(t), p.URL+"/authorize?"+form.Encode()), parWebRedirect, "st-bad"); e != "invalid_target" {
				t.Errorf("authorize: %s", e)
			}
			wantTarget(t, "PAR", push(t, p, form, parWeb, parWebSecret, nil))
			cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"api.read"}, "resource": {resource}}
			wantTarget(t, "client_credentials", pkPost(t, p, "/token", cc, legacyID, legacySecret))
		})
	}
	t.Run("client_credentials within the client's audience", func(t *testing.T) {
		cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"api.read"}, "resource": {"https://api.example.com"}}
		if aud := audOf(t, wantToken(t, "client_credentials", pkPost(t, p, "/token", cc, legacyID, legacySecret))); !slices.Equal(aud, []string{"https://api.example.com"}) {
			t.Errorf("aud %v", aud)
		}
		// par-web may have apiB, the service client may not.
		cc.Set("resource", apiB)
		wantTarget(t, "another client's audience", pkPost(t, p, "/token", cc, legacyID, legacySecret))
	})
}

var (
	formActionRe = regexp.MustCompile(`(?s)<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>`)
	hiddenRe     = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
)

// submitEvery posts the page's first form with every value of its hidden
// fields, as a browser does (authtest's Submit keeps one value per name),
// and the extra fields.
func submitEvery(t *testing.T, b *http.Client, pg *authtest.Page, extra url.Values) *authtest.Page {
	t.Helper()
	m := formActionRe.FindStringSubmatch(pg.Body)
	if m == nil {
		t.Fatalf("no form on the page (%d):\n%s", pg.Status, pg.Body)
	}
	vals := url.Values{}
	for _, in := range hiddenRe.FindAllStringSubmatch(m[2], -1) {
		vals.Add(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
	}
	for k, v := range extra {
		vals[k] = v
	}
	resp, err := b.PostForm(pg.URL.ResolveReference(&url.URL{Path: html.UnescapeString(m[1])}).String(), vals)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	next := &authtest.Page{Status: resp.StatusCode, URL: resp.Request.URL, Body: string(body)}
	if resp.StatusCode/100 == 3 {
		next.Location, _ = resp.Location()
	}
	return next
}

func wantTarget(t testing.TB, what string, r pkReply) {
	t.Helper()
	if r.status != http.StatusBadRequest || r.body["error"] != "invalid_target" {
		t.Errorf("%s: %d %v; want 400 invalid_target", what, r.status, r.body)
	}
}
