package authserver

import (
	"testing"

	"github.com/authserver-dev/authserver/authserver/storage"
)

// The go-oauth2 engine's secret check must pass a private_key_jwt client
// only as the client this request authenticated, and only without a
// secret; it must never treat it as public.
func TestClientAuthEngineAdapter(t *testing.T) {
	t.Parallel()
	pk := storage.Client{ID: "pk", TokenEndpointAuthMethod: storage.AuthPrivateKeyJWT, JWKS: `{"keys":[]}`}
	secret := storage.Client{ID: "s", SecretHash: storage.Hash("right"), TokenEndpointAuthMethod: storage.AuthSecretBasic}
	cases := []struct {
		name   string
		ci     clientInfo
		secret string
		want   bool
	}{
		{"private_key_jwt, authenticated by this request", clientInfo{c: pk, fromRequest: true}, "", true},
		{"private_key_jwt, loaded from the store", clientInfo{c: pk}, "", false},
		{"private_key_jwt with a secret", clientInfo{c: pk, fromRequest: true}, "x", false},
		{"secret client, right secret", clientInfo{c: secret, fromRequest: true}, "right", true},
		{"secret client, no secret", clientInfo{c: secret, fromRequest: true}, "", false},
		{"secret client, wrong secret", clientInfo{c: secret}, "wrong", false},
	}
	for _, c := range cases {
		if got := c.ci.VerifyPassword(c.secret); got != c.want {
			t.Errorf("%s: VerifyPassword = %v; want %v", c.name, got, c.want)
		}
	}
	if (clientInfo{c: pk}).IsPublic() || (clientInfo{c: pk}).GetSecret() != "" {
		t.Error("a private_key_jwt client is public to the engine, or has a secret")
	}
}
