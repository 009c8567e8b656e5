package conformance

import (
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/storage"
)

// ownershipCases specify storage.Owner (who may overwrite a client or user),
// the cascade of DeleteClient and SetUserPassword: the storage half of the
// audit findings "Removed clients and users keep working" and "A new
// password ends nothing".
var ownershipCases = []testCase{
	{"OwnerRoundTrips", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		for _, o := range []storage.Owner{storage.OwnerDatabase, storage.OwnerFile, storage.OwnerUnknown} {
			c := fullClient("c-" + string(o))
			c.Owner = o
			mustOK(t, "upsert client", s.UpsertClient(ctx, c))
			got, err := s.GetClient(ctx, c.ID)
			mustOK(t, "get client", err)
			mustEqual(t, "client", got, c)

			u := user("u-" + string(o))
			u.Owner = o
			saved, err := s.UpsertUser(ctx, u)
			mustOK(t, "upsert user", err)
			gotUser, err := s.GetUser(ctx, saved.ID)
			mustOK(t, "get user", err)
			if gotUser.Owner != o {
				t.Fatalf("user owner %q, want %q", gotUser.Owner, o)
			}
		}
	}},
	{"UpsertOfAnotherOwnerIsConflict", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		cli := fullClient("web") // made with the CLI
		mustOK(t, "upsert", s.UpsertClient(ctx, cli))
		file := fullClient("web")
		file.Owner, file.Name = storage.OwnerFile, "from the file"
		mustErr(t, "file upsert of a database client", s.UpsertClient(ctx, file), storage.ErrConflict)
		got, err := s.GetClient(ctx, "web")
		mustOK(t, "get", err)
		mustEqual(t, "client after the refused upsert", got, cli)

		fileUser := user("alice")
		fileUser.Owner = storage.OwnerFile
		alice, err := s.UpsertUser(ctx, fileUser)
		mustOK(t, "upsert alice", err)
		cliUser := user("alice")
		cliUser.PasswordHash = "cli-hash"
		_, err = s.UpsertUser(ctx, cliUser)
		mustErr(t, "database upsert of a file user", err, storage.ErrConflict)
		gotUser, err := s.GetUser(ctx, alice.ID)
		mustOK(t, "get alice", err)
		mustEqual(t, "user after the refused upsert", gotUser, alice)
	}},
	{"UnknownOwnerIsTakenOver", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		old := fullClient("web")
		old.Owner = storage.OwnerUnknown
		mustOK(t, "upsert", s.UpsertClient(ctx, old))
		adopted := fullClient("web")
		adopted.Owner = storage.OwnerFile
		mustOK(t, "adopt", s.UpsertClient(ctx, adopted))
		got, err := s.GetClient(ctx, "web")
		mustOK(t, "get", err)
		mustEqual(t, "adopted client", got, adopted)

		u := user("alice")
		u.Owner = storage.OwnerUnknown
		_, err = s.UpsertUser(ctx, u)
		mustOK(t, "upsert user", err)
		u.Owner = storage.OwnerDatabase
		saved, err := s.UpsertUser(ctx, u)
		mustOK(t, "adopt user", err)
		if saved.Owner != storage.OwnerDatabase {
			t.Fatalf("adopted user owner %q", saved.Owner)
		}
	}},
	{"DeleteClientCascades", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		mustOK(t, "upsert web", s.UpsertClient(ctx, fullClient("web")))
		mustOK(t, "upsert other", s.UpsertClient(ctx, fullClient("other")))
		token := func(name, family, client string) storage.RefreshToken {
			r := refreshToken(name, family)
			r.ClientID = client
			return r
		}
		code := func(name, client string) storage.AuthCode {
			c := authCode(name, at(time.Hour))
			c.ClientID = client
			mustOK(t, "create code "+name, s.CreateAuthCode(ctx, c))
			return c
		}
		wf1, wf2, og1 := token("wf-1", "WF", "web"), token("wf-2", "WF", "web"), token("og-1", "OG", "other")
		for _, r := range []storage.RefreshToken{wf1, og1} {
			mustOK(t, "create token", s.CreateRefreshToken(ctx, r))
		}
		_, err := s.RotateRefreshToken(ctx, wf1.TokenHash, wf2, at(time.Minute))
		mustOK(t, "rotate wf-1", err)
		sess := session("alice")
		mustOK(t, "create session", s.CreateSession(ctx, sess))
		unused := code("web-unused", "web")
		redeemed := code("web-redeemed", "web")
		_, err = s.ConsumeAuthCode(ctx, redeemed.CodeHash, redemption(redeemed, "WP"), at(time.Minute))
		mustOK(t, "consume web's code", err)
		otherCode := code("other-code", "other")

		mustOK(t, "delete web", s.DeleteClient(ctx, "web", at(10*time.Minute)))

		for _, r := range []storage.RefreshToken{wf1, wf2} {
			mustNotExist(t, s, r.TokenHash)
		}
		for _, tc := range []struct {
			family string
			want   bool
		}{{"WF", true}, {"WP", true}, {"OG", false}} {
			got, err := s.FamilyRevoked(ctx, tc.family)
			mustOK(t, "FamilyRevoked "+tc.family, err)
			if got != tc.want {
				t.Errorf("FamilyRevoked(%q) = %v, want %v", tc.family, got, tc.want)
			}
		}
		_, err = s.ConsumeAuthCode(ctx, unused.CodeHash, redemption(unused, "WU"), at(20*time.Minute))
		mustErr(t, "redeem the removed client's code", err, storage.ErrNotFound)

		// The other client, and the user's session, are untouched.
		gotToken, err := s.GetRefreshToken(ctx, og1.TokenHash)
		mustOK(t, "get other's token", err)
		mustEqual(t, "other's token", gotToken, og1)
		_, err = s.ConsumeAuthCode(ctx, otherCode.CodeHash, redemption(otherCode, "OF"), at(20*time.Minute))
		mustOK(t, "redeem other's code", err)
		_, err = s.GetSession(ctx, sess.IDHash, at(time.Minute))
		mustOK(t, "get the session", err)
	}},
	{"SetUserPasswordEndsGrants", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		alice, err := s.UpsertUser(ctx, user("alice"))
		mustOK(t, "upsert alice", err)
		bob, err := s.UpsertUser(ctx, user("bob"))
		mustOK(t, "upsert bob", err)
		sess := func(id string, u storage.User) storage.Session {
			r := session(id)
			r.UserID = u.ID
			mustOK(t, "create session "+id, s.CreateSession(ctx, r))
			return r
		}
		token := func(name, family string, u storage.User) storage.RefreshToken {
			r := refreshToken(name, family)
			r.UserID = u.ID
			mustOK(t, "create token "+name, s.CreateRefreshToken(ctx, r))
			return r
		}
		aliceSession, bobSession := sess("alice-1", alice), sess("bob-1", bob)
		af, bf := token("af-1", "AF", alice), token("bf-1", "BF", bob)
		code := authCode("alice-code", at(time.Hour))
		code.UserID = alice.ID
		mustOK(t, "create code", s.CreateAuthCode(ctx, code))

		mustOK(t, "set password", s.SetUserPassword(ctx, alice.ID, "new-hash", at(5*time.Minute)))

		got, err := s.GetUser(ctx, alice.ID)
		mustOK(t, "get alice", err)
		want := alice
		want.PasswordHash, want.UpdatedAt = "new-hash", at(5*time.Minute)
		mustEqual(t, "alice", got, want)
		_, err = s.GetSession(ctx, aliceSession.IDHash, at(time.Minute))
		mustErr(t, "alice's session", err, storage.ErrNotFound)
		mustNotExist(t, s, af.TokenHash)
		if revoked, err := s.FamilyRevoked(ctx, "AF"); err != nil || !revoked {
			t.Fatalf("alice's family revoked = %v, %v; want true", revoked, err)
		}
		_, err = s.ConsumeAuthCode(ctx, code.CodeHash, redemption(code, "AC"), at(6*time.Minute))
		mustErr(t, "redeem alice's code", err, storage.ErrNotFound)

		_, err = s.GetSession(ctx, bobSession.IDHash, at(time.Minute))
		mustOK(t, "bob's session", err)
		_, err = s.GetRefreshToken(ctx, bf.TokenHash)
		mustOK(t, "bob's token", err)

		mustErr(t, "unknown user", s.SetUserPassword(ctx, "nope", "h", at(0)), storage.ErrNotFound)
	}},
}
