package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authserver-dev/authserver/config"
)

// problemsOf returns the problems of a *config.ValidationError and fails the
// test for any other error.
func problemsOf(t *testing.T, err error) []config.Problem {
	t.Helper()
	if err == nil {
		t.Fatal("got no error, want a *config.ValidationError")
	}
	var ve *config.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %T %q, want a *config.ValidationError", err, err)
	}
	return ve.Problems
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "authserver.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaultIsValidDemo(t *testing.T) {
	c := config.Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default() does not validate:\n%v", err)
	}
	loaded, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded, c) {
		t.Errorf("Load(\"\") = %+v, want Default() %+v", loaded, c)
	}

	// The demo's provider and client have different host names, so that
	// neither gets the other's cookies (cookies ignore ports).
	if c.Issuer != "http://localhost:9096" || c.Listen != "localhost:9096" {
		t.Errorf("issuer, listen = %q, %q", c.Issuer, c.Listen)
	}
	wantClient := config.Client{
		ID:                     "demo-web",
		Name:                   "Demo Web App",
		Secret:                 "demo-web-secret-not-for-production",
		RedirectURIs:           []string{"http://127.0.0.1:9094/callback"},
		PostLogoutRedirectURIs: []string{"http://127.0.0.1:9094/"},
		GrantTypes:             []string{"authorization_code", "refresh_token", "password"},
		Scopes:                 []string{"openid", "profile", "email", "offline_access", "api.read", "api.write"},
		BackchannelLogoutURI:   "http://127.0.0.1:9094/backchannel-logout",
	}
	if len(c.Clients) != 1 || !reflect.DeepEqual(c.Clients[0], wantClient) {
		t.Errorf("clients = %+v, want [%+v]", c.Clients, wantClient)
	}
	wantUser := config.User{Username: "alice", Password: "alice-password", Email: "alice@example.com", EmailVerified: true, Name: "Alice Example"}
	if len(c.Users) != 1 || c.Users[0] != wantUser {
		t.Errorf("users = %+v, want [%+v]", c.Users, wantUser)
	}

	// Each call must return fresh slices: one caller's edit must not leak.
	c.Clients[0].Scopes[0] = "changed"
	c.Signing.Algorithms[0] = "changed"
	if d := config.Default(); d.Clients[0].Scopes[0] != "openid" || d.Signing.Algorithms[0] != "ES256" {
		t.Error("Default() shares slices between calls")
	}
}

// The embedded file is the documented example; every default it spells out
// must agree with ApplyDefaults, or the documentation lies.
func TestExampleMatchesDefaults(t *testing.T) {
	c, err := config.Parse(config.Example())
	if err != nil {
		t.Fatalf("embedded authserver.yaml does not decode:\n%v", err)
	}
	if len(c.Clients) != 1 || len(c.Users) != 1 {
		t.Fatalf("example has %d clients and %d users, want 1 and 1", len(c.Clients), len(c.Users))
	}
	var zero config.Config
	zero.ApplyDefaults()
	c.ApplyDefaults()
	// The demo's clients, users, scope words and audience (the sample API) are the demo's
	// own, not defaults: a real configuration gets none of them. So is its
	// address: localhost, a host name apart from its client's 127.0.0.1.
	c.Clients, c.Users, c.Tokens.DefaultAudience, c.Scopes = nil, nil, nil, nil
	if c.Listen != "localhost:9096" || c.Issuer != "http://localhost:9096" {
		t.Errorf("example listen, issuer = %q, %q; want localhost:9096, http://localhost:9096", c.Listen, c.Issuer)
	}
	c.Listen, c.Issuer = zero.Listen, zero.Issuer
	if !reflect.DeepEqual(c, zero) {
		t.Errorf("example without clients and users = %+v\nwant the defaults %+v", c, zero)
	}
}

// The key names are a contract with operators' scripts (docs/ARCHITECTURE.md, "Interfaces that must stay stable"); renaming
// one must fail here.
func TestSchemaKeys(t *testing.T) {
	want := []string{
		"issuer", "listen",
		"storage.driver", "storage.dsn", "storage.sqlite_synchronous",
		"signing.algorithms", "signing.id_token_algorithm", "signing.access_token_algorithm", "signing.rsa_bits", "signing.rotation_period", "signing.publish_lead", "signing.jwks_max_age", "signing.key_check_interval", "signing.key_encryption_key_file",
		"tokens.access_token_ttl", "tokens.id_token_ttl", "tokens.auth_code_ttl", "tokens.refresh_token_ttl",
		"tokens.refresh_idle_ttl", "tokens.refresh_reuse_grace", "tokens.default_audience",
		"sessions.ttl",
		"passwords.memory_kib", "passwords.iterations", "passwords.parallelism",
		"housekeeping.interval", "housekeeping.batch_size", "ui.templates_dir",
		"tls.cert_file", "tls.key_file", "server.trusted_proxies", "observability.metrics_listen",
		"log.format", "log.level",
		"security.throttle.enabled", "security.throttle.free_failures", "security.throttle.ip_free_failures",
		"security.throttle.client_free_failures", "security.throttle.base_delay", "security.throttle.max_delay",
		"security.throttle.reset_after", "security.throttle.ip_hash_slots",
		"admin.listen", "admin.audience", "registration.mode", "registration.force_open", "registration.allowed_scopes", "registration.allowed_grant_types",
		"webauthn.rp_id", "webauthn.rp_name", "webauthn.origins",
		"par.required", "par.request_uri_ttl", "dpop.algorithms", "dpop.require_nonce", "dpop.proof_max_age",
		"scopes[].name", "scopes[].description",
		"clients[].id", "clients[].name", "clients[].secret", "clients[].secret_hash", "clients[].redirect_uris",
		"clients[].post_logout_redirect_uris", "clients[].grant_types", "clients[].scopes", "clients[].audience",
		"clients[].skip_consent", "clients[].allow_introspection", "clients[].id_token_signed_response_alg",
		"clients[].backchannel_logout_uri", "clients[].backchannel_logout_session_required",
		"clients[].token_endpoint_auth_method", "clients[].jwks", "clients[].jwks_uri",
		"clients[].require_pushed_authorization_requests", "clients[].dpop_bound_access_tokens", "clients[].profile",
		"clients[].require_mfa", "clients[].default_acr_values",
		"users[].username", "users[].password", "users[].password_hash", "users[].email",
		"users[].email_verified", "users[].name",
		"users[].claims.given_name", "users[].claims.family_name", "users[].claims.middle_name", "users[].claims.nickname",
		"users[].claims.profile", "users[].claims.picture", "users[].claims.website", "users[].claims.gender",
		"users[].claims.birthdate", "users[].claims.zoneinfo", "users[].claims.locale", "users[].claims.phone_number",
		"users[].claims.phone_number_verified", "users[].claims.address.formatted", "users[].claims.address.street_address",
		"users[].claims.address.locality", "users[].claims.address.region", "users[].claims.address.postal_code",
		"users[].claims.address.country", "users[].disabled", "users[].require_mfa",
	}
	var got []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for f := range t.Fields() {
			if !f.IsExported() {
				continue
			}
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			name := prefix + tag
			switch {
			case f.Type.Kind() == reflect.Struct:
				walk(f.Type, name+".")
			case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
				walk(f.Type.Elem(), name+"[].")
			default:
				got = append(got, name)
			}
		}
	}
	walk(reflect.TypeFor[config.Config](), "")
	if !slices.Equal(got, want) {
		t.Errorf("schema keys changed:\n got %q\nwant %q", got, want)
	}
}

func TestValidateReportsField(t *testing.T) {
	tests := []struct {
		name      string
		mutate    func(c *config.Config)
		wantField string
		wantMsg   string
	}{
		{"empty issuer", func(c *config.Config) { c.Issuer = "" }, "issuer", "empty"},
		{"relative issuer", func(c *config.Config) { c.Issuer = "/auth" }, "issuer", "absolute http or https"},
		{"issuer with other scheme", func(c *config.Config) { c.Issuer = "ftp://127.0.0.1" }, "issuer", "absolute http or https"},
		{"issuer with query", func(c *config.Config) { c.Issuer = "https://id.example.com?x=1" }, "issuer", "query"},
		{"issuer with fragment", func(c *config.Config) { c.Issuer = "https://id.example.com#top" }, "issuer", "fragment"},
		{"issuer with trailing slash", func(c *config.Config) { c.Issuer = "https://id.example.com/" }, "issuer", "slash"},
		{"issuer http on public host", func(c *config.Config) { c.Issuer = "http://id.example.com" }, "issuer", "loopback"},
		{"issuer without host", func(c *config.Config) { c.Issuer = "https:///path" }, "issuer", "no host"},
		{"issuer path with dot segment", func(c *config.Config) { c.Issuer = "https://id.example.com/a/../b" }, "issuer", "segments"},
		{"issuer path with empty segment", func(c *config.Config) { c.Issuer = "https://id.example.com/a//b" }, "issuer", "segments"},
		{"issuer path with escape", func(c *config.Config) { c.Issuer = "https://id.example.com/a%20b" }, "issuer", "segments"},
		{"issuer path with pattern braces", func(c *config.Config) { c.Issuer = "https://id.example.com/{id}" }, "issuer", "segments"},
		{"listen not host:port", func(c *config.Config) { c.Listen = "9096" }, "listen", "host:port"},
		{"listen port not a number", func(c *config.Config) { c.Listen = "127.0.0.1:http" }, "listen", "port"},
		{"listen port too large", func(c *config.Config) { c.Listen = "127.0.0.1:70000" }, "listen", "port"},
		{"unknown storage driver", func(c *config.Config) { c.Storage.Driver = "mysql" }, "storage.driver", `"mysql"`},
		{"empty dsn", func(c *config.Config) { c.Storage.DSN = "" }, "storage.dsn", "empty"},
		{"unknown signing algorithm", func(c *config.Config) { c.Signing.Algorithms = append(c.Signing.Algorithms, "HS256") }, "signing.algorithms[2]", `"HS256"`},
		{"duplicate signing algorithm", func(c *config.Config) { c.Signing.Algorithms = append(c.Signing.Algorithms, "ES256") }, "signing.algorithms[2]", "twice"},
		{"id token algorithm not in algorithms", func(c *config.Config) { c.Signing.IDTokenAlgorithm = "EdDSA" }, "signing.id_token_algorithm", "EdDSA"},
		{"access token algorithm not in algorithms", func(c *config.Config) { c.Signing.AccessTokenAlgorithm = "EdDSA" }, "signing.access_token_algorithm", "EdDSA"},
		{"rsa bits 4096", func(c *config.Config) { c.Signing.RSABits = 4096 }, "signing.rsa_bits", "2048 or 3072"},
		{"publish lead shorter than JWKS caching", func(c *config.Config) { c.Signing.PublishLead = config.Duration(30 * time.Minute) }, "signing.publish_lead", "jwks_max_age"},
		{"rotation period shorter than publish lead", func(c *config.Config) { c.Signing.RotationPeriod = config.Duration(12 * time.Hour) }, "signing.rotation_period", "publish_lead"},
		{"empty client id", func(c *config.Config) { c.Clients[0].ID = "" }, "clients[0].id", "empty"},
		{"duplicate client id", func(c *config.Config) { c.Clients = append(c.Clients, c.Clients[0]) }, "clients[1].id", "more than one"},
		{"authorization code without redirect uris", func(c *config.Config) { c.Clients[0].RedirectURIs = nil }, "clients[0].redirect_uris", "authorization_code"},
		{"relative redirect uri", func(c *config.Config) { c.Clients[0].RedirectURIs = []string{"/callback"} }, "clients[0].redirect_uris[0]", "not absolute"},
		{"redirect uri with fragment", func(c *config.Config) {
			c.Clients[0].RedirectURIs = append(c.Clients[0].RedirectURIs, "https://app.example.com/cb#x")
		}, "clients[0].redirect_uris[1]", "fragment"},
		{"redirect uri http on public host", func(c *config.Config) { c.Clients[0].RedirectURIs = []string{"http://app.example.com/cb"} }, "clients[0].redirect_uris[0]", "loopback"},
		{"redirect uri with wildcard", func(c *config.Config) { c.Clients[0].RedirectURIs = []string{"https://*.example.com/cb"} }, "clients[0].redirect_uris[0]", "wildcard"},
		{"redirect uri javascript scheme", func(c *config.Config) { c.Clients[0].RedirectURIs = []string{"javascript:alert(1)"} }, "clients[0].redirect_uris[0]", "javascript"},
		{"empty redirect uri", func(c *config.Config) { c.Clients[0].RedirectURIs = []string{""} }, "clients[0].redirect_uris[0]", "empty"},
		{"post logout redirect uri http on public host", func(c *config.Config) {
			c.Clients[0].PostLogoutRedirectURIs = []string{"http://app.example.com/"}
		}, "clients[0].post_logout_redirect_uris[0]", "loopback"},
		{"unknown grant type", func(c *config.Config) { c.Clients[0].GrantTypes = []string{"authorization_code", "device_code"} }, "clients[0].grant_types[1]", `"device_code"`},
		{"implicit grant", func(c *config.Config) { c.Clients[0].GrantTypes = []string{"implicit", "authorization_code"} }, "clients[0].grant_types[0]", "implicit grant is not supported"},
		{"client credentials for public client", func(c *config.Config) {
			c.Clients[0].Secret = ""
			c.Clients[0].GrantTypes = []string{"authorization_code", "client_credentials"}
		}, "clients[0].grant_types[1]", "public client"},
		{"secret and secret hash", func(c *config.Config) { c.Clients[0].SecretHash = strings.Repeat("ab", 32) }, "clients[0].secret_hash", "not both"},
		{"secret hash not hex", func(c *config.Config) {
			c.Clients[0].Secret = ""
			c.Clients[0].SecretHash = strings.Repeat("zz", 32)
		}, "clients[0].secret_hash", "64 hex"},
		{"secret hash too short", func(c *config.Config) {
			c.Clients[0].Secret = ""
			c.Clients[0].SecretHash = strings.Repeat("ab", 16)
		}, "clients[0].secret_hash", "64 hex"},
		{"scope with a space", func(c *config.Config) { c.Clients[0].Scopes = []string{"openid", "api read"} }, "clients[0].scopes[1]", "scope token"},
		{"empty audience", func(c *config.Config) { c.Clients[0].Audience = []string{""} }, "clients[0].audience[0]", "empty"},
		{"id token alg of client not in algorithms", func(c *config.Config) { c.Clients[0].IDTokenSignedResponseAlg = "EdDSA" }, "clients[0].id_token_signed_response_alg", "EdDSA"},
		{"empty username", func(c *config.Config) { c.Users[0].Username = " " }, "users[0].username", "empty"},
		{"duplicate username", func(c *config.Config) { c.Users = append(c.Users, c.Users[0]) }, "users[1].username", "more than one"},
		{"password and password hash", func(c *config.Config) { c.Users[0].PasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA" }, "users[0].password", "not both"},
		{"neither password nor hash", func(c *config.Config) { c.Users[0].Password = "" }, "users[0].password", "password_hash"},
		{"malformed email", func(c *config.Config) { c.Users[0].Email = "alice" }, "users[0].email", "email address"},
		{"negative access token ttl", func(c *config.Config) { c.Tokens.AccessTokenTTL = -1 }, "tokens.access_token_ttl", "positive"},
		{"zero id token ttl", func(c *config.Config) { c.Tokens.IDTokenTTL = 0 }, "tokens.id_token_ttl", "positive"},
		{"negative auth code ttl", func(c *config.Config) { c.Tokens.AuthCodeTTL = config.Duration(-time.Second) }, "tokens.auth_code_ttl", "positive"},
		{"auth code ttl above 10m", func(c *config.Config) { c.Tokens.AuthCodeTTL = config.Duration(11 * time.Minute) }, "tokens.auth_code_ttl", "10m"},
		{"negative refresh token ttl", func(c *config.Config) { c.Tokens.RefreshTokenTTL = config.Duration(-time.Hour) }, "tokens.refresh_token_ttl", "positive"},
		{"zero refresh idle ttl", func(c *config.Config) { c.Tokens.RefreshIdleTTL = 0 }, "tokens.refresh_idle_ttl", "positive"},
		{"negative session ttl", func(c *config.Config) { c.Sessions.TTL = config.Duration(-time.Hour) }, "sessions.ttl", "positive"},
		{"negative refresh reuse grace", func(c *config.Config) { c.Tokens.RefreshReuseGrace = config.Duration(-time.Second) }, "tokens.refresh_reuse_grace", "between"},
		{"refresh reuse grace above 1m", func(c *config.Config) { c.Tokens.RefreshReuseGrace = config.Duration(61 * time.Second) }, "tokens.refresh_reuse_grace", "between"},
		{"no audience anywhere", func(c *config.Config) { c.Tokens.DefaultAudience = nil }, "clients[0].audience", "tokens.default_audience"},
		{"empty default audience entry", func(c *config.Config) { c.Tokens.DefaultAudience = []string{" "} }, "tokens.default_audience[0]", "empty"},
		{"zero argon2 memory", func(c *config.Config) { c.Passwords.MemoryKiB = 0 }, "passwords.memory_kib", "positive"},
		{"argon2 memory below 8 KiB per lane", func(c *config.Config) {
			c.Passwords.MemoryKiB = 16
			c.Passwords.Parallelism = 4
		}, "passwords.memory_kib", "8 KiB"},
		{"zero argon2 iterations", func(c *config.Config) { c.Passwords.Iterations = 0 }, "passwords.iterations", "positive"},
		{"zero argon2 parallelism", func(c *config.Config) { c.Passwords.Parallelism = 0 }, "passwords.parallelism", "positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Default()
			tt.mutate(&c)
			ps := problemsOf(t, c.Validate())
			// Exactly one problem: a mistake must not drown in follow-on noise.
			if len(ps) != 1 {
				t.Fatalf("got %d problems, want 1:\n%v", len(ps), c.Validate())
			}
			if ps[0].Field != tt.wantField {
				t.Errorf("field = %q, want %q", ps[0].Field, tt.wantField)
			}
			if !strings.Contains(ps[0].Message, tt.wantMsg) {
				t.Errorf("message %q does not contain %q", ps[0].Message, tt.wantMsg)
			}
			if got := c.Validate().Error(); !strings.HasPrefix(got, tt.wantField+": ") {
				t.Errorf("Error() = %q, want it to start with the field", got)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *config.Config)
	}{
		{"https issuer with path", func(c *config.Config) { c.Issuer = "https://id.example.com/tenant" }},
		{"http issuer on localhost", func(c *config.Config) { c.Issuer = "http://localhost:9096" }},
		{"http issuer on ipv6 loopback", func(c *config.Config) { c.Issuer = "http://[::1]:9096" }},
		{"listen on every interface", func(c *config.Config) { c.Listen = ":9096" }},
		{"native app private-use scheme", func(c *config.Config) { c.Clients[0].RedirectURIs = []string{"com.example.app:/callback"} }},
		{"redirect on localhost", func(c *config.Config) { c.Clients[0].RedirectURIs = []string{"http://localhost:8080/cb"} }},
		{"https redirect with query", func(c *config.Config) { c.Clients[0].RedirectURIs = []string{"https://app.example.com/cb?x=1"} }},
		{"public client with code and password grants", func(c *config.Config) { c.Clients[0].Secret = "" }},
		{"confidential client by secret hash with client credentials", func(c *config.Config) {
			c.Clients[0].Secret = ""
			c.Clients[0].SecretHash = strings.Repeat("0f", 32)
			c.Clients[0].GrantTypes = []string{"client_credentials"}
			c.Clients[0].RedirectURIs = nil
		}},
		{"user with password hash only", func(c *config.Config) {
			c.Users[0].Password = ""
			c.Users[0].PasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"
		}},
		{"postgres", func(c *config.Config) {
			c.Storage = config.Storage{Driver: "postgres", DSN: "postgres://authserver@127.0.0.1:5432/authserver?sslmode=disable"}
		}},
		{"EdDSA first", func(c *config.Config) { c.Signing.Algorithms = []string{"EdDSA", "RS256"} }},
		{"refresh reuse grace of one minute", func(c *config.Config) { c.Tokens.RefreshReuseGrace = config.Duration(time.Minute) }},
		{"auth code ttl of ten minutes", func(c *config.Config) { c.Tokens.AuthCodeTTL = config.Duration(10 * time.Minute) }},
		{"no clients and no users", func(c *config.Config) { c.Clients, c.Users = nil, nil }},
		{"no default audience when every client names its own", func(c *config.Config) {
			c.Tokens.DefaultAudience = nil
			c.Clients[0].Audience = []string{"https://api.example.com"}
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

func TestLoadReportsEveryProblem(t *testing.T) {
	path := writeFile(t, `
storage:
  driver: mysql
clients:
  - id: app
    redirect_uris: [https://app.example.com/cb#frag]
    grant_types: [implicit]
    audience: [https://api.example.com]
`)
	_, err := config.Load(path, nil)
	ps := problemsOf(t, err)
	var fields []string
	for _, p := range ps {
		fields = append(fields, p.Field)
	}
	want := []string{"storage.driver", "clients[0].grant_types[0]", "clients[0].redirect_uris[0]"}
	if !slices.Equal(slices.Sorted(slices.Values(fields)), slices.Sorted(slices.Values(want))) {
		t.Fatalf("fields = %q, want %q; error:\n%v", fields, want, err)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 {
		t.Errorf("Error() has %d lines, want one per problem:\n%v", len(lines), err)
	}
}

func TestParseDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // each the whole String() of one problem, in order
	}{
		{
			name: "unknown top-level key",
			yaml: "listen: 127.0.0.1:9096\ncolour: red\n",
			want: []string{`config line 2: unknown key "colour" at the top level (known keys: issuer, listen, storage, signing, tokens, sessions, passwords, housekeeping, ui, tls, server, observability, log, security, admin, registration, webauthn, par, dpop, scopes, clients, users)`},
		},
		{
			name: "unknown key in storage",
			yaml: "# comment\nissuer: http://127.0.0.1:9096\n\n\nstorage:\n  driver: sqlite\n  colour: red\n",
			want: []string{`config line 7: unknown key "colour" in storage (known keys: driver, dsn, sqlite_synchronous)`},
		},
		{
			name: "unknown keys in two list items",
			yaml: "clients:\n  - id: a\n  - id: b\n    redirect_uri: https://x/cb\nusers:\n  - username: u\n    pasword: p\n",
			want: []string{
				`config line 4: unknown key "redirect_uri" in clients[1] (known keys: id, name, secret, secret_hash, redirect_uris, post_logout_redirect_uris, grant_types, scopes, audience, skip_consent, allow_introspection, id_token_signed_response_alg, backchannel_logout_uri, backchannel_logout_session_required, token_endpoint_auth_method, jwks, jwks_uri, require_pushed_authorization_requests, dpop_bound_access_tokens, profile, require_mfa, default_acr_values)`,
				`config line 7: unknown key "pasword" in users[0] (known keys: username, password, password_hash, email, email_verified, name, claims, disabled, require_mfa)`,
			},
		},
		{
			name: "unknown key through a merge key",
			yaml: "base: &b\n  - id: a\nclients:\n  - <<: {id: a, colour: red}\n",
			want: []string{
				`config line 1: unknown key "base" at the top level (known keys: issuer, listen, storage, signing, tokens, sessions, passwords, housekeeping, ui, tls, server, observability, log, security, admin, registration, webauthn, par, dpop, scopes, clients, users)`,
				`config line 4: unknown key "colour" in clients[0] (known keys: id, name, secret, secret_hash, redirect_uris, post_logout_redirect_uris, grant_types, scopes, audience, skip_consent, allow_introspection, id_token_signed_response_alg, backchannel_logout_uri, backchannel_logout_session_required, token_endpoint_auth_method, jwks, jwks_uri, require_pushed_authorization_requests, dpop_bound_access_tokens, profile, require_mfa, default_acr_values)`,
			},
		},
		{
			name: "wrong type names the field",
			yaml: "passwords:\n  memory_kib: lots\n",
			want: []string{`config line 2: passwords.memory_kib must be a whole number from 0 to 4294967295, not "lots"`},
		},
		{
			name: "bad duration names the field",
			yaml: "tokens:\n  access_token_ttl: 15 minutes\n",
			want: []string{`config line 2: tokens.access_token_ttl must be a duration such as 15m, 60s or 720h (or whole seconds), not "15 minutes"`},
		},
		{
			name: "duplicate key",
			yaml: "listen: a:1\nlisten: b:2\n",
			want: []string{`config line 2: key "listen" is given twice at the top level (first on line 1)`},
		},
		{
			name: "syntax error",
			yaml: "storage:\n  driver: sqlite\n    dsn: x\n",
			want: []string{"config line 3: mapping values are not allowed in this context"},
		},
		{
			name: "two documents",
			yaml: "listen: a:1\n---\nlisten: b:2\n",
			want: []string{"config line 2: the file holds more than one YAML document; put everything in one"},
		},
		{
			name: "top level is not a mapping",
			yaml: "- listen\n",
			want: []string{"config line 1: the file must be a mapping of keys (issuer, listen, storage, signing, tokens, sessions, passwords, housekeeping, ui, tls, server, observability, log, security, admin, registration, webauthn, par, dpop, scopes, clients, users), not a list"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tt.yaml))
			ps := problemsOf(t, err)
			var got []string
			for _, p := range ps {
				got = append(got, p.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestLoadMinimalFiles(t *testing.T) {
	tests := []struct {
		name string
		yaml string
	}{
		{"empty file", ""},
		{"only comments", "# nothing here\n"},
		{"null document", "~\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(writeFile(t, tt.yaml), nil)
			if err != nil {
				t.Fatal(err)
			}
			var want config.Config
			want.ApplyDefaults()
			if !reflect.DeepEqual(c, want) {
				t.Errorf("got %+v, want the defaults %+v", c, want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := config.Load(filepath.Join(t.TempDir(), "absent.yaml"), nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want os.ErrNotExist", err)
	}
}

func TestLoadEnvOverrides(t *testing.T) {
	file := `
issuer: https://file.example.com
listen: 127.0.0.1:7000
storage:
  driver: sqlite
  dsn: /var/lib/file.db
`
	tests := []struct {
		name                             string
		file                             string // "" loads the embedded demo
		env                              map[string]string
		issuer, listen, driver, dsn, kek string
	}{
		{
			name:   "no environment keeps the file",
			file:   file,
			issuer: "https://file.example.com", listen: "127.0.0.1:7000", driver: "sqlite", dsn: "/var/lib/file.db",
			kek: filepath.Join("/var/lib", "key-encryption-key"),
		},
		{
			name: "every variable wins over the file",
			file: file,
			env: map[string]string{
				"AUTHSERVER_ISSUER":         "https://env.example.com",
				"AUTHSERVER_LISTEN":         "127.0.0.1:8000",
				"AUTHSERVER_STORAGE_DRIVER": "postgres",
				"AUTHSERVER_STORAGE_DSN":    "postgres://u@127.0.0.1/db",
			},
			issuer: "https://env.example.com", listen: "127.0.0.1:8000", driver: "postgres", dsn: "postgres://u@127.0.0.1/db",
			kek: filepath.Join("data", "key-encryption-key"),
		},
		{
			name:   "empty variables are ignored",
			file:   file,
			env:    map[string]string{"AUTHSERVER_ISSUER": "", "AUTHSERVER_LISTEN": ""},
			issuer: "https://file.example.com", listen: "127.0.0.1:7000", driver: "sqlite", dsn: "/var/lib/file.db",
			kek: filepath.Join("/var/lib", "key-encryption-key"),
		},
		{
			name:   "listen alone moves the default issuer of the demo",
			env:    map[string]string{"AUTHSERVER_LISTEN": "127.0.0.1:19096"},
			issuer: "http://127.0.0.1:19096", listen: "127.0.0.1:19096", driver: "sqlite", dsn: "./data/authserver.db",
			kek: filepath.Join("data", "key-encryption-key"),
		},
		{
			name:   "dsn moves the default key-encryption-key file",
			env:    map[string]string{"AUTHSERVER_STORAGE_DSN": "file:/srv/auth/db.sqlite?_pragma=busy_timeout(5000)"},
			issuer: "http://localhost:9096", listen: "localhost:9096", driver: "sqlite", dsn: "file:/srv/auth/db.sqlite?_pragma=busy_timeout(5000)",
			kek: filepath.Join("/srv/auth", "key-encryption-key"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			c, err := config.Load(path, envMap(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			got := []string{c.Issuer, c.Listen, c.Storage.Driver, c.Storage.DSN, c.KEKFile()}
			want := []string{tt.issuer, tt.listen, tt.driver, tt.dsn, tt.kek}
			if !slices.Equal(got, want) {
				t.Errorf("issuer, listen, driver, dsn, kek =\n %q\nwant %q", got, want)
			}
		})
	}
}

func TestLoadEnvOverrideIsValidated(t *testing.T) {
	_, err := config.Load("", envMap(map[string]string{"AUTHSERVER_STORAGE_DRIVER": "mysql"}))
	ps := problemsOf(t, err)
	if len(ps) != 1 || ps[0].Field != "storage.driver" {
		t.Errorf("problems = %+v, want one on storage.driver", ps)
	}
}

func TestDefaultIssuerFollowsListen(t *testing.T) {
	tests := []struct {
		name, listen, want string
	}{
		{"loopback", "127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"localhost", "localhost:8080", "http://localhost:8080"},
		{"ipv6 loopback", "[::1]:8080", "http://[::1]:8080"},
		{"every interface", ":8080", "http://127.0.0.1:8080"},
		{"ipv4 wildcard", "0.0.0.0:8080", "http://127.0.0.1:8080"},
		{"not host:port", "nonsense", "http://127.0.0.1:9096"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Config{Listen: tt.listen}
			c.ApplyDefaults()
			if c.Issuer != tt.want {
				t.Errorf("issuer = %q, want %q", c.Issuer, tt.want)
			}
		})
	}
}

func TestApplyDefaults(t *testing.T) {
	t.Run("keeps set values", func(t *testing.T) {
		c := config.Config{
			Issuer:  "https://id.example.com",
			Storage: config.Storage{Driver: "sqlite", DSN: "x.db"},
			Tokens:  config.Tokens{AccessTokenTTL: config.Duration(time.Minute)},
			Clients: []config.Client{{ID: "a", Name: "App", GrantTypes: []string{"client_credentials"}, Scopes: []string{"s"}}},
		}
		c.ApplyDefaults()
		if c.Issuer != "https://id.example.com" || c.Storage.DSN != "x.db" || c.Tokens.AccessTokenTTL.Std() != time.Minute {
			t.Errorf("defaults overwrote set values: %+v", c)
		}
		if cl := c.Clients[0]; cl.Name != "App" || !slices.Equal(cl.GrantTypes, []string{"client_credentials"}) || !slices.Equal(cl.Scopes, []string{"s"}) {
			t.Errorf("defaults overwrote client values: %+v", cl)
		}
	})
	t.Run("fills clients", func(t *testing.T) {
		c := config.Config{Clients: []config.Client{{ID: "a"}}}
		c.ApplyDefaults()
		cl := c.Clients[0]
		if cl.Name != "a" || !slices.Equal(cl.GrantTypes, []string{"authorization_code"}) || !slices.Equal(cl.Scopes, []string{"openid", "profile", "email"}) {
			t.Errorf("client defaults = %+v", cl)
		}
	})
	t.Run("postgres gets no sqlite dsn", func(t *testing.T) {
		c := config.Config{Storage: config.Storage{Driver: "postgres"}}
		c.ApplyDefaults()
		if c.Storage.DSN != "" {
			t.Errorf("dsn = %q, want empty so Validate asks for one", c.Storage.DSN)
		}
	})
	t.Run("lifetimes and argon2", func(t *testing.T) {
		var c config.Config
		c.ApplyDefaults()
		got := []time.Duration{c.Tokens.AccessTokenTTL.Std(), c.Tokens.IDTokenTTL.Std(), c.Tokens.AuthCodeTTL.Std(),
			c.Tokens.RefreshTokenTTL.Std(), c.Tokens.RefreshIdleTTL.Std(), c.Tokens.RefreshReuseGrace.Std(), c.Sessions.TTL.Std()}
		want := []time.Duration{15 * time.Minute, 15 * time.Minute, 60 * time.Second, 720 * time.Hour, 168 * time.Hour, config.DefaultRefreshReuseGrace, 12 * time.Hour}
		if !slices.Equal(got, want) {
			t.Errorf("lifetimes = %v, want %v", got, want)
		}
		if p := c.Passwords; p != (config.Passwords{MemoryKiB: 19456, Iterations: 2, Parallelism: 1}) {
			t.Errorf("passwords = %+v", p)
		}
	})
}

func TestKEKFile(t *testing.T) {
	tests := []struct {
		name    string
		storage config.Storage
		file    string
		want    string
	}{
		{"explicit file wins", config.Storage{Driver: "sqlite", DSN: "/a/b.db"}, "/etc/kek", "/etc/kek"},
		{"next to the sqlite file", config.Storage{Driver: "sqlite", DSN: "/a/b.db"}, "", filepath.Join("/a", "key-encryption-key")},
		{"sqlite file uri with query", config.Storage{Driver: "sqlite", DSN: "file:/a/b.db?mode=rwc"}, "", filepath.Join("/a", "key-encryption-key")},
		{"relative sqlite file", config.Storage{Driver: "sqlite", DSN: "b.db"}, "", "key-encryption-key"},
		{"in-memory sqlite", config.Storage{Driver: "sqlite", DSN: ":memory:"}, "", filepath.Join("data", "key-encryption-key")},
		{"shared in-memory sqlite", config.Storage{Driver: "sqlite", DSN: "file:x?mode=memory&cache=shared"}, "", filepath.Join("data", "key-encryption-key")},
		{"postgres", config.Storage{Driver: "postgres", DSN: "postgres://u@h/db"}, "", filepath.Join("data", "key-encryption-key")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Config{Storage: tt.storage, Signing: config.Signing{KeyEncryptionKeyFile: tt.file}}
			if got := c.KEKFile(); got != tt.want {
				t.Errorf("KEKFile() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPath(t *testing.T) {
	tests := []struct {
		name, flag, env, want string
	}{
		{"flag wins", "a.yaml", "b.yaml", "a.yaml"},
		{"environment without flag", "", "b.yaml", "b.yaml"},
		{"neither means the demo", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := config.Path(tt.flag, envMap(map[string]string{"AUTHSERVER_CONFIG": tt.env}))
			if got != tt.want {
				t.Errorf("Path = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    time.Duration
		wantErr string
	}{
		{"seconds with unit", "d: 60s", 60 * time.Second, ""},
		{"minutes", "d: 15m", 15 * time.Minute, ""},
		{"hours", "d: 720h", 720 * time.Hour, ""},
		{"compound", "d: 1h30m", 90 * time.Minute, ""},
		{"bare integer is seconds", "d: 30", 30 * time.Second, ""},
		{"quoted duration", `d: "15m"`, 15 * time.Minute, ""},
		{"negative parses for Validate to refuse", "d: -5s", -5 * time.Second, ""},
		{"not a duration", "d: abc", 0, `invalid duration "abc"`},
		{"number without unit in quotes", `d: "30"`, 0, `invalid duration "30"`},
		{"float", "d: 1.5", 0, `invalid duration "1.5"`},
		{"integer overflow", "d: 99999999999999999", 0, "out of range"},
		{"sequence", "d: [1]", 0, "single value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v struct {
				D config.Duration `yaml:"d"`
			}
			err := yaml.Unmarshal([]byte(tt.yaml), &v)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "line 1") {
					t.Errorf("err = %v, want one on line 1 containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.D.Std() != tt.want {
				t.Errorf("got %v, want %v", v.D, tt.want)
			}
		})
	}
}

func TestDurationMarshalRoundTrip(t *testing.T) {
	in := struct {
		D config.Duration `yaml:"d"`
	}{config.Duration(90 * time.Minute)}
	b, err := yaml.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "d: 1h30m0s\n" {
		t.Errorf("Marshal = %q", b)
	}
	out := in
	out.D = 0
	if err := yaml.Unmarshal(b, &out); err != nil || out != in {
		t.Errorf("round trip = %v, %v; want %v", out, err, in)
	}
}

// A Config written out and read back must be the same Config, so a future
// "print the effective configuration" command produces a loadable file.
func TestConfigMarshalRoundTrip(t *testing.T) {
	c := config.Default()
	b, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := config.Parse(b)
	if err != nil {
		t.Fatalf("Parse(Marshal(Default())):\n%v", err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Errorf("round trip =\n%+v\nwant\n%+v", back, c)
	}
}

func FuzzLoadYAML(f *testing.F) {
	f.Add(config.Example())
	f.Add([]byte("storage:\n  colour: red\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Add([]byte("clients:\n  - <<: &b {id: x}\n  - <<: *b\n    secret_hash: zz\n"))
	f.Add([]byte("tokens: {access_token_ttl: 9223372036854775807, id_token_ttl: -1h}\n"))
	f.Add([]byte("---\n---\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse(data)
		if err != nil {
			var ve *config.ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("Parse error %T %q is not a *ValidationError with problems", err, err)
			}
			_ = err.Error()
			return
		}
		c.ApplyDefaults()
		if err := c.Validate(); err != nil {
			_ = err.Error()
		}
		_ = c.KEKFile()
	})
}

// Decoding and validation problems come out of one Load, so an operator fixes
// a file in one round; a value that could not be decoded is reported once, not
// again as the default that took its place.
func TestLoadReportsDecodeAndValidationProblemsInOnePass(t *testing.T) {
	path := writeFile(t, `issuer: http://auth.example.com
colour: blue
signing:
  rsa_bits: big
tokens:
  access_token_ttl: soon
clients:
  - id: app
    id: again
    redirect_uris: [https://app.example.com/cb#frag]
  - id: web
    redirect_uris: https://web.example.com/cb#frag
    audience: https://api.example.com
`)
	_, err := config.Load(path, nil)
	ps := problemsOf(t, err)
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	want := []string{
		`config line 2: unknown key "colour" at the top level (known keys: issuer, listen, storage, signing, tokens, sessions, passwords, housekeeping, ui, tls, server, observability, log, security, admin, registration, webauthn, par, dpop, scopes, clients, users)`,
		`config line 4: signing.rsa_bits must be a whole number, not "big"`,
		`config line 6: tokens.access_token_ttl must be a duration such as 15m, 60s or 720h (or whole seconds), not "soon"`,
		`config line 9: key "id" is given twice in clients[0] (first on line 8)`,
		`issuer: "http://auth.example.com" uses http on host "auth.example.com": http is allowed only for loopback hosts (127.0.0.1, localhost, ::1); use https`,
		// clients[0] keeps its first id, so its other problems still show,
		// and clients[1] keeps its place in the list.
		`clients[0].redirect_uris[0]: "https://app.example.com/cb#frag" has a fragment, which RFC 6749 §3.1.2 forbids`,
		`clients[0].audience: is not set and tokens.default_audience is empty: set clients[0].audience or tokens.default_audience to the API identifier(s) its access tokens are for`,
		`clients[1].redirect_uris[0]: "https://web.example.com/cb#frag" has a fragment, which RFC 6749 §3.1.2 forbids`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n got %q\nwant %q", got, want)
	}
}

// Type errors say in words what the key holds; no Go type name or YAML tag
// reaches the operator.
func TestTypeErrorsSayWhatWasExpected(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"clients as a string", "clients: demo-web\n", `config line 1: clients must be a list, not "demo-web"`},
		{"clients as a mapping", "clients:\n  id: demo-web\n", "config line 2: clients must be a list, not a mapping"},
		{"listen as a list", "listen: [a, b]\n", "config line 1: listen must be a string, not a list"},
		{"duration", "tokens:\n  access_token_ttl: 15 minutes\n", `config line 2: tokens.access_token_ttl must be a duration such as 15m, 60s or 720h (or whole seconds), not "15 minutes"`},
		{"duration as a list", "tokens: {id_token_ttl: [1]}\n", "config line 1: tokens.id_token_ttl must be a duration such as 15m, 60s or 720h (or whole seconds), not a list"},
		{"whole number", "signing:\n  rsa_bits: big\n", `config line 2: signing.rsa_bits must be a whole number, not "big"`},
		{"whole number with a range", "passwords: {parallelism: 300}\n", `config line 1: passwords.parallelism must be a whole number from 0 to 255, not "300"`},
		{"boolean", "clients:\n  - id: a\n    skip_consent: maybe\n", `config line 3: clients[0].skip_consent must be true or false, not "maybe"`},
		{"section as a string", "storage: sqlite\n", `config line 1: storage must be a mapping of keys (driver, dsn, sqlite_synchronous), not "sqlite"`},
		{"list of strings as a mapping", "signing:\n  algorithms: {ES256: yes}\n", "config line 2: signing.algorithms must be a list, not a mapping"},
		{"list item as a list", "clients:\n  - id: a\n    redirect_uris: [[http://127.0.0.1/cb]]\n", "config line 3: clients[0].redirect_uris[0] must be a string, not a list"},
		{"list item as a string", "users: [alice]\n", `config line 1: users[0] must be a mapping of keys (username, password, password_hash, email, email_verified, name, claims, disabled, require_mfa), not "alice"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(writeFile(t, tt.yaml), nil)
			ps := problemsOf(t, err)
			if ps[0].String() != tt.want {
				t.Errorf("first problem:\n got %q\nwant %q", ps[0].String(), tt.want)
			}
			for _, p := range ps {
				for _, goName := range []string{"config.", "!!", "[]", "uint", "int64", "unmarshal"} {
					if strings.Contains(p.Message, goName) {
						t.Errorf("problem %q speaks Go or YAML internals (%q)", p, goName)
					}
				}
			}
		})
	}
}

// A list key given one value reads as a one-element list, as operators write
// it when there is only one.
func TestListKeyAcceptsOneValue(t *testing.T) {
	c, err := config.Load(writeFile(t, `signing:
  algorithms: ES256
  id_token_algorithm: ES256
server:
  trusted_proxies: 10.0.0.0/8
tokens:
  default_audience: https://api.example.com
clients:
  - id: web
    name: &cb http://127.0.0.1:9094/callback
    secret: web-secret-0123456789abcdefghijklmn
    redirect_uris: *cb
    grant_types: authorization_code
    scopes:
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := [][]string{c.Signing.Algorithms, c.Server.TrustedProxies, c.Tokens.DefaultAudience, c.Clients[0].RedirectURIs, c.Clients[0].GrantTypes, c.Clients[0].Scopes}
	want := [][]string{{"ES256"}, {"10.0.0.0/8"}, {"https://api.example.com"}, {"http://127.0.0.1:9094/callback"}, {"authorization_code"}, {"openid", "profile", "email"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("lists = %q, want %q", got, want)
	}
	// The anchored value stays a plain string where a string is expected.
	if c.Clients[0].Name != "http://127.0.0.1:9094/callback" {
		t.Errorf("name = %q", c.Clients[0].Name)
	}
}
