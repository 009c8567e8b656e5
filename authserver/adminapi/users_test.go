package adminapi_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/authserver-dev/authserver/authserver/admin"
	"github.com/authserver-dev/authserver/authserver/adminapi"
	"github.com/authserver-dev/authserver/config"
)

// signer is a client of the test configuration with the password grant,
// used to check that a password works.
var signer = config.Client{ID: "tricky", Secret: "a+b/c=d%e&f g-0123456789abcdefghij"}

func (e *env) canSignIn(username, password string) bool {
	e.t.Helper()
	_, status := e.passwordGrant(e.t, signer, username, password, "openid")
	return status == http.StatusOK
}

func TestUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)

	// Create: 201, Location, the fields as sent, a generated id.
	var u admin.User
	a := e.must(http.StatusCreated, "POST", "/admin/v1/users", map[string]any{
		"username": "dora", "password": "dora-password", "email": "dora@example.com", "email_verified": true, "name": "Dora",
		"claims": map[string]any{"given_name": "Dora", "locale": "en-GB", "address": map[string]any{"country": "UK"}},
	}, &u)
	if u.ID == "" || a.header.Get("Location") != "/admin/v1/users/"+u.ID {
		t.Errorf("id %q, Location %q", u.ID, a.header.Get("Location"))
	}
	if u.Username != "dora" || u.Email != "dora@example.com" || !u.EmailVerified || u.Name != "Dora" || u.Owner != "database" || u.Disabled ||
		u.Claims.GivenName != "Dora" || u.Claims.Locale != "en-GB" || u.Claims.Address.Country != "UK" {
		t.Errorf("created %+v", u)
	}
	if !e.canSignIn("dora", "dora-password") {
		t.Fatal("the new user cannot sign in with their password")
	}

	// Read, list, find by username.
	var got admin.User
	e.must(http.StatusOK, "GET", "/admin/v1/users/"+u.ID, nil, &got)
	if got.Username != "dora" {
		t.Errorf("GET %+v", got)
	}
	var l struct{ Users []admin.User }
	e.must(http.StatusOK, "GET", "/admin/v1/users", nil, &l)
	var names []string
	for _, u := range l.Users {
		names = append(names, u.Username+"/"+u.Owner)
	}
	if !slices.Contains(names, "dora/database") || !slices.Contains(names, "alice/file") {
		t.Errorf("list %v", names)
	}
	e.must(http.StatusOK, "GET", "/admin/v1/users?username=dora", nil, &l)
	if len(l.Users) != 1 || l.Users[0].ID != u.ID {
		t.Errorf("by username: %+v", l.Users)
	}
	e.must(http.StatusOK, "GET", "/admin/v1/users?username=nobody", nil, &l)
	if len(l.Users) != 0 {
		t.Errorf("unknown username: %+v", l.Users)
	}

	// Update.
	e.must(http.StatusOK, "PATCH", "/admin/v1/users/"+u.ID, map[string]any{"name": "Dora E.", "claims": map[string]any{"nickname": "D"}}, &got)
	if got.Name != "Dora E." || got.Claims.Nickname != "D" || got.Email != "dora@example.com" {
		t.Errorf("patched %+v", got)
	}

	// A new password: the old one stops working.
	e.must(http.StatusNoContent, "PUT", "/admin/v1/users/"+u.ID+"/password", map[string]any{"password": "a-new-password"}, nil)
	if e.canSignIn("dora", "dora-password") || !e.canSignIn("dora", "a-new-password") {
		t.Error("after the password change, the old one works or the new one does not")
	}

	// Disable, enable.
	e.must(http.StatusOK, "POST", "/admin/v1/users/"+u.ID+"/disable", nil, &got)
	if !got.Disabled {
		t.Errorf("disable: %+v", got)
	}
	if e.canSignIn("dora", "a-new-password") {
		t.Error("a disabled user can sign in")
	}
	e.must(http.StatusOK, "POST", "/admin/v1/users/"+u.ID+"/enable", nil, &got)
	if got.Disabled || !e.canSignIn("dora", "a-new-password") {
		t.Errorf("enable: %+v, or the user still cannot sign in", got)
	}

	// Delete.
	e.must(http.StatusNoContent, "DELETE", "/admin/v1/users/"+u.ID, nil, nil)
	e.call(e.admin, "GET", "/admin/v1/users/"+u.ID, nil).problem(t, http.StatusNotFound, adminapi.TypeNotFound)
	if e.canSignIn("dora", "a-new-password") {
		t.Error("a deleted user can sign in")
	}
}

func TestUserErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	var dora, alice admin.User
	e.must(http.StatusCreated, "POST", "/admin/v1/users", map[string]any{"username": "dora", "password": "dora-password"}, &dora)
	var l struct{ Users []admin.User }
	e.must(http.StatusOK, "GET", "/admin/v1/users?username=alice", nil, &l)
	alice = l.Users[0]
	tests := []struct {
		name, method, path string
		body               any
		invalid            bool
		status             int
		typ                string
		fields             []string
	}{
		{"create existing username", "POST", "/admin/v1/users", map[string]any{"username": "dora", "password": "other-password"}, false, 409, adminapi.TypeConflict, nil},
		{"create a username the file declares", "POST", "/admin/v1/users", map[string]any{"username": "alice", "password": "other-password"}, false, 409, adminapi.TypeFileOwned, nil},
		{"create with a short password and a bad email", "POST", "/admin/v1/users", map[string]any{"username": "eve", "password": "short", "email": "eve"},
			false, 400, adminapi.TypeInvalid, []string{"password", "email"}},
		{"create with an id", "POST", "/admin/v1/users", map[string]any{"id": "chosen", "username": "eve", "password": "eve-password"},
			true, 400, adminapi.TypeInvalid, []string{"id"}},
		{"create without password", "POST", "/admin/v1/users", map[string]any{"username": "eve"}, true, 400, adminapi.TypeInvalid, []string{"password"}},
		{"create with an unknown claim", "POST", "/admin/v1/users", map[string]any{"username": "eve", "password": "eve-password", "claims": map[string]any{"shoe_size": "9"}},
			true, 400, adminapi.TypeInvalid, []string{"shoe_size"}},
		{"get unknown", "GET", "/admin/v1/users/nobody", nil, false, 404, adminapi.TypeNotFound, nil},
		{"update unknown", "PATCH", "/admin/v1/users/nobody", map[string]any{"name": "x"}, false, 404, adminapi.TypeNotFound, nil},
		{"update a file user", "PATCH", "/admin/v1/users/" + alice.ID, map[string]any{"name": "x"}, false, 409, adminapi.TypeFileOwned, nil},
		{"update the username", "PATCH", "/admin/v1/users/" + dora.ID, map[string]any{"username": "dorothy"}, true, 400, adminapi.TypeInvalid, []string{"username"}},
		{"update disabled", "PATCH", "/admin/v1/users/" + dora.ID, map[string]any{"disabled": true}, true, 400, adminapi.TypeInvalid, []string{"disabled"}},
		{"update into a bad birthdate", "PATCH", "/admin/v1/users/" + dora.ID, map[string]any{"claims": map[string]any{"birthdate": "31/12/1990"}},
			false, 400, adminapi.TypeInvalid, nil},
		{"short password", "PUT", "/admin/v1/users/" + dora.ID + "/password", map[string]any{"password": "short"}, false, 400, adminapi.TypeInvalid, []string{"password"}},
		{"password of a file user", "PUT", "/admin/v1/users/" + alice.ID + "/password", map[string]any{"password": "long-enough"}, false, 409, adminapi.TypeFileOwned, nil},
		{"password of an unknown user", "PUT", "/admin/v1/users/nobody/password", map[string]any{"password": "long-enough"}, false, 404, adminapi.TypeNotFound, nil},
		{"disable a file user", "POST", "/admin/v1/users/" + alice.ID + "/disable", nil, false, 409, adminapi.TypeFileOwned, nil},
		{"enable an unknown user", "POST", "/admin/v1/users/nobody/enable", nil, false, 404, adminapi.TypeNotFound, nil},
		{"delete a file user", "DELETE", "/admin/v1/users/" + alice.ID, nil, false, 409, adminapi.TypeFileOwned, nil},
		{"delete unknown", "DELETE", "/admin/v1/users/nobody", nil, false, 404, adminapi.TypeNotFound, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts []callOption
			if tc.invalid {
				opts = append(opts, invalidRequest)
			}
			p := e.call(e.admin, tc.method, tc.path, tc.body, opts...).problem(t, tc.status, tc.typ)
			checkFields(t, p, tc.fields)
		})
	}
	if !e.canSignIn("alice", "alice-password") || !e.canSignIn("dora", "dora-password") {
		t.Error("a refused request changed a user's password")
	}
}
