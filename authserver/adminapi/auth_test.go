package adminapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/authserver-dev/authserver/authserver/adminapi"
	"github.com/authserver-dev/authserver/config"
)

// Each way of not being an admin client is refused with the RFC 6750
// challenge and a problem, and audited as admin.denied with the reason
// (and the client, once the token is verified), never the token.
func TestRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	noAdmin := e.token(noAdminClient.ID, noAdminClient.Secret)
	misdirected := e.token(otherAudienceClient.ID, otherAudienceClient.Secret, config.AdminScope)
	forUser := e.passwordToken(t, passwordClient, "alice", "alice-password")
	tests := []struct {
		name     string
		client   *http.Client
		invalid  bool // the document refuses the request too (no bearer token)
		opts     []callOption
		status   int
		code     string // error= of WWW-Authenticate; "" for none
		reason   string // in the detail and the audit event
		clientID string // audited
		token    string // must not be logged
	}{
		{name: "no token", client: e.anonymous(), invalid: true, status: 401, reason: "no access token"},
		{name: "basic credentials", client: e.anonymous(), invalid: true, opts: []callOption{header("Authorization", "Basic YWRtaW4tY2xpOnNlY3JldA==")},
			status: 401, reason: "only Bearer"},
		{name: "garbage token", client: e.withToken("not-a-jwt"), status: 401, code: "invalid_token", reason: "not a JWS-signed JWT", token: "not-a-jwt"},
		{name: "forged signature", client: e.withToken(tamper(noAdmin)), status: 401, code: "invalid_token", reason: "signature", token: tamper(noAdmin)},
		{name: "token without scope admin", client: e.withToken(noAdmin), status: 403, code: "insufficient_scope",
			reason: "not granted scope admin", clientID: noAdminClient.ID, token: noAdmin},
		{name: "token for another audience", client: e.withToken(misdirected), status: 401, code: "invalid_token",
			reason: "audience does not include " + config.DefaultAdminAudience, token: misdirected},
		{name: "token a user delegated", client: e.withToken(forUser), status: 401, code: "invalid_token",
			reason: "client credentials grant", clientID: passwordClient.ID, token: forUser},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			if tc.invalid {
				opts = append(opts, invalidRequest)
			}
			before := len(e.denials())
			a := e.call(tc.client, "GET", "/admin/v1/clients", nil, opts...)
			typ := adminapi.TypeUnauthorized
			if tc.status == 403 {
				typ = adminapi.TypeForbidden
			}
			p := a.problem(t, tc.status, typ)
			if !strings.Contains(p.Detail, tc.reason) {
				t.Errorf("detail %q does not say %q", p.Detail, tc.reason)
			}
			checkChallenge(t, a.header.Get("WWW-Authenticate"), tc.code, tc.status == 403)
			denials := e.denials()[before:]
			if len(denials) != 1 {
				t.Fatalf("%d admin.denied events, want 1", len(denials))
			}
			d := denials[0]
			if !strings.Contains(d.Str("reason"), tc.reason) || d.Str("client_id") != tc.clientID {
				t.Errorf("audit event %s: want reason %q and client_id %q", d.Raw, tc.reason, tc.clientID)
			}
			if tc.token != "" && strings.Contains(e.logs.String(), tc.token) {
				t.Error("the log holds the refused token")
			}
		})
	}
}

// checkChallenge checks an RFC 6750 §3 WWW-Authenticate header.
func checkChallenge(t *testing.T, h, code string, scope bool) {
	t.Helper()
	if !strings.HasPrefix(h, `Bearer realm="`+config.DefaultAdminAudience+`"`) {
		t.Errorf("WWW-Authenticate %q: want Bearer with realm %s", h, config.DefaultAdminAudience)
	}
	if code == "" {
		if strings.Contains(h, "error=") {
			t.Errorf("WWW-Authenticate %q: no error code is due without credentials (RFC 6750 §3.1)", h)
		}
		return
	}
	if !strings.Contains(h, `error="`+code+`"`) || !strings.Contains(h, "error_description=") {
		t.Errorf("WWW-Authenticate %q: want error=%q and a description", h, code)
	}
	if scope != strings.Contains(h, `scope="admin"`) {
		t.Errorf("WWW-Authenticate %q: scope=admin is due exactly on 403", h)
	}
}

// tamper changes a character in the middle of a JWT's signature (the
// last one may carry only padding bits).
func tamper(jwt string) string {
	i := strings.LastIndexByte(jwt, '.') + 5
	repl := byte('A')
	if jwt[i] == 'A' {
		repl = 'B'
	}
	return jwt[:i] + string(repl) + jwt[i+1:]
}

// passwordToken gets an access token with scope admin for a user through
// the password grant of client c.
func (e *env) passwordToken(t *testing.T, c config.Client, username, password string) string {
	t.Helper()
	tok, status := e.passwordGrant(t, c, username, password, config.AdminScope)
	if status != http.StatusOK {
		t.Fatalf("password grant for %s: %d", username, status)
	}
	return tok
}

// passwordGrant asks the token endpoint for a token of the user through
// the password grant of client c, and returns it with the status.
func (e *env) passwordGrant(t *testing.T, c config.Client, username, password, scope string) (string, int) {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}, "scope": {scope}}
	req, _ := http.NewRequestWithContext(t.Context(), "POST", e.p.URL+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret)) // RFC 6749 §2.3.1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return out.AccessToken, resp.StatusCode
}

// An expired token is refused: the API's verifier runs on the provider's
// clock.
func TestExpiredTokenRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.token(adminClient.ID, adminClient.Secret, config.AdminScope)
	c := e.withToken(tok)
	if a := e.call(c, "GET", "/admin/v1/clients", nil); a.status != http.StatusOK {
		t.Fatalf("fresh token: %d %s", a.status, a)
	}
	e.p.Clock.Advance(e.p.Config.Tokens.AccessTokenTTL.Std() + time.Minute)
	a := e.call(c, "GET", "/admin/v1/clients", nil)
	p := a.problem(t, http.StatusUnauthorized, adminapi.TypeUnauthorized)
	if !strings.Contains(p.Detail, "expired") {
		t.Errorf("detail %q does not say expired", p.Detail)
	}
	checkChallenge(t, a.header.Get("WWW-Authenticate"), "invalid_token", false)
}

// A token revoked at the provider's revocation endpoint stops working at
// the API at once, although its JWT is still good until exp.
func TestRevokedTokenRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.token(adminClient.ID, adminClient.Secret, config.AdminScope)
	c := e.withToken(tok)
	if a := e.call(c, "GET", "/admin/v1/keys", nil); a.status != http.StatusOK {
		t.Fatalf("before revocation: %d %s", a.status, a)
	}
	form := url.Values{"token": {tok}, "token_type_hint": {"access_token"}}
	req, _ := http.NewRequestWithContext(t.Context(), "POST", e.p.URL+"/revoke", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(adminClient.ID, adminClient.Secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revocation: %d", resp.StatusCode)
	}
	a := e.call(c, "GET", "/admin/v1/keys", nil)
	p := a.problem(t, http.StatusUnauthorized, adminapi.TypeUnauthorized)
	if !strings.Contains(p.Detail, "revoked") {
		t.Errorf("detail %q does not say revoked", p.Detail)
	}
	d := e.denials()
	if len(d) != 1 || d[0].Str("client_id") != adminClient.ID || !strings.Contains(d[0].Str("reason"), "revoked") {
		t.Errorf("audit: %v", d)
	}
}

// A database-owned admin client made through the API itself: its tokens
// work, stop working with 403 as soon as it loses scope admin, and with 401
// as soon as it is deleted, although they have not expired.
func TestTokenOfChangedClientRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	var created struct {
		ID           string `json:"id"`
		ClientSecret string `json:"client_secret"`
	}
	e.must(http.StatusCreated, "POST", "/admin/v1/clients", map[string]any{
		"id": "ops-bot", "grant_types": []string{"client_credentials"}, "scopes": []string{"admin", "api.read"},
		"audience": []string{config.DefaultAdminAudience},
	}, &created)
	tok := e.token(created.ID, created.ClientSecret, config.AdminScope)
	bot := e.withToken(tok)
	if a := e.call(bot, "GET", "/admin/v1/users", nil); a.status != http.StatusOK {
		t.Fatalf("the new admin client: %d %s", a.status, a)
	}

	e.must(http.StatusOK, "PATCH", "/admin/v1/clients/ops-bot", map[string]any{"scopes": []string{"api.read"}}, nil)
	a := e.call(bot, "GET", "/admin/v1/users", nil)
	p := a.problem(t, http.StatusForbidden, adminapi.TypeForbidden)
	if !strings.Contains(p.Detail, "no longer holds scope admin") {
		t.Errorf("detail %q", p.Detail)
	}
	checkChallenge(t, a.header.Get("WWW-Authenticate"), "insufficient_scope", true)

	e.must(http.StatusOK, "PATCH", "/admin/v1/clients/ops-bot", map[string]any{"scopes": []string{"admin"}}, nil)
	if a := e.call(bot, "GET", "/admin/v1/users", nil); a.status != http.StatusOK {
		t.Fatalf("scope admin given back: %d %s", a.status, a)
	}

	e.must(http.StatusNoContent, "DELETE", "/admin/v1/clients/ops-bot", nil, nil)
	a = e.call(bot, "GET", "/admin/v1/users", nil)
	p = a.problem(t, http.StatusUnauthorized, adminapi.TypeUnauthorized)
	if !strings.Contains(p.Detail, "no longer exists") {
		t.Errorf("detail %q", p.Detail)
	}
	var denied []string
	for _, d := range e.denials() {
		denied = append(denied, d.Str("client_id")+": "+d.Str("reason"))
	}
	if len(denied) != 2 || !strings.HasPrefix(denied[0], "ops-bot: ") || !strings.HasPrefix(denied[1], "ops-bot: ") {
		t.Errorf("audited refusals %q, want two of ops-bot", denied)
	}
}

// The calls of an admin client are the admin service's operations by
// "admin_api:<client id>".
func TestActorIsTheClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.must(http.StatusCreated, "POST", "/admin/v1/registration-tokens", map[string]any{"description": "for the audit"}, nil)
	var found bool
	for _, l := range e.logs.Lines(t) {
		if l.Str("event") == "registration_token.created" {
			found = true
			if l.Str("by") != "admin_api:"+adminClient.ID {
				t.Errorf("by %q, want admin_api:%s", l.Str("by"), adminClient.ID)
			}
		}
	}
	if !found {
		t.Error("no registration_token.created event")
	}
}

// A DPoP-bound token (cnf.jkt) is good only with a proof of its key, which
// the admin API does not take: presented as Bearer it is refused, even
// signed by the provider with every other claim right (RFC 9449 §7.1).
func TestDPoPBoundTokenRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	now := e.p.Clock.Now()
	claims := map[string]any{
		"iss": e.p.URL, "sub": adminClient.ID, "client_id": adminClient.ID, "aud": []string{config.DefaultAdminAudience},
		"scope": config.AdminScope, "jti": "bound-token", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
		"cnf": map[string]string{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	alg := e.p.Config.Signing.AccessAlgorithm()
	tok, err := e.p.App.Keys.Sign(alg, map[jose.HeaderKey]any{"typ": "at+jwt"}, payload)
	if err != nil {
		t.Fatal(err)
	}
	a := e.call(e.withToken(tok), "GET", "/admin/v1/clients", nil)
	p := a.problem(t, http.StatusUnauthorized, adminapi.TypeUnauthorized)
	if !strings.Contains(p.Detail, "DPoP") {
		t.Errorf("detail %q does not say the token is DPoP-bound", p.Detail)
	}
}
