package authserver_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/authserver-dev/authserver/authserver"
	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/password"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/config"
)

// The tests of the finding "Username enumeration by timing": an unknown
// username must cost the hash a known one costs. They compare hash
// parameters, never durations.

// configured are cheap parameters that differ from password.DefaultParams
// in every field, so a hash made with the defaults cannot pass for one made
// with them.
var configured = config.Passwords{MemoryKiB: 128, Iterations: 2, Parallelism: 2}

func configuredParams() password.Params {
	return password.Params{MemoryKiB: configured.MemoryKiB, Iterations: configured.Iterations, Parallelism: configured.Parallelism}
}

func TestUsernameEnumerationByTiming_DummyHashUsesConfiguredParameters(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, func(c *config.Config) { c.Passwords = configured })
	got, err := password.ParamsOf(authserver.DummyHash(p.App.Server))
	if err != nil || got != configuredParams() {
		t.Fatalf("the dummy hash for unknown users has parameters %+v (%v); want the configured %+v", got, err, configuredParams())
	}
}

// A user whose stored hash is bcrypt, or argon2id with other parameters,
// answers in another time than the dummy hash; after the next successful
// sign-in (password grant or login form) the stored hash is argon2id with
// the configured parameters and still verifies. A failed sign-in changes
// nothing, and neither does a sign-in of a user whose hash the
// configuration file owns (password_hash): the next start would take the
// new hash for a password change.
func TestUsernameEnumerationByTiming_OutdatedHashesUpgradedAtSignIn(t *testing.T) {
	t.Parallel()
	bc, err := bcrypt.GenerateFromPassword([]byte("carol-password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	weak, err := password.Hash("dave-password", password.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	fileHash, err := bcrypt.GenerateFromPassword([]byte("erin-password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	p := authtest.Start(t, func(c *config.Config) {
		c.Passwords = configured
		c.Users = append(c.Users, config.User{Username: "erin", PasswordHash: string(fileHash), Email: "erin@example.com"})
	})
	ctx := context.Background()
	// carol and dave were made with the CLI (or imported) earlier, when
	// other parameters were in force.
	for _, u := range []storage.User{{Username: "carol", PasswordHash: string(bc)}, {Username: "dave", PasswordHash: weak}} {
		if _, err := p.App.Store.UpsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	storedHash := func(username string) string {
		u, err := p.App.Store.GetUserByUsername(ctx, username)
		if err != nil {
			t.Fatal(err)
		}
		return u.PasswordHash
	}
	grant := func(username, pw string) int {
		status, _, _ := postToken(t, p, url.Values{"grant_type": {"password"}, "username": {username}, "password": {pw}}, "demo-web", "demo-web-secret-not-for-production")
		return status
	}
	checkUpgraded := func(username, pw, before string) {
		t.Helper()
		after := storedHash(username)
		if after == before {
			t.Fatalf("%s: the outdated hash was kept after a successful sign-in", username)
		}
		if got, err := password.ParamsOf(after); err != nil || got != configuredParams() {
			t.Fatalf("%s: the new hash has parameters %+v (%v); want %+v", username, got, err, configuredParams())
		}
		if ok, err := password.Verify(after, pw); !ok || err != nil {
			t.Fatalf("%s: the new hash does not verify the password (%v)", username, err)
		}
	}

	if status := grant("carol", "wrong"); status != http.StatusBadRequest {
		t.Fatalf("carol, wrong password: %d", status)
	}
	if storedHash("carol") != string(bc) {
		t.Fatal("a failed sign-in changed the stored hash")
	}
	if status := grant("carol", "carol-password"); status != http.StatusOK {
		t.Fatalf("carol (bcrypt): %d", status)
	}
	checkUpgraded("carol", "carol-password", string(bc))
	if status := grant("carol", "carol-password"); status != http.StatusOK {
		t.Fatalf("carol with the upgraded hash: %d", status)
	}

	b := p.Browser(t)
	pg := authtest.Get(t, b, authorizeURL(p, nil)).Submit(t, b, url.Values{"username": {"dave"}, "password": {"dave-password"}})
	if !strings.Contains(pg.Body, `name="decision"`) {
		t.Fatalf("dave did not sign in on the login form: %d %q", pg.Status, pageError(pg.Body))
	}
	checkUpgraded("dave", "dave-password", weak)

	// alice was seeded with the configured parameters: nothing to upgrade.
	alice := storedHash("alice")
	if status := grant("alice", "alice-password"); status != http.StatusOK {
		t.Fatalf("alice: %d", status)
	}
	if storedHash("alice") != alice {
		t.Fatal("a hash with the configured parameters was made again")
	}
	if status := grant("erin", "erin-password"); status != http.StatusOK {
		t.Fatalf("erin: %d", status)
	}
	if storedHash("erin") != string(fileHash) {
		t.Fatal("the hash the configuration file owns was replaced")
	}
}
