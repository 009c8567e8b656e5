package adminapi_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver-dev/authserver/authserver/admin"
	"github.com/authserver-dev/authserver/authserver/adminapi"
)

// publicJWKS is a JWK Set of one fresh P-256 key as a JSON object (the
// public half, or the whole key).
func publicJWKS(t *testing.T, private bool) map[string]any {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: k, KeyID: "k1", Use: "sig"}
	if !private {
		jwk = jwk.Public()
	}
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// A private_key_jwt client through the API: its jwks reads back as sent,
// the new fields are in the document's shape both ways, and what the
// service refuses is a problem naming the field.
func TestPrivateKeyJWTClientOverTheAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	jwks := publicJWKS(t, false)
	var c clientBody
	a := e.must(http.StatusCreated, "POST", "/admin/v1/clients", map[string]any{
		"id": "svc", "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks,
		"grant_types": []string{"client_credentials"}, "scopes": []string{"api.read"},
		"require_pushed_authorization_requests": true, "dpop_bound_access_tokens": true,
	}, &c)
	sent, _ := json.Marshal(jwks)
	if c.ClientSecret != "" || c.Public || c.TokenEndpointAuthMethod != "private_key_jwt" || !bytes.Equal(c.JWKS, sent) ||
		!c.RequirePushedAuthorizationRequests || !c.DPoPBoundAccessTokens {
		t.Errorf("created %+v, secret %q; jwks want %s", c.Client, c.ClientSecret, sent)
	}
	if !bytes.Contains(a.body, append([]byte(`"jwks":`), sent...)) {
		t.Errorf("the answer does not carry the jwks as sent: %s", a.body)
	}
	var got admin.Client
	e.must(http.StatusOK, "GET", "/admin/v1/clients/svc", nil, &got)
	if !bytes.Equal(got.JWKS, sent) || got.JWKSURI != "" || got.Profile != "" {
		t.Errorf("GET %+v", got)
	}
	// Move to jwks_uri: {} removes the inline keys in the same patch.
	var moved admin.Client
	e.must(http.StatusOK, "PATCH", "/admin/v1/clients/svc", map[string]any{"jwks": map[string]any{}, "jwks_uri": "https://svc.example.com/jwks.json"}, &moved)
	if moved.JWKS != nil || moved.JWKSURI != "https://svc.example.com/jwks.json" {
		t.Errorf("patched %+v", moved)
	}

	tests := []struct {
		name, method, path string
		body               any
		invalid            bool // the document refuses the request too
		fields             []string
	}{
		{"a private key", "POST", "/admin/v1/clients", map[string]any{"id": "leak", "token_endpoint_auth_method": "private_key_jwt",
			"jwks": publicJWKS(t, true), "grant_types": []string{"client_credentials"}}, false, []string{"jwks.keys[0]"}},
		{"no keys", "POST", "/admin/v1/clients", map[string]any{"id": "nokeys", "token_endpoint_auth_method": "private_key_jwt",
			"grant_types": []string{"client_credentials"}}, false, []string{"jwks"}},
		{"jwks not an object", "POST", "/admin/v1/clients", map[string]any{"id": "arr", "token_endpoint_auth_method": "private_key_jwt",
			"jwks": []any{1}, "grant_types": []string{"client_credentials"}}, true, []string{"jwks"}},
		{"an unknown method", "POST", "/admin/v1/clients", map[string]any{"id": "m", "token_endpoint_auth_method": "client_secret_jwt",
			"grant_types": []string{"client_credentials"}}, true, []string{"token_endpoint_auth_method"}},
		{"fapi2 with a secret", "POST", "/admin/v1/clients", map[string]any{"id": "bank", "profile": "fapi2",
			"grant_types": []string{"client_credentials"}}, false, []string{"token_endpoint_auth_method"}},
		{"removing the last keys", "PATCH", "/admin/v1/clients/svc", map[string]any{"jwks_uri": ""}, false, []string{"jwks"}},
		{"to none", "PATCH", "/admin/v1/clients/svc", map[string]any{"token_endpoint_auth_method": "none"}, false, []string{"token_endpoint_auth_method"}},
		{"rotating the secret of a private_key_jwt client", "POST", "/admin/v1/clients/svc/secret", nil, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts []callOption
			if tc.invalid {
				opts = append(opts, invalidRequest)
			}
			p := e.call(e.admin, tc.method, tc.path, tc.body, opts...).problem(t, http.StatusBadRequest, adminapi.TypeInvalid)
			checkFields(t, p, tc.fields)
		})
	}
	var after admin.Client
	e.must(http.StatusOK, "GET", "/admin/v1/clients/svc", nil, &after)
	if after.JWKSURI == "" || after.TokenEndpointAuthMethod != "private_key_jwt" {
		t.Errorf("a refused patch changed the client: %+v", after)
	}
}
