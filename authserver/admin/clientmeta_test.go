package admin_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver-dev/authserver/authserver/admin"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/config"
)

// jwkSet is a JWK Set of fresh keys: the public halves, or with private
// set the whole keys (which the service must refuse).
func jwkSet(t *testing.T, private bool, keys ...any) json.RawMessage {
	t.Helper()
	var set jose.JSONWebKeySet
	for i, k := range keys {
		jwk := jose.JSONWebKey{Key: k, KeyID: string(rune('a' + i)), Use: "sig"}
		if !private {
			jwk = jwk.Public()
		}
		set.Keys = append(set.Keys, jwk)
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ecKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keyClient is a valid private_key_jwt client with inline keys.
func keyClient(t *testing.T, id string) admin.NewClient {
	c := webClient(id)
	c.TokenEndpointAuthMethod = storage.AuthPrivateKeyJWT
	c.JWKS = jwkSet(t, false, ecKey(t))
	return c
}

// A private_key_jwt client has keys and no secret, is confidential (so it
// may use client credentials), and reads back exactly as it was given.
func TestCreatePrivateKeyJWTClient(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := keyClient(t, "svc")
	c.GrantTypes, c.RedirectURIs = []string{"client_credentials"}, nil
	// Spacing and member order as a person writes them: compacted, kept.
	var indented bytes.Buffer
	if err := json.Indent(&indented, c.JWKS, "", "  "); err != nil {
		t.Fatal(err)
	}
	c.JWKS = indented.Bytes()
	c.RequirePushedAuthorizationRequests, c.DPoPBoundAccessTokens = true, true

	got, secret := f.createClient(c)
	if secret != "" {
		t.Errorf("a private_key_jwt client got a secret %q", secret)
	}
	var want bytes.Buffer
	_ = json.Compact(&want, c.JWKS)
	if got.Public || got.TokenEndpointAuthMethod != "private_key_jwt" || !bytes.Equal(got.JWKS, want.Bytes()) ||
		!got.RequirePushedAuthorizationRequests || !got.DPoPBoundAccessTokens || got.JWKSURI != "" || got.Profile != "" {
		t.Errorf("created client = %+v\nwant confidential, private_key_jwt, jwks %s, PAR and DPoP", got, want.Bytes())
	}
	st, err := f.store.GetClient(f.ctx, "svc")
	if err != nil {
		t.Fatal(err)
	}
	if st.SecretHash != "" || st.JWKS != want.String() || st.TokenEndpointAuthMethod != storage.AuthPrivateKeyJWT || !st.RequirePAR || !st.DPoPBound {
		t.Errorf("stored client = %+v", st)
	}
	if st.Public() || !slices.Equal(st.AuthMethods(), []string{storage.AuthPrivateKeyJWT}) {
		t.Errorf("stored: public %v, methods %v", st.Public(), st.AuthMethods())
	}
	// The JSON of the API and of --output json carries the set itself.
	b, _ := json.Marshal(got)
	if !bytes.Contains(b, append([]byte(`"jwks":`), want.Bytes()...)) {
		t.Errorf("JSON of the client: %s", b)
	}

	byURI := keyClient(t, "svc-uri")
	byURI.JWKS, byURI.JWKSURI = nil, "https://svc.example.com/jwks.json"
	if got, _ := f.createClient(byURI); got.JWKSURI != byURI.JWKSURI || got.JWKS != nil {
		t.Errorf("jwks_uri client = %+v", got)
	}
}

// The jwks is checked as the token endpoint will read it, with every rule
// of the configuration's clients entries before that.
func TestClientKeysAreValidated(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, field, msg string
		mutate           func(*admin.NewClient)
	}{
		{"a private key", "jwks.keys[0]", "private", func(c *admin.NewClient) { c.JWKS = jwkSet(t, true, ecKey(t)) }},
		{"a symmetric key", "jwks.keys[0]", "symmetric", func(c *admin.NewClient) { c.JWKS = json.RawMessage(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`) }},
		{"a weak RSA key", "jwks.keys[1]", "1024 bits", func(c *admin.NewClient) { c.JWKS = jwkSet(t, false, ecKey(t), &weak.PublicKey) }},
		{"an encryption key", "jwks.keys[0]", "use", func(c *admin.NewClient) {
			c.JWKS = json.RawMessage(strings.Replace(string(jwkSet(t, false, ecKey(t))), `"use":"sig"`, `"use":"enc"`, 1))
		}},
		{"not an object", "jwks", "not a JSON object", func(c *admin.NewClient) { c.JWKS = json.RawMessage(`[1,2]`) }},
		{"no keys list", "jwks", "keys list", func(c *admin.NewClient) { c.JWKS = json.RawMessage(`{"kty":"EC"}`) }},
		{"no keys", "jwks", "jwks_uri", func(c *admin.NewClient) { c.JWKS = nil }},
		{"an empty object", "jwks", "jwks_uri", func(c *admin.NewClient) { c.JWKS = json.RawMessage(` {} `) }},
		{"jwks and jwks_uri", "jwks_uri", "not both", func(c *admin.NewClient) { c.JWKSURI = "https://svc.example.com/jwks.json" }},
		{"jwks_uri over http", "jwks_uri", "loopback", func(c *admin.NewClient) { c.JWKS, c.JWKSURI = nil, "http://svc.example.com/jwks.json" }},
		{"a secret hash", "secret_hash", "never a secret", func(c *admin.NewClient) { c.SecretHash = storage.Hash("a secret kept elsewhere, long enough") }},
		{"public and a secret method", "token_endpoint_auth_method", "public", func(c *admin.NewClient) {
			c.JWKS, c.Public, c.TokenEndpointAuthMethod = nil, true, "client_secret_basic"
		}},
		{"an unsupported method", "token_endpoint_auth_method", "not supported", func(c *admin.NewClient) { c.TokenEndpointAuthMethod = "tls_client_auth" }},
		{"an unknown profile", "profile", "unknown profile", func(c *admin.NewClient) { c.Profile = "fapi" }},
		{"fapi2 with a secret", "token_endpoint_auth_method", "FAPI 2.0 §5.3.2.1", func(c *admin.NewClient) {
			c.JWKS, c.TokenEndpointAuthMethod, c.Profile = nil, "", "fapi2"
		}},
		{"fapi2 with RS256 ID tokens", "id_token_signed_response_alg", "FAPI 2.0 §5.4.1", func(c *admin.NewClient) {
			c.Profile, c.IDTokenSignedResponseAlg = "fapi2", "RS256"
		}},
	}
	// A server that signs RS256 too, so that a client may ask for it.
	o := f.opts
	o.Config.Signing.Algorithms = []string{"ES256", "RS256"}
	svc := admin.New(o)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := keyClient(t, "svc")
			tt.mutate(&c)
			_, _, err := svc.CreateClient(f.ctx, c)
			wantProblem(t, err, tt.field)
			e := wantKind(t, err, admin.KindInvalid)
			if !slices.ContainsFunc(e.Problems, func(p config.Problem) bool { return p.Field == tt.field && strings.Contains(p.Message, tt.msg) }) {
				t.Errorf("no problem %s containing %q in:\n%v", tt.field, tt.msg, err)
			}
		})
	}
	if _, err := f.store.GetClient(f.ctx, "svc"); err == nil {
		t.Error("a refused client was stored")
	}

	// Method none makes a public client, as public does.
	none := webClient("spa")
	none.TokenEndpointAuthMethod = storage.AuthNone
	if got, secret := f.createClient(none); !got.Public || secret != "" || got.TokenEndpointAuthMethod != "none" {
		t.Errorf("method none: public %v, secret %q, method %q", got.Public, secret, got.TokenEndpointAuthMethod)
	}

	// fapi2, with what it needs, is stored as such.
	fapi := keyClient(t, "bank")
	fapi.Profile = "fapi2"
	if got, _ := f.createClient(fapi); got.Profile != "fapi2" {
		t.Errorf("fapi2 client = %+v", got)
	}
}

// A confidential client may move among client_secret_basic,
// client_secret_post and private_key_jwt when it has what the new method
// needs; never to or from none.
func TestClientAuthMethodChanges(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, secret := f.createClient(webClient("billing"))
	method := func(m string) *string { return &m }

	_, err := f.svc.UpdateClient(f.ctx, "billing", admin.ClientPatch{TokenEndpointAuthMethod: method("private_key_jwt")})
	wantProblem(t, err, "jwks")

	keys := jwkSet(t, false, ecKey(t))
	got, err := f.svc.UpdateClient(f.ctx, "billing", admin.ClientPatch{TokenEndpointAuthMethod: method("private_key_jwt"), JWKS: &keys})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.store.GetClient(f.ctx, "billing")
	if got.Public || got.TokenEndpointAuthMethod != "private_key_jwt" || st.JWKS != string(keys) {
		t.Errorf("after the move to private_key_jwt: %+v", got)
	}
	// The secret's hash stays, unused: no endpoint takes a secret from it.
	if st.SecretHash != storage.Hash(secret) || slices.Contains(st.AuthMethods(), storage.AuthSecretBasic) {
		t.Errorf("stored secret hash %q, methods %v", st.SecretHash, st.AuthMethods())
	}
	if ev := f.wantEvent("client.updated", 1); len(ev) == 1 {
		if fields, _ := ev[0].Fields["fields"].([]any); len(fields) != 2 || fields[0] != "token_endpoint_auth_method" || fields[1] != "jwks" {
			t.Errorf("client.updated fields = %v", ev[0].Fields["fields"])
		}
	}
	_, err = f.svc.RotateClientSecret(f.ctx, "billing")
	if e := wantKind(t, err, admin.KindInvalid); !strings.Contains(e.Message, "private_key_jwt") {
		t.Errorf("rotate-secret of a private_key_jwt client: %q", e.Message)
	}
	// Its keys cannot go while it has no other.
	empty := json.RawMessage(`{}`)
	_, err = f.svc.UpdateClient(f.ctx, "billing", admin.ClientPatch{JWKS: &empty})
	wantProblem(t, err, "jwks")
	uri := "https://billing.example.com/jwks.json"
	if got, err := f.svc.UpdateClient(f.ctx, "billing", admin.ClientPatch{JWKS: &empty, JWKSURI: &uri}); err != nil || got.JWKS != nil || got.JWKSURI != uri {
		t.Errorf("jwks to jwks_uri: %+v, %v", got, err)
	}

	// Back to a secret: the one it had works again.
	if got, err := f.svc.UpdateClient(f.ctx, "billing", admin.ClientPatch{TokenEndpointAuthMethod: method("client_secret_post")}); err != nil || got.TokenEndpointAuthMethod != "client_secret_post" {
		t.Fatalf("back to client_secret_post: %+v, %v", got, err)
	}
	if st, _ := f.store.GetClient(f.ctx, "billing"); st.SecretHash != storage.Hash(secret) {
		t.Error("the secret changed")
	}
	_, err = f.svc.UpdateClient(f.ctx, "billing", admin.ClientPatch{TokenEndpointAuthMethod: method("none")})
	wantProblem(t, err, "token_endpoint_auth_method")

	// A client made with keys has no secret to move to.
	f.createClient(keyClient(t, "svc"))
	_, err = f.svc.UpdateClient(f.ctx, "svc", admin.ClientPatch{TokenEndpointAuthMethod: method("client_secret_basic")})
	if e := wantKind(t, err, admin.KindInvalid); len(e.Problems) != 1 || !strings.Contains(e.Problems[0].Message, "no secret") {
		t.Errorf("private_key_jwt to client_secret_basic without a secret: %v", err)
	}
	_, err = f.svc.UpdateClient(f.ctx, "svc", admin.ClientPatch{TokenEndpointAuthMethod: method("")})
	wantProblem(t, err, "token_endpoint_auth_method")

	// A public client stays public.
	f.createClient(admin.NewClient{Client: admin.Client{ID: "spa", Public: true, RedirectURIs: []string{"https://spa.example.com/cb"}}})
	for _, m := range []string{"client_secret_basic", "private_key_jwt"} {
		_, err = f.svc.UpdateClient(f.ctx, "spa", admin.ClientPatch{TokenEndpointAuthMethod: method(m), JWKS: &keys})
		wantProblem(t, err, "token_endpoint_auth_method")
	}
	if got, err := f.svc.UpdateClient(f.ctx, "spa", admin.ClientPatch{TokenEndpointAuthMethod: method("none")}); err != nil || !got.Public {
		t.Errorf("a public client named none: %+v, %v", got, err)
	}
	f.noSecretsLogged(secret, storage.Hash(secret))
}

// The flags and the profile are fields like any other.
func TestUpdateSenderConstraintFields(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.createClient(keyClient(t, "bank"))
	yes, fapi := true, "fapi2"
	got, err := f.svc.UpdateClient(f.ctx, "bank", admin.ClientPatch{RequirePushedAuthorizationRequests: &yes, DPoPBoundAccessTokens: &yes, Profile: &fapi})
	if err != nil || !got.RequirePushedAuthorizationRequests || !got.DPoPBoundAccessTokens || got.Profile != "fapi2" {
		t.Fatalf("update = %+v, %v", got, err)
	}
	if st, _ := f.store.GetClient(f.ctx, "bank"); !st.RequirePAR || !st.DPoPBound || st.Profile != "fapi2" {
		t.Errorf("stored = %+v", st)
	}
	// fapi2 refuses what it forbids, on update too.
	grants := []string{"authorization_code", "password"}
	_, err = f.svc.UpdateClient(f.ctx, "bank", admin.ClientPatch{GrantTypes: &grants})
	wantProblem(t, err, "grant_types[1]")
	none := ""
	if got, err := f.svc.UpdateClient(f.ctx, "bank", admin.ClientPatch{Profile: &none}); err != nil || got.Profile != "" {
		t.Errorf("profile cleared: %+v, %v", got, err)
	}
}

func TestJWKSProblems(t *testing.T) {
	t.Parallel()
	for _, empty := range []string{"", "null", " {} "} {
		if ps := admin.JWKSProblems([]byte(empty)); ps != nil {
			t.Errorf("JWKSProblems(%q) = %v, want none", empty, ps)
		}
	}
	ps := admin.JWKSProblems(jwkSet(t, true, ecKey(t), ecKey(t)))
	if len(ps) != 2 || ps[0].Field != "jwks.keys[0]" || ps[1].Field != "jwks.keys[1]" || !strings.HasPrefix(ps[0].Message, "holds a private key") {
		t.Errorf("two private keys: %v", ps)
	}
	if ps := admin.JWKSProblems([]byte(`"x"`)); len(ps) != 1 || ps[0].Field != "jwks" {
		t.Errorf("a string: %v", ps)
	}
}
