package admin_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/admin"
	"github.com/authserver-dev/authserver/authserver/password"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/config"
)

func TestCreateGetListUsers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const pw = "correct horse battery"
	u, err := f.svc.CreateUser(f.ctx, admin.NewUser{User: admin.User{Username: "dave", Email: "dave@example.com", EmailVerified: true,
		Name: "Dave Example", Claims: config.UserClaims{GivenName: "Dave", Address: config.Address{Locality: "Paris"}},
		ID: "chosen-id", Disabled: true}, Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	if len(u.ID) != 32 || u.ID == "chosen-id" || u.Disabled || u.Owner != "database" || u.Claims.Address.Locality != "Paris" {
		t.Errorf("created user = %+v; want a random id, enabled, database-owned, with the claims", u)
	}
	st, err := f.store.GetUser(f.ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := password.Verify(st.PasswordHash, pw); !ok || err != nil {
		t.Errorf("the stored hash does not verify the password: %v", err)
	}
	if p, err := password.ParamsOf(st.PasswordHash); err != nil || p != (password.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}) {
		t.Errorf("hash parameters %+v, %v; want the configured passwords.*", p, err)
	}

	if got, err := f.svc.GetUser(f.ctx, u.ID); err != nil || got.Username != "dave" {
		t.Errorf("GetUser = %+v, %v", got, err)
	}
	if got, err := f.svc.UserByUsername(f.ctx, "dave"); err != nil || got.ID != u.ID {
		t.Errorf("UserByUsername = %+v, %v", got, err)
	}
	_, err = f.svc.GetUser(f.ctx, "nobody")
	wantKind(t, err, admin.KindNotFound)
	_, err = f.svc.UserByUsername(f.ctx, "nobody")
	wantKind(t, err, admin.KindNotFound)

	list, err := f.svc.ListUsers(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range list {
		names = append(names, u.Username)
	}
	if want := []string{"alice", legacyUser, "dave"}; !slices.Equal(names, want) {
		t.Errorf("ListUsers = %v, want %v", names, want)
	}

	_, err = f.svc.CreateUser(f.ctx, admin.NewUser{User: admin.User{Username: "dave"}, Password: "another password"})
	wantKind(t, err, admin.KindConflict)
	if again, _ := f.store.GetUser(f.ctx, u.ID); again.PasswordHash != st.PasswordHash {
		t.Error("a refused create changed the user")
	}
	f.wantEvent("user.created", 1)
	f.noSecretsLogged(pw, st.PasswordHash)
}

func TestCreateUserValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name  string
		user  admin.NewUser
		field string
	}{
		{"no username", admin.NewUser{Password: "long enough"}, "username"},
		{"control character in the username", admin.NewUser{User: admin.User{Username: "eve\n"}, Password: "long enough"}, "username"},
		{"username too long", admin.NewUser{User: admin.User{Username: strings.Repeat("e", 256)}, Password: "long enough"}, "username"},
		{"no password", admin.NewUser{User: admin.User{Username: "eve"}}, "password"},
		{"seven characters", admin.NewUser{User: admin.User{Username: "eve"}, Password: "1234567"}, "password"},
		{"longer than 1024 bytes", admin.NewUser{User: admin.User{Username: "eve"}, Password: strings.Repeat("é", 513)}, "password"},
		{"not an email", admin.NewUser{User: admin.User{Username: "eve", Email: "eve at example"}, Password: "long enough"}, "email"},
		{"relative picture", admin.NewUser{User: admin.User{Username: "eve", Claims: config.UserClaims{Picture: "/eve.png"}}, Password: "long enough"}, "claims.picture"},
		{"bad phone number", admin.NewUser{User: admin.User{Username: "eve", Claims: config.UserClaims{PhoneNumber: "555"}}, Password: "long enough"}, "claims.phone_number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.CreateUser(f.ctx, tt.user)
			wantProblem(t, err, tt.field)
		})
	}
	// Eight characters, not eight bytes.
	if _, err := f.svc.CreateUser(f.ctx, admin.NewUser{User: admin.User{Username: "eve"}, Password: "éééééééé"}); err != nil {
		t.Errorf("a password of 8 two-byte characters: %v", err)
	}
	if n := len(f.events("user.created")); n != 1 {
		t.Errorf("%d user.created events, want 1", n)
	}
}

func TestUpdateUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.createUser("dave", "dave-password")
	if err := f.svc.SetDisabled(f.ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Hour)
	email, claims := "dave@example.org", config.UserClaims{Nickname: "d"}
	got, err := f.svc.UpdateUser(f.ctx, u.ID, admin.UserPatch{Email: &email, Claims: &claims})
	if err != nil {
		t.Fatal(err)
	}
	if got.Email != email || got.Claims.Nickname != "d" || got.Username != "dave" || got.ID != u.ID || !got.Disabled ||
		!got.UpdatedAt.Equal(f.clock.Now()) {
		t.Errorf("updated user = %+v", got)
	}
	ev := f.wantEvent("user.updated", 1)
	if len(ev) == 1 {
		if fields, _ := ev[0].Fields["fields"].([]any); len(fields) != 2 || fields[0] != "email" || fields[1] != "claims" {
			t.Errorf("user.updated fields = %v", ev[0].Fields["fields"])
		}
	}
	if _, err := f.svc.UpdateUser(f.ctx, u.ID, admin.UserPatch{Email: &email}); err != nil {
		t.Fatal(err)
	}
	f.wantEvent("user.updated", 1)

	bad := "not an address"
	_, err = f.svc.UpdateUser(f.ctx, u.ID, admin.UserPatch{Email: &bad})
	wantProblem(t, err, "email")
	_, err = f.svc.UpdateUser(f.ctx, "nobody", admin.UserPatch{Email: &email})
	wantKind(t, err, admin.KindNotFound)
}

func TestSetPasswordEndsWhatTheOldOneGave(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.createClient(webClient("billing"))
	u := f.createUser("dave", "dave-password")
	sid := f.session(u.ID, 0)
	fam, tok := f.family("billing", u.ID, sid, "openid offline_access")

	wantProblem(t, f.svc.SetPassword(f.ctx, u.ID, "short"), "password")
	if !f.sessionLives(sid) {
		t.Fatal("a refused password change ended the session")
	}

	const pw = "a new password"
	if err := f.svc.SetPassword(f.ctx, u.ID, pw); err != nil {
		t.Fatal(err)
	}
	st, _ := f.store.GetUser(f.ctx, u.ID)
	if ok, _ := password.Verify(st.PasswordHash, pw); !ok {
		t.Error("the new password does not verify")
	}
	if ok, _ := password.Verify(st.PasswordHash, "dave-password"); ok {
		t.Error("the old password still verifies")
	}
	if f.sessionLives(sid) {
		t.Error("the session lives on after the password change")
	}
	f.wantRevoked(fam, tok, true)
	f.wantEvent("user.password_changed", 1)
	f.noSecretsLogged(pw, st.PasswordHash)
	wantKind(t, f.svc.SetPassword(f.ctx, "nobody", pw), admin.KindNotFound)
}

func TestDisableAndEnable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.createClient(webClient("billing"))
	u := f.createUser("dave", "dave-password")
	sid := f.session(u.ID, 0)
	// offline_access outlives a sign-out, but not a disabled account.
	fam, tok := f.family("billing", u.ID, sid, "openid offline_access")

	if err := f.svc.SetDisabled(f.ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.svc.GetUser(f.ctx, u.ID); !got.Disabled {
		t.Error("the user is not disabled")
	}
	if f.sessionLives(sid) {
		t.Error("the session lives on after disabling")
	}
	f.wantRevoked(fam, tok, true)
	f.wantEvent("user.disabled", 1)

	// Disabling again changes nothing.
	if err := f.svc.SetDisabled(f.ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	f.wantEvent("user.disabled", 1)

	if err := f.svc.SetDisabled(f.ctx, u.ID, false); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.svc.GetUser(f.ctx, u.ID); got.Disabled {
		t.Error("the user is still disabled")
	}
	f.wantRevoked(fam, tok, true) // enabling gives nothing back
	f.wantEvent("user.enabled", 1)
	wantKind(t, f.svc.SetDisabled(f.ctx, "nobody", true), admin.KindNotFound)
}

func TestDeleteUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.createClient(webClient("billing"))
	u := f.createUser("dave", "dave-password")
	sid := f.session(u.ID, 0)
	fam, tok := f.family("billing", u.ID, sid, "openid offline_access")
	if _, err := f.store.GrantConsent(f.ctx, u.ID, "billing", "openid", f.clock.Now()); err != nil {
		t.Fatal(err)
	}

	if err := f.svc.DeleteUser(f.ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.GetUser(f.ctx, u.ID)
	wantKind(t, err, admin.KindNotFound)
	if f.sessionLives(sid) {
		t.Error("the session lives on")
	}
	f.wantRevoked(fam, tok, true)
	if _, err := f.store.GetConsent(f.ctx, u.ID, "billing"); err == nil {
		t.Error("the grant lives on")
	}
	f.wantEvent("user.removed", 1)
	wantKind(t, f.svc.DeleteUser(f.ctx, u.ID), admin.KindNotFound)
}

func TestFileOwnedUsersAreRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	carol, err := f.store.GetUserByUsername(f.ctx, legacyUser)
	if err != nil {
		t.Fatal(err)
	}
	email := "new@example.com"
	for _, tt := range []struct {
		user storage.User
		want string
	}{
		{f.alice, "user alice is declared in " + source + "; edit the file instead"},
		{carol, "user carol belongs to the configuration file the server last started with"},
	} {
		sid := f.session(tt.user.ID, 0)
		ops := map[string]error{
			"create": func() error {
				_, err := f.svc.CreateUser(f.ctx, admin.NewUser{User: admin.User{Username: tt.user.Username}, Password: "long enough"})
				return err
			}(),
			"update": func() error {
				_, err := f.svc.UpdateUser(f.ctx, tt.user.ID, admin.UserPatch{Email: &email})
				return err
			}(),
			"passwd":  f.svc.SetPassword(f.ctx, tt.user.ID, "long enough"),
			"disable": f.svc.SetDisabled(f.ctx, tt.user.ID, true),
			"delete":  f.svc.DeleteUser(f.ctx, tt.user.ID),
		}
		for op, err := range ops {
			e := wantKind(t, err, admin.KindFileOwned)
			if !strings.Contains(e.Message, tt.want) {
				t.Errorf("%s %s: %q; want it to contain %q", op, tt.user.Username, e.Message, tt.want)
			}
		}
		after, err := f.store.GetUser(f.ctx, tt.user.ID)
		if err != nil || after.PasswordHash != tt.user.PasswordHash || after.Email != tt.user.Email || after.Disabled {
			t.Errorf("a refused change changed %s: %+v, %v", tt.user.Username, after, err)
		}
		if !f.sessionLives(sid) {
			t.Errorf("a refused change ended a session of %s", tt.user.Username)
		}
	}
	if lines := f.logs.Lines(t); len(lines) != 0 {
		t.Errorf("refusals logged events: %v", lines)
	}
}
