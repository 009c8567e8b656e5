package authserver_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/storage"
)

// authorizeURL builds an authorization request for client with the given
// overrides of the demo client's valid parameters (an empty value deletes).
func authorizeURL(p *authtest.Provider, set map[string]string) string {
	q := url.Values{
		"client_id":             {"demo-web"},
		"redirect_uri":          {authtest.DemoRedirect},
		"response_type":         {"code"},
		"scope":                 {"openid profile"},
		"state":                 {"xyz"},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier("verifier-verifier-verifier-verifier-verifier")},
		"code_challenge_method": {"S256"},
	}
	for k, v := range set {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	return p.URL + "/authorize?" + q.Encode()
}

// Defects 1 and 2: only an exactly registered redirect URI is ever redirected
// to; anything else, and an unknown client, gets an error page.
func TestRedirectURIExactMatchAndNoOpenRedirect(t *testing.T) {
	p := authtest.Start(t, nil)
	for _, tc := range []struct{ name, client, redirect string }{
		{"unknown client", "nobody", authtest.DemoRedirect},
		{"missing client", "", authtest.DemoRedirect},
		{"missing redirect", "demo-web", ""},
		{"host suffix", "code-only", "https://evilapp.example.com/cb"},
		{"host prefix", "code-only", "https://app.example.com.evil.com/cb"},
		{"other host", "demo-web", "https://evil.example/callback"},
		{"trailing slash", "demo-web", authtest.DemoRedirect + "/"},
		{"extra query", "demo-web", authtest.DemoRedirect + "?next=https://evil.example"},
		{"longer path", "demo-web", authtest.DemoRedirect + "x"},
		{"other case", "demo-web", strings.ToUpper(authtest.DemoRedirect)},
		{"other port", "demo-web", "http://127.0.0.1:9095/callback"},
		{"https instead of http", "demo-web", "https://127.0.0.1:9094/callback"},
		{"userinfo trick", "demo-web", "http://127.0.0.1:9094@evil.example/callback"},
		{"fragment", "demo-web", authtest.DemoRedirect + "#x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// An otherwise invalid request (response_type=token) would be
			// redirected with an error if the URI were trusted.
			pg := authtest.Get(t, p.Browser(t), authorizeURL(p, map[string]string{
				"client_id": tc.client, "redirect_uri": tc.redirect, "response_type": "token"}))
			if pg.Location != nil {
				t.Fatalf("redirected to %s", pg.Location)
			}
			if pg.Status != http.StatusBadRequest || !strings.Contains(pg.Body, "<html") {
				t.Fatalf("want an error page with 400, got %d:\n%s", pg.Status, pg.Body)
			}
		})
	}
}

// Once client and redirect URI are validated, errors go back to the client
// with state and iss (RFC 6749 §4.1.2.1, RFC 9207).
func TestAuthorizeErrorsRedirectToClient(t *testing.T) {
	p := authtest.Start(t, nil)
	for _, tc := range []struct {
		name string
		set  map[string]string
		want string
	}{
		{"implicit refused", map[string]string{"response_type": "token"}, "unsupported_response_type"},
		{"hybrid refused", map[string]string{"response_type": "code id_token"}, "unsupported_response_type"},
		{"no response_type", map[string]string{"response_type": ""}, "invalid_request"},
		{"PKCE plain refused", map[string]string{"code_challenge_method": "plain", "code_challenge": "verifier-verifier-verifier-verifier-verifier"}, "invalid_request"},
		{"PKCE method missing is not plain", map[string]string{"code_challenge_method": ""}, "invalid_request"},
		{"PKCE challenge malformed", map[string]string{"code_challenge": "short"}, "invalid_request"},
		{"no allowed scope left", map[string]string{"scope": "admin"}, "invalid_scope"},
		{"request object of a client without keys", map[string]string{"request": "eyJ..."}, "invalid_request_object"},
		{"prompt none without session", map[string]string{"prompt": "none"}, "login_required"},
		{"bad max_age", map[string]string{"max_age": "-1"}, "invalid_request"},
		{"response_mode fragment", map[string]string{"response_mode": "fragment"}, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pg := authtest.Get(t, p.Browser(t), authorizeURL(p, tc.set))
			if pg.Location == nil {
				t.Fatalf("no redirect; status %d", pg.Status)
			}
			q := pg.Location.Query()
			if !strings.HasPrefix(pg.Location.String(), authtest.DemoRedirect+"?") || q.Get("error") != tc.want ||
				q.Get("state") != "xyz" || q.Get("iss") != p.URL || q.Get("error_description") == "" {
				t.Fatalf("redirect = %s; want error %s", pg.Location, tc.want)
			}
		})
	}
	t.Run("public client without PKCE", func(t *testing.T) {
		pg := authtest.Get(t, p.Browser(t), authorizeURL(p, map[string]string{"client_id": "native-app",
			"redirect_uri": "http://127.0.0.1:7777/cb", "code_challenge": "", "code_challenge_method": ""}))
		if pg.Location == nil || pg.Location.Query().Get("error") != "invalid_request" {
			t.Fatalf("want invalid_request, got %d %v", pg.Status, pg.Location)
		}
	})
	t.Run("duplicate parameter", func(t *testing.T) {
		pg := authtest.Get(t, p.Browser(t), authorizeURL(p, nil)+"&scope=email")
		if pg.Location == nil || pg.Location.Query().Get("error") != "invalid_request" {
			t.Fatalf("want invalid_request, got %d %v", pg.Status, pg.Location)
		}
	})
}

// exchange signs alice in with the demo client and returns an unredeemed code.
func freshCode(t *testing.T, p *authtest.Provider, verifier string, scope string) string {
	t.Helper()
	set := map[string]string{"scope": scope}
	if verifier != "" {
		set["code_challenge"] = oauth2.S256ChallengeFromVerifier(verifier)
	} else {
		set["code_challenge"], set["code_challenge_method"] = "", ""
	}
	return signIn(t, p, authorizeURL(p, set), "xyz")
}

func redeem(t *testing.T, p *authtest.Provider, code, verifier string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {authtest.DemoRedirect}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	status, _, body := postToken(t, p, form, "demo-web", "demo-web-secret-not-for-production")
	return status, body
}

// Defect 5: a code is consumed atomically, so one code redeemed from 16
// goroutines at once yields exactly one token; the replay revokes it.
func TestCodeRedeemedConcurrentlyOnlyOnce(t *testing.T) {
	redeemConcurrently(t, authtest.Start(t, nil))
}

// redeemConcurrently redeems one code from 16 goroutines at once and checks
// that exactly one wins and that the replays revoked what it won.
func redeemConcurrently(t *testing.T, p *authtest.Provider) {
	const verifier = "concurrent-verifier-concurrent-verifier-0123"
	code := freshCode(t, p, verifier, "openid offline_access")
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		successes []map[string]any
		failures  []string
	)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body := redeem(t, p, code, verifier)
			mu.Lock()
			defer mu.Unlock()
			if status == http.StatusOK {
				successes = append(successes, body)
			} else {
				failures = append(failures, body["error"].(string))
			}
		}()
	}
	wg.Wait()
	if len(successes) != 1 {
		t.Fatalf("%d redemptions succeeded; want exactly 1", len(successes))
	}
	for _, f := range failures {
		if f != "invalid_grant" {
			t.Errorf("a losing redemption got %s; want invalid_grant", f)
		}
	}
	// The replays revoked the family the winner got.
	refresh := successes[0]["refresh_token"].(string)
	if _, err := p.App.Store.GetRefreshToken(context.Background(), storage.Hash(refresh)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("refresh token of a replayed code is still valid: %v", err)
	}
}

func TestCodeReplayRevokesIssuedTokens(t *testing.T) {
	p := authtest.Start(t, nil)
	const verifier = "replay-verifier-replay-verifier-replay-verifier"
	code := freshCode(t, p, verifier, "openid offline_access")
	status, body := redeem(t, p, code, verifier)
	if status != http.StatusOK {
		t.Fatalf("first redemption: %d %v", status, body)
	}
	refresh := body["refresh_token"].(string)
	if _, err := p.App.Store.GetRefreshToken(context.Background(), storage.Hash(refresh)); err != nil {
		t.Fatalf("refresh token not stored: %v", err)
	}
	status, body = redeem(t, p, code, verifier)
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("replay: %d %v; want 400 invalid_grant", status, body)
	}
	if _, err := p.App.Store.GetRefreshToken(context.Background(), storage.Hash(refresh)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("replay did not revoke the refresh token: %v", err)
	}
}

// Defect 9: PKCE failures are invalid_grant with 400, never a server error.
func TestPKCEAtTokenEndpoint(t *testing.T) {
	p := authtest.Start(t, nil)
	const verifier = "pkce-verifier-pkce-verifier-pkce-verifier-pkce"
	for _, tc := range []struct {
		name, challengeFor, sent string
	}{
		{"wrong verifier", verifier, verifier + "x"},
		{"missing verifier", verifier, ""},
		{"verifier without challenge (downgrade)", "", verifier},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code := freshCode(t, p, tc.challengeFor, "openid")
			status, body := redeem(t, p, code, tc.sent)
			if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
				t.Fatalf("got %d %v; want 400 invalid_grant", status, body)
			}
		})
	}
	t.Run("right verifier", func(t *testing.T) {
		code := freshCode(t, p, verifier, "openid")
		if status, body := redeem(t, p, code, verifier); status != http.StatusOK {
			t.Fatalf("got %d %v", status, body)
		}
	})
	t.Run("confidential client without PKCE", func(t *testing.T) {
		code := freshCode(t, p, "", "openid")
		if status, body := redeem(t, p, code, ""); status != http.StatusOK {
			t.Fatalf("got %d %v", status, body)
		}
	})
}

// Defects 7, 8, 10, 11 and 12 at the token endpoint.
func TestTokenEndpointErrors(t *testing.T) {
	p := authtest.Start(t, nil)
	const verifier = "errors-verifier-errors-verifier-errors-verifier"
	code := freshCode(t, p, verifier, "openid")
	codeForm := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {authtest.DemoRedirect}, "code_verifier": {verifier}}
	pw := func(user, pass string) url.Values {
		return url.Values{"grant_type": {"password"}, "username": {user}, "password": {pass}, "scope": {"openid"}}
	}
	with := func(v url.Values, k, val string) url.Values {
		out := url.Values{}
		for key, vals := range v {
			out[key] = vals
		}
		out.Set(k, val)
		return out
	}
	for _, tc := range []struct {
		name         string
		form         url.Values
		user, secret string
		status       int
		want         string
	}{
		{"unknown client", pw("alice", "alice-password"), "nobody", "x", 401, "invalid_client"},
		{"wrong secret", pw("alice", "alice-password"), "demo-web", "wrong", 401, "invalid_client"},
		{"secret of another client", pw("alice", "alice-password"), "demo-web", "code-only-secret-0123456789abcdefgh", 401, "invalid_client"},
		{"no client authentication", pw("alice", "alice-password"), "", "", 401, "invalid_client"},
		{"client checked before user", pw("alice", "wrong"), "demo-web", "wrong", 401, "invalid_client"},
		{"wrong password", pw("alice", "wrong"), "demo-web", "demo-web-secret-not-for-production", 400, "invalid_grant"},
		{"unknown user", pw("mallory", "alice-password"), "demo-web", "demo-web-secret-not-for-production", 400, "invalid_grant"},
		{"password grant not allowed", pw("alice", "alice-password"), "code-only", "code-only-secret-0123456789abcdefgh", 400, "unauthorized_client"},
		{"password without username", pw("", "alice-password"), "demo-web", "demo-web-secret-not-for-production", 400, "invalid_request"},
		{"password grant scope widening", with(pw("alice", "alice-password"), "scope", "admin"), "demo-web", "demo-web-secret-not-for-production", 400, "invalid_scope"},
		{"implicit is no grant", with(pw("alice", "alice-password"), "grant_type", "implicit"), "demo-web", "demo-web-secret-not-for-production", 400, "unsupported_grant_type"},
		{"library's internal implicit name", with(pw("alice", "alice-password"), "grant_type", "__implicit"), "demo-web", "demo-web-secret-not-for-production", 400, "unsupported_grant_type"},
		{"unknown grant", with(pw("alice", "alice-password"), "grant_type", "urn:x"), "demo-web", "demo-web-secret-not-for-production", 400, "unsupported_grant_type"},
		{"missing grant_type", with(pw("alice", "alice-password"), "grant_type", ""), "demo-web", "demo-web-secret-not-for-production", 400, "invalid_request"},
		{"bad code", with(codeForm, "code", "nope"), "demo-web", "demo-web-secret-not-for-production", 400, "invalid_grant"},
		{"code without redirect_uri", with(codeForm, "redirect_uri", ""), "demo-web", "demo-web-secret-not-for-production", 400, "invalid_request"},
		{"code with other registered redirect_uri", with(codeForm, "redirect_uri", "http://127.0.0.1:7779/cb"), "demo-web", "demo-web-secret-not-for-production", 400, "invalid_grant"},
		{"code of another client", codeForm, "code-only", "code-only-secret-0123456789abcdefgh", 400, "invalid_grant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := postToken(t, p, tc.form, tc.user, tc.secret)
			if status != tc.status || body["error"] != tc.want {
				t.Fatalf("got %d %v; want %d %s", status, body, tc.status, tc.want)
			}
			if desc, _ := body["error_description"].(string); desc == "" {
				t.Error("no error_description")
			}
			if tc.status == 401 && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("401 without WWW-Authenticate: Basic")
			}
		})
	}
	t.Run("duplicate parameter", func(t *testing.T) {
		body := "grant_type=password&username=alice&password=alice-password&scope=openid&scope=email"
		req, _ := http.NewRequest(http.MethodPost, p.URL+"/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("demo-web", "demo-web-secret-not-for-production")
		assertStatus(t, req, 400, "invalid_request")
	})
	t.Run("JSON body refused", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, p.URL+"/token", strings.NewReader(`{"grant_type":"password"}`))
		req.Header.Set("Content-Type", "application/json")
		assertStatus(t, req, 400, "invalid_request")
	})
}

// Defect 8: x/oauth2 form-urlencodes Basic credentials, so a secret with
// + / = % & and a space must work in the header and in the body alike.
func TestClientSecretBasicAndPostWithSpecialCharacters(t *testing.T) {
	p := authtest.Start(t, nil)
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		oc := &oauth2.Config{ClientID: "tricky", ClientSecret: "a+b/c=d%e&f g-0123456789abcdefghij",
			Endpoint: oauth2.Endpoint{TokenURL: p.URL + "/token", AuthStyle: style}, Scopes: []string{"openid"}}
		tok, err := oc.PasswordCredentialsToken(context.Background(), "alice", "alice-password")
		if err != nil {
			t.Fatalf("auth style %d: %v", style, err)
		}
		if tok.AccessToken == "" {
			t.Fatalf("auth style %d: no access token", style)
		}
	}
}

// Defect 7: secrets are stored only as SHA-256, never in the clear.
func TestClientSecretsAreHashedAtRest(t *testing.T) {
	p := authtest.Start(t, nil)
	c, err := p.App.Store.GetClient(context.Background(), "demo-web")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("demo-web-secret-not-for-production"))
	if c.SecretHash != hex.EncodeToString(sum[:]) || strings.Contains(c.SecretHash, "demo-web-secret-not-for-production") {
		t.Fatalf("stored secret = %q; want its SHA-256", c.SecretHash)
	}
	u, err := p.App.Store.GetUserByUsername(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Fatalf("stored password = %q; want an argon2id hash", u.PasswordHash)
	}
}
