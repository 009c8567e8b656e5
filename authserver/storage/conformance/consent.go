package conformance

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/storage"
)

// consentFixture stores the users user-1 and user-2 and the clients web and
// app2 that the consent cases grant between.
func consentFixture(t *testing.T, s storage.Store) {
	t.Helper()
	for _, id := range []string{"user-1", "user-2"} {
		u := user("name-of-" + id)
		u.ID = id
		_, err := s.UpsertUser(t.Context(), u)
		mustOK(t, "upsert user "+id, err)
	}
	for _, id := range []string{"web", "app2"} {
		mustOK(t, "upsert client "+id, s.UpsertClient(t.Context(), fullClient(id)))
	}
}

func mustGrant(t *testing.T, s storage.Store, userID, clientID, scope string, now time.Time) storage.ConsentGrant {
	t.Helper()
	g, err := s.GrantConsent(t.Context(), userID, clientID, scope, now)
	mustOK(t, fmt.Sprintf("grant %q to %s by %s", scope, clientID, userID), err)
	return g
}

func mustNoConsent(t *testing.T, s storage.Store, userID, clientID string) {
	t.Helper()
	_, err := s.GetConsent(t.Context(), userID, clientID)
	mustErr(t, "consent of "+userID+" to "+clientID, err, storage.ErrNotFound)
}

// consentCases specify storage.ConsentStore.
var consentCases = []testCase{
	{"GrantMergesAndLists", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		consentFixture(t, s)
		mustNoConsent(t, s, "user-1", "web")

		first := mustGrant(t, s, "user-1", "web", "openid profile profile", at(0))
		want := storage.ConsentGrant{UserID: "user-1", ClientID: "web", Scope: "openid profile", CreatedAt: at(0), UpdatedAt: at(0)}
		mustEqual(t, "first grant", first, want)
		got, err := s.GetConsent(ctx, "user-1", "web")
		mustOK(t, "get", err)
		mustEqual(t, "stored first grant", got, want)

		// New scopes are added after the old ones; CreatedAt stays.
		want.Scope, want.UpdatedAt = "openid profile email offline_access", at(time.Hour)
		mustEqual(t, "merged grant", mustGrant(t, s, "user-1", "web", "email profile offline_access", at(time.Hour)), want)
		got, err = s.GetConsent(ctx, "user-1", "web")
		mustOK(t, "get merged", err)
		mustEqual(t, "stored merged grant", got, want)

		// A subset changes nothing, not even UpdatedAt.
		mustEqual(t, "subset grant", mustGrant(t, s, "user-1", "web", "openid email", at(2*time.Hour)), want)
		got, err = s.GetConsent(ctx, "user-1", "web")
		mustOK(t, "get after subset", err)
		mustEqual(t, "grant after subset", got, want)

		other := mustGrant(t, s, "user-1", "app2", "openid", at(time.Minute))
		mustGrant(t, s, "user-2", "web", "openid", at(time.Minute))
		mustNoConsent(t, s, "user-2", "app2")
		list, err := s.ListUserConsents(ctx, "user-1")
		mustOK(t, "list", err)
		mustEqual(t, "grants of user-1", list, []storage.ConsentGrant{other, want}) // by client id
		none, err := s.ListUserConsents(ctx, "nobody")
		mustOK(t, "list unknown user", err)
		if len(none) != 0 {
			t.Fatalf("an unknown user lists %d grants", len(none))
		}
	}},
	{"UnknownUserOrClientIsNotFound", func(t *testing.T, s storage.Store) {
		consentFixture(t, s)
		_, err := s.GrantConsent(t.Context(), "nobody", "web", "openid", at(0))
		mustErr(t, "grant by an unknown user", err, storage.ErrNotFound)
		_, err = s.GrantConsent(t.Context(), "user-1", "nope", "openid", at(0))
		mustErr(t, "grant to an unknown client", err, storage.ErrNotFound)
		mustNoConsent(t, s, "nobody", "web")
		mustNoConsent(t, s, "user-1", "nope")
	}},
	{"ConcurrentGrantsAllCount", func(t *testing.T, s storage.Store) {
		consentFixture(t, s)
		for round := range 3 {
			client := []string{"web", "app2", "web"}[round]
			errs := race(concurrency, func(i int) error {
				_, err := s.GrantConsent(t.Context(), "user-1", client, fmt.Sprintf("r%d-s%d openid", round, i), at(time.Duration(i)*time.Second))
				return err
			})
			for i, err := range errs {
				mustOK(t, fmt.Sprintf("round %d: grant %d", round, i), err)
			}
			g, err := s.GetConsent(t.Context(), "user-1", client)
			mustOK(t, "get", err)
			for i := range concurrency {
				if sc := fmt.Sprintf("r%d-s%d", round, i); !strings.Contains(" "+g.Scope+" ", " "+sc+" ") {
					t.Fatalf("round %d: concurrent grant of %s was lost: scope %q", round, sc, g.Scope)
				}
			}
			if n := strings.Count(" "+g.Scope+" ", " openid "); n != 1 {
				t.Fatalf("round %d: openid is %d times in %q", round, n, g.Scope)
			}
		}
	}},
	{"RevokeEndsTheGrantsTokens", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		consentFixture(t, s)
		mustGrant(t, s, "user-1", "web", "openid offline_access", at(0))
		mustGrant(t, s, "user-1", "app2", "openid offline_access", at(0))
		mustGrant(t, s, "user-2", "web", "openid offline_access", at(0))

		token := func(name, family, userID, clientID string) storage.RefreshToken {
			r := refreshToken(name, family)
			r.UserID, r.ClientID = userID, clientID
			mustOK(t, "create token "+name, s.CreateRefreshToken(ctx, r))
			return r
		}
		mine := token("mine", "F-mine", "user-1", "web")
		mineNext := refreshToken("mine-next", "F-mine")
		_, err := s.RotateRefreshToken(ctx, mine.TokenHash, mineNext, at(time.Minute))
		mustOK(t, "rotate", err)
		otherClient := token("other-client", "F-other-client", "user-1", "app2")
		otherUser := token("other-user", "F-other-user", "user-2", "web")

		code := func(name, userID, clientID string) storage.AuthCode {
			c := authCode(name, at(time.Hour))
			c.UserID, c.ClientID = userID, clientID
			mustOK(t, "create code "+name, s.CreateAuthCode(ctx, c))
			return c
		}
		// Redeemed, its family has no token yet: only the code names it.
		redeemed := code("redeemed", "user-1", "web")
		_, err = s.ConsumeAuthCode(ctx, redeemed.CodeHash, redemption(redeemed, "F-redeemed"), at(0))
		mustOK(t, "redeem", err)
		unredeemed := code("unredeemed", "user-1", "web")
		otherCode := code("other-code", "user-1", "app2")

		mustOK(t, "revoke", s.RevokeConsent(ctx, "user-1", "web", at(time.Hour)))
		mustNoConsent(t, s, "user-1", "web")
		for _, f := range []string{"F-mine", "F-redeemed"} {
			revoked, err := s.FamilyRevoked(ctx, f)
			mustOK(t, "family revoked "+f, err)
			if !revoked {
				t.Errorf("family %s of the revoked grant is not revoked", f)
			}
		}
		mustNotExist(t, s, mine.TokenHash)
		mustNotExist(t, s, mineNext.TokenHash)
		_, err = s.ConsumeAuthCode(ctx, unredeemed.CodeHash, redemption(unredeemed, "F-late"), at(time.Minute))
		mustErr(t, "redeem a code of the revoked grant", err, storage.ErrNotFound)

		// Nothing of another client or another user is touched.
		for _, r := range []storage.RefreshToken{otherClient, otherUser} {
			got, err := s.GetRefreshToken(ctx, r.TokenHash)
			mustOK(t, "token "+r.FamilyID, err)
			mustEqual(t, "token "+r.FamilyID, got, r)
			revoked, err := s.FamilyRevoked(ctx, r.FamilyID)
			mustOK(t, "family revoked "+r.FamilyID, err)
			if revoked {
				t.Errorf("family %s of another grant was revoked", r.FamilyID)
			}
		}
		_, err = s.ConsumeAuthCode(ctx, otherCode.CodeHash, redemption(otherCode, "F-other-code"), at(time.Minute))
		mustOK(t, "redeem another client's code", err)
		for _, pair := range [][2]string{{"user-1", "app2"}, {"user-2", "web"}} {
			_, err := s.GetConsent(ctx, pair[0], pair[1])
			mustOK(t, "grant of "+pair[0]+" to "+pair[1], err)
		}

		err = s.RevokeConsent(ctx, "user-1", "web", at(time.Hour))
		mustErr(t, "revoke again", err, storage.ErrNotFound)
		// A new approval starts a new grant.
		g := mustGrant(t, s, "user-1", "web", "openid", at(2*time.Hour))
		mustEqual(t, "new grant", g, storage.ConsentGrant{UserID: "user-1", ClientID: "web", Scope: "openid",
			CreatedAt: at(2 * time.Hour), UpdatedAt: at(2 * time.Hour)})
	}},
	{"DeletedWithItsUserOrClient", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		consentFixture(t, s)
		mustGrant(t, s, "user-1", "web", "openid", at(0))
		mustGrant(t, s, "user-1", "app2", "openid", at(0))
		mustGrant(t, s, "user-2", "app2", "openid", at(0))

		mustOK(t, "delete client web", s.DeleteClient(ctx, "web", at(0)))
		mustNoConsent(t, s, "user-1", "web")
		// The id registered again is a new client: it inherits nothing.
		mustOK(t, "register web again", s.UpsertClient(ctx, fullClient("web")))
		mustNoConsent(t, s, "user-1", "web")

		mustOK(t, "delete user-1", s.DeleteUser(ctx, "user-1", at(0)))
		list, err := s.ListUserConsents(ctx, "user-1")
		mustOK(t, "list", err)
		if len(list) != 0 {
			t.Fatalf("a deleted user keeps %d grants: %+v", len(list), list)
		}
		if _, err := s.GetConsent(ctx, "user-2", "app2"); err != nil {
			t.Fatalf("another user's grant: %v", err)
		}
		if err := s.RevokeConsent(ctx, "user-1", "app2", at(0)); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("revoke a deleted user's grant: %v, want ErrNotFound", err)
		}
	}},
}
