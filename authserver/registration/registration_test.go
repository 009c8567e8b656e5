package registration_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/setup"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/config"
)

// TestDiscoveryAdvertisesRegistrationOnlyWhenEnabled: off (the default)
// serves no endpoint and advertises none; either other mode serves it and
// names it in both metadata documents.
func TestDiscoveryAdvertisesRegistrationOnlyWhenEnabled(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{config.RegistrationOff, config.RegistrationInitialAccessToken, config.RegistrationOpen} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			p := authtest.Start(t, func(c *config.Config) { c.Registration.Mode = mode })
			for _, doc := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
				resp, err := http.Get(p.URL + doc)
				if err != nil {
					t.Fatal(err)
				}
				var meta map[string]any
				err = json.NewDecoder(resp.Body).Decode(&meta)
				resp.Body.Close()
				if err != nil {
					t.Fatalf("%s: %v", doc, err)
				}
				got, advertised := meta["registration_endpoint"]
				switch {
				case mode == config.RegistrationOff && advertised:
					t.Errorf("%s advertises registration_endpoint %v with registration off", doc, got)
				case mode != config.RegistrationOff && got != p.URL+"/register":
					t.Errorf("%s: registration_endpoint = %v, want %s", doc, got, p.URL+"/register")
				}
			}
			r := send(t, http.MethodPost, p.URL+"/register", "", `{"redirect_uris":["https://app.example.com/cb"]}`)
			switch {
			case mode == config.RegistrationOff && r.Status != http.StatusNotFound:
				t.Errorf("POST /register with registration off: %d, want 404", r.Status)
			case mode == config.RegistrationInitialAccessToken && r.Status != http.StatusUnauthorized:
				t.Errorf("POST /register without a token: %d, want 401", r.Status)
			case mode == config.RegistrationOpen && r.Status != http.StatusCreated:
				t.Errorf("POST /register in open mode: %d %s, want 201", r.Status, r.Raw)
			}
		})
	}
}

// TestRegisterConfidentialClient: the 201 answer of RFC 7591 §3.2.1, the
// client stored as the database's, registered, with hashed credentials and
// none of what a registered client may never have, even when asked for.
func TestRegisterConfidentialClient(t *testing.T) {
	t.Parallel()
	p, logs := startLogged(t, config.RegistrationOpen)
	before := time.Now().Add(-time.Second).Unix()
	r := register(t, p, map[string]any{
		"client_name":                  "Example App",
		"redirect_uris":                []string{"https://app.example.com/cb", "http://127.0.0.1:7790/cb"},
		"post_logout_redirect_uris":    []string{"https://app.example.com/bye"},
		"grant_types":                  []string{"authorization_code", "refresh_token"},
		"response_types":               []string{"code"},
		"scope":                        "openid email offline_access",
		"token_endpoint_auth_method":   "client_secret_post",
		"backchannel_logout_uri":       "https://app.example.com/bc",
		"id_token_signed_response_alg": "ES256",
		// Not client metadata of any RFC: ignored, and not echoed.
		"skip_consent": true, "allow_introspection": true, "audience": []string{"https://other-api.example"},
		"logo_uri": "https://app.example.com/logo.png", "x_custom": map[string]any{"a": 1},
	})
	id, secret, rat := r.str("client_id"), r.str("client_secret"), r.str("registration_access_token")
	if id == "" || len(secret) < 32 || len(rat) < 32 || secret == rat {
		t.Fatalf("credentials: client_id %q, client_secret %d bytes, registration_access_token %d bytes", id, len(secret), len(rat))
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	if exp, ok := r.Body["client_secret_expires_at"].(float64); !ok || exp != 0 {
		t.Errorf("client_secret_expires_at = %v, want 0", r.Body["client_secret_expires_at"])
	}
	if iat, _ := r.Body["client_id_issued_at"].(float64); int64(iat) < before || int64(iat) > time.Now().Unix()+1 {
		t.Errorf("client_id_issued_at = %v", r.Body["client_id_issued_at"])
	}
	want := map[string]any{
		"registration_client_uri":             p.URL + "/register/" + id,
		"client_name":                         "Example App",
		"application_type":                    "web",
		"token_endpoint_auth_method":          "client_secret_post",
		"scope":                               "openid email offline_access",
		"id_token_signed_response_alg":        "ES256",
		"backchannel_logout_uri":              "https://app.example.com/bc",
		"backchannel_logout_session_required": false,
	}
	for k, v := range want {
		if r.Body[k] != v {
			t.Errorf("%s = %v, want %v", k, r.Body[k], v)
		}
	}
	for k, v := range map[string][]string{
		"redirect_uris":             {"https://app.example.com/cb", "http://127.0.0.1:7790/cb"},
		"post_logout_redirect_uris": {"https://app.example.com/bye"},
		"grant_types":               {"authorization_code", "refresh_token"},
		"response_types":            {"code"},
	} {
		if got := r.list(k); !slices.Equal(got, v) {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	for _, k := range []string{"skip_consent", "allow_introspection", "audience", "logo_uri", "x_custom"} {
		if _, ok := r.Body[k]; ok {
			t.Errorf("the answer echoes %s", k)
		}
	}

	ctx := context.Background()
	c, err := p.App.Admin.GetClient(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	st0, err := p.App.Store.GetClient(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Registered || c.Owner != "database" || st0.Owner != storage.OwnerDatabase || c.Public {
		t.Errorf("stored client: registered %v, owner %q, public %v; want registered, database, confidential", c.Registered, c.Owner, c.Public)
	}
	if c.SkipConsent || c.AllowIntrospection || len(c.Audience) != 0 {
		t.Errorf("stored client: skip_consent %v, allow_introspection %v, audience %v; want none of them", c.SkipConsent, c.AllowIntrospection, c.Audience)
	}
	if st := st0; st.SecretHash != storage.Hash(secret) || st.RegistrationTokenHash != storage.Hash(rat) {
		t.Error("the secret and the registration access token are not stored as their hashes")
	}
	ev := audits(t, logs, observe.EventClientRegistered)
	if len(ev) != 1 || ev[0].Str("client_id") != id || ev[0].Str("by") != "registration" {
		t.Errorf("client.registered events: %v", ev)
	}
	if strings.Contains(logs.String(), secret) || strings.Contains(logs.String(), rat) {
		t.Error("the log carries the secret or the registration access token")
	}
}

// TestRegistrationDefaults: what a request leaves out (RFC 7591 §2), and
// the default scope: the allowed standard OpenID Connect scopes, with
// offline_access only for a client with the refresh_token grant.
func TestRegistrationDefaults(t *testing.T) {
	t.Parallel()
	p := startOpen(t, func(c *config.Config) {
		c.Registration.AllowedScopes = []string{"openid", "profile", "email", "offline_access", "api.read"}
	})
	r := register(t, p, map[string]any{"redirect_uris": []string{"https://app.example.com/cb"}})
	for k, v := range map[string]any{
		"token_endpoint_auth_method": "client_secret_basic", "application_type": "web", "scope": "openid profile email",
		"id_token_signed_response_alg": p.Config.Signing.IDTokenAlgorithm,
	} {
		if r.Body[k] != v {
			t.Errorf("%s = %v, want %v", k, r.Body[k], v)
		}
	}
	if !slices.Equal(r.list("grant_types"), []string{"authorization_code"}) || !slices.Equal(r.list("response_types"), []string{"code"}) {
		t.Errorf("grant_types %v, response_types %v; want [authorization_code], [code]", r.list("grant_types"), r.list("response_types"))
	}

	r = register(t, p, map[string]any{
		"redirect_uris": []string{"com.example.app:/cb"}, "application_type": "native",
		"token_endpoint_auth_method": "none", "grant_types": []string{"authorization_code", "refresh_token"},
	})
	if r.str("scope") != "openid profile email offline_access" {
		t.Errorf("scope with the refresh_token grant = %q", r.str("scope"))
	}
	if _, ok := r.Body["client_secret"]; ok {
		t.Error("a public client got a client_secret")
	}
	if _, ok := r.Body["client_secret_expires_at"]; ok {
		t.Error("a public client got client_secret_expires_at")
	}
	if r.str("token_endpoint_auth_method") != "none" || r.str("application_type") != "native" {
		t.Errorf("public native client: %s", r.Raw)
	}
	c, err := p.App.Admin.GetClient(context.Background(), r.str("client_id"))
	if err != nil || !c.Public {
		t.Errorf("stored public client: %+v, %v", c, err)
	}
}

// TestInitialAccessTokens: mode initial_access_token needs a token from
// the admin service; each use is spent once, an expired token is refused,
// a refusal is audited with its reason (and never the token), and a
// request with invalid metadata costs no use.
func TestInitialAccessTokens(t *testing.T) {
	t.Parallel()
	p, logs := startLogged(t, config.RegistrationInitialAccessToken)
	ctx := context.Background()
	svc := p.App.Admin
	good := jsonOf(t, map[string]any{"redirect_uris": []string{"https://app.example.com/cb"}})
	url := p.URL + "/register"

	r := send(t, http.MethodPost, url, "", good)
	wantError(t, r, http.StatusUnauthorized, "invalid_token", "initial access token")
	if h := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer ") || strings.Contains(h, "error=") {
		t.Errorf("WWW-Authenticate without credentials = %q, want a Bearer challenge without an error code (RFC 6750 §3.1)", h)
	}
	r = send(t, http.MethodPost, url, "not-a-token", good)
	wantError(t, r, http.StatusUnauthorized, "invalid_token", "unknown, expired or used up")
	if h := r.Header.Get("WWW-Authenticate"); !strings.Contains(h, `error="invalid_token"`) {
		t.Errorf("WWW-Authenticate = %q, want error=\"invalid_token\"", h)
	}

	once, _, err := svc.CreateRegistrationToken(ctx, time.Hour, 1, "single use")
	if err != nil {
		t.Fatal(err)
	}
	if r := send(t, http.MethodPost, url, once, good); r.Status != http.StatusCreated {
		t.Fatalf("first use: %d %s", r.Status, r.Raw)
	}
	wantError(t, send(t, http.MethodPost, url, once, good), http.StatusUnauthorized, "invalid_token", "used up")

	twice, _, err := svc.CreateRegistrationToken(ctx, time.Hour, 2, "")
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, send(t, http.MethodPost, url, twice, `{"redirect_uris":["http://app.example.com/cb"]}`), http.StatusBadRequest, "invalid_redirect_uri", "")
	for i := range 2 {
		if r := send(t, http.MethodPost, url, twice, good); r.Status != http.StatusCreated {
			t.Fatalf("use %d after a refused request: %d %s (a refused request must not spend a use)", i+1, r.Status, r.Raw)
		}
	}
	wantError(t, send(t, http.MethodPost, url, twice, good), http.StatusUnauthorized, "invalid_token", "")

	expiring, _, err := svc.CreateRegistrationToken(ctx, time.Minute, 5, "")
	if err != nil {
		t.Fatal(err)
	}
	p.Clock.Advance(time.Minute + time.Second)
	wantError(t, send(t, http.MethodPost, url, expiring, good), http.StatusUnauthorized, "invalid_token", "expired")

	denied := audits(t, logs, observe.EventAdminDenied)
	if len(denied) != 5 {
		t.Errorf("%d admin.denied events, want 5 (no token, unknown, used up twice, expired):\n%s", len(denied), logs.String())
	}
	for _, d := range denied {
		if d.Str("reason") == "" || d.Str("endpoint") != "registration" || d.Str("client_ip") == "" {
			t.Errorf("admin.denied without reason, endpoint or client_ip: %s", d.Raw)
		}
	}
	for _, tok := range []string{once, twice, expiring} {
		if strings.Contains(logs.String(), tok) {
			t.Error("the log carries an initial access token")
		}
	}
}

// TestAcceptedRedirectURIs: what each application_type may register (see
// uriRules), and the back-channel URI on a loopback issuer.
func TestAcceptedRedirectURIs(t *testing.T) {
	t.Parallel()
	p := startOpen(t, nil)
	for _, tc := range []struct {
		appType string
		uris    []string
	}{
		{"web", []string{"https://app.example.com/cb?x=1"}},
		{"web", []string{"http://127.0.0.1:7790/cb", "http://localhost:7790/cb", "http://[::1]:7790/cb"}},
		{"native", []string{"com.example.app:/oauth2redirect"}},
		{"native", []string{"http://127.0.0.1/cb", "https://app.example.com/native-cb"}},
	} {
		t.Run(tc.appType+" "+tc.uris[0], func(t *testing.T) {
			r := register(t, p, map[string]any{"application_type": tc.appType, "redirect_uris": tc.uris, "token_endpoint_auth_method": "none",
				"post_logout_redirect_uris": tc.uris, "backchannel_logout_uri": "http://127.0.0.1:7799/bc"})
			if !slices.Equal(r.list("redirect_uris"), tc.uris) || r.str("application_type") != tc.appType {
				t.Errorf("registered %s", r.Raw)
			}
		})
	}
}

// TestSetupRequiresDefaultAudience: a registered client's access tokens
// carry tokens.default_audience, so a server without one does not start
// with registration on, and says what to set.
func TestSetupRequiresDefaultAudience(t *testing.T) {
	t.Parallel()
	cfg := authtest.TestConfig(t.TempDir())
	cfg.Clients = nil // the demo's clients need the default audience too
	cfg.Tokens.DefaultAudience = nil
	cfg.Registration.Mode = config.RegistrationOpen
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test configuration: %v", err)
	}
	app, err := setup.Open(context.Background(), cfg, setup.Options{Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		app.Close()
		t.Fatal("the server started with registration on and no tokens.default_audience")
	}
	if !strings.Contains(err.Error(), "tokens.default_audience") || !strings.Contains(err.Error(), "registration.mode") {
		t.Errorf("error %q does not say to set tokens.default_audience (or turn registration off)", err)
	}
	cfg.Registration.Mode = config.RegistrationOff
	app, err = setup.Open(context.Background(), cfg, setup.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("with registration off: %v", err)
	}
	app.Close()
}
