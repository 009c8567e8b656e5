package conformance

import (
	"errors"
	"reflect"
	"testing"

	"github.com/authserver-dev/authserver/authserver/storage"
)

// passwordHashCases specify storage.UserStore.ReplacePasswordHash.
var passwordHashCases = []testCase{
	{"ReplacesOnlyTheHash", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		u, err := s.UpsertUser(ctx, storage.User{Username: "rehash", PasswordHash: "old", Email: "r@example.com", Name: "R",
			CreatedAt: at(0), UpdatedAt: at(0)})
		mustOK(t, "upsert", err)
		mustOK(t, "replace", s.ReplacePasswordHash(ctx, u.ID, "old", "new"))
		got, err := s.GetUser(ctx, u.ID)
		mustOK(t, "get", err)
		want := u
		want.PasswordHash = "new"
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("after the replace: %+v; want %+v (only the hash changed)", got, want)
		}
	}},
	{"RefusesAChangedHash", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		u, err := s.UpsertUser(ctx, storage.User{Username: "rehash", PasswordHash: "changed", CreatedAt: at(0), UpdatedAt: at(0)})
		mustOK(t, "upsert", err)
		// The sign-in verified "old", but the password was changed since.
		if err := s.ReplacePasswordHash(ctx, u.ID, "old", "rehash-of-old"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("replace of a changed hash: %v; want ErrNotFound", err)
		}
		if got, _ := s.GetUser(ctx, u.ID); got.PasswordHash != "changed" {
			t.Fatalf("the password change was undone: hash %q", got.PasswordHash)
		}
		if err := s.ReplacePasswordHash(ctx, "no-such-user", "old", "new"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("replace for an unknown user: %v; want ErrNotFound", err)
		}
	}},
}
