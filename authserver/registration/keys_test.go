package registration_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/authserver-dev/authserver/authserver/storage"
)

// jsonValue parses a JSON text for comparisons that ignore spacing.
func jsonValue(t *testing.T, doc string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRegisterPrivateKeyJWTClient: a client that authenticates with its
// own keys registers them, gets no secret, and reads back what it
// registered, DPoP and PAR flags included; an update may move its keys to
// a jwks_uri.
func TestRegisterPrivateKeyJWTClient(t *testing.T) {
	t.Parallel()
	p := startOpen(t, nil)
	r := register(t, p, map[string]any{
		"redirect_uris": []string{"https://app.example.com/cb"}, "token_endpoint_auth_method": "private_key_jwt",
		"jwks": jsonValue(t, publicJWKS), "dpop_bound_access_tokens": true, "require_pushed_authorization_requests": true,
	})
	for _, k := range []string{"client_secret", "client_secret_expires_at", "jwks_uri"} {
		if _, ok := r.Body[k]; ok {
			t.Errorf("a private_key_jwt client's answer has %s: %s", k, r.Raw)
		}
	}
	if r.str("token_endpoint_auth_method") != "private_key_jwt" || !reflect.DeepEqual(r.Body["jwks"], jsonValue(t, publicJWKS)) ||
		r.Body["dpop_bound_access_tokens"] != true || r.Body["require_pushed_authorization_requests"] != true {
		t.Errorf("registration answer: %s", r.Raw)
	}
	id := r.str("client_id")
	st, err := p.App.Store.GetClient(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if st.SecretHash != "" || st.TokenEndpointAuthMethod != storage.AuthPrivateKeyJWT || !st.DPoPBound || !st.RequirePAR ||
		!reflect.DeepEqual(jsonValue(t, st.JWKS), jsonValue(t, publicJWKS)) || st.Public() {
		t.Errorf("stored client %+v", st)
	}

	// A read is the registration, member for member.
	read := send(t, http.MethodGet, r.str("registration_client_uri"), r.str("registration_access_token"), "")
	if read.Status != http.StatusOK {
		t.Fatalf("GET: %d %s", read.Status, read.Raw)
	}
	for _, k := range []string{"token_endpoint_auth_method", "jwks", "dpop_bound_access_tokens", "require_pushed_authorization_requests", "redirect_uris", "scope"} {
		if !reflect.DeepEqual(read.Body[k], r.Body[k]) {
			t.Errorf("GET %s = %v, registered %v", k, read.Body[k], r.Body[k])
		}
	}

	// An update that moves the keys to a jwks_uri; members left out go
	// back to their defaults (RFC 7592 §2.2), the flags too.
	put := send(t, http.MethodPut, r.str("registration_client_uri"), r.str("registration_access_token"), jsonOf(t, map[string]any{
		"client_id": id, "redirect_uris": []string{"https://app.example.com/cb"}, "token_endpoint_auth_method": "private_key_jwt",
		"jwks_uri": "https://app.example.com/jwks.json",
	}))
	if put.Status != http.StatusOK || put.str("jwks_uri") != "https://app.example.com/jwks.json" || put.Body["jwks"] != nil ||
		put.Body["dpop_bound_access_tokens"] != false || put.str("token_endpoint_auth_method") != "private_key_jwt" {
		t.Errorf("PUT: %d %s", put.Status, put.Raw)
	}
	// It has no secret, so it cannot move to a secret method.
	wantError(t, send(t, http.MethodPut, r.str("registration_client_uri"), r.str("registration_access_token"), jsonOf(t, map[string]any{
		"client_id": id, "redirect_uris": []string{"https://app.example.com/cb"}, "token_endpoint_auth_method": "client_secret_basic",
	})), http.StatusBadRequest, "invalid_client_metadata", "no secret")
}

// TestReadReturnsTheRegisteredMethod: the method is stored, so a read
// answers what was registered (client_secret_post stays post), and the
// token endpoint accepts that method only (storage AuthMethods).
func TestReadReturnsTheRegisteredMethod(t *testing.T) {
	t.Parallel()
	p := startOpen(t, nil)
	for _, method := range []string{"client_secret_post", "client_secret_basic", "none", ""} {
		meta := map[string]any{"redirect_uris": []string{"https://app.example.com/cb"}}
		want := method
		if method != "" {
			meta["token_endpoint_auth_method"] = method
		} else {
			want = "client_secret_basic" // RFC 7591 §2's default
		}
		r := register(t, p, meta)
		read := send(t, http.MethodGet, r.str("registration_client_uri"), r.str("registration_access_token"), "")
		if r.str("token_endpoint_auth_method") != want || read.str("token_endpoint_auth_method") != want {
			t.Errorf("registered %q: answer %q, read %q; want %q", method, r.str("token_endpoint_auth_method"), read.str("token_endpoint_auth_method"), want)
		}
		st, err := p.App.Store.GetClient(context.Background(), r.str("client_id"))
		if err != nil {
			t.Fatal(err)
		}
		if st.TokenEndpointAuthMethod != want || len(st.AuthMethods()) != 1 || st.AuthMethods()[0] != want {
			t.Errorf("registered %q: stored method %q, methods %v", method, st.TokenEndpointAuthMethod, st.AuthMethods())
		}
	}

	// A confidential client may move to private_key_jwt with keys; its
	// secret stops being accepted, and the answer has no secret expiry.
	r := register(t, p, map[string]any{"redirect_uris": []string{"https://app.example.com/cb"}})
	put := send(t, http.MethodPut, r.str("registration_client_uri"), r.str("registration_access_token"), jsonOf(t, map[string]any{
		"client_id": r.str("client_id"), "redirect_uris": []string{"https://app.example.com/cb"},
		"token_endpoint_auth_method": "private_key_jwt", "jwks": jsonValue(t, publicJWKS),
	}))
	if _, ok := put.Body["client_secret_expires_at"]; put.Status != http.StatusOK || ok || put.str("token_endpoint_auth_method") != "private_key_jwt" {
		t.Errorf("PUT to private_key_jwt: %d %s", put.Status, put.Raw)
	}
	if st, _ := p.App.Store.GetClient(context.Background(), r.str("client_id")); len(st.AuthMethods()) != 1 || st.AuthMethods()[0] != storage.AuthPrivateKeyJWT {
		t.Errorf("methods after the move: %v", st.AuthMethods())
	}
}

// TestJWKSURIOnAPublicIssuer: the server fetches a jwks_uri, so on a
// server that is not on loopback registration refuses one that points
// into its own network, as for back-channel logout.
func TestJWKSURIOnAPublicIssuer(t *testing.T) {
	t.Parallel()
	srv, _ := publicHandler(t)
	for _, tc := range []struct {
		uri     string
		mention string // "" means accepted
	}{
		{"https://rp.example.com/jwks.json", ""},
		{"http://127.0.0.1:7799/jwks.json", "must be https"},
		{"https://localhost/jwks.json", "own machine"},
		{"https://10.1.2.3/jwks.json", "private network"},
		{"https://169.254.169.254/latest/meta-data", "private network"},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			r := send(t, http.MethodPost, srv.URL+"/register", "", jsonOf(t, map[string]any{
				"redirect_uris": []string{"https://rp.example.com/cb"}, "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": tc.uri,
			}))
			if tc.mention == "" {
				if r.Status != http.StatusCreated || r.str("jwks_uri") != tc.uri {
					t.Fatalf("got %d %s, want 201 with the jwks_uri", r.Status, r.Raw)
				}
				return
			}
			wantError(t, r, http.StatusBadRequest, "invalid_client_metadata", "jwks_uri")
			wantError(t, r, http.StatusBadRequest, "invalid_client_metadata", tc.mention)
		})
	}
}

// TestProfileIsNotRegistered: profile is this server's own client
// metadata, not RFC 7591's: like any unknown member it is ignored, so a
// client cannot give itself (or be refused for) the FAPI 2.0 profile here.
func TestProfileIsNotRegistered(t *testing.T) {
	t.Parallel()
	p := startOpen(t, nil)
	r := register(t, p, map[string]any{"redirect_uris": []string{"https://app.example.com/cb"}, "profile": "fapi2"})
	if _, ok := r.Body["profile"]; ok {
		t.Errorf("the answer echoes profile: %s", r.Raw)
	}
	if st, err := p.App.Store.GetClient(context.Background(), r.str("client_id")); err != nil || st.Profile != "" {
		t.Errorf("stored profile %q, %v", st.Profile, err)
	}
}
