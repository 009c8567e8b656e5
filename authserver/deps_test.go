package authserver_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestDependenciesPointOneWay enforces the layering of docs/ARCHITECTURE.md: cmd →
// authserver → (storage, keys, templates, config); keys, config and
// templates import nothing of ours; storage only keys; nothing imports cmd
// or resource; go-oauth2 stays inside package authserver.
func TestDependenciesPointOneWay(t *testing.T) {
	const mod = "github.com/authserver-dev/authserver/"
	rules := []struct {
		pkg     string
		allowed []string // our packages it may depend on
	}{
		{"keys", nil},
		{"config", nil},
		{"templates", nil},
		{"authserver/password", nil},
		{"authserver/observe", nil},
		{"authserver/storage", []string{"keys"}},
		{"authserver/storage/sqlstore", []string{"keys", "authserver/storage"}},
		{"authserver/throttle", []string{"keys", "authserver/storage"}},
		{"authserver/tlsserve", nil},
		{"authserver/backchannel", nil},
		{"authserver/replay", nil},                               // a leaf: std only
		{"authserver/dpop", []string{"authserver/replay"}},       // std, go-jose and replay (authserver/dpop/deps_test.go)
		{"authserver/clientkeys", []string{"authserver/replay"}}, // std, go-jose and replay (authserver/clientkeys/deps_test.go)
		// The second-factor toolkit uses storage's record types only (and
		// keys, which storage brings).
		{"authserver/mfa", []string{"authserver/storage", "keys"}},
		{"authserver", []string{"keys", "templates", "authserver/storage", "authserver/password", "authserver/observe", "authserver/throttle", "authserver/backchannel", "authserver/dpop", "authserver/clientkeys", "authserver/mfa", "authserver/replay"}},
		{"authserver/setup", []string{"keys", "templates", "config", "authserver", "authserver/storage", "authserver/storage/sqlstore", "authserver/password", "authserver/observe", "authserver/throttle", "authserver/backchannel",
			"authserver/admin", "authserver/adminapi", "resource", "authserver/dpop", "authserver/registration", "authserver/clientkeys", "authserver/mfa", "authserver/replay"}},
		// The administration service validates with config's rules and
		// works on the store and keys directly; never on package authserver.
		// It checks the jwks of clients with the leaf clientkeys, as the
		// token endpoint will read them.
		{"authserver/admin", []string{"authserver/storage", "keys", "authserver/password", "authserver/observe", "config", "authserver/clientkeys", "authserver/replay"}},
		// The admin API verifies its tokens with package resource, as any
		// API of ours would (dogfooding); resource itself imports only the
		// leaf dpop of ours (resource/deps_test.go).
		{"authserver/adminapi", []string{"authserver/admin", "resource", "authserver/dpop", "authserver/storage", "authserver/observe", "authserver/password", "config", "keys", "authserver/clientkeys", "authserver/replay"}},
		// Dynamic registration maps RFC 7591 metadata onto the admin service;
		// keys and password come with admin.
		{"authserver/registration", []string{"authserver/admin", "authserver/storage", "authserver/observe", "config", "keys", "authserver/password", "authserver/clientkeys", "authserver/replay"}},
	}
	for _, r := range rules {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", mod+r.pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", r.pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			ours, isOurs := strings.CutPrefix(dep, mod)
			switch {
			case dep == mod+r.pkg:
			case isOurs && !slices.Contains(r.allowed, ours):
				t.Errorf("%s depends on %s", r.pkg, ours)
			case strings.HasPrefix(dep, "github.com/go-oauth2/") && r.pkg != "authserver" && !slices.Contains(r.allowed, "authserver"):
				t.Errorf("%s depends on go-oauth2 (only package authserver may)", r.pkg)
			}
		}
	}
}
