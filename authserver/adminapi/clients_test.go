package adminapi_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/authserver-dev/authserver/authserver/admin"
	"github.com/authserver-dev/authserver/authserver/adminapi"
)

// clientBody is what tests read back: the client and its secret.
type clientBody struct {
	admin.Client
	ClientSecret string `json:"client_secret"`
}

// tokenWorks reports whether the client's secret gets a token at the real
// token endpoint.
func (e *env) tokenWorks(id, secret string, scopes ...string) bool {
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: e.p.URL + "/token", Scopes: scopes}
	_, err := cc.Token(e.t.Context())
	return err == nil
}

func TestClients(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)

	// Create: 201, Location, every field as sent, the secret once.
	var c clientBody
	a := e.must(http.StatusCreated, "POST", "/admin/v1/clients", map[string]any{
		"id": "billing", "name": "Billing", "grant_types": []string{"client_credentials"},
		"scopes": []string{"api.read"}, "audience": []string{"https://api.example.com"}, "allow_introspection": true,
	}, &c)
	if loc := a.header.Get("Location"); loc != "/admin/v1/clients/billing" {
		t.Errorf("Location %q", loc)
	}
	if c.ID != "billing" || c.Name != "Billing" || c.Public || !c.AllowIntrospection || c.Owner != "database" || c.Registered ||
		!slices.Equal(c.Audience, []string{"https://api.example.com"}) || c.CreatedAt.IsZero() {
		t.Errorf("created %+v", c.Client)
	}
	if len(c.ClientSecret) < 32 || !e.tokenWorks("billing", c.ClientSecret, "api.read") {
		t.Fatalf("the returned secret %q does not get a token", c.ClientSecret)
	}

	// A public client has no secret; one created with secret_hash gets
	// none back, and its own secret works.
	var pub clientBody
	e.must(http.StatusCreated, "POST", "/admin/v1/clients", map[string]any{
		"id": "mobile", "public": true, "redirect_uris": []string{"com.example.app:/cb"},
		"grant_types": []string{"authorization_code", "refresh_token"}, "scopes": []string{"openid"},
	}, &pub)
	if !pub.Public || pub.ClientSecret != "" {
		t.Errorf("public client %+v, secret %q", pub.Client, pub.ClientSecret)
	}
	own := "an-own-secret-of-at-least-32-characters!"
	sum := sha256.Sum256([]byte(own))
	var hashed clientBody
	e.must(http.StatusCreated, "POST", "/admin/v1/clients", map[string]any{
		"id": "migrated", "grant_types": []string{"client_credentials"}, "scopes": []string{"api.read"},
		"secret_hash": hex.EncodeToString(sum[:]),
	}, &hashed)
	if hashed.ClientSecret != "" || !e.tokenWorks("migrated", own, "api.read") {
		t.Errorf("client with secret_hash: secret %q, or its own secret does not work", hashed.ClientSecret)
	}

	// Read and list.
	var got admin.Client
	e.must(http.StatusOK, "GET", "/admin/v1/clients/billing", nil, &got)
	if got.ID != "billing" || got.Name != "Billing" {
		t.Errorf("GET %+v", got)
	}
	var l struct{ Clients []admin.Client }
	e.must(http.StatusOK, "GET", "/admin/v1/clients", nil, &l)
	var ids []string
	for _, c := range l.Clients {
		ids = append(ids, c.ID+"/"+c.Owner)
	}
	for _, want := range []string{"billing/database", "mobile/database", "migrated/database", "demo-web/file", adminClient.ID + "/file"} {
		if !slices.Contains(ids, want) {
			t.Errorf("list %v lacks %s", ids, want)
		}
	}
	if !slices.IsSorted(ids) {
		t.Errorf("list not by id: %v", ids)
	}

	// Update: only the fields sent change.
	e.must(http.StatusOK, "PATCH", "/admin/v1/clients/billing", map[string]any{"name": "Billing v2", "allow_introspection": false}, &got)
	if got.Name != "Billing v2" || got.AllowIntrospection || !slices.Equal(got.Scopes, []string{"api.read"}) {
		t.Errorf("patched %+v", got)
	}

	// Rotate the secret: the new one works, the old one no longer.
	var rot struct {
		ClientSecret string `json:"client_secret"`
	}
	e.must(http.StatusOK, "POST", "/admin/v1/clients/billing/secret", nil, &rot)
	if rot.ClientSecret == "" || rot.ClientSecret == c.ClientSecret || !e.tokenWorks("billing", rot.ClientSecret, "api.read") {
		t.Errorf("rotated secret %q does not work", rot.ClientSecret)
	}
	if e.tokenWorks("billing", c.ClientSecret, "api.read") {
		t.Error("the old secret still works after rotation")
	}

	// Delete: 204, then it is gone, and so is its secret.
	e.must(http.StatusNoContent, "DELETE", "/admin/v1/clients/billing", nil, nil)
	e.call(e.admin, "GET", "/admin/v1/clients/billing", nil).problem(t, http.StatusNotFound, adminapi.TypeNotFound)
	if e.tokenWorks("billing", rot.ClientSecret, "api.read") {
		t.Error("a deleted client still gets tokens")
	}
}

// Every error class of the client operations, each a problem of its type.
func TestClientErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.must(http.StatusCreated, "POST", "/admin/v1/clients", map[string]any{
		"id": "spa", "public": true, "redirect_uris": []string{"http://127.0.0.1:5000/cb"}, "scopes": []string{"openid"},
	}, nil)
	tests := []struct {
		name, method, path string
		body               any
		invalid            bool // the document refuses the request too
		status             int
		typ                string
		fields             []string // the fields of errors, for invalid
	}{
		{"create existing id", "POST", "/admin/v1/clients", map[string]any{"id": "spa", "public": true, "redirect_uris": []string{"http://127.0.0.1:5000/cb"}},
			false, 409, adminapi.TypeConflict, nil},
		{"create an id the file declares", "POST", "/admin/v1/clients", map[string]any{"id": "demo-web", "grant_types": []string{"client_credentials"}},
			false, 409, adminapi.TypeFileOwned, nil},
		{"create with a bad redirect URI and grant type", "POST", "/admin/v1/clients", map[string]any{
			"id": "bad", "redirect_uris": []string{"http://example.com/cb"}, "grant_types": []string{"implicit"}},
			false, 400, adminapi.TypeInvalid, []string{"redirect_uris[0]", "grant_types[0]"}},
		{"create with a field of the database", "POST", "/admin/v1/clients", map[string]any{"id": "x", "owner": "file"},
			true, 400, adminapi.TypeInvalid, []string{"owner"}},
		{"create with a misspelt field", "POST", "/admin/v1/clients", map[string]any{"id": "x", "redirect_uri": "http://127.0.0.1/cb"},
			true, 400, adminapi.TypeInvalid, []string{"redirect_uri"}},
		{"create with a wrong type", "POST", "/admin/v1/clients", map[string]any{"id": "x", "scopes": "openid"},
			true, 400, adminapi.TypeInvalid, []string{"scopes"}},
		{"create without id", "POST", "/admin/v1/clients", map[string]any{"name": "x"},
			true, 400, adminapi.TypeInvalid, nil},
		{"get unknown", "GET", "/admin/v1/clients/nobody", nil, false, 404, adminapi.TypeNotFound, nil},
		{"update unknown", "PATCH", "/admin/v1/clients/nobody", map[string]any{"name": "x"}, false, 404, adminapi.TypeNotFound, nil},
		{"update a file client", "PATCH", "/admin/v1/clients/demo-web", map[string]any{"name": "x"}, false, 409, adminapi.TypeFileOwned, nil},
		{"update public", "PATCH", "/admin/v1/clients/spa", map[string]any{"public": false}, true, 400, adminapi.TypeInvalid, []string{"public"}},
		{"update into an invalid client", "PATCH", "/admin/v1/clients/spa", map[string]any{"redirect_uris": []string{"http://example.com/cb"}},
			false, 400, adminapi.TypeInvalid, []string{"redirect_uris[0]"}},
		{"delete unknown", "DELETE", "/admin/v1/clients/nobody", nil, false, 404, adminapi.TypeNotFound, nil},
		{"delete a file client", "DELETE", "/admin/v1/clients/demo-web", nil, false, 409, adminapi.TypeFileOwned, nil},
		{"rotate a public client's secret", "POST", "/admin/v1/clients/spa/secret", nil, false, 400, adminapi.TypeInvalid, nil},
		{"rotate a file client's secret", "POST", "/admin/v1/clients/demo-web/secret", nil, false, 409, adminapi.TypeFileOwned, nil},
		{"rotate an unknown client's secret", "POST", "/admin/v1/clients/nobody/secret", nil, false, 404, adminapi.TypeNotFound, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts []callOption
			if tc.invalid {
				opts = append(opts, invalidRequest)
			}
			p := e.call(e.admin, tc.method, tc.path, tc.body, opts...).problem(t, tc.status, tc.typ)
			checkFields(t, p, tc.fields)
		})
	}
	// Nothing of the refused requests was stored.
	var l struct{ Clients []admin.Client }
	e.must(http.StatusOK, "GET", "/admin/v1/clients", nil, &l)
	for _, c := range l.Clients {
		if c.ID == "bad" || c.ID == "x" || (c.ID == "demo-web" && c.Name == "x") {
			t.Errorf("a refused request stored %+v", c)
		}
	}
}

// checkFields checks that the problem names exactly the fields, each with
// a message.
func checkFields(t *testing.T, p adminapi.Problem, fields []string) {
	t.Helper()
	if fields == nil {
		return
	}
	var got []string
	for _, fe := range p.Errors {
		if strings.TrimSpace(fe.Message) == "" {
			t.Errorf("error of %s has no message", fe.Field)
		}
		got = append(got, fe.Field)
	}
	for _, f := range fields {
		if !slices.Contains(got, f) {
			t.Errorf("errors %+v do not name %s", p.Errors, f)
		}
	}
}
