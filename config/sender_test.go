package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/config"
)

// ecJWKS is a JWK Set in the form the file holds it (one public P-256 key).
func ecJWKS() map[string]any {
	return map[string]any{"keys": []any{map[string]any{
		"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig",
		"x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
		"y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
	}}}
}

// keyClient makes the demo client a private_key_jwt client with inline keys.
func keyClient(c *config.Config) {
	cl := &c.Clients[0]
	cl.Secret = ""
	cl.TokenEndpointAuthMethod = config.AuthPrivateKeyJWT
	cl.JWKS = ecJWKS()
}

// fapiClient makes the demo client one that profile fapi2 accepts.
func fapiClient(c *config.Config) {
	keyClient(c)
	cl := &c.Clients[0]
	cl.Profile = config.ProfileFAPI2
	cl.GrantTypes = []string{"authorization_code", "refresh_token"}
	cl.IDTokenSignedResponseAlg = "ES256"
}

// Each rule of the new client metadata and of par.* and dpop.* reports one
// problem, on the field to change, saying what to do.
func TestValidateClientAuthAndProfile(t *testing.T) {
	tests := []struct {
		name      string
		mutate    func(c *config.Config)
		wantField string
		wantMsg   string
	}{
		{"unknown auth method", func(c *config.Config) { c.Clients[0].TokenEndpointAuthMethod = "secret" }, "clients[0].token_endpoint_auth_method", "unknown method"},
		{"client_secret_jwt not supported", func(c *config.Config) { c.Clients[0].TokenEndpointAuthMethod = "client_secret_jwt" }, "clients[0].token_endpoint_auth_method", "not supported"},
		{"tls_client_auth not supported", func(c *config.Config) { c.Clients[0].TokenEndpointAuthMethod = "tls_client_auth" }, "clients[0].token_endpoint_auth_method", "not supported"},
		{"none with a secret", func(c *config.Config) { c.Clients[0].TokenEndpointAuthMethod = "none" }, "clients[0].secret", "public client has no secret"},
		{"none with a secret hash", func(c *config.Config) {
			c.Clients[0].Secret, c.Clients[0].SecretHash = "", strings.Repeat("ab", 32)
			c.Clients[0].TokenEndpointAuthMethod = "none"
		}, "clients[0].secret_hash", "public client has no secret"},
		{"basic without a secret", func(c *config.Config) {
			c.Clients[0].Secret = ""
			c.Clients[0].TokenEndpointAuthMethod = "client_secret_basic"
		}, "clients[0].secret", "authenticates with a secret"},
		{"post without a secret", func(c *config.Config) {
			c.Clients[0].Secret = ""
			c.Clients[0].TokenEndpointAuthMethod = "client_secret_post"
		}, "clients[0].secret", "authenticates with a secret"},
		{"private_key_jwt with a secret", func(c *config.Config) {
			keyClient(c)
			c.Clients[0].Secret = "demo-web-secret-not-for-production"
		}, "clients[0].secret", "never a secret"},
		{"private_key_jwt with a secret hash", func(c *config.Config) {
			keyClient(c)
			c.Clients[0].SecretHash = strings.Repeat("ab", 32)
		}, "clients[0].secret_hash", "never a secret"},
		{"private_key_jwt without keys", func(c *config.Config) {
			keyClient(c)
			c.Clients[0].JWKS = nil
		}, "clients[0].jwks", "jwks_uri"},
		{"private_key_jwt with an empty jwks", func(c *config.Config) {
			keyClient(c)
			c.Clients[0].JWKS = map[string]any{}
		}, "clients[0].jwks", "needs the client's public keys"},
		{"jwks and jwks_uri", func(c *config.Config) {
			keyClient(c)
			c.Clients[0].JWKSURI = "https://app.example.com/jwks.json"
		}, "clients[0].jwks_uri", "not both"},
		{"jwks_uri over http", func(c *config.Config) { c.Clients[0].JWKSURI = "http://app.example.com/jwks.json" }, "clients[0].jwks_uri", "loopback"},
		{"jwks_uri relative", func(c *config.Config) { c.Clients[0].JWKSURI = "/jwks.json" }, "clients[0].jwks_uri", "absolute"},
		{"jwks_uri with a fragment", func(c *config.Config) { c.Clients[0].JWKSURI = "https://app.example.com/jwks.json#k" }, "clients[0].jwks_uri", "fragment"},
		{"jwks_uri with credentials", func(c *config.Config) { c.Clients[0].JWKSURI = "https://u:p@app.example.com/jwks.json" }, "clients[0].jwks_uri", "credentials"},
		{"jwks_uri of another scheme", func(c *config.Config) { c.Clients[0].JWKSURI = "ftp://app.example.com/jwks.json" }, "clients[0].jwks_uri", "ftp"},
		{"jwks without keys", func(c *config.Config) { c.Clients[0].JWKS = map[string]any{"kty": "EC"} }, "clients[0].jwks", "keys list"},
		{"jwks with an empty keys list", func(c *config.Config) { c.Clients[0].JWKS = map[string]any{"keys": []any{}} }, "clients[0].jwks", "keys list"},
		{"jwks key not a mapping", func(c *config.Config) { c.Clients[0].JWKS = map[string]any{"keys": []any{"EC"}} }, "clients[0].jwks.keys[0]", "not a mapping"},
		{"jwks key without kty", func(c *config.Config) {
			c.Clients[0].JWKS = ecJWKS()
			c.Clients[0].JWKS["keys"] = append(c.Clients[0].JWKS["keys"].([]any), map[string]any{"crv": "P-256"})
		}, "clients[0].jwks.keys[1]", "no kty"},
		{"jwks with a date", func(c *config.Config) {
			c.Clients[0].JWKS = ecJWKS()
			c.Clients[0].JWKS["keys"].([]any)[0].(map[string]any)["kid"] = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		}, "clients[0].jwks", "quote it"},
		{"jwks with a mapping of number keys", func(c *config.Config) {
			c.Clients[0].JWKS = ecJWKS()
			c.Clients[0].JWKS["keys"].([]any)[0].(map[string]any)["x5t"] = map[any]any{1: "a"}
		}, "clients[0].jwks", "not a string"},
		{"unknown profile", func(c *config.Config) { c.Clients[0].Profile = "fapi1" }, "clients[0].profile", "unknown profile"},
		{"fapi2 with client_secret_basic", func(c *config.Config) {
			fapiClient(c)
			c.Clients[0].JWKS, c.Clients[0].Secret = nil, "demo-web-secret-not-for-production"
			c.Clients[0].TokenEndpointAuthMethod = "client_secret_basic"
		}, "clients[0].token_endpoint_auth_method", "FAPI 2.0 §5.3.2.1"},
		{"fapi2 with a secret and no method", func(c *config.Config) {
			fapiClient(c)
			c.Clients[0].JWKS, c.Clients[0].Secret = nil, "demo-web-secret-not-for-production"
			c.Clients[0].TokenEndpointAuthMethod = ""
		}, "clients[0].token_endpoint_auth_method", "private_key_jwt"},
		{"fapi2 public client", func(c *config.Config) {
			fapiClient(c)
			c.Clients[0].JWKS = nil
			c.Clients[0].TokenEndpointAuthMethod = "none"
		}, "clients[0].token_endpoint_auth_method", "confidential clients only"},
		{"fapi2 with the password grant", func(c *config.Config) {
			fapiClient(c)
			c.Clients[0].GrantTypes = append(c.Clients[0].GrantTypes, "password")
		}, "clients[0].grant_types[2]", "password grant"},
		{"fapi2 with RS256 ID tokens", func(c *config.Config) {
			fapiClient(c)
			c.Clients[0].IDTokenSignedResponseAlg = "RS256"
		}, "clients[0].id_token_signed_response_alg", "FAPI 2.0 §5.4.1"},
		{"fapi2 with the RS256 default for ID tokens", func(c *config.Config) {
			fapiClient(c)
			c.Clients[0].IDTokenSignedResponseAlg = ""
		}, "clients[0].id_token_signed_response_alg", "signing.id_token_algorithm RS256"},
		{"fapi2 with RS256 access tokens", func(c *config.Config) {
			fapiClient(c)
			c.Signing.AccessTokenAlgorithm = "RS256"
		}, "clients[0].profile", "signing.access_token_algorithm"},
		{"fapi2 with RS256 first among the algorithms", func(c *config.Config) {
			fapiClient(c)
			c.Signing.Algorithms = []string{"RS256", "ES256"}
		}, "clients[0].profile", "RS256"},
		{"fapi2 with a request_uri of 10 minutes", func(c *config.Config) {
			fapiClient(c)
			c.PAR.RequestURITTL = config.Duration(10 * time.Minute)
		}, "clients[0].profile", "less than 600 seconds"},
		{"request_uri ttl zero", func(c *config.Config) { c.PAR.RequestURITTL = 0 }, "par.request_uri_ttl", "between 1s and 10m"},
		{"request_uri ttl above 10m", func(c *config.Config) { c.PAR.RequestURITTL = config.Duration(11 * time.Minute) }, "par.request_uri_ttl", "between 1s and 10m"},
		{"proof max age zero", func(c *config.Config) { c.DPoP.ProofMaxAge = 0 }, "dpop.proof_max_age", "between 1s and 5m"},
		{"proof max age above 5m", func(c *config.Config) { c.DPoP.ProofMaxAge = config.Duration(6 * time.Minute) }, "dpop.proof_max_age", "between 1s and 5m"},
		{"dpop algorithm HS256", func(c *config.Config) { c.DPoP.Algorithms = []string{"ES256", "HS256"} }, "dpop.algorithms[1]", "asymmetric"},
		{"dpop algorithm none", func(c *config.Config) { c.DPoP.Algorithms = []string{"none"} }, "dpop.algorithms[0]", "asymmetric"},
		{"dpop algorithm unknown", func(c *config.Config) { c.DPoP.Algorithms = []string{"ES256K"} }, "dpop.algorithms[0]", "unknown algorithm"},
		{"dpop algorithm twice", func(c *config.Config) { c.DPoP.Algorithms = []string{"ES256", "ES256"} }, "dpop.algorithms[1]", "twice"},
		{"dpop algorithms empty", func(c *config.Config) { c.DPoP.Algorithms = nil }, "dpop.algorithms", "empty"},
		{"client credentials for a client with method none", func(c *config.Config) {
			c.Clients[0].Secret = ""
			c.Clients[0].TokenEndpointAuthMethod = "none"
			c.Clients[0].GrantTypes = []string{"client_credentials"}
			c.Clients[0].RedirectURIs = nil
		}, "clients[0].grant_types[0]", "public client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Default()
			tt.mutate(&c)
			ps := problemsOf(t, c.Validate())
			if len(ps) != 1 {
				t.Fatalf("got %d problems, want 1:\n%v", len(ps), c.Validate())
			}
			if ps[0].Field != tt.wantField {
				t.Errorf("field = %q, want %q (%s)", ps[0].Field, tt.wantField, ps[0].Message)
			}
			if !strings.Contains(ps[0].Message, tt.wantMsg) {
				t.Errorf("message %q does not contain %q", ps[0].Message, tt.wantMsg)
			}
		})
	}
}

func TestValidateAcceptsClientAuthAndProfile(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *config.Config)
	}{
		{"private_key_jwt with jwks", keyClient},
		{"private_key_jwt with client credentials only", func(c *config.Config) {
			keyClient(c)
			c.Clients[0].GrantTypes = []string{"client_credentials"}
			c.Clients[0].RedirectURIs = nil
		}},
		{"private_key_jwt with an https jwks_uri", func(c *config.Config) {
			keyClient(c)
			c.Clients[0].JWKS, c.Clients[0].JWKSURI = nil, "https://app.example.com/.well-known/jwks.json"
		}},
		{"private_key_jwt with a loopback http jwks_uri", func(c *config.Config) {
			keyClient(c)
			c.Clients[0].JWKS, c.Clients[0].JWKSURI = nil, "http://127.0.0.1:9094/jwks.json"
		}},
		{"client_secret_basic with a secret", func(c *config.Config) { c.Clients[0].TokenEndpointAuthMethod = "client_secret_basic" }},
		{"client_secret_post with a secret hash", func(c *config.Config) {
			c.Clients[0].Secret, c.Clients[0].SecretHash = "", strings.Repeat("0f", 32)
			c.Clients[0].TokenEndpointAuthMethod = "client_secret_post"
		}},
		{"none without a secret", func(c *config.Config) {
			c.Clients[0].Secret = ""
			c.Clients[0].TokenEndpointAuthMethod = "none"
		}},
		{"a secret client with keys for request objects", func(c *config.Config) { c.Clients[0].JWKS = ecJWKS() }},
		{"fapi2", fapiClient},
		{"fapi2 with EdDSA ID tokens", func(c *config.Config) {
			fapiClient(c)
			c.Signing.Algorithms = append(c.Signing.Algorithms, "EdDSA")
			c.Clients[0].IDTokenSignedResponseAlg = "EdDSA"
		}},
		{"fapi2 with the server's ES256 ID tokens", func(c *config.Config) {
			fapiClient(c)
			c.Clients[0].IDTokenSignedResponseAlg = ""
			c.Signing.IDTokenAlgorithm = "ES256"
		}},
		{"fapi2 with the flags spelled out", func(c *config.Config) {
			fapiClient(c)
			c.Clients[0].RequirePushedAuthorizationRequests = true
			c.Clients[0].DPoPBoundAccessTokens = true
		}},
		{"request_uri ttl bounds", func(c *config.Config) { c.PAR.RequestURITTL = config.Duration(10 * time.Minute) }},
		{"request_uri ttl of a second", func(c *config.Config) { c.PAR.RequestURITTL = config.Duration(time.Second) }},
		{"proof max age of 5m", func(c *config.Config) { c.DPoP.ProofMaxAge = config.Duration(5 * time.Minute) }},
		{"every dpop algorithm", func(c *config.Config) {
			c.DPoP.Algorithms = []string{"ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "EdDSA"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Default()
			tt.mutate(&c)
			if err := c.Validate(); err != nil {
				t.Errorf("Validate() =\n%v", err)
			}
		})
	}
}

// Public follows token_endpoint_auth_method: a private_key_jwt client has
// no secret and is confidential (it may use client_credentials).
func TestClientPublic(t *testing.T) {
	tests := []struct {
		name string
		c    config.Client
		want bool
	}{
		{"no method, no secret", config.Client{}, true},
		{"no method, a secret", config.Client{Secret: "s"}, false},
		{"no method, a secret hash", config.Client{SecretHash: "h"}, false},
		{"none", config.Client{TokenEndpointAuthMethod: "none"}, true},
		{"private_key_jwt", config.Client{TokenEndpointAuthMethod: "private_key_jwt", JWKSURI: "https://a/j"}, false},
		{"client_secret_post", config.Client{TokenEndpointAuthMethod: "client_secret_post", Secret: "s"}, false},
		{"no method, keys only", config.Client{JWKS: ecJWKS()}, true},
	}
	for _, tt := range tests {
		if got := tt.c.Public(); got != tt.want {
			t.Errorf("%s: Public() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// A jwks mapping in the file is the JSON the store keeps: members as
// written, nothing lost, the same every time.
func TestJWKSFromTheFile(t *testing.T) {
	c, err := config.Load(writeFile(t, `clients:
  - id: svc
    token_endpoint_auth_method: private_key_jwt
    grant_types: [client_credentials]
    audience: [https://api.example.com]
    jwks:
      keys:
        - kty: EC
          crv: P-256
          kid: "2024-01"
          x: f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU
          y: x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Clients[0].JWKSJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"keys":[{"crv":"P-256","kid":"2024-01","kty":"EC","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`
	if string(got) != want {
		t.Errorf("JWKSJSON =\n %s\nwant\n %s", got, want)
	}
	if c.Clients[0].Public() {
		t.Error("a private_key_jwt client is public")
	}
	if b, err := (config.Client{}).JWKSJSON(); b != nil || err != nil {
		t.Errorf("no jwks: JWKSJSON = %q, %v; want nil, nil", b, err)
	}
}

// What YAML reads differently from what was meant is refused with the line
// or the member: jwks as a list, an unquoted date as a kid.
func TestJWKSFileMistakes(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"jwks as a list", "clients:\n  - id: a\n    jwks: [k1]\n", "config line 3: clients[0].jwks must be a mapping, not a list"},
		{"jwks as a string", "clients:\n  - id: a\n    jwks: '{\"keys\":[]}'\n", `config line 3: clients[0].jwks must be a mapping, not "{\"keys\":[]}"`},
		{"a date for a kid", "tokens: {default_audience: [x]}\nclients:\n  - id: a\n    redirect_uris: [http://127.0.0.1/cb]\n    jwks: {keys: [{kty: EC, kid: 2024-01-01}]}\n",
			"clients[0].jwks: cannot be stored as JSON: keys[0].kid reads as a date in YAML; quote it to keep it a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(writeFile(t, tt.yaml), nil)
			ps := problemsOf(t, err)
			if ps[0].String() != tt.want {
				t.Errorf("first problem:\n got %q\nwant %q\nall:\n%v", ps[0].String(), tt.want, err)
			}
		})
	}
}

// The example documents par and dpop with the defaults ApplyDefaults sets.
func TestSenderConstraintDefaults(t *testing.T) {
	var c config.Config
	c.ApplyDefaults()
	if c.PAR.Required || c.PAR.RequestURITTL.Std() != 60*time.Second {
		t.Errorf("par = %+v, want not required, 60s", c.PAR)
	}
	if c.DPoP.RequireNonce || c.DPoP.ProofMaxAge.Std() != 60*time.Second || strings.Join(c.DPoP.Algorithms, " ") != "ES256 EdDSA PS256 RS256" {
		t.Errorf("dpop = %+v", c.DPoP)
	}
	// A fapi2 client's flags are left as written: the server implies them.
	c.Clients = []config.Client{{ID: "f", Profile: config.ProfileFAPI2}}
	c.ApplyDefaults()
	if c.Clients[0].RequirePushedAuthorizationRequests || c.Clients[0].DPoPBoundAccessTokens {
		t.Error("ApplyDefaults set the PAR or DPoP flag of a fapi2 client")
	}
}
