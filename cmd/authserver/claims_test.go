package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/authserver-dev/authserver/authserver/admin"
)

// user add --claims stores the standard claims, checked by the rules of the
// configuration file, so that a CLI user gets the same claims as one
// declared in users[].claims.
func TestUserAddClaims(t *testing.T) {
	path, _ := writeConfig(t, "")
	migrated(t, path)
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
	if err != nil || !strings.Contains(out, "user dave added") {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	out, err = runCmd(t, "", "user", "show", "--output", "json", "--config", path, "dave")
	if err != nil {
		t.Fatal(err)
	}
	var u admin.User
	if err := json.Unmarshal([]byte(out), &u); err != nil {
		t.Fatalf("user show --output json: %v\n%s", err, out)
	}
	c := u.Claims
	if u.Name != "Dave Example" || c.GivenName != "Dave" || c.PhoneNumber != "+1 555 0100" || !c.PhoneNumberVerified ||
		c.Address.Locality != "Paris" || c.Address.Country != "FR" || c.FamilyName != "" {
		t.Errorf("stored claims %+v", u)
	}
	if code, _, _ := runFull(t, "", "user", "show", "--config", path, "erin"); code != exitNotFound {
		t.Errorf("a refused user add stored the user (user show erin: exit %d)", code)
	}
}
