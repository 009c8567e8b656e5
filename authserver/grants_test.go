package authserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/setup"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/config"
)

// The four "Tokens and grants" findings of the hardening audit (issue 14).

// configuredSecret is the secret a client has in the test configuration,
// so these tests follow it rather than repeat it.
func configuredSecret(t *testing.T, p *authtest.Provider, id string) string {
	t.Helper()
	for _, c := range p.Config.Clients {
		if c.ID == id {
			return c.Secret
		}
	}
	t.Fatalf("no client %s in the test configuration", id)
	return ""
}

// accessClaims decodes an access token's payload (the signature is checked
// by the provider's own introspection elsewhere).
func accessClaims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	var claims map[string]any
	if err := json.Unmarshal(decodeSegment(t, parts[1]), &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// liveTokens lists the unspent refresh tokens of the sign-in that issued raw.
func liveTokens(t *testing.T, p *authtest.Provider, raw string) []storage.RefreshToken {
	t.Helper()
	rt, err := p.App.Store.GetRefreshToken(context.Background(), storage.Hash(raw))
	if err != nil {
		t.Fatalf("refresh token: %v", err)
	}
	live, err := p.App.Store.ListSessionRefreshTokens(context.Background(), rt.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	return live
}

// Only the code's own client, with its redirect URI and PKCE verifier, may
// consume a code; anyone else's attempt leaves the code and its grant alone.
func TestACodeIsBurntBeforeTheClientIsChecked(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, nil)
	const verifier = "burnt-verifier-burnt-verifier-burnt-verifier-0"
	code := freshCode(t, p, verifier, "openid offline_access")
	webSecret, otherSecret := configuredSecret(t, p, "demo-web"), configuredSecret(t, p, "code-only")
	form := func(redirectURI, codeVerifier string, clientID string) url.Values {
		f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}}
		if codeVerifier != "" {
			f.Set("code_verifier", codeVerifier)
		}
		if clientID != "" {
			f.Set("client_id", clientID)
		}
		return f
	}
	wrong := []struct {
		name         string
		form         url.Values
		user, secret string
	}{
		// native-app is public: anyone may claim to be it, no secret needed.
		{"public client", form("http://127.0.0.1:7777/cb", verifier, "native-app"), "", ""},
		{"confidential client", form("http://127.0.0.1:7779/cb", verifier, ""), "code-only", otherSecret},
		{"own client, wrong verifier", form(authtest.DemoRedirect, verifier+"x", ""), "demo-web", webSecret},
		{"own client, no verifier", form(authtest.DemoRedirect, "", ""), "demo-web", webSecret},
	}
	for _, w := range wrong {
		status, _, body := postToken(t, p, w.form, w.user, w.secret)
		if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("%s: got %d %v; want 400 invalid_grant", w.name, status, body)
		}
	}

	// The code is untouched: its own client redeems it now.
	status, tok := redeem(t, p, code, verifier)
	if status != http.StatusOK {
		t.Fatalf("redemption by the code's client after the others: %d %v", status, tok)
	}
	access, refresh := tok["access_token"].(string), tok["refresh_token"].(string)

	// A replay by anyone else is no replay: it revokes nothing.
	for _, w := range wrong[:2] {
		status, _, body := postToken(t, p, w.form, w.user, w.secret)
		if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("%s replaying: got %d %v; want 400 invalid_grant", w.name, status, body)
		}
	}
	if got := introspect(t, p, access); got["active"] != true {
		t.Fatalf("another client's replay revoked the grant: %v", got)
	}
	if _, err := p.App.Store.GetRefreshToken(context.Background(), storage.Hash(refresh)); err != nil {
		t.Fatalf("another client's replay revoked the refresh token: %v", err)
	}

	// The code's own client replaying it still revokes what it issued.
	if status, body := redeem(t, p, code, verifier); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("replay by the code's client: %d %v", status, body)
	}
	if got := introspect(t, p, access); got["active"] != false {
		t.Fatalf("the code's client replayed it and the grant is still active: %v", got)
	}
}

// A retry of a spent refresh token within the grace window gets the same
// successor, so a family never has two live tokens.
func TestTheRefreshGraceWindowForksAFamily(t *testing.T) {
	t.Parallel()
	// The longest window, so that a slow machine stays inside it.
	const grace = time.Minute
	p := authtest.Start(t, func(c *config.Config) { c.Tokens.RefreshReuseGrace = config.Duration(grace) })
	secret := configuredSecret(t, p, "demo-web")
	mustRefresh := func(what, token string) map[string]any {
		t.Helper()
		status, body := refresh(t, p, token, "", "demo-web", secret)
		if status != http.StatusOK {
			t.Fatalf("%s: %d %v", what, status, body)
		}
		return body
	}
	mustOneLive := func(what, raw, want string) {
		t.Helper()
		live := liveTokens(t, p, raw)
		if len(live) != 1 || live[0].TokenHash != storage.Hash(want) {
			t.Fatalf("%s: %d live refresh tokens in the family, want exactly the successor", what, len(live))
		}
	}

	t.Run("retry gets the same successor", func(t *testing.T) {
		a := codeTokens(t, p)
		first := mustRefresh("first use", a.RefreshToken)
		retry := mustRefresh("retry within the window", a.RefreshToken)
		succ := first["refresh_token"].(string)
		if retry["refresh_token"] != succ {
			t.Fatal("the retry got another refresh token than the first use: the family forked")
		}
		if retry["access_token"] == first["access_token"] || retry["id_token"] == nil {
			t.Fatalf("the retry got no fresh access token and ID token: %v", retry)
		}
		mustOneLive("after the retry", a.RefreshToken, succ)

		// The successor refreshes once; then it is spent like any other, and
		// its own retry again yields its one successor.
		next := mustRefresh("refresh with the successor", succ)["refresh_token"].(string)
		if again := mustRefresh("retry of the successor", succ)["refresh_token"]; again != next {
			t.Fatal("a retry of the successor forked the family")
		}
		if rt, err := p.App.Store.GetRefreshToken(context.Background(), storage.Hash(succ)); err != nil || rt.SpentAt.IsZero() {
			t.Fatalf("the successor is not spent after its rotation: %+v, %v", rt, err)
		}
		mustOneLive("after the successor's rotation", a.RefreshToken, next)

		// The first token's successor was rotated in turn: the family moved
		// on, so even inside the window the first token is reuse.
		if status, body := refresh(t, p, a.RefreshToken, "", "demo-web", secret); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("a token two rotations old: %d %v; want invalid_grant", status, body)
		}
		if status, body := refresh(t, p, next, "", "demo-web", secret); status != http.StatusBadRequest {
			t.Fatalf("the family's live token after reuse: %d %v; want invalid_grant", status, body)
		}
	})

	t.Run("replay after the window is reuse", func(t *testing.T) {
		b := codeTokens(t, p)
		succ := mustRefresh("first use", b.RefreshToken)
		p.Clock.Advance(grace + time.Second)
		if status, body := refresh(t, p, b.RefreshToken, "", "demo-web", secret); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("replay after the window: %d %v; want invalid_grant", status, body)
		}
		if status, body := refresh(t, p, succ["refresh_token"].(string), "", "demo-web", secret); status != http.StatusBadRequest {
			t.Fatalf("successor after the reuse: %d %v; want invalid_grant", status, body)
		}
		if got := introspect(t, p, succ["access_token"].(string)); got["active"] != false {
			t.Fatalf("the family is still active after reuse: %v", got)
		}
	})

	t.Run("concurrent refreshes give one successor", func(t *testing.T) {
		c := codeTokens(t, p)
		const n = 16
		tokens := make([]string, n)
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				var body map[string]any
				statuses[i], body = refresh(t, p, c.RefreshToken, "", "demo-web", secret)
				tokens[i], _ = body["refresh_token"].(string)
			})
		}
		wg.Wait()
		for i := range n {
			if statuses[i] != http.StatusOK || tokens[i] != tokens[0] {
				t.Fatalf("refresh %d of %d concurrent ones: %d, same successor %v; want 200 and one successor", i, n, statuses[i], tokens[i] == tokens[0])
			}
		}
		mustOneLive("after concurrent refreshes", c.RefreshToken, tokens[0])
	})
}

// The successor is the same whichever replica answers the retry: the key it
// is derived with comes from the shared key-encryption key.
func TestTheRefreshGraceWindowForksAFamilyAcrossReplicas(t *testing.T) {
	t.Parallel()
	p := authtest.StartReplicas(t, 2, func(c *config.Config) { c.Tokens.RefreshReuseGrace = config.Duration(time.Minute) })
	secret := configuredSecret(t, p, "demo-web")
	a := codeTokens(t, p)
	var got []string
	for i := range 4 { // round robin: two answers from each replica
		status, body := refresh(t, p, a.RefreshToken, "", "demo-web", secret)
		if status != http.StatusOK {
			t.Fatalf("refresh %d: %d %v", i, status, body)
		}
		got = append(got, body["refresh_token"].(string))
	}
	for i, rt := range got {
		if rt != got[0] {
			t.Fatalf("refresh %d got another successor than the first: the replicas forked the family", i)
		}
	}
	if live := liveTokens(t, p, a.RefreshToken); len(live) != 1 {
		t.Fatalf("%d live refresh tokens in the family, want 1", len(live))
	}
}

// A scope removed from a client's registration is not issued through its
// refresh tokens; removing offline_access ends refreshing altogether.
func TestRemovedScopesLiveOnInRefreshTokens(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, nil)
	ctx := context.Background()
	secret := configuredSecret(t, p, "demo-web")
	setScopes := func(edit func([]string) []string) {
		t.Helper()
		c, err := p.App.Store.GetClient(ctx, "demo-web")
		if err != nil {
			t.Fatal(err)
		}
		c.Scopes = edit(slices.Clone(c.Scopes))
		if err := p.App.Store.UpsertClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	without := func(drop ...string) func([]string) []string {
		return func(s []string) []string {
			return slices.DeleteFunc(s, func(sc string) bool { return slices.Contains(drop, sc) })
		}
	}
	tok := codeTokens(t, p) // openid profile email offline_access api.read
	setScopes(without("api.read", "email"))

	status, body := refresh(t, p, tok.RefreshToken, "", "demo-web", secret)
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, body)
	}
	for _, sc := range []string{"api.read", "email"} {
		if hasScope(body["scope"], sc) || hasScope(accessClaims(t, body["access_token"].(string))["scope"], sc) {
			t.Fatalf("removed scope %s issued through refresh: scope %v", sc, body["scope"])
		}
	}
	if !hasScope(body["scope"], "profile") {
		t.Fatalf("a scope the client still has was lost: %v", body["scope"])
	}
	next := body["refresh_token"].(string)
	if status, body := refresh(t, p, next, "api.read", "demo-web", secret); status != http.StatusBadRequest || body["error"] != "invalid_scope" {
		t.Fatalf("asking for a removed scope: %d %v; want invalid_scope", status, body)
	}

	// The family was narrowed for good: giving the scope back to the client
	// does not give it back to a grant the user consented to before.
	setScopes(func(s []string) []string { return append(s, "api.read") })
	status, body = refresh(t, p, next, "", "demo-web", secret)
	if status != http.StatusOK || hasScope(body["scope"], "api.read") {
		t.Fatalf("refresh after the scope came back: %d %v", status, body["scope"])
	}

	setScopes(without("offline_access"))
	if status, body := refresh(t, p, body["refresh_token"].(string), "", "demo-web", secret); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("refresh after offline_access was removed: %d %v; want invalid_grant", status, body)
	}
}

func hasScope(scope any, want string) bool {
	s, _ := scope.(string)
	return slices.Contains(strings.Fields(s), want)
}

// A client-credentials token's sub is its client id; a client whose id is a
// user's id would get tokens that name that user, so it gets none, and a
// configuration declaring such a client does not start.
func TestClientCredentialsSubCollidesWithUserSubjects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	aliceClient := func(p *authtest.Provider) (storage.User, config.Client) {
		t.Helper()
		alice, err := p.App.Store.GetUserByUsername(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		return alice, config.Client{ID: alice.ID, Name: "Impostor", Secret: "impostor-secret-impostor-secret-0123",
			GrantTypes: []string{"client_credentials"}, Scopes: []string{"api.read"}, Audience: []string{"https://api.example.com"}}
	}

	t.Run("no token", func(t *testing.T) {
		t.Parallel()
		p := authtest.Start(t, nil)
		alice, c := aliceClient(p)
		err := p.App.Store.UpsertClient(ctx, storage.Client{ID: c.ID, Name: c.Name, SecretHash: storage.Hash(c.Secret),
			GrantTypes: c.GrantTypes, Scopes: c.Scopes, Audience: c.Audience})
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"api.read"}}
		status, _, body := postToken(t, p, form, c.ID, c.Secret)
		if status != http.StatusBadRequest || body["error"] != "unauthorized_client" || body["access_token"] != nil {
			t.Fatalf("client named like user %s: %d %v; want 400 unauthorized_client", alice.Username, status, body)
		}
		// Other clients are unaffected.
		if status, _, body := postToken(t, p, form, "service", configuredSecret(t, p, "service")); status != http.StatusOK {
			t.Fatalf("service client: %d %v", status, body)
		}
	})

	t.Run("refused at start", func(t *testing.T) {
		t.Parallel()
		p := authtest.Start(t, nil)
		_, c := aliceClient(p)
		cfg := p.Config
		cfg.Clients = append(slices.Clone(cfg.Clients), c)
		err := setup.Seed(ctx, p.App.Store, cfg, setup.Options{})
		if err == nil || !strings.Contains(err.Error(), c.ID) || !strings.Contains(err.Error(), "sub") {
			t.Fatalf("seeding a client whose id is alice's: %v; want an error naming the id and the sub claim", err)
		}
		if _, err := p.App.Store.GetClient(ctx, c.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("the colliding client was stored: %v", err)
		}
	})
}
