package config_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/authserver-dev/authserver/config"
)

// publicIssuer moves the demo to an https issuer on a real domain, where
// the rp_id rules have something to say.
func publicIssuer(c *config.Config) { c.Issuer = "https://id.example.com" }

// Each rule of webauthn.* and of the second-factor client keys reports one
// problem, on the field to change, saying what to do.
func TestValidateWebAuthnAndACR(t *testing.T) {
	tests := []struct {
		name      string
		mutate    func(c *config.Config)
		wantField string
		wantMsg   string
	}{
		{"unknown acr value", func(c *config.Config) { c.Clients[0].DefaultACRValues = []string{"urn:mace:incommon:iap:silver"} }, "clients[0].default_acr_values[0]", "unknown acr value"},
		{"the short name of an acr", func(c *config.Config) { c.Clients[0].DefaultACRValues = []string{"mfa"} }, "clients[0].default_acr_values[0]", "urn:authserver:acr:mfa"},
		{"acr value twice", func(c *config.Config) {
			c.Clients[0].DefaultACRValues = []string{config.ACRMFA, config.ACRPassword, config.ACRMFA}
		}, "clients[0].default_acr_values[2]", "twice"},

		{"rp_id another domain", func(c *config.Config) { publicIssuer(c); c.WebAuthn.RPID = "example.org" }, "webauthn.rp_id", "neither the issuer's host"},
		{"rp_id a suffix but not at a label boundary", func(c *config.Config) { publicIssuer(c); c.WebAuthn.RPID = "ample.com" }, "webauthn.rp_id", "neither the issuer's host"},
		{"rp_id a host under the issuer's", func(c *config.Config) { publicIssuer(c); c.WebAuthn.RPID = "a.id.example.com" }, "webauthn.rp_id", "neither the issuer's host"},
		{"rp_id a top-level domain", func(c *config.Config) { publicIssuer(c); c.WebAuthn.RPID = "com" }, "webauthn.rp_id", `"example.com"`},
		{"rp_id with a scheme", func(c *config.Config) { publicIssuer(c); c.WebAuthn.RPID = "https://id.example.com" }, "webauthn.rp_id", "host only"},
		{"rp_id with a port", func(c *config.Config) { c.WebAuthn.RPID = "localhost:9096" }, "webauthn.rp_id", "host only"},
		{"rp_id in upper case", func(c *config.Config) { publicIssuer(c); c.WebAuthn.RPID = "Example.com" }, "webauthn.rp_id", "lower case"},
		{"rp_id not a domain name", func(c *config.Config) { publicIssuer(c); c.WebAuthn.RPID = "ex_ample.com" }, "webauthn.rp_id", "not a domain name"},
		{"rp_id other than an IP issuer", func(c *config.Config) { c.Issuer = "http://127.0.0.1:9096"; c.WebAuthn.RPID = "localhost" }, "webauthn.rp_id", "IP address"},
		{"blank rp_name", func(c *config.Config) { c.WebAuthn.RPName = "  " }, "webauthn.rp_name", "blank"},
		{"rp_name with a newline", func(c *config.Config) { c.WebAuthn.RPName = "Example\nCorp" }, "webauthn.rp_name", "control character"},
		{"rp_name too long", func(c *config.Config) { c.WebAuthn.RPName = strings.Repeat("x", 65) }, "webauthn.rp_name", "64"},

		{"origin with a path", func(c *config.Config) {
			c.WebAuthn.Origins = []string{"http://localhost:9096", "http://localhost:9096/login"}
		}, "webauthn.origins[1]", "path"},
		{"origin with a trailing slash", func(c *config.Config) { c.WebAuthn.Origins = []string{"http://localhost:9096/"} }, "webauthn.origins[0]", "browsers send http://localhost:9096"},
		{"origin in upper case", func(c *config.Config) {
			publicIssuer(c)
			c.WebAuthn.Origins = []string{"https://id.example.com", "https://WWW.example.com"}
			c.WebAuthn.RPID = "example.com"
		}, "webauthn.origins[1]", "https://www.example.com"},
		{"origin with the default port", func(c *config.Config) { publicIssuer(c); c.WebAuthn.Origins = []string{"https://id.example.com:443"} }, "webauthn.origins[0]", "as browsers send it: https://id.example.com"},
		{"relative origin", func(c *config.Config) { c.WebAuthn.Origins = []string{"http://localhost:9096", "localhost:9096"} }, "webauthn.origins[1]", ""},
		{"http origin on a public host", func(c *config.Config) {
			publicIssuer(c)
			c.WebAuthn.Origins = []string{"https://id.example.com", "http://id.example.com"}
		}, "webauthn.origins[1]", "https except on a loopback host"},
		{"origin of another scheme", func(c *config.Config) { c.WebAuthn.Origins = []string{"http://localhost:9096", "ftp://localhost"} }, "webauthn.origins[1]", "ftp"},
		{"origin with user information", func(c *config.Config) { c.WebAuthn.Origins = []string{"http://localhost:9096", "http://a@localhost"} }, "webauthn.origins[1]", "user information"},
		{"origin off the rp_id", func(c *config.Config) {
			publicIssuer(c)
			c.WebAuthn.Origins = []string{"https://id.example.com", "https://www.example.com"}
		}, "webauthn.origins[1]", "not on the relying party id id.example.com"},
		{"origin off a parent rp_id", func(c *config.Config) {
			publicIssuer(c)
			c.WebAuthn.RPID = "example.com"
			c.WebAuthn.Origins = []string{"https://id.example.com", "https://notexample.com"}
		}, "webauthn.origins[1]", "not on the relying party id example.com"},
		{"origin twice", func(c *config.Config) {
			c.WebAuthn.Origins = []string{"http://localhost:9096", "http://localhost:9096"}
		}, "webauthn.origins[1]", "twice"},
		{"origins without the issuer's", func(c *config.Config) {
			publicIssuer(c)
			c.WebAuthn.RPID = "example.com"
			c.WebAuthn.Origins = []string{"https://www.example.com"}
		}, "webauthn.origins", "issuer's origin https://id.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Default()
			tt.mutate(&c)
			ps := problemsOf(t, c.Validate())
			if len(ps) != 1 {
				t.Fatalf("got %d problems, want 1:\n%v", len(ps), c.Validate())
			}
			if ps[0].Field != tt.wantField || !strings.Contains(ps[0].Message, tt.wantMsg) {
				t.Errorf("problem %s: %s; want field %s and a message with %q", ps[0].Field, ps[0].Message, tt.wantField, tt.wantMsg)
			}
		})
	}
}

func TestValidateAcceptsWebAuthnAndACR(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *config.Config)
	}{
		{"every acr value", func(c *config.Config) {
			c.Clients[0].DefaultACRValues = []string{config.ACRPhishingResistant, config.ACRMFA, config.ACRPassword}
			c.Clients[0].RequireMFA = true
			c.Users[0].RequireMFA = true
		}},
		{"rp_id the issuer's host", func(c *config.Config) { publicIssuer(c); c.WebAuthn.RPID = "id.example.com" }},
		{"rp_id a parent domain", func(c *config.Config) { publicIssuer(c); c.WebAuthn.RPID = "example.com" }},
		{"rp_id a two-label parent of a deep host", func(c *config.Config) { c.Issuer = "https://a.b.example.co.uk"; c.WebAuthn.RPID = "b.example.co.uk" }},
		{"rp_id localhost", func(c *config.Config) { c.WebAuthn.RPID = "localhost" }},
		{"rp_id localhost under it", func(c *config.Config) { c.Issuer = "https://id.localhost:9096"; c.WebAuthn.RPID = "localhost" }},
		{"an issuer in upper case", func(c *config.Config) { c.Issuer = "https://ID.Example.com"; c.WebAuthn.RPID = "example.com" }},
		{"rp_id an IP issuer's address", func(c *config.Config) { c.Issuer = "http://127.0.0.1:9096"; c.WebAuthn.RPID = "127.0.0.1" }},
		{"origins on a parent rp_id", func(c *config.Config) {
			publicIssuer(c)
			c.WebAuthn.RPID = "example.com"
			c.WebAuthn.Origins = []string{"https://id.example.com", "https://example.com", "https://www.example.com:8443"}
		}},
		{"loopback http origin", func(c *config.Config) { c.WebAuthn.Origins = []string{"http://localhost:9096"} }},
		{"rp_name", func(c *config.Config) { c.WebAuthn.RPName = "Example Corp — sign-in" }},
		{"an issuer with a path", func(c *config.Config) {
			c.Issuer = "https://id.example.com/auth"
			c.WebAuthn.Origins = []string{"https://id.example.com"}
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

// Left out, the relying party is the issuer: its host, and its origin as
// a browser writes it (the library compares origins as strings).
func TestWebAuthnDefaults(t *testing.T) {
	var c config.Config
	c.ApplyDefaults()
	if c.WebAuthn.RPName != config.DefaultRPName || c.WebAuthn.RPID != "" || c.WebAuthn.Origins != nil {
		t.Errorf("defaults: %+v; want rp_name %q and rp_id, origins left for the issuer", c.WebAuthn, config.DefaultRPName)
	}
	for _, tt := range []struct {
		issuer, rpID, origin string
	}{
		{"http://localhost:9096", "localhost", "http://localhost:9096"},
		{"https://ID.Example.com:443/auth", "id.example.com", "https://id.example.com"},
		{"https://id.example.com:8443", "id.example.com", "https://id.example.com:8443"},
		{"http://[::1]:9096", "::1", "http://[::1]:9096"},
	} {
		c := config.Config{Issuer: tt.issuer}
		if got := c.WebAuthnRPID(); got != tt.rpID {
			t.Errorf("issuer %s: rp_id %q, want %q", tt.issuer, got, tt.rpID)
		}
		if got := c.WebAuthnOrigins(); !slices.Equal(got, []string{tt.origin}) {
			t.Errorf("issuer %s: origins %q, want [%s]", tt.issuer, got, tt.origin)
		}
	}
	c = config.Config{Issuer: "https://id.example.com", WebAuthn: config.WebAuthn{RPID: "example.com", Origins: []string{"https://id.example.com", "https://example.com"}}}
	if c.WebAuthnRPID() != "example.com" || !slices.Equal(c.WebAuthnOrigins(), c.WebAuthn.Origins) {
		t.Errorf("set: rp_id %q, origins %q", c.WebAuthnRPID(), c.WebAuthnOrigins())
	}
}

// The keys read from a file as documented.
func TestWebAuthnAndACRFromTheFile(t *testing.T) {
	c, err := config.Load(writeFile(t, `
issuer: https://id.example.com
tokens: {default_audience: [https://api.example.com]}
webauthn:
  rp_id: example.com
  rp_name: Example
  origins: [https://id.example.com, https://www.example.com]
clients:
  - id: app
    redirect_uris: [https://app.example.com/cb]
    require_mfa: true
    default_acr_values: urn:authserver:acr:phishing-resistant
users:
  - username: alice
    password: alice-password
    require_mfa: true
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if w := c.WebAuthn; w.RPID != "example.com" || w.RPName != "Example" || len(w.Origins) != 2 {
		t.Errorf("webauthn = %+v", w)
	}
	if cl := c.Clients[0]; !cl.RequireMFA || !slices.Equal(cl.DefaultACRValues, []string{config.ACRPhishingResistant}) {
		t.Errorf("client = %+v", cl)
	}
	if !c.Users[0].RequireMFA {
		t.Error("users[0].require_mfa not read")
	}
}
