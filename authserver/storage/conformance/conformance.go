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
		{"AuthCodes", authCodeCases},
		{"Sessions", sessionCases},
		{"RefreshTokens", refreshTokenCases},
		{"SigningKeys", signingKeyCases},
		{"Times", timeCases},
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
		IDTokenAlg:             "ES256",
		CreatedAt:              at(0),
		UpdatedAt:              at(time.Second),
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
		mustOK(t, "delete a", s.DeleteClient(t.Context(), "a"))
		_, err := s.GetClient(t.Context(), "a")
		mustErr(t, "get deleted", err, storage.ErrNotFound)
		mustErr(t, "delete again", s.DeleteClient(t.Context(), "a"), storage.ErrNotFound)
		got, err := s.GetClient(t.Context(), "b")
		mustOK(t, "get other", err)
		mustEqual(t, "other client", got, fullClient("b"))
	}},
	{"UnknownIsNotFound", func(t *testing.T, s storage.Store) {
		_, err := s.GetClient(t.Context(), "nope")
		mustErr(t, "get", err, storage.ErrNotFound)
		mustErr(t, "delete", s.DeleteClient(t.Context(), "nope"), storage.ErrNotFound)
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
		CreatedAt:     at(0),
		UpdatedAt:     at(0),
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
		mustOK(t, "delete bob", s.DeleteUser(t.Context(), want[0].ID))
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
		CreatedAt:           at(0),
		ExpiresAt:           expiresAt,
	}
}

var authCodeCases = []testCase{
	{"ConsumeOnceThenAlreadyUsed", func(t *testing.T, s storage.Store) {
		c := authCode("code-1", at(time.Minute))
		mustOK(t, "create", s.CreateAuthCode(t.Context(), c))
		got, err := s.ConsumeAuthCode(t.Context(), c.CodeHash, "family-A", at(10*time.Second))
		mustOK(t, "consume", err)
		want := c
		want.UsedAt, want.FamilyID = at(10*time.Second), "family-A"
		mustEqual(t, "consumed", got, want)

		again, err := s.ConsumeAuthCode(t.Context(), c.CodeHash, "family-B", at(20*time.Second))
		mustErr(t, "consume again", err, storage.ErrAlreadyUsed)
		mustEqual(t, "replayed record", again, want)
	}},
	{"UnknownIsNotFound", func(t *testing.T, s storage.Store) {
		_, err := s.ConsumeAuthCode(t.Context(), storage.Hash("never issued"), "f", at(0))
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
				_, err := s.ConsumeAuthCode(t.Context(), c.CodeHash, "f", tc.now)
				mustErr(t, "consume expired", err, storage.ErrNotFound)
				// The failed attempt must not have marked the code used.
				_, err = s.ConsumeAuthCode(t.Context(), c.CodeHash, "f", at(0))
				mustOK(t, "consume before expiry", err)
			})
		}
	}},
	{"ReplayAfterExpiryIsAlreadyUsed", func(t *testing.T, s storage.Store) {
		// A used code that comes back is a replay however late, so that the
		// caller revokes what it issued (RFC 6749 §4.1.2).
		c := authCode("code-1", at(time.Minute))
		mustOK(t, "create", s.CreateAuthCode(t.Context(), c))
		_, err := s.ConsumeAuthCode(t.Context(), c.CodeHash, "family-A", at(0))
		mustOK(t, "consume", err)
		got, err := s.ConsumeAuthCode(t.Context(), c.CodeHash, "family-B", at(time.Hour))
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
				results[i], err = s.ConsumeAuthCode(t.Context(), c.CodeHash, fmt.Sprintf("family-%d", i), at(time.Second))
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
	return []testCase{
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
			got, err := s.ConsumeAuthCode(t.Context(), c.CodeHash, "f", in)
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
	}
}()
