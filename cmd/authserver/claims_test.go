package main

import (
	"context"
	"strings"
	"testing"

	"github.com/authserver-dev/authserver/config"
)

// user add --claims stores the standard claims, checked by the rules of the
// configuration file, so that a CLI user gets the same claims as one
// declared in users[].claims.
func TestUserAddClaims(t *testing.T) {
	path, _ := writeConfig(t, "")
	for _, tc := range []struct{ name, claims, wantErr string }{
		{"unknown key", `{"given":"Dave"}`, `unknown field "given"`},
		{"not JSON", `{`, "--claims"},
		{"bad phone", `{"phone_number":"555"}`, "--claims phone_number"},
		{"bad birthdate", `{"birthdate":"31/12/1990"}`, "--claims birthdate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runCmd(t, "erin-password\n", "user", "add", "--config", path, "--claims", tc.claims, "erin")
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one that says %q", err, tc.wantErr)
			}
		})
	}
	out, err := runCmd(t, "dave-password\n", "user", "add", "--config", path, "--name", "Dave Example",
		"--claims", `{"given_name":"Dave","phone_number":"+1 555 0100","phone_number_verified":true,"address":{"locality":"Paris","country":"FR"}}`, "dave")
	if err != nil || !strings.Contains(out, "user dave saved") {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	store, err := openStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	u, err := store.GetUserByUsername(context.Background(), "dave")
	if err != nil {
		t.Fatal(err)
	}
	c := u.Claims
	if c.GivenName != "Dave" || c.PhoneNumber != "+1 555 0100" || !c.PhoneNumberVerified || c.Address == nil ||
		c.Address.Locality != "Paris" || c.Address.Country != "FR" || c.FamilyName != "" {
		t.Errorf("stored claims %+v (address %+v)", c, c.Address)
	}
	if _, err := store.GetUserByUsername(context.Background(), "erin"); err == nil {
		t.Error("a refused user add stored the user")
	}
}
