package config_test

import (
	"strings"
	"testing"

	"github.com/authserver-dev/authserver/config"
)

// Audit finding "Weak secrets accepted": `secret: x` worked for a
// confidential client. A configured secret needs 32 characters, or the file
// gives only its hash.
func TestWeakSecretsAccepted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, secret, secretHash string
		ok                       bool
	}{
		{"one character", "x", "", false},
		{"the old demo secret", "demo-secret", "", false},
		{"31 characters", strings.Repeat("s", 31), "", false},
		{"32 characters", strings.Repeat("s", 32), "", true},
		{"32 characters, not all ASCII", strings.Repeat("ß", 32), "", true},
		{"a hash", "", strings.Repeat("ab", 32), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := config.Default()
			c.Clients = []config.Client{{ID: "web", Secret: tc.secret, SecretHash: tc.secretHash,
				GrantTypes: []string{"client_credentials"}, Scopes: []string{"api.read"}}}
			err := c.Validate()
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			ps := problemsOf(t, err)
			if len(ps) != 1 || ps[0].Field != "clients[0].secret" || !strings.Contains(ps[0].Message, "openssl rand -base64 32") ||
				!strings.Contains(ps[0].Message, "at least 32") || (len(tc.secret) > 3 && strings.Contains(ps[0].Message, tc.secret)) {
				t.Fatalf("problems %+v; want one for clients[0].secret that says how to generate one (and does not repeat it)", ps)
			}
		})
	}
}

// The demo configuration, which every newcomer runs, follows the rule too.
func TestWeakSecretsAcceptedNotInTheDemo(t *testing.T) {
	t.Parallel()
	for _, c := range config.Default().Clients {
		if !c.Public() && len(c.Secret) < config.MinClientSecretLen && c.SecretHash == "" {
			t.Errorf("demo client %s has a %d-character secret", c.ID, len(c.Secret))
		}
	}
}
