package registration_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/config"
)

// TestReadRegistration: RFC 7592 §2.1 with the registration access token:
// the metadata as registered, the token, never the secret again.
func TestReadRegistration(t *testing.T) {
	t.Parallel()
	p := startOpen(t, nil)
	reg := register(t, p, map[string]any{
		"client_name": "Read Me", "redirect_uris": []string{"https://app.example.com/cb"}, "scope": "openid email",
		"post_logout_redirect_uris": []string{"https://app.example.com/bye"},
	})
	r := send(t, http.MethodGet, reg.str("registration_client_uri"), reg.str("registration_access_token"), "")
	if r.Status != http.StatusOK {
		t.Fatalf("GET: %d %s", r.Status, r.Raw)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", r.Header.Get("Cache-Control"))
	}
	for _, k := range []string{"client_id", "registration_access_token", "registration_client_uri", "client_name", "scope",
		"token_endpoint_auth_method", "application_type", "id_token_signed_response_alg"} {
		if r.Body[k] != reg.Body[k] {
			t.Errorf("%s = %v, registered %v", k, r.Body[k], reg.Body[k])
		}
	}
	for _, k := range []string{"redirect_uris", "post_logout_redirect_uris", "grant_types", "response_types"} {
		if !slices.Equal(r.list(k), reg.list(k)) {
			t.Errorf("%s = %v, registered %v", k, r.list(k), reg.list(k))
		}
	}
	if _, ok := r.Body["client_secret"]; ok {
		t.Error("a read shows the client secret again; only its hash is stored")
	}
	if r.Body["client_secret_expires_at"] != float64(0) || r.Body["client_id_issued_at"] != reg.Body["client_id_issued_at"] {
		t.Errorf("client_secret_expires_at %v, client_id_issued_at %v", r.Body["client_secret_expires_at"], r.Body["client_id_issued_at"])
	}

	// What the store does not keep is read back from what it does.
	native := register(t, p, map[string]any{"application_type": "native", "token_endpoint_auth_method": "none", "redirect_uris": []string{"com.example.app:/cb"}})
	r = send(t, http.MethodGet, native.str("registration_client_uri"), native.str("registration_access_token"), "")
	if r.Status != http.StatusOK || r.str("application_type") != "native" || r.str("token_endpoint_auth_method") != "none" {
		t.Errorf("GET a public native client: %d %s", r.Status, r.Raw)
	}
	if _, ok := r.Body["client_secret_expires_at"]; ok {
		t.Error("a public client has client_secret_expires_at")
	}
}

// TestManagementRefusesEveryWrongToken: every failure is the same 401
// invalid_token (RFC 7592 §2), so the endpoint tells nobody which clients
// exist, and each refusal is audited.
func TestManagementRefusesEveryWrongToken(t *testing.T) {
	t.Parallel()
	p, logs := startLogged(t, config.RegistrationOpen)
	a := register(t, p, map[string]any{"redirect_uris": []string{"https://a.example.com/cb"}})
	b := register(t, p, map[string]any{"redirect_uris": []string{"https://b.example.com/cb"}})
	aURI, aToken, bToken := a.str("registration_client_uri"), a.str("registration_access_token"), b.str("registration_access_token")
	update := jsonOf(t, map[string]any{"client_id": a.str("client_id"), "redirect_uris": []string{"https://evil.example.com/cb"}})

	var first []byte
	for _, tc := range []struct{ name, method, url, token, body string }{
		{"GET with another client's token", http.MethodGet, aURI, bToken, ""},
		{"GET with a made-up token", http.MethodGet, aURI, "not-the-token", ""},
		{"GET with a's token at an unknown id", http.MethodGet, p.URL + "/register/nobody", aToken, ""},
		{"GET a client of the configuration file", http.MethodGet, p.URL + "/register/demo-web", aToken, ""},
		{"PUT with another client's token", http.MethodPut, aURI, bToken, update},
		{"DELETE with another client's token", http.MethodDelete, aURI, bToken, ""},
		{"DELETE a client of the configuration file", http.MethodDelete, p.URL + "/register/demo-web", "anything", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, tc.method, tc.url, tc.token, tc.body)
			wantError(t, r, http.StatusUnauthorized, "invalid_token", "not valid for this client")
			if r.Header.Get("WWW-Authenticate") == "" {
				t.Error("no WWW-Authenticate")
			}
			if first == nil {
				first = r.Raw
			} else if string(r.Raw) != string(first) {
				t.Errorf("answers differ, so they tell cases apart:\n%s\n%s", first, r.Raw)
			}
		})
	}
	wantError(t, send(t, http.MethodGet, aURI, "", ""), http.StatusUnauthorized, "invalid_token", "registration access token")

	if r := send(t, http.MethodGet, aURI, aToken, ""); r.Status != http.StatusOK || !slices.Equal(r.list("redirect_uris"), []string{"https://a.example.com/cb"}) {
		t.Errorf("after the refusals, a reads %d %s", r.Status, r.Raw)
	}
	if _, err := p.App.Admin.GetClient(context.Background(), "demo-web"); err != nil {
		t.Errorf("the configuration's client: %v", err)
	}
	if n := len(audits(t, logs, observe.EventAdminDenied)); n != 7 {
		t.Errorf("%d admin.denied events, want 7", n)
	}
}

// TestUpdateRegistration: RFC 7592 §2.2 replaces the metadata: what the
// update leaves out is reset to its default; client_id must be the
// client's, client_secret if sent its current one; the id, the secret and
// the registration access token stay.
func TestUpdateRegistration(t *testing.T) {
	t.Parallel()
	p := startOpen(t, nil)
	reg := register(t, p, map[string]any{
		"client_name": "Before", "redirect_uris": []string{"https://app.example.com/cb"}, "scope": "openid email",
		"post_logout_redirect_uris": []string{"https://app.example.com/bye"}, "grant_types": []string{"authorization_code", "refresh_token"},
	})
	id, secret, uri, token := reg.str("client_id"), reg.str("client_secret"), reg.str("registration_client_uri"), reg.str("registration_access_token")
	put := func(body map[string]any) reply { return send(t, http.MethodPut, uri, token, jsonOf(t, body)) }

	for _, tc := range []struct {
		name          string
		body          map[string]any
		code, mention string
	}{
		{"without client_id", map[string]any{"redirect_uris": []string{"https://app.example.com/new"}}, "invalid_client_metadata", "client_id: is required"},
		{"another client_id", map[string]any{"client_id": "demo-web", "redirect_uris": []string{"https://app.example.com/new"}}, "invalid_client_metadata", "not the id"},
		{"a wrong client_secret", map[string]any{"client_id": id, "client_secret": "guess", "redirect_uris": []string{"https://app.example.com/new"}}, "invalid_client_metadata", "client_secret"},
		{"becoming public", map[string]any{"client_id": id, "token_endpoint_auth_method": "none", "redirect_uris": []string{"https://app.example.com/new"}}, "invalid_client_metadata", "cannot change between public"},
		{"the registration access token in the body", map[string]any{"client_id": id, "registration_access_token": token, "redirect_uris": []string{"https://app.example.com/new"}}, "invalid_client_metadata", "registration_access_token: must not be sent"},
		{"client_id_issued_at in the body", map[string]any{"client_id": id, "client_id_issued_at": 1, "redirect_uris": []string{"https://app.example.com/new"}}, "invalid_client_metadata", "client_id_issued_at"},
		{"a bad redirect URI", map[string]any{"client_id": id, "redirect_uris": []string{"http://app.example.com/new"}}, "invalid_redirect_uri", "loopback"},
		{"a scope outside the allowed ones", map[string]any{"client_id": id, "redirect_uris": []string{"https://app.example.com/new"}, "scope": "openid api.write"}, "invalid_client_metadata", "api.write"},
		{"a software statement", map[string]any{"client_id": id, "redirect_uris": []string{"https://app.example.com/new"}, "software_statement": "x.y.z"}, "invalid_software_statement", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, put(tc.body), http.StatusBadRequest, tc.code, tc.mention)
		})
	}
	if r := send(t, http.MethodGet, uri, token, ""); r.str("client_name") != "Before" || !slices.Equal(r.list("redirect_uris"), []string{"https://app.example.com/cb"}) {
		t.Fatalf("a refused update changed the client: %s", r.Raw)
	}

	r := put(map[string]any{"client_id": id, "client_secret": secret, "redirect_uris": []string{"https://app.example.com/new", "http://127.0.0.1:7793/cb"}})
	if r.Status != http.StatusOK {
		t.Fatalf("PUT: %d %s", r.Status, r.Raw)
	}
	if !slices.Equal(r.list("redirect_uris"), []string{"https://app.example.com/new", "http://127.0.0.1:7793/cb"}) {
		t.Errorf("redirect_uris = %v", r.list("redirect_uris"))
	}
	// Left out: reset to the defaults of a registration.
	if r.str("client_name") == "Before" || r.str("scope") != "openid profile email" || len(r.list("post_logout_redirect_uris")) != 0 ||
		!slices.Equal(r.list("grant_types"), []string{"authorization_code"}) {
		t.Errorf("fields left out were not reset: %s", r.Raw)
	}
	if r.str("client_id") != id || r.str("registration_access_token") != token || r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("PUT answer: %s (Cache-Control %q)", r.Raw, r.Header.Get("Cache-Control"))
	}
	st, err := p.App.Store.GetClient(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := p.App.Admin.GetClient(context.Background(), id); c.Public || !c.Registered || st.SecretHash != storage.Hash(secret) {
		t.Error("the update changed the client's secret or registration")
	}
	if got := send(t, http.MethodGet, uri, token, ""); got.Status != http.StatusOK || got.str("client_name") != r.str("client_name") {
		t.Errorf("after the update, GET: %d %s", got.Status, got.Raw)
	}
}
