package clientkeys_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver-dev/authserver/authserver/clientkeys"
)

// rawKey is the JSON object of a JWK, for tests that edit members.
func rawKey(t *testing.T, k jose.JSONWebKey) map[string]any {
	t.Helper()
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func setOf(t *testing.T, keys ...any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestValidateJWKS(t *testing.T) {
	t.Parallel()
	private := func(name, kid string) jose.JSONWebKey { return jose.JSONWebKey{Key: testKeys()[name], KeyID: kid} }
	with := func(k jose.JSONWebKey, edit func(m map[string]any)) func(t *testing.T) any {
		return func(t *testing.T) any {
			m := rawKey(t, k)
			edit(m)
			return m
		}
	}
	plain := func(k jose.JSONWebKey) func(t *testing.T) any { return func(t *testing.T) any { return k } }
	for _, c := range []struct {
		name string
		keys []func(t *testing.T) any
		want string // "" means valid
	}{
		{"every supported type", []func(*testing.T) any{plain(jwk("P-256", "a")), plain(jwk("P-384", "b")), plain(jwk("P-521", "c")), plain(jwk("Ed25519", "d")), plain(jwk("RSA-2048", "e"))}, ""},
		{"use sig and alg", []func(*testing.T) any{with(jwk("P-256", "a"), func(m map[string]any) { m["use"], m["alg"] = "sig", "ES256" })}, ""},
		{"key_ops verify", []func(*testing.T) any{with(jwk("P-256", "a"), func(m map[string]any) { m["key_ops"] = []string{"verify"} })}, ""},
		{"keys without kid", []func(*testing.T) any{plain(jwk("P-256", "")), plain(jwk("P-256b", ""))}, ""},
		{"private EC key", []func(*testing.T) any{plain(private("P-256", "a"))}, `jwks.keys[0] holds a private key (member "d"): publish only the public half`},
		{"private RSA key", []func(*testing.T) any{plain(jwk("P-256", "a")), plain(private("RSA-2048", "b"))}, `jwks.keys[1] holds a private key (member "d")`},
		{"private Ed25519 key", []func(*testing.T) any{plain(private("Ed25519", "a"))}, `jwks.keys[0] holds a private key`},
		{"RSA prime alone", []func(*testing.T) any{with(jwk("RSA-2048", "a"), func(m map[string]any) { m["p"] = "AQAB" })}, `holds a private key (member "p")`},
		{"oct key", []func(*testing.T) any{plain(jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "s"})}, `jwks.keys[0] is a symmetric ("oct") key`},
		{"small RSA key", []func(*testing.T) any{plain(jwk("RSA-1024", "a"))}, "jwks.keys[0] is an RSA key of 1024 bits: use at least 2048"},
		{"use enc", []func(*testing.T) any{with(jwk("P-256", "a"), func(m map[string]any) { m["use"] = "enc" })}, `jwks.keys[0] has use "enc"`},
		{"key_ops without verify", []func(*testing.T) any{with(jwk("P-256", "a"), func(m map[string]any) { m["key_ops"] = []string{"encrypt"} })}, `key_ops without "verify"`},
		{"duplicate kid", []func(*testing.T) any{plain(jwk("P-256", "same")), plain(jwk("RSA-2048", "same"))}, `jwks.keys[1] has the same kid "same" as jwks.keys[0]`},
		{"unknown kty", []func(*testing.T) any{func(*testing.T) any { return map[string]any{"kty": "XYZ", "kid": "a"} }}, `has kty "XYZ"`},
		{"no kty", []func(*testing.T) any{func(*testing.T) any { return map[string]any{"kid": "a"} }}, `has no kty`},
		{"X25519 key", []func(*testing.T) any{func(*testing.T) any {
			return map[string]any{"kty": "OKP", "crv": "X25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}
		}}, "curve Ed25519"},
		{"symmetric alg on a key", []func(*testing.T) any{with(jwk("P-256", "a"), func(m map[string]any) { m["alg"] = "HS256" })}, `has alg "HS256"`},
		{"alg that does not fit", []func(*testing.T) any{with(jwk("P-256", "a"), func(m map[string]any) { m["alg"] = "ES384" })}, "ES384 needs a key on curve P-384"},
		{"EC point off the curve", []func(*testing.T) any{with(jwk("P-256", "a"), func(m map[string]any) { m["y"] = m["x"] })}, "is not a valid EC key"},
		{"not an object", []func(*testing.T) any{func(*testing.T) any { return "key" }}, "jwks.keys[0] is not a JSON object"},
		{"no keys", nil, "has no public signing key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			keys := make([]any, len(c.keys))
			for i, k := range c.keys {
				keys[i] = k(t)
			}
			err := clientkeys.ValidateJWKS(setOf(t, keys...))
			if c.want == "" {
				if err != nil {
					t.Fatalf("ValidateJWKS: %v", err)
				}
				return
			}
			var kse *clientkeys.KeySetError
			if !errors.As(err, &kse) {
				t.Fatalf("err = %v, want a *KeySetError", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v\nwant it to contain %q", err, c.want)
			}
		})
	}
}

// Every problem is reported at once, so that a registration or config
// error can be fixed in one go.
func TestValidateJWKSReportsEveryProblem(t *testing.T) {
	t.Parallel()
	err := clientkeys.ValidateJWKS(setOf(t,
		jose.JSONWebKey{Key: testKeys()["P-256"], KeyID: "a"},
		jwk("RSA-1024", "b"),
		jwk("P-256", "c"),
		jwk("P-384", "c"),
	))
	var kse *clientkeys.KeySetError
	if !errors.As(err, &kse) || len(kse.Problems) != 3 {
		t.Fatalf("err = %v, want 3 problems", err)
	}
	for i, want := range []string{"jwks.keys[0] holds a private key", "jwks.keys[1] is an RSA key of 1024 bits", "jwks.keys[3] has the same kid"} {
		if !strings.HasPrefix(kse.Problems[i], want) {
			t.Errorf("Problems[%d] = %q, want prefix %q", i, kse.Problems[i], want)
		}
	}
}

func TestValidateJWKSShape(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{``, `null`, `[]`, `{"keys":null}`, `{"keys":{}}`, `{"Keys":[]}`, `not json`} {
		if err := clientkeys.ValidateJWKS([]byte(doc)); err == nil {
			t.Errorf("ValidateJWKS(%q) accepted", doc)
		}
	}
	var many []any
	for i := range clientkeys.MaxKeys + 1 {
		many = append(many, jwk("P-256", fmt.Sprint(i)))
	}
	if err := clientkeys.ValidateJWKS(setOf(t, many...)); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("ValidateJWKS of %d keys = %v", len(many), err)
	}
}

func TestValidateClientKeys(t *testing.T) {
	t.Parallel()
	good := setOf(t, jwk("P-256", "a"))
	for _, c := range []struct {
		name     string
		jwks     []byte
		uri      string
		needKeys bool
		want     string
	}{
		{"jwks", good, "", true, ""},
		{"jwks_uri", nil, "https://client.example/jwks", true, ""},
		{"neither, not needed", nil, "", false, ""},
		{"null jwks counts as none", []byte("null"), "", false, ""},
		{"both", good, "https://client.example/jwks", true, "both set"},
		{"neither, needed", nil, "", true, "private_key_jwt needs the client's public keys"},
		{"bad jwks", setOf(t, jwk("RSA-1024", "a")), "", true, "1024 bits"},
		{"bad jwks_uri", nil, "http://client.example/jwks", true, "must use https"},
	} {
		err := clientkeys.ValidateClientKeys(c.jwks, c.uri, c.needKeys)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

func TestValidateJWKSURI(t *testing.T) {
	t.Parallel()
	for uri, want := range map[string]string{
		"https://client.example/jwks.json":    "",
		"https://client.example:8443/k?x=1":   "",
		"http://localhost:8080/jwks":          "",
		"http://LOCALHOST/jwks":               "",
		"http://127.0.0.1:9000/jwks":          "",
		"http://127.8.9.10/jwks":              "",
		"http://[::1]:9000/jwks":              "",
		"http://client.example/jwks":          "must use https",
		"http://10.0.0.1/jwks":                "must use https",
		"http://localhost.evil.example/jwks":  "must use https",
		"ftp://client.example/jwks":           "must be an https URL",
		"/jwks":                               "not an absolute URL",
		"https:///jwks":                       "not an absolute URL",
		"":                                    "empty",
		"https://client.example/jwks#frag":    "fragment",
		"https://user:pw@client.example/jwks": "credentials",
	} {
		err := clientkeys.ValidateJWKSURI(uri)
		switch {
		case want == "" && err != nil:
			t.Errorf("ValidateJWKSURI(%q) = %v", uri, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("ValidateJWKSURI(%q) = %v, want %q", uri, err, want)
		}
	}
}
