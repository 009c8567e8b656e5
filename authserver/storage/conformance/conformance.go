// Package conformance is the one test suite that every storage.Store backend
// must pass. A backend's own test only builds stores and calls Run; the
// behaviour is specified here, once, from the doc comments of package storage.
//
// It imports storage and keys and the standard library only; it must not
// import a backend (backends import it from their tests) or authserver.
package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/keys"
)

// Run runs the suite. newStore must return a fresh, empty, migrated store on
// every call (each subtest takes its own) and arrange its cleanup with
// t.Cleanup; Run closes nothing itself.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	groups := []struct {
		name  string
		cases []testCase
	}{
		{"Clients", clientCases},
		{"Users", userCases},
		{"PasswordHashes", passwordHashCases},
		{"Ownership", ownershipCases},
		{"AuthCodes", authCodeCases},
		{"Sessions", sessionCases},
		{"RefreshTokens", refreshTokenCases},
		{"AccessTokenRevocations", accessTokenRevocationCases},
		{"Housekeeping", housekeepingCases},
		{"Throttle", throttleCases},
		{"SessionClients", sessionClientCases},
		{"Consent", consentCases},
		{"DisabledUsers", disabledUserCases},
		{"SessionDetails", sessionDetailCases},
		{"RegistrationTokens", registrationTokenCases},
		{"EndSession", endSessionCases},
		{"ClientMetadata", clientMetadataCases},
		{"Binding", bindingCases},
		{"PushedRequests", pushedRequestCases},
		{"Replay", replayCases},
		{"Create", createCases},
		{"SigningKeys", signingKeyCases},
		{"Times", timeCases},
		{"SignInMethods", signInMethodCases},
		{"Passkeys", passkeyCases},
		{"TOTP", totpCases},
		{"RecoveryCodes", recoveryCodeCases},
		{"MFAReset", mfaResetCases},
		{"Availability", availabilityCases},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.cases {
				t.Run(tc.name, func(t *testing.T) {
					tc.run(t, newStore(t))
				})
			}
		})
	}
}

type testCase struct {
	name string
	run  func(t *testing.T, s storage.Store)
}

// t0 is the suite's clock: a fixed instant with whole microseconds, so that
// records round-trip unchanged and compare with reflect.DeepEqual.
var t0 = time.Date(2030, 5, 17, 9, 30, 0, 123456000, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// concurrency is how many goroutines race for one single-use record, and
// raceRounds how many records they race for: a check-then-act bug loses only
// some races, so one round would let it pass now and then.
const (
	concurrency = 16
	raceRounds  = 20
)

// oneWinner checks that exactly one of a race's calls succeeded and every
// other one got storage.ErrAlreadyUsed, and returns the winner's index.
func oneWinner(t *testing.T, round int, errs []error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("round %d: goroutines %d and %d both won", round, winner, i)
			}
			winner = i
		case !errors.Is(err, storage.ErrAlreadyUsed):
			t.Fatalf("round %d: goroutine %d: %v, want nil or ErrAlreadyUsed", round, i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("round %d: nobody won", round)
	}
	return winner
}

// race runs f(0..n-1) at once, released together, and returns their errors.
func race(n int, f func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func mustEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func mustErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

func mustOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// ---- clients ----

func fullClient(id string) storage.Client {
	return storage.Client{
		ID:         id,
		SecretHash: storage.Hash("secret of " + id),
		Name:       "Client " + id + " — ünïcode",
		RedirectURIs: []string{
			"https://app.example/callback",
			"http://127.0.0.1:9094/callback?x=1&y=%2F",
			"com.example.app:/oauth2redirect",
		},
		PostLogoutRedirectURIs: []string{"https://app.example/bye"},
		GrantTypes:             []string{"authorization_code", "refresh_token"},
		Scopes:                 []string{"openid", "profile", "offline_access", `odd"scope\`},
		Audience:               []string{"https://api.example", "urn:other"},
		SkipConsent:            true,
		CanIntrospect:          true,
		IDTokenAlg:             "ES256",
		CreatedAt:              at(0),
		UpdatedAt:              at(time.Second),
		// Back-Channel Logout 1.0 §2.2: a query is allowed, a fragment not.
		BackchannelLogoutURI:             "https://app.example/backchannel-logout?tenant=a%2Fb",
		BackchannelLogoutSessionRequired: true,
		RegistrationTokenHash:            storage.Hash("registration access token of " + id),
	}
}

var clientCases = []testCase{
	{"RoundTrip", func(t *testing.T, s storage.Store) {
		want := fullClient("web")
		mustOK(t, "upsert", s.UpsertClient(t.Context(), want))
		got, err := s.GetClient(t.Context(), "web")
		mustOK(t, "get", err)
		mustEqual(t, "client", got, want)
	}},
	{"EmptyListsAndPublic", func(t *testing.T, s storage.Store) {
		want := storage.Client{ID: "cli", RedirectURIs: []string{}, CreatedAt: at(0), UpdatedAt: at(0)}
		mustOK(t, "upsert", s.UpsertClient(t.Context(), want))
		got, err := s.GetClient(t.Context(), "cli")
		mustOK(t, "get", err)
		if !got.Public() {
			t.Errorf("client without secret is not Public")
		}
		for name, l := range map[string][]string{
			"RedirectURIs": got.RedirectURIs, "PostLogoutRedirectURIs": got.PostLogoutRedirectURIs,
			"GrantTypes": got.GrantTypes, "Scopes": got.Scopes, "Audience": got.Audience,
		} {
			if len(l) != 0 {
				t.Errorf("%s = %q, want empty", name, l)
			}
		}
	}},
	{"UpsertReplacesAllButCreatedAt", func(t *testing.T, s storage.Store) {
		first := fullClient("web")
		mustOK(t, "upsert", s.UpsertClient(t.Context(), first))
		second := storage.Client{
			ID:           "web",
			Name:         "renamed",
			RedirectURIs: []string{"https://new.example/cb"},
			GrantTypes:   []string{"client_credentials"},
			Scopes:       []string{"api.read"},
			CreatedAt:    at(time.Hour), // must be ignored
			UpdatedAt:    at(time.Hour),
		}
		mustOK(t, "upsert again", s.UpsertClient(t.Context(), second))
		got, err := s.GetClient(t.Context(), "web")
		mustOK(t, "get", err)
		want := second
		want.CreatedAt = first.CreatedAt
		mustEqual(t, "client", got, want)
		list, err := s.ListClients(t.Context())
		mustOK(t, "list", err)
		if len(list) != 1 {
			t.Fatalf("upsert of an existing id made %d clients, want 1", len(list))
		}
	}},
	{"List", func(t *testing.T, s storage.Store) {
		empty, err := s.ListClients(t.Context())
		mustOK(t, "list empty", err)
		if len(empty) != 0 {
			t.Fatalf("empty store lists %d clients", len(empty))
		}
		want := []storage.Client{fullClient("a"), fullClient("b"), fullClient("c")}
		for _, c := range []storage.Client{want[1], want[2], want[0]} {
			mustOK(t, "upsert "+c.ID, s.UpsertClient(t.Context(), c))
		}
		got, err := s.ListClients(t.Context())
		mustOK(t, "list", err)
		sort.Slice(got, func(i, j int) bool { return got[i].ID < got[j].ID })
		mustEqual(t, "clients", got, want)
	}},
	{"Delete", func(t *testing.T, s storage.Store) {
		mustOK(t, "upsert a", s.UpsertClient(t.Context(), fullClient("a")))
		mustOK(t, "upsert b", s.UpsertClient(t.Context(), fullClient("b")))
		mustOK(t, "delete a", s.DeleteClient(t.Context(), "a", at(0)))
		_, err := s.GetClient(t.Context(), "a")
		mustErr(t, "get deleted", err, storage.ErrNotFound)
		mustErr(t, "delete again", s.DeleteClient(t.Context(), "a", at(0)), storage.ErrNotFound)
		got, err := s.GetClient(t.Context(), "b")
		mustOK(t, "get other", err)
		mustEqual(t, "other client", got, fullClient("b"))
	}},
	{"UnknownIsNotFound", func(t *testing.T, s storage.Store) {
		_, err := s.GetClient(t.Context(), "nope")
		mustErr(t, "get", err, storage.ErrNotFound)
		mustErr(t, "delete", s.DeleteClient(t.Context(), "nope", at(0)), storage.ErrNotFound)
	}},
}

// ---- users ----

func user(username string) storage.User {
	return storage.User{
		Username:      username,
		PasswordHash:  "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA",
		Email:         username + "@example.com",
		EmailVerified: true,
		Name:          "Name of " + username,
		// Every standard claim, so that each case round-trips them all.
		Claims: storage.StandardClaims{
			GivenName: "Given " + username, FamilyName: "Family", MiddleName: "Middle", Nickname: username + "y",
			Profile: "https://example.com/" + username, Picture: "https://example.com/" + username + ".png",
			Website: "https://" + username + ".example.com", Gender: "female", Birthdate: "1990-12-31",
			Zoneinfo: "Europe/Paris", Locale: "fr-FR", PhoneNumber: "+33123456789", PhoneNumberVerified: true,
			Address: &storage.Address{Formatted: "1 rue X\n75001 Paris", StreetAddress: "1 rue X", Locality: "Paris",
				Region: "IDF", PostalCode: "75001", Country: "FR"},
		},
		CreatedAt: at(0),
		UpdatedAt: at(0),
	}
}

func isHex128(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

var userCases = []testCase{
	{"NewUserGetsRandomID", func(t *testing.T, s storage.Store) {
		alice, err := s.UpsertUser(t.Context(), user("alice"))
		mustOK(t, "upsert alice", err)
		bob, err := s.UpsertUser(t.Context(), user("bob"))
		mustOK(t, "upsert bob", err)
		if !isHex128(alice.ID) || !isHex128(bob.ID) {
			t.Fatalf("generated ids %q, %q: want 32 lower-case hex digits", alice.ID, bob.ID)
		}
		if alice.ID == bob.ID {
			t.Fatalf("two users got the same id %q", alice.ID)
		}
		want := user("alice")
		want.ID = alice.ID
		mustEqual(t, "returned user", alice, want)
		byID, err := s.GetUser(t.Context(), alice.ID)
		mustOK(t, "get by id", err)
		mustEqual(t, "by id", byID, want)
		byName, err := s.GetUserByUsername(t.Context(), "alice")
		mustOK(t, "get by username", err)
		mustEqual(t, "by username", byName, want)
	}},
	{"GivenIDIsKept", func(t *testing.T, s storage.Store) {
		u := user("carol")
		u.ID = "subject-carol"
		got, err := s.UpsertUser(t.Context(), u)
		mustOK(t, "upsert", err)
		mustEqual(t, "user", got, u)
	}},
	{"UpdateKeepsIDAndCreatedAt", func(t *testing.T, s storage.Store) {
		first, err := s.UpsertUser(t.Context(), user("alice"))
		mustOK(t, "upsert", err)
		for _, tc := range []struct {
			name string
			id   string
		}{
			{"EmptyID", ""},
			{"OtherID", "attempt-to-change-sub"},
			{"SameID", first.ID},
		} {
			t.Run(tc.name, func(t *testing.T) {
				next := storage.User{
					ID: tc.id, Username: "alice", PasswordHash: "new-hash-" + tc.name,
					Email: tc.name + "@example.org", Name: "Alice " + tc.name,
					CreatedAt: at(time.Hour), UpdatedAt: at(time.Hour),
				}
				got, err := s.UpsertUser(t.Context(), next)
				mustOK(t, "upsert", err)
				want := next
				want.ID, want.CreatedAt = first.ID, first.CreatedAt
				mustEqual(t, "returned", got, want)
				stored, err := s.GetUser(t.Context(), first.ID)
				mustOK(t, "get", err)
				mustEqual(t, "stored", stored, want)
			})
		}
		all, err := s.ListUsers(t.Context())
		mustOK(t, "list", err)
		if len(all) != 1 {
			t.Fatalf("upserts of one username made %d users, want 1", len(all))
		}
	}},
	{"IDOfAnotherUserIsConflict", func(t *testing.T, s storage.Store) {
		alice, err := s.UpsertUser(t.Context(), user("alice"))
		mustOK(t, "upsert alice", err)
		mallory := user("mallory")
		mallory.ID = alice.ID
		_, err = s.UpsertUser(t.Context(), mallory)
		mustErr(t, "upsert with alice's id", err, storage.ErrConflict)
		got, err := s.GetUser(t.Context(), alice.ID)
		mustOK(t, "get alice", err)
		mustEqual(t, "alice", got, alice)
		_, err = s.GetUserByUsername(t.Context(), "mallory")
		mustErr(t, "get mallory", err, storage.ErrNotFound)
	}},
	{"ListAndDelete", func(t *testing.T, s storage.Store) {
		var want []storage.User
		for _, name := range []string{"bob", "alice", "dave"} {
			u, err := s.UpsertUser(t.Context(), user(name))
			mustOK(t, "upsert "+name, err)
			want = append(want, u)
		}
		mustOK(t, "delete bob", s.DeleteUser(t.Context(), want[0].ID, at(0)))
		_, err := s.GetUser(t.Context(), want[0].ID)
		mustErr(t, "get deleted", err, storage.ErrNotFound)
		_, err = s.GetUserByUsername(t.Context(), "bob")
		mustErr(t, "get deleted by username", err, storage.ErrNotFound)
		got, err := s.ListUsers(t.Context())
		mustOK(t, "list", err)
		sort.Slice(got, func(i, j int) bool { return got[i].Username < got[j].Username })
		mustEqual(t, "users", got, []storage.User{want[1], want[2]})
	}},
	{"UnknownIsNotFound", func(t *testing.T, s storage.Store) {
		_, err := s.GetUser(t.Context(), "nope")
		mustErr(t, "get", err, storage.ErrNotFound)
		_, err = s.GetUserByUsername(t.Context(), "nope")
		mustErr(t, "get by username", err, storage.ErrNotFound)
		mustErr(t, "delete", s.DeleteUser(t.Context(), "nope", at(0)), storage.ErrNotFound)
	}},
	{"DeleteCascades", func(t *testing.T, s storage.Store) {
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
			return r
		}
		code := func(name string, u storage.User) storage.AuthCode {
			c := authCode(name, at(time.Hour))
			c.UserID = u.ID
			mustOK(t, "create code "+name, s.CreateAuthCode(ctx, c))
			return c
		}
		aliceSessions := []storage.Session{sess("alice-1", alice), sess("alice-2", alice)}
		bobSession := sess("bob-1", bob)
		// Family AF has a spent and a live token, AG one token with
		// another client: every family of the user goes, not one.
		af1, af2, ag1 := token("af-1", "AF", alice), token("af-2", "AF", alice), token("ag-1", "AG", alice)
		ag1.ClientID = "other-client"
		bh1 := token("bh-1", "BH", bob)
		for _, r := range []storage.RefreshToken{af1, ag1, bh1} {
			mustOK(t, "create token", s.CreateRefreshToken(ctx, r))
		}
		_, err = s.RotateRefreshToken(ctx, af1.TokenHash, af2, at(time.Minute))
		mustOK(t, "rotate af-1", err)
		// Nothing issued to the deleted user may stay usable: neither a
		// code not redeemed yet, nor the family of a code redeemed but whose
		// first refresh token is not stored yet.
		unused := code("alice-unused", alice)
		redeemed := code("alice-redeemed", alice)
		_, err = s.ConsumeAuthCode(ctx, redeemed.CodeHash, redemption(redeemed, "AP"), at(time.Minute))
		mustOK(t, "consume alice's code", err)
		bobCode := code("bob-code", bob)

		mustOK(t, "delete alice", s.DeleteUser(ctx, alice.ID, at(10*time.Minute)))

		_, err = s.GetUser(ctx, alice.ID)
		mustErr(t, "get alice", err, storage.ErrNotFound)
		for _, r := range aliceSessions {
			_, err = s.GetSession(ctx, r.IDHash, at(time.Minute))
			mustErr(t, "get alice's session", err, storage.ErrNotFound)
		}
		for _, r := range []storage.RefreshToken{af1, af2, ag1} {
			mustNotExist(t, s, r.TokenHash)
		}
		for _, tc := range []struct {
			family string
			want   bool
		}{{"AF", true}, {"AG", true}, {"AP", true}, {"BH", false}} {
			got, err := s.FamilyRevoked(ctx, tc.family)
			mustOK(t, "FamilyRevoked "+tc.family, err)
			if got != tc.want {
				t.Errorf("FamilyRevoked(%q) = %v, want %v", tc.family, got, tc.want)
			}
		}
		late := token("ap-1", "AP", alice)
		if err := s.CreateRefreshToken(ctx, late); err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("create the redeemed code's first token: %v", err)
		}
		mustNotExist(t, s, late.TokenHash)
		_, err = s.ConsumeAuthCode(ctx, unused.CodeHash, redemption(unused, "AU"), at(20*time.Minute))
		mustErr(t, "redeem alice's unused code", err, storage.ErrNotFound)

		// Bob is untouched.
		_, err = s.GetUser(ctx, bob.ID)
		mustOK(t, "get bob", err)
		got, err := s.GetSession(ctx, bobSession.IDHash, at(time.Minute))
		mustOK(t, "get bob's session", err)
		mustEqual(t, "bob's session", got, bobSession)
		gotToken, err := s.GetRefreshToken(ctx, bh1.TokenHash)
		mustOK(t, "get bob's token", err)
		mustEqual(t, "bob's token", gotToken, bh1)
		_, err = s.ConsumeAuthCode(ctx, bobCode.CodeHash, redemption(bobCode, "BF"), at(20*time.Minute))
		mustOK(t, "redeem bob's code", err)

		mustErr(t, "delete alice again", s.DeleteUser(ctx, alice.ID, at(time.Hour)), storage.ErrNotFound)
	}},
}

// ---- authorization codes ----

func authCode(code string, expiresAt time.Time) storage.AuthCode {
	return storage.AuthCode{
		CodeHash:            storage.Hash(code),
		ClientID:            "web",
		UserID:              "user-1",
		RedirectURI:         "https://app.example/callback",
		Scope:               "openid profile offline_access",
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		Nonce:               "n-0S6_WzA2Mj",
		SessionID:           storage.Hash("session"),
		AuthTime:            at(-time.Minute),
		ClaimsRequest:       `{"userinfo":{"given_name":null}}`,
		CreatedAt:           at(0),
		ExpiresAt:           expiresAt,
	}
}

// redemption is the request of the code's own client: it matches c.
func redemption(c storage.AuthCode, familyID string) storage.CodeRedemption {
	return storage.CodeRedemption{ClientID: c.ClientID, RedirectURI: c.RedirectURI, CodeChallenge: c.CodeChallenge, DPoPJKT: c.DPoPJKT, FamilyID: familyID}
}

// mismatches are redemptions of c that differ in one condition: a code is
// burnt before the client is checked unless every one leaves c as it was.
func mismatches(c storage.AuthCode, familyID string) map[string]storage.CodeRedemption {
	r := redemption(c, familyID)
	out := map[string]storage.CodeRedemption{}
	for name, edit := range map[string]func(*storage.CodeRedemption){
		"OtherClient":      func(r *storage.CodeRedemption) { r.ClientID = "other-client" },
		"NoClient":         func(r *storage.CodeRedemption) { r.ClientID = "" },
		"OtherRedirectURI": func(r *storage.CodeRedemption) { r.RedirectURI = "https://app.example/other" },
		"OtherChallenge":   func(r *storage.CodeRedemption) { r.CodeChallenge = "x" + r.CodeChallenge[1:] },
		"NoChallenge":      func(r *storage.CodeRedemption) { r.CodeChallenge = "" },
	} {
		m := r
		edit(&m)
		out[name] = m
	}
	return out
}

var authCodeCases = []testCase{
	{"ACodeIsBurntBeforeTheClientIsChecked", func(t *testing.T, s storage.Store) {
		for name, wrong := range mismatches(authCode("x", at(time.Minute)), "family-wrong") {
			t.Run(name, func(t *testing.T) {
				c := authCode("code-"+name, at(time.Minute))
				mustOK(t, "create", s.CreateAuthCode(t.Context(), c))
				_, err := s.ConsumeAuthCode(t.Context(), c.CodeHash, wrong, at(10*time.Second))
				mustErr(t, "consume with a mismatching request", err, storage.ErrNotFound)
				// The code is untouched: its own client redeems it.
				got, err := s.ConsumeAuthCode(t.Context(), c.CodeHash, redemption(c, "family-A"), at(20*time.Second))
				mustOK(t, "consume by the code's client afterwards", err)
				if got.FamilyID != "family-A" || !got.UsedAt.Equal(at(20*time.Second)) {
					t.Fatalf("consumed record: family %q used %v", got.FamilyID, got.UsedAt)
				}
				// A replay that does not match is no replay: it must not be
				// told the code was used, nor be given the family to revoke.
				got, err = s.ConsumeAuthCode(t.Context(), c.CodeHash, wrong, at(30*time.Second))
				mustErr(t, "mismatching replay", err, storage.ErrNotFound)
				mustEqual(t, "mismatching replay's record", got, storage.AuthCode{})
				got, err = s.ConsumeAuthCode(t.Context(), c.CodeHash, redemption(c, "family-B"), at(40*time.Second))
				mustErr(t, "replay by the code's client", err, storage.ErrAlreadyUsed)
				if got.FamilyID != "family-A" {
					t.Fatalf("replay reports family %q, want family-A", got.FamilyID)
				}
			})
		}
	}},
	{"CodeWithoutPKCE", func(t *testing.T, s storage.Store) {
		c := authCode("code-1", at(time.Minute))
		c.CodeChallenge, c.CodeChallengeMethod = "", ""
		mustOK(t, "create", s.CreateAuthCode(t.Context(), c))
		downgrade := redemption(c, "family-X")
		downgrade.CodeChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
		_, err := s.ConsumeAuthCode(t.Context(), c.CodeHash, downgrade, at(0))
		mustErr(t, "consume with a verifier the code has no challenge for", err, storage.ErrNotFound)
		_, err = s.ConsumeAuthCode(t.Context(), c.CodeHash, redemption(c, "family-A"), at(0))
		mustOK(t, "consume without PKCE", err)
	}},
	{"ConcurrentConsumeAmongOtherClientsHasOneWinner", func(t *testing.T, s storage.Store) {
		for round := range raceRounds {
			c := authCode(fmt.Sprintf("code-%d", round), at(time.Minute))
			mustOK(t, "create", s.CreateAuthCode(t.Context(), c))
			wrong := mismatches(c, "family-wrong")["OtherClient"]
			errs := race(concurrency, func(i int) error {
				if i%2 == 1 {
					_, err := s.ConsumeAuthCode(t.Context(), c.CodeHash, wrong, at(time.Second))
					if !errors.Is(err, storage.ErrNotFound) {
						return fmt.Errorf("other client: %v, want ErrNotFound", err)
					}
					return storage.ErrAlreadyUsed // counts as a loser below
				}
				_, err := s.ConsumeAuthCode(t.Context(), c.CodeHash, redemption(c, fmt.Sprintf("family-%d", i)), at(time.Second))
				return err
			})
			if winner := oneWinner(t, round, errs); winner%2 == 1 {
				t.Fatalf("round %d: another client's request won", round)
			}
		}
	}},
	{"ConsumeOnceThenAlreadyUsed", func(t *testing.T, s storage.Store) {
		c := authCode("code-1", at(time.Minute))
		mustOK(t, "create", s.CreateAuthCode(t.Context(), c))
		got, err := s.ConsumeAuthCode(t.Context(), c.CodeHash, redemption(c, "family-A"), at(10*time.Second))
		mustOK(t, "consume", err)
		want := c
		want.UsedAt, want.FamilyID = at(10*time.Second), "family-A"
		mustEqual(t, "consumed", got, want)

		again, err := s.ConsumeAuthCode(t.Context(), c.CodeHash, redemption(c, "family-B"), at(20*time.Second))
		mustErr(t, "consume again", err, storage.ErrAlreadyUsed)
		mustEqual(t, "replayed record", again, want)
	}},
	{"UnknownIsNotFound", func(t *testing.T, s storage.Store) {
		_, err := s.ConsumeAuthCode(t.Context(), storage.Hash("never issued"), redemption(authCode("never issued", at(time.Minute)), "f"), at(0))
		mustErr(t, "consume", err, storage.ErrNotFound)
	}},
	{"ExpiredIsNotFound", func(t *testing.T, s storage.Store) {
		for _, tc := range []struct {
			name string
			now  time.Time
		}{
			{"AtExpiry", at(time.Minute)},
			{"AfterExpiry", at(time.Hour)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := authCode("code-"+tc.name, at(time.Minute))
				mustOK(t, "create", s.CreateAuthCode(t.Context(), c))
				_, err := s.ConsumeAuthCode(t.Context(), c.CodeHash, redemption(c, "f"), tc.now)
				mustErr(t, "consume expired", err, storage.ErrNotFound)
				// The failed attempt must not have marked the code used.
				_, err = s.ConsumeAuthCode(t.Context(), c.CodeHash, redemption(c, "f"), at(0))
				mustOK(t, "consume before expiry", err)
			})
		}
	}},
	{"ReplayAfterExpiryIsAlreadyUsed", func(t *testing.T, s storage.Store) {
		// A used code that comes back is a replay however late, so that the
		// caller revokes what it issued (RFC 6749 §4.1.2).
		c := authCode("code-1", at(time.Minute))
		mustOK(t, "create", s.CreateAuthCode(t.Context(), c))
		_, err := s.ConsumeAuthCode(t.Context(), c.CodeHash, redemption(c, "family-A"), at(0))
		mustOK(t, "consume", err)
		got, err := s.ConsumeAuthCode(t.Context(), c.CodeHash, redemption(c, "family-B"), at(time.Hour))
		mustErr(t, "replay after expiry", err, storage.ErrAlreadyUsed)
		if got.FamilyID != "family-A" {
			t.Fatalf("replay reports family %q, want family-A", got.FamilyID)
		}
	}},
	{"CreateExistingIsConflict", func(t *testing.T, s storage.Store) {
		c := authCode("code-1", at(time.Minute))
		mustOK(t, "create", s.CreateAuthCode(t.Context(), c))
		mustErr(t, "create again", s.CreateAuthCode(t.Context(), c), storage.ErrConflict)
	}},
	{"ConcurrentConsumeHasOneWinner", func(t *testing.T, s storage.Store) {
		for round := range raceRounds {
			c := authCode(fmt.Sprintf("code-%d", round), at(time.Minute))
			mustOK(t, "create", s.CreateAuthCode(t.Context(), c))
			results := make([]storage.AuthCode, concurrency)
			errs := race(concurrency, func(i int) error {
				var err error
				results[i], err = s.ConsumeAuthCode(t.Context(), c.CodeHash, redemption(c, fmt.Sprintf("family-%d", i)), at(time.Second))
				return err
			})
			winner := oneWinner(t, round, errs)
			wantFamily := fmt.Sprintf("family-%d", winner)
			for i, r := range results {
				if r.FamilyID != wantFamily {
					t.Errorf("round %d: goroutine %d sees family %q, want the winner's %q", round, i, r.FamilyID, wantFamily)
				}
			}
		}
	}},
}

// ---- sessions ----

func session(id string) storage.Session {
	return storage.Session{
		IDHash:    storage.Hash(id),
		UserID:    "user-1",
		AuthTime:  at(0),
		CreatedAt: at(0),
		ExpiresAt: at(time.Hour),
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0 ünï",
		IP:        "2001:db8::1",
	}
}

var sessionCases = []testCase{
	{"CreateGet", func(t *testing.T, s storage.Store) {
		want := session("s1")
		mustOK(t, "create", s.CreateSession(t.Context(), want))
		got, err := s.GetSession(t.Context(), want.IDHash, at(time.Minute))
		mustOK(t, "get", err)
		mustEqual(t, "session", got, want)
	}},
	{"Expiry", func(t *testing.T, s storage.Store) {
		sess := session("s1")
		mustOK(t, "create", s.CreateSession(t.Context(), sess))
		for _, tc := range []struct {
			name string
			now  time.Time
			want error
		}{
			{"JustBefore", at(time.Hour - time.Microsecond), nil},
			{"AtExpiry", at(time.Hour), storage.ErrNotFound},
			{"After", at(2 * time.Hour), storage.ErrNotFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.GetSession(t.Context(), sess.IDHash, tc.now)
				if !errors.Is(err, tc.want) {
					t.Fatalf("error %v, want %v", err, tc.want)
				}
			})
		}
	}},
	{"Delete", func(t *testing.T, s storage.Store) {
		a, b := session("a"), session("b")
		mustOK(t, "create a", s.CreateSession(t.Context(), a))
		mustOK(t, "create b", s.CreateSession(t.Context(), b))
		mustOK(t, "delete a", s.DeleteSession(t.Context(), a.IDHash))
		_, err := s.GetSession(t.Context(), a.IDHash, at(0))
		mustErr(t, "get deleted", err, storage.ErrNotFound)
		_, err = s.GetSession(t.Context(), b.IDHash, at(0))
		mustOK(t, "get other", err)
	}},
	{"UnknownIsNotFound", func(t *testing.T, s storage.Store) {
		_, err := s.GetSession(t.Context(), storage.Hash("nope"), at(0))
		mustErr(t, "get", err, storage.ErrNotFound)
	}},
	{"CreateExistingIsConflict", func(t *testing.T, s storage.Store) {
		mustOK(t, "create", s.CreateSession(t.Context(), session("s1")))
		mustErr(t, "create again", s.CreateSession(t.Context(), session("s1")), storage.ErrConflict)
	}},
}

// ---- refresh tokens ----

func refreshToken(token, family string) storage.RefreshToken {
	return storage.RefreshToken{
		TokenHash:       storage.Hash(token),
		FamilyID:        family,
		ClientID:        "web",
		UserID:          "user-1",
		Scope:           "openid offline_access",
		SessionID:       storage.Hash("session"),
		Nonce:           "nonce",
		AuthTime:        at(-time.Minute),
		ClaimsRequest:   `{"id_token":{"acr":{"essential":true}}}`,
		CreatedAt:       at(0),
		ExpiresAt:       at(24 * time.Hour),
		FamilyExpiresAt: at(30 * 24 * time.Hour),
	}
}

func mustNotExist(t *testing.T, s storage.Store, tokenHash string) {
	t.Helper()
	if _, err := s.GetRefreshToken(t.Context(), tokenHash); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("token should not be visible: GetRefreshToken error %v", err)
	}
}

var refreshTokenCases = []testCase{
	{"CreateGet", func(t *testing.T, s storage.Store) {
		want := refreshToken("rt-1", "F")
		mustOK(t, "create", s.CreateRefreshToken(t.Context(), want))
		got, err := s.GetRefreshToken(t.Context(), want.TokenHash)
		mustOK(t, "get", err)
		mustEqual(t, "token", got, want)
		mustNotExist(t, s, storage.Hash("unknown"))
		mustErr(t, "create again", s.CreateRefreshToken(t.Context(), want), storage.ErrConflict)
	}},
	{"Rotate", func(t *testing.T, s storage.Store) {
		old, next := refreshToken("rt-1", "F"), refreshToken("rt-2", "F")
		next.CreatedAt = at(time.Hour)
		mustOK(t, "create", s.CreateRefreshToken(t.Context(), old))
		got, err := s.RotateRefreshToken(t.Context(), old.TokenHash, next, at(time.Hour))
		mustOK(t, "rotate", err)
		spent := old
		spent.SpentAt = at(time.Hour)
		mustEqual(t, "returned old token", got, spent)
		stored, err := s.GetRefreshToken(t.Context(), old.TokenHash)
		mustOK(t, "get spent old token", err)
		mustEqual(t, "stored old token", stored, spent)
		storedNext, err := s.GetRefreshToken(t.Context(), next.TokenHash)
		mustOK(t, "get next", err)
		mustEqual(t, "next token", storedNext, next)
	}},
	{"RotateSpentIsAlreadyUsedAndStoresNothing", func(t *testing.T, s storage.Store) {
		old := refreshToken("rt-1", "F")
		mustOK(t, "create", s.CreateRefreshToken(t.Context(), old))
		_, err := s.RotateRefreshToken(t.Context(), old.TokenHash, refreshToken("rt-2", "F"), at(time.Minute))
		mustOK(t, "rotate", err)
		got, err := s.RotateRefreshToken(t.Context(), old.TokenHash, refreshToken("rt-3", "F"), at(time.Hour))
		mustErr(t, "rotate spent", err, storage.ErrAlreadyUsed)
		spent := old
		spent.SpentAt = at(time.Minute)
		mustEqual(t, "replayed record", got, spent)
		mustNotExist(t, s, storage.Hash("rt-3"))
	}},
	{"RotateUnknownIsNotFound", func(t *testing.T, s storage.Store) {
		_, err := s.RotateRefreshToken(t.Context(), storage.Hash("unknown"), refreshToken("rt-2", "F"), at(0))
		mustErr(t, "rotate", err, storage.ErrNotFound)
		mustNotExist(t, s, storage.Hash("rt-2"))
	}},
	{"RotateExpiredIsNotFound", func(t *testing.T, s storage.Store) {
		for _, tc := range []struct {
			name string
			edit func(*storage.RefreshToken)
		}{
			{"TokenExpired", func(r *storage.RefreshToken) { r.ExpiresAt = at(time.Minute) }},
			{"FamilyExpired", func(r *storage.RefreshToken) { r.FamilyExpiresAt = at(time.Minute) }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				old := refreshToken("rt-"+tc.name, "F-"+tc.name)
				tc.edit(&old)
				mustOK(t, "create", s.CreateRefreshToken(t.Context(), old))
				next := refreshToken("next-"+tc.name, old.FamilyID)
				_, err := s.RotateRefreshToken(t.Context(), old.TokenHash, next, at(time.Minute))
				mustErr(t, "rotate", err, storage.ErrNotFound)
				mustNotExist(t, s, next.TokenHash)
				got, err := s.GetRefreshToken(t.Context(), old.TokenHash)
				mustOK(t, "get old", err)
				if !got.SpentAt.IsZero() {
					t.Fatalf("failed rotation marked the token spent at %v", got.SpentAt)
				}
			})
		}
	}},
	{"RotateOntoExistingIsConflict", func(t *testing.T, s storage.Store) {
		old, other := refreshToken("rt-1", "F"), refreshToken("rt-2", "F")
		mustOK(t, "create old", s.CreateRefreshToken(t.Context(), old))
		mustOK(t, "create other", s.CreateRefreshToken(t.Context(), other))
		_, err := s.RotateRefreshToken(t.Context(), old.TokenHash, other, at(time.Minute))
		mustErr(t, "rotate", err, storage.ErrConflict)
		got, err := s.GetRefreshToken(t.Context(), old.TokenHash)
		mustOK(t, "get old", err)
		mustEqual(t, "old token after a failed rotation", got, old)
	}},
	{"ConcurrentRotateHasOneWinner", func(t *testing.T, s storage.Store) {
		for round := range raceRounds {
			family := fmt.Sprintf("F%d", round)
			old := refreshToken("rt-"+family, family)
			mustOK(t, "create", s.CreateRefreshToken(t.Context(), old))
			next := func(i int) storage.RefreshToken { return refreshToken(fmt.Sprintf("rt-%s-next-%d", family, i), family) }
			errs := race(concurrency, func(i int) error {
				_, err := s.RotateRefreshToken(t.Context(), old.TokenHash, next(i), at(time.Second))
				return err
			})
			winner := oneWinner(t, round, errs)
			for i := range concurrency {
				_, err := s.GetRefreshToken(t.Context(), next(i).TokenHash)
				if i == winner {
					mustOK(t, "get the winner's token", err)
				} else if !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("round %d: loser %d's token: error %v, want ErrNotFound", round, i, err)
				}
			}
		}
	}},
	{"RevokeFamily", func(t *testing.T, s storage.Store) {
		f1, f2 := refreshToken("f-1", "F"), refreshToken("f-2", "F")
		g1 := refreshToken("g-1", "G")
		mustOK(t, "create f-1", s.CreateRefreshToken(t.Context(), f1))
		_, err := s.RotateRefreshToken(t.Context(), f1.TokenHash, f2, at(time.Minute))
		mustOK(t, "rotate f-1", err)
		mustOK(t, "create g-1", s.CreateRefreshToken(t.Context(), g1))

		mustOK(t, "revoke F", s.RevokeFamily(t.Context(), "F", at(time.Hour)))
		mustNotExist(t, s, f1.TokenHash)
		mustNotExist(t, s, f2.TokenHash)
		for _, tc := range []struct {
			family string
			want   bool
		}{{"F", true}, {"G", false}, {"never-seen", false}} {
			got, err := s.FamilyRevoked(t.Context(), tc.family)
			mustOK(t, "FamilyRevoked "+tc.family, err)
			if got != tc.want {
				t.Errorf("FamilyRevoked(%q) = %v, want %v", tc.family, got, tc.want)
			}
		}
		_, err = s.RotateRefreshToken(t.Context(), f2.TokenHash, refreshToken("f-3", "F"), at(2*time.Hour))
		mustErr(t, "rotate revoked", err, storage.ErrNotFound)
		mustNotExist(t, s, storage.Hash("f-3"))
		_, err = s.RotateRefreshToken(t.Context(), f1.TokenHash, refreshToken("f-4", "F"), at(2*time.Hour))
		mustErr(t, "rotate spent token of revoked family", err, storage.ErrNotFound)

		// The other family is untouched.
		got, err := s.GetRefreshToken(t.Context(), g1.TokenHash)
		mustOK(t, "get g-1", err)
		mustEqual(t, "g-1", got, g1)
		_, err = s.RotateRefreshToken(t.Context(), g1.TokenHash, refreshToken("g-2", "G"), at(2*time.Hour))
		mustOK(t, "rotate g-1", err)

		mustOK(t, "revoke F again", s.RevokeFamily(t.Context(), "F", at(3*time.Hour)))
	}},
	{"RevokedBeforeFirstToken", func(t *testing.T, s storage.Store) {
		// A code replay may revoke a family before the winning redemption
		// has stored its first token: that token must never be usable.
		mustOK(t, "revoke", s.RevokeFamily(t.Context(), "F", at(0)))
		late := refreshToken("late", "F")
		if err := s.CreateRefreshToken(t.Context(), late); err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("create in revoked family: %v", err)
		}
		mustNotExist(t, s, late.TokenHash)
		_, err := s.RotateRefreshToken(t.Context(), late.TokenHash, refreshToken("later", "F"), at(time.Minute))
		mustErr(t, "rotate", err, storage.ErrNotFound)
		mustNotExist(t, s, storage.Hash("later"))
	}},
	{"ListSessionRefreshTokens", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		sid, otherSID := storage.Hash("session-A"), storage.Hash("session-B")
		token := func(name, family, sessionID string) storage.RefreshToken {
			r := refreshToken(name, family)
			r.SessionID = sessionID
			return r
		}
		a := token("a", "FA", sid)
		b1, b2 := token("b-1", "FB", sid), token("b-2", "FB", sid) // b-1 is spent into b-2
		b2.CreatedAt = at(time.Minute)
		c := token("c", "FC", otherSID)
		d := token("d", "FD", sid) // of a revoked family
		for _, r := range []storage.RefreshToken{a, b1, c, d} {
			mustOK(t, "create", s.CreateRefreshToken(ctx, r))
		}
		_, err := s.RotateRefreshToken(ctx, b1.TokenHash, b2, at(time.Minute))
		mustOK(t, "rotate b-1", err)
		mustOK(t, "revoke FD", s.RevokeFamily(ctx, "FD", at(time.Minute)))

		for _, tc := range []struct {
			name    string
			session string
			want    []storage.RefreshToken
		}{
			{"ExcludesSpentOtherSessionsAndRevoked", sid, []storage.RefreshToken{a, b2}},
			{"OtherSession", otherSID, []storage.RefreshToken{c}},
			{"UnknownSession", storage.Hash("session-Z"), nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.ListSessionRefreshTokens(ctx, tc.session)
				mustOK(t, "list", err)
				if len(got) == 0 && len(tc.want) == 0 {
					return
				}
				byHash := func(l []storage.RefreshToken) {
					sort.Slice(l, func(i, j int) bool { return l[i].TokenHash < l[j].TokenHash })
				}
				byHash(got)
				byHash(tc.want)
				mustEqual(t, "tokens", got, tc.want)
			})
		}
	}},
}

// ---- signing keys ----

func signingKey(id string, created time.Time) keys.Record {
	return keys.Record{
		ID:         id,
		Algorithm:  "ES256",
		State:      keys.StateActive,
		PrivateKey: []byte{0x00, 0xff, 0x80, 'k', 0x00, byte(len(id))}, // not UTF-8, has NULs
		CreatedAt:  created,
	}
}

var signingKeyCases = []testCase{
	{"InsertListOldestFirst", func(t *testing.T, s storage.Store) {
		empty, err := s.ListSigningKeys(t.Context())
		mustOK(t, "list empty", err)
		if len(empty) != 0 {
			t.Fatalf("empty store lists %d keys", len(empty))
		}
		old, mid, young := signingKey("k-old", at(-48*time.Hour)), signingKey("k-mid", at(-time.Hour)), signingKey("k-young", at(0))
		old.State, old.RetiredAt, old.ExpiresAt = keys.StateRetired, at(-time.Hour), at(time.Hour)
		young.State, young.Algorithm, young.ActivatesAt = keys.StateNext, "RS256", at(time.Hour)
		for _, k := range []keys.Record{young, old, mid} {
			mustOK(t, "insert "+k.ID, s.InsertSigningKey(t.Context(), k))
		}
		got, err := s.ListSigningKeys(t.Context())
		mustOK(t, "list", err)
		mustEqual(t, "keys", got, []keys.Record{old, mid, young})
	}},
	{"InsertExistingIsConflict", func(t *testing.T, s storage.Store) {
		k := signingKey("k1", at(0))
		mustOK(t, "insert", s.InsertSigningKey(t.Context(), k))
		other := signingKey("k1", at(time.Hour))
		other.PrivateKey = []byte("another key")
		mustErr(t, "insert again", s.InsertSigningKey(t.Context(), other), storage.ErrConflict)
		got, err := s.ListSigningKeys(t.Context())
		mustOK(t, "list", err)
		mustEqual(t, "keys", got, []keys.Record{k})
	}},
	{"UpdateStateAndDates", func(t *testing.T, s storage.Store) {
		k := signingKey("k1", at(0))
		k.State, k.ActivatesAt = keys.StateNext, at(time.Hour)
		mustOK(t, "insert", s.InsertSigningKey(t.Context(), k))
		mustOK(t, "insert other", s.InsertSigningKey(t.Context(), signingKey("k2", at(time.Minute))))

		upd := k
		upd.State, upd.RetiredAt, upd.ExpiresAt = keys.StateRetired, at(2*time.Hour), at(3*time.Hour)
		upd.ActivatesAt = time.Time{}
		// Only State and the dates change, whatever else the record says.
		upd.Algorithm, upd.PrivateKey = "RS256", []byte("must not be stored")
		mustOK(t, "update", s.UpdateSigningKey(t.Context(), upd))

		got, err := s.ListSigningKeys(t.Context())
		mustOK(t, "list", err)
		want := k
		want.State, want.ActivatesAt, want.RetiredAt, want.ExpiresAt = upd.State, upd.ActivatesAt, upd.RetiredAt, upd.ExpiresAt
		mustEqual(t, "keys", got, []keys.Record{want, signingKey("k2", at(time.Minute))})
	}},
	{"Delete", func(t *testing.T, s storage.Store) {
		mustOK(t, "insert k1", s.InsertSigningKey(t.Context(), signingKey("k1", at(0))))
		mustOK(t, "insert k2", s.InsertSigningKey(t.Context(), signingKey("k2", at(time.Minute))))
		mustOK(t, "delete k1", s.DeleteSigningKey(t.Context(), "k1"))
		got, err := s.ListSigningKeys(t.Context())
		mustOK(t, "list", err)
		mustEqual(t, "keys", got, []keys.Record{signingKey("k2", at(time.Minute))})
	}},
	{"LargePrivateKey", func(t *testing.T, s storage.Store) {
		// A sealed RSA-4096 PKCS#8 key is a few KiB.
		k := signingKey("rsa", at(0))
		k.PrivateKey = bytes.Repeat([]byte{0x00, 0x01, 0xfe, 0xff}, 2048)
		mustOK(t, "insert", s.InsertSigningKey(t.Context(), k))
		got, err := s.ListSigningKeys(t.Context())
		mustOK(t, "list", err)
		mustEqual(t, "keys", got, []keys.Record{k})
	}},
}

// ---- times ----

// timeCases store an instant given in another zone with nanoseconds and read
// it back from each kind of record: it must come back in UTC, truncated to
// the microsecond.
var timeCases = func() []testCase {
	zone := time.FixedZone("UTC+05:30", 5*3600+30*60)
	in := time.Date(2031, 2, 3, 4, 5, 6, 789123456, zone)
	want := time.Date(2031, 2, 2, 22, 35, 6, 789123000, time.UTC)
	check := func(t *testing.T, field string, got time.Time) {
		t.Helper()
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("%s = %v, want %v", field, got, want)
		}
	}
	return append([]testCase{
		{"Client", func(t *testing.T, s storage.Store) {
			mustOK(t, "upsert", s.UpsertClient(t.Context(), storage.Client{ID: "c", CreatedAt: in, UpdatedAt: in}))
			got, err := s.GetClient(t.Context(), "c")
			mustOK(t, "get", err)
			check(t, "CreatedAt", got.CreatedAt)
			check(t, "UpdatedAt", got.UpdatedAt)
		}},
		{"User", func(t *testing.T, s storage.Store) {
			u, err := s.UpsertUser(t.Context(), storage.User{Username: "u", CreatedAt: in, UpdatedAt: in})
			mustOK(t, "upsert", err)
			check(t, "returned CreatedAt", u.CreatedAt)
			got, err := s.GetUser(t.Context(), u.ID)
			mustOK(t, "get", err)
			check(t, "CreatedAt", got.CreatedAt)
			check(t, "UpdatedAt", got.UpdatedAt)
		}},
		{"AuthCode", func(t *testing.T, s storage.Store) {
			c := storage.AuthCode{CodeHash: storage.Hash("c"), AuthTime: in, CreatedAt: in, ExpiresAt: in.Add(time.Minute)}
			mustOK(t, "create", s.CreateAuthCode(t.Context(), c))
			got, err := s.ConsumeAuthCode(t.Context(), c.CodeHash, redemption(c, "f"), in)
			mustOK(t, "consume", err)
			check(t, "AuthTime", got.AuthTime)
			check(t, "CreatedAt", got.CreatedAt)
			check(t, "UsedAt", got.UsedAt)
			check(t, "ExpiresAt-1m", got.ExpiresAt.Add(-time.Minute))
		}},
		{"Session", func(t *testing.T, s storage.Store) {
			sess := storage.Session{IDHash: storage.Hash("s"), AuthTime: in, CreatedAt: in, ExpiresAt: in.Add(time.Hour)}
			mustOK(t, "create", s.CreateSession(t.Context(), sess))
			got, err := s.GetSession(t.Context(), sess.IDHash, in)
			mustOK(t, "get", err)
			check(t, "AuthTime", got.AuthTime)
			check(t, "CreatedAt", got.CreatedAt)
			check(t, "ExpiresAt-1h", got.ExpiresAt.Add(-time.Hour))
		}},
		{"RefreshToken", func(t *testing.T, s storage.Store) {
			rt := storage.RefreshToken{TokenHash: storage.Hash("r"), FamilyID: "F", AuthTime: in, CreatedAt: in,
				ExpiresAt: in.Add(time.Hour), FamilyExpiresAt: in.Add(time.Hour)}
			mustOK(t, "create", s.CreateRefreshToken(t.Context(), rt))
			got, err := s.GetRefreshToken(t.Context(), rt.TokenHash)
			mustOK(t, "get", err)
			if !got.SpentAt.IsZero() {
				t.Errorf("SpentAt of a fresh token = %v, want the zero time", got.SpentAt)
			}
			_, err = s.RotateRefreshToken(t.Context(), rt.TokenHash, storage.RefreshToken{TokenHash: storage.Hash("r2"), FamilyID: "F"}, in)
			mustOK(t, "rotate", err)
			got, err = s.GetRefreshToken(t.Context(), rt.TokenHash)
			mustOK(t, "get", err)
			check(t, "AuthTime", got.AuthTime)
			check(t, "CreatedAt", got.CreatedAt)
			check(t, "SpentAt", got.SpentAt)
			check(t, "ExpiresAt-1h", got.ExpiresAt.Add(-time.Hour))
			check(t, "FamilyExpiresAt-1h", got.FamilyExpiresAt.Add(-time.Hour))
		}},
		{"RegistrationToken", func(t *testing.T, s storage.Store) {
			rt := storage.RegistrationToken{ID: "r", TokenHash: storage.Hash("r"), UsesLeft: 2, CreatedAt: in, ExpiresAt: in.Add(time.Hour)}
			mustOK(t, "create", s.CreateRegistrationToken(t.Context(), rt))
			got, err := s.UseRegistrationToken(t.Context(), rt.TokenHash, in)
			mustOK(t, "use", err)
			check(t, "returned CreatedAt", got.CreatedAt)
			check(t, "returned ExpiresAt-1h", got.ExpiresAt.Add(-time.Hour))
			list, err := s.ListRegistrationTokens(t.Context(), in)
			mustOK(t, "list", err)
			if len(list) != 1 {
				t.Fatalf("got %d tokens, want 1", len(list))
			}
			check(t, "CreatedAt", list[0].CreatedAt)
			check(t, "ExpiresAt-1h", list[0].ExpiresAt.Add(-time.Hour))
		}},
		{"PushedRequest", func(t *testing.T, s storage.Store) {
			mustOK(t, "upsert client", s.UpsertClient(t.Context(), storage.Client{ID: "c"}))
			r := storage.PushedRequest{URIHash: storage.Hash("r"), ClientID: "c", CreatedAt: in, ExpiresAt: in.Add(time.Minute)}
			mustOK(t, "create", s.CreatePushedRequest(t.Context(), r))
			got, err := s.GetPushedRequest(t.Context(), r.URIHash, "c", in)
			mustOK(t, "get", err)
			check(t, "CreatedAt", got.CreatedAt)
			check(t, "ExpiresAt-1m", got.ExpiresAt.Add(-time.Minute))
			// The expiry is compared at microseconds, as stored.
			_, err = s.GetPushedRequest(t.Context(), r.URIHash, "c", want.Add(time.Minute))
			mustErr(t, "get at expiry", err, storage.ErrNotFound)
		}},
		{"SeenOnce", func(t *testing.T, s storage.Store) {
			got, err := s.SeenOnce(t.Context(), storage.Hash("j"), in.Add(time.Minute), in)
			mustOK(t, "first", err)
			if got {
				t.Fatal("first SeenOnce reports the id seen")
			}
			// Just before the stored (truncated) expiry it is still seen;
			// at it, no longer.
			if got, err = s.SeenOnce(t.Context(), storage.Hash("j"), in.Add(time.Hour), want.Add(time.Minute-time.Microsecond)); err != nil || !got {
				t.Fatalf("SeenOnce before expiry = %v, %v; want true", got, err)
			}
			if got, err = s.SeenOnce(t.Context(), storage.Hash("j"), in.Add(time.Hour), want.Add(time.Minute)); err != nil || got {
				t.Fatalf("SeenOnce at expiry = %v, %v; want false", got, err)
			}
		}},
		{"SigningKey", func(t *testing.T, s storage.Store) {
			k := keys.Record{ID: "k", Algorithm: "EdDSA", State: keys.StateNext, PrivateKey: []byte{1},
				CreatedAt: in, ActivatesAt: in, RetiredAt: in, ExpiresAt: in}
			mustOK(t, "insert", s.InsertSigningKey(t.Context(), k))
			got, err := s.ListSigningKeys(t.Context())
			mustOK(t, "list", err)
			if len(got) != 1 {
				t.Fatalf("got %d keys, want 1", len(got))
			}
			check(t, "CreatedAt", got[0].CreatedAt)
			check(t, "ActivatesAt", got[0].ActivatesAt)
			check(t, "RetiredAt", got[0].RetiredAt)
			check(t, "ExpiresAt", got[0].ExpiresAt)
		}},
		{"ZeroTimesStayZero", func(t *testing.T, s storage.Store) {
			mustOK(t, "upsert", s.UpsertClient(t.Context(), storage.Client{ID: "c"}))
			got, err := s.GetClient(t.Context(), "c")
			mustOK(t, "get", err)
			if !got.CreatedAt.IsZero() || !got.UpdatedAt.IsZero() {
				t.Errorf("zero times came back as %v, %v", got.CreatedAt, got.UpdatedAt)
			}
		}},
	}, mfaTimeCases(in, check)...)
}()

// ---- access-token revocations ----

var accessTokenRevocationCases = []testCase{
	{"RevokeAndCheck", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		revoked := func(t *testing.T, jti string, want bool) {
			t.Helper()
			got, err := s.AccessTokenRevoked(ctx, jti)
			mustOK(t, "AccessTokenRevoked "+jti, err)
			if got != want {
				t.Fatalf("AccessTokenRevoked(%q) = %v, want %v", jti, got, want)
			}
		}
		revoked(t, "jti-1", false)
		for _, tc := range []struct {
			name      string
			expiresAt time.Time
		}{
			{"First", at(time.Hour)},
			{"AgainIsNotAnError", at(time.Hour)},
			{"AgainWithAnotherExpiry", at(2 * time.Hour)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				mustOK(t, "revoke", s.RevokeAccessToken(ctx, "jti-1", tc.expiresAt))
				revoked(t, "jti-1", true)
				revoked(t, "jti-2", false)
			})
		}
	}},
}

// ---- housekeeping ----

var housekeepingCases = []testCase{
	{"PurgeEmptyStore", func(t *testing.T, s storage.Store) {
		n, err := s.PurgeExpired(t.Context(), at(time.Hour), at(time.Hour), at(time.Hour), 10)
		mustOK(t, "purge", err)
		if n != 0 {
			t.Fatalf("purge of an empty store deleted %d rows", n)
		}
	}},
	{"PurgeExpired", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		now, spentBefore, revokedBefore := at(time.Hour), at(30*time.Minute), at(30*time.Minute)
		justAfter := now.Add(time.Microsecond)

		// record is one stored row and a probe telling whether it is still
		// stored. The probes see rows that reads would refuse (an expired
		// session, say) by asking with an earlier clock; they may change a
		// record but never from dead to live or back.
		type record struct {
			kind, name string
			present    func(t *testing.T) bool
		}
		var live, dead []record
		add := func(isLive bool, kind, name string, present func(t *testing.T) bool) {
			r := record{kind, name, present}
			if isLive {
				live = append(live, r)
			} else {
				dead = append(dead, r)
			}
		}

		// Codes, used or not. The probe redeems an unused one before its
		// expiry, and sees a used one as a replay.
		addCode := func(isLive bool, name string, expiresAt, usedAt time.Time) {
			c := authCode(name, expiresAt)
			mustOK(t, "create code "+name, s.CreateAuthCode(ctx, c))
			if !usedAt.IsZero() {
				_, err := s.ConsumeAuthCode(ctx, c.CodeHash, redemption(c, "F-"+name), usedAt)
				mustOK(t, "consume code "+name, err)
			}
			add(isLive, "code", name, func(t *testing.T) bool {
				got, err := s.ConsumeAuthCode(ctx, c.CodeHash, redemption(c, "probe"), at(0))
				if errors.Is(err, storage.ErrNotFound) {
					return false
				}
				if err != nil && !errors.Is(err, storage.ErrAlreadyUsed) {
					t.Fatalf("probe code %s: %v", name, err)
				}
				if got.CodeHash != c.CodeHash || got.RedirectURI != c.RedirectURI {
					t.Fatalf("probe code %s: got %+v", name, got)
				}
				return true
			})
		}
		addCode(false, "code-expired", at(time.Minute), time.Time{})
		addCode(false, "code-used-expired", at(time.Minute), at(0))
		addCode(false, "code-at-expiry", now, time.Time{})
		addCode(true, "code-live", at(2*time.Hour), time.Time{})
		addCode(true, "code-used-live", at(2*time.Hour), at(0))
		addCode(true, "code-just-live", justAfter, time.Time{})

		addSession := func(isLive bool, name string, expiresAt time.Time) {
			sess := session(name)
			sess.ExpiresAt = expiresAt
			mustOK(t, "create session "+name, s.CreateSession(ctx, sess))
			add(isLive, "session", name, func(t *testing.T) bool {
				got, err := s.GetSession(ctx, sess.IDHash, at(-time.Hour))
				if errors.Is(err, storage.ErrNotFound) {
					return false
				}
				mustOK(t, "probe session "+name, err)
				mustEqual(t, "session "+name, got, sess)
				return true
			})
		}
		addSession(false, "session-expired", at(time.Minute))
		addSession(false, "session-at-expiry", now)
		addSession(true, "session-live", at(2*time.Hour))
		addSession(true, "session-just-live", justAfter)

		// Refresh tokens; spentAt spends the token by a rotation into a
		// fresh (live) token of the same family.
		addToken := func(isLive bool, name string, edit func(*storage.RefreshToken), spentAt time.Time) {
			r := refreshToken(name, "F-"+name)
			if edit != nil {
				edit(&r)
			}
			mustOK(t, "create token "+name, s.CreateRefreshToken(ctx, r))
			add(isLive, "refresh token", name, func(t *testing.T) bool {
				got, err := s.GetRefreshToken(ctx, r.TokenHash)
				if errors.Is(err, storage.ErrNotFound) {
					return false
				}
				mustOK(t, "probe token "+name, err)
				mustEqual(t, "token "+name, got, r)
				return true
			})
			if spentAt.IsZero() {
				return
			}
			next := refreshToken(name+"-next", r.FamilyID)
			var err error
			r, err = s.RotateRefreshToken(ctx, r.TokenHash, next, spentAt)
			mustOK(t, "rotate token "+name, err)
			add(true, "refresh token", name+"-next", func(t *testing.T) bool {
				got, err := s.GetRefreshToken(ctx, next.TokenHash)
				if errors.Is(err, storage.ErrNotFound) {
					return false
				}
				mustOK(t, "probe token "+name+"-next", err)
				mustEqual(t, "token "+name+"-next", got, next)
				return true
			})
		}
		addToken(false, "token-at-expiry", func(r *storage.RefreshToken) { r.ExpiresAt = now }, time.Time{})
		addToken(false, "token-family-expired", func(r *storage.RefreshToken) { r.FamilyExpiresAt = at(time.Minute) }, time.Time{})
		addToken(false, "token-spent-long-ago", nil, at(10*time.Minute))
		addToken(true, "token-live", nil, time.Time{})
		addToken(true, "token-just-live", func(r *storage.RefreshToken) { r.ExpiresAt, r.FamilyExpiresAt = justAfter, justAfter }, time.Time{})
		addToken(true, "token-spent-recently", nil, at(45*time.Minute))
		addToken(true, "token-spent-at-cutoff", nil, spentBefore)

		addAccessRevocation := func(isLive bool, jti string, expiresAt time.Time) {
			mustOK(t, "revoke "+jti, s.RevokeAccessToken(ctx, jti, expiresAt))
			add(isLive, "access-token revocation", jti, func(t *testing.T) bool {
				got, err := s.AccessTokenRevoked(ctx, jti)
				mustOK(t, "probe "+jti, err)
				return got
			})
		}
		addAccessRevocation(false, "jti-expired", at(time.Minute))
		addAccessRevocation(false, "jti-at-expiry", now)
		addAccessRevocation(true, "jti-live", at(2*time.Hour))
		addAccessRevocation(true, "jti-just-live", justAfter)

		addFamilyRevocation := func(isLive bool, family string, revokedAt time.Time) {
			mustOK(t, "revoke "+family, s.RevokeFamily(ctx, family, revokedAt))
			add(isLive, "family revocation", family, func(t *testing.T) bool {
				got, err := s.FamilyRevoked(ctx, family)
				mustOK(t, "probe "+family, err)
				return got
			})
		}
		// Registration tokens. The probe sees a token that reads refuse by
		// creating another with its hash (a conflict while it is stored),
		// and deletes that one again.
		addRegistrationToken := func(isLive bool, name string, usesLeft int, expiresAt time.Time) {
			rt := storage.RegistrationToken{ID: name, TokenHash: storage.Hash(name), UsesLeft: usesLeft,
				CreatedAt: at(0), ExpiresAt: expiresAt}
			mustOK(t, "create registration token "+name, s.CreateRegistrationToken(ctx, rt))
			add(isLive, "registration token", name, func(t *testing.T) bool {
				probe := storage.RegistrationToken{ID: "probe-" + name, TokenHash: rt.TokenHash, UsesLeft: 1,
					CreatedAt: at(0), ExpiresAt: at(2 * time.Hour)}
				err := s.CreateRegistrationToken(ctx, probe)
				if errors.Is(err, storage.ErrConflict) {
					return true
				}
				mustOK(t, "probe registration token "+name, err)
				mustOK(t, "delete probe of "+name, s.DeleteRegistrationToken(ctx, probe.ID))
				return false
			})
		}
		addRegistrationToken(false, "registration-expired", 5, at(time.Minute))
		addRegistrationToken(false, "registration-at-expiry", 5, now)
		addRegistrationToken(false, "registration-used-up", 0, at(2*time.Hour))
		addRegistrationToken(true, "registration-live", 5, at(2*time.Hour))
		addRegistrationToken(true, "registration-just-live", 1, justAfter)

		addFamilyRevocation(false, "revoked-long-ago", at(0))
		addFamilyRevocation(false, "revoked-before-cutoff", at(10*time.Minute))
		addFamilyRevocation(true, "revoked-at-cutoff", revokedBefore)
		addFamilyRevocation(true, "revoked-recently", at(45*time.Minute))

		deadPerKind := map[string]int{}
		for _, r := range dead {
			deadPerKind[r.kind]++
		}
		present := func(t *testing.T, rs []record) map[string]int {
			n := map[string]int{}
			for _, r := range rs {
				if r.present(t) {
					n[r.kind]++
				}
			}
			return n
		}
		allLive := func(t *testing.T) {
			t.Helper()
			for _, r := range live {
				if !r.present(t) {
					t.Errorf("live %s %s was purged", r.kind, r.name)
				}
			}
		}

		// limit 1 with at least two dead rows of each kind: exactly one of
		// each goes, since a caller loops until a call returns less than it
		// could have.
		n, err := s.PurgeExpired(ctx, now, spentBefore, revokedBefore, 1)
		mustOK(t, "purge with limit 1", err)
		if n != len(deadPerKind) {
			t.Errorf("purge with limit 1 deleted %d rows, want one of each of the %d kinds", n, len(deadPerKind))
		}
		left := present(t, dead)
		for kind, k := range deadPerKind {
			if left[kind] != k-1 {
				t.Errorf("after a purge with limit 1, %d of %d dead %s rows are left, want %d", left[kind], k, kind, k-1)
			}
		}
		allLive(t)

		n, err = s.PurgeExpired(ctx, now, spentBefore, revokedBefore, 100)
		mustOK(t, "purge the rest", err)
		if want := len(dead) - len(deadPerKind); n != want {
			t.Errorf("second purge deleted %d rows, want %d", n, want)
		}
		for _, r := range dead {
			if r.present(t) {
				t.Errorf("dead %s %s survived the purge", r.kind, r.name)
			}
		}
		allLive(t)

		n, err = s.PurgeExpired(ctx, now, spentBefore, revokedBefore, 1)
		mustOK(t, "purge again", err)
		if n != 0 {
			t.Errorf("purge with nothing dead deleted %d rows", n)
		}
		allLive(t)
	}},
}
