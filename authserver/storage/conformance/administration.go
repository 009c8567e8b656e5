package conformance

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/authserver-dev/authserver/authserver/storage"
)

// This file specifies what administration added to the contract: disabled
// users, what a session shows its user, dynamic client registration's
// tokens, and sign-out (storage.EndSession).

// ---- disabled users ----

// holdings is everything a user can hold, stored for the test: two login
// sessions, a rotated refresh-token family and one of another client, an
// unused authorization code, and a redeemed code whose family has no token
// yet (only the code names it).
type holdings struct {
	user     storage.User
	sessions []storage.Session
	tokens   []storage.RefreshToken // as stored, the spent one included
	families []string
	unused   storage.AuthCode
}

func hold(t *testing.T, s storage.Store, u storage.User) holdings {
	t.Helper()
	ctx := t.Context()
	name := u.Username
	h := holdings{user: u}
	for i := range 2 {
		sess := session(fmt.Sprintf("%s-session-%d", name, i))
		sess.UserID = u.ID
		mustOK(t, "create session", s.CreateSession(ctx, sess))
		h.sessions = append(h.sessions, sess)
	}
	token := func(n, family, client string) storage.RefreshToken {
		r := refreshToken(name+"-"+n, name+"-"+family)
		r.UserID, r.ClientID = u.ID, client
		return r
	}
	f1, f2, g1 := token("f-1", "F", "web"), token("f-2", "F", "web"), token("g-1", "G", "other-client")
	mustOK(t, "create token", s.CreateRefreshToken(ctx, f1))
	mustOK(t, "create token", s.CreateRefreshToken(ctx, g1))
	spent, err := s.RotateRefreshToken(ctx, f1.TokenHash, f2, at(time.Minute))
	mustOK(t, "rotate", err)
	h.tokens = []storage.RefreshToken{spent, f2, g1}
	code := func(n string) storage.AuthCode {
		c := authCode(name+"-"+n, at(time.Hour))
		c.UserID = u.ID
		mustOK(t, "create code", s.CreateAuthCode(ctx, c))
		return c
	}
	h.unused = code("unused")
	redeemed := code("redeemed")
	_, err = s.ConsumeAuthCode(ctx, redeemed.CodeHash, redemption(redeemed, name+"-P"), at(time.Minute))
	mustOK(t, "consume", err)
	h.families = []string{f1.FamilyID, g1.FamilyID, name + "-P"}
	return h
}

// mustBeEnded checks that the user holds nothing any more.
func (h holdings) mustBeEnded(t *testing.T, s storage.Store) {
	t.Helper()
	ctx := t.Context()
	for _, sess := range h.sessions {
		_, err := s.GetSession(ctx, sess.IDHash, at(time.Minute))
		mustErr(t, "get "+h.user.Username+"'s session", err, storage.ErrNotFound)
	}
	list, err := s.ListUserSessions(ctx, h.user.ID, at(time.Minute))
	mustOK(t, "list sessions", err)
	if len(list) != 0 {
		t.Fatalf("%s still has %d sessions", h.user.Username, len(list))
	}
	for _, r := range h.tokens {
		mustNotExist(t, s, r.TokenHash)
	}
	for _, f := range h.families {
		if revoked, err := s.FamilyRevoked(ctx, f); err != nil || !revoked {
			t.Fatalf("FamilyRevoked(%q) = %v, %v; want true", f, revoked, err)
		}
	}
	_, err = s.ConsumeAuthCode(ctx, h.unused.CodeHash, redemption(h.unused, "late"), at(2*time.Minute))
	mustErr(t, "redeem "+h.user.Username+"'s unused code", err, storage.ErrNotFound)
}

// mustBeIntact checks that the user still holds everything. It redeems the
// unused code, so it is the last check of a case.
func (h holdings) mustBeIntact(t *testing.T, s storage.Store) {
	t.Helper()
	ctx := t.Context()
	for _, sess := range h.sessions {
		got, err := s.GetSession(ctx, sess.IDHash, at(time.Minute))
		mustOK(t, "get "+h.user.Username+"'s session", err)
		mustEqual(t, h.user.Username+"'s session", got, sess)
	}
	for _, r := range h.tokens {
		got, err := s.GetRefreshToken(ctx, r.TokenHash)
		mustOK(t, "get "+h.user.Username+"'s token", err)
		mustEqual(t, h.user.Username+"'s token", got, r)
	}
	for _, f := range h.families {
		if revoked, err := s.FamilyRevoked(ctx, f); err != nil || revoked {
			t.Fatalf("FamilyRevoked(%q) = %v, %v; want false", f, revoked, err)
		}
	}
	_, err := s.ConsumeAuthCode(ctx, h.unused.CodeHash, redemption(h.unused, "late"), at(2*time.Minute))
	mustOK(t, "redeem "+h.user.Username+"'s unused code", err)
}

var disabledUserCases = []testCase{
	{"UpsertWritesDisabledAsGiven", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		for _, disabled := range []bool{true, false, true} {
			u := user("alice")
			u.Disabled = disabled
			got, err := s.UpsertUser(ctx, u)
			mustOK(t, "upsert", err)
			if got.Disabled != disabled {
				t.Fatalf("upsert with Disabled=%v returned Disabled=%v", disabled, got.Disabled)
			}
			byID, err := s.GetUser(ctx, got.ID)
			mustOK(t, "get", err)
			mustEqual(t, "by id", byID, got)
			byName, err := s.GetUserByUsername(ctx, "alice")
			mustOK(t, "get by username", err)
			mustEqual(t, "by username", byName, got)
			all, err := s.ListUsers(ctx)
			mustOK(t, "list", err)
			mustEqual(t, "list", all, []storage.User{got})
		}
	}},
	{"DisablingEndsEverythingTheUserHolds", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		alice, err := s.UpsertUser(ctx, user("alice"))
		mustOK(t, "upsert alice", err)
		bob, err := s.UpsertUser(ctx, user("bob"))
		mustOK(t, "upsert bob", err)
		aliceHolds, bobHolds := hold(t, s, alice), hold(t, s, bob)

		mustOK(t, "disable alice", s.SetUserDisabled(ctx, alice.ID, true, at(10*time.Minute)))

		got, err := s.GetUser(ctx, alice.ID)
		mustOK(t, "get alice", err)
		want := alice
		want.Disabled, want.UpdatedAt = true, at(10*time.Minute)
		mustEqual(t, "disabled alice", got, want)
		aliceHolds.mustBeEnded(t, s)
		// A token stored late into a family of a redeemed code stays dead.
		late := refreshToken("alice-late", "alice-P")
		late.UserID = alice.ID
		if err := s.CreateRefreshToken(ctx, late); err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("create the redeemed code's first token: %v", err)
		}
		mustNotExist(t, s, late.TokenHash)

		// Enabling gives nothing back.
		mustOK(t, "enable alice", s.SetUserDisabled(ctx, alice.ID, false, at(20*time.Minute)))
		got, err = s.GetUser(ctx, alice.ID)
		mustOK(t, "get alice", err)
		want.Disabled, want.UpdatedAt = false, at(20*time.Minute)
		mustEqual(t, "enabled alice", got, want)
		aliceHolds.mustBeEnded(t, s)

		gotBob, err := s.GetUser(ctx, bob.ID)
		mustOK(t, "get bob", err)
		mustEqual(t, "bob", gotBob, bob)
		bobHolds.mustBeIntact(t, s)
	}},
	{"EnablingEndsNothing", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		alice, err := s.UpsertUser(ctx, user("alice"))
		mustOK(t, "upsert alice", err)
		holds := hold(t, s, alice)
		mustOK(t, "enable an enabled user", s.SetUserDisabled(ctx, alice.ID, false, at(10*time.Minute)))
		got, err := s.GetUser(ctx, alice.ID)
		mustOK(t, "get alice", err)
		want := alice
		want.UpdatedAt = at(10 * time.Minute)
		mustEqual(t, "alice", got, want)
		holds.mustBeIntact(t, s)
	}},
	{"UnknownIsNotFound", func(t *testing.T, s storage.Store) {
		for _, disabled := range []bool{true, false} {
			mustErr(t, fmt.Sprintf("SetUserDisabled(unknown, %v)", disabled),
				s.SetUserDisabled(t.Context(), "nope", disabled, at(0)), storage.ErrNotFound)
		}
	}},
}

// ---- what a session shows ----

var sessionDetailCases = []testCase{
	{"UserAgentAndIPRoundTrip", func(t *testing.T, s storage.Store) {
		for name, edit := range map[string]func(*storage.Session){
			"IPv4":       func(r *storage.Session) { r.IP = "192.0.2.7" },
			"IPv6":       func(r *storage.Session) { r.IP = "2001:db8::1" },
			"Empty":      func(r *storage.Session) { r.UserAgent, r.IP = "", "" },
			"ExactlyMax": func(r *storage.Session) { r.UserAgent = strings.Repeat("é", storage.MaxUserAgent/2) },
			"Quotes":     func(r *storage.Session) { r.UserAgent = `a'b"c\d?$1` },
		} {
			t.Run(name, func(t *testing.T) {
				want := session("s-" + name)
				edit(&want)
				mustOK(t, "create", s.CreateSession(t.Context(), want))
				got, err := s.GetSession(t.Context(), want.IDHash, at(0))
				mustOK(t, "get", err)
				mustEqual(t, "session", got, want)
			})
		}
	}},
	{"LongUserAgentIsCutAtACharacter", func(t *testing.T, s storage.Store) {
		for name, ua := range map[string]string{
			"ASCII":           strings.Repeat("a", 1000),
			"OneOverMax":      strings.Repeat("a", storage.MaxUserAgent+1),
			"TwoByteStraddle": "a" + strings.Repeat("é", storage.MaxUserAgent),
			"ThreeByte":       "ab" + strings.Repeat("€", storage.MaxUserAgent),
			"FourByte":        "abc" + strings.Repeat("😀", storage.MaxUserAgent),
		} {
			t.Run(name, func(t *testing.T) {
				sess := session("s-" + name)
				sess.UserAgent = ua
				mustOK(t, "create", s.CreateSession(t.Context(), sess))
				got, err := s.GetSession(t.Context(), sess.IDHash, at(0))
				mustOK(t, "get", err)
				stored := got.UserAgent
				if len(stored) > storage.MaxUserAgent || !utf8.ValidString(stored) || !strings.HasPrefix(ua, stored) {
					t.Fatalf("stored User-Agent of %d bytes (valid UTF-8: %v), want a prefix of at most %d bytes cut at a character",
						len(stored), utf8.ValidString(stored), storage.MaxUserAgent)
				}
				// Cut no shorter than it had to be: the next character did not fit.
				if _, size := utf8.DecodeRuneInString(ua[len(stored):]); len(stored)+size <= storage.MaxUserAgent {
					t.Fatalf("stored %d bytes, but the next character (%d bytes) fits within %d", len(stored), size, storage.MaxUserAgent)
				}
				got.UserAgent = sess.UserAgent
				mustEqual(t, "the rest of the session", got, sess)
			})
		}
	}},
	{"InvalidUserAgentIsStoredValid", func(t *testing.T, s storage.Store) {
		// A sign-in must not fail over the header, whatever its bytes.
		for name, ua := range map[string]string{
			"Short": "Mozilla\xff\xfe/5.0",
			"NUL":   "Mozilla/5.0\x00",
			"Long":  strings.Repeat("\xff", 2*storage.MaxUserAgent),
		} {
			t.Run(name, func(t *testing.T) {
				sess := session("s-" + name)
				sess.UserAgent = ua
				mustOK(t, "create", s.CreateSession(t.Context(), sess))
				got, err := s.GetSession(t.Context(), sess.IDHash, at(0))
				mustOK(t, "get", err)
				if len(got.UserAgent) > storage.MaxUserAgent || !utf8.ValidString(got.UserAgent) {
					t.Fatalf("stored User-Agent %q: want valid UTF-8 of at most %d bytes", got.UserAgent, storage.MaxUserAgent)
				}
			})
		}
	}},
	{"ListUserSessionsNewestFirst", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		now := at(time.Hour)
		mk := func(id, userID string, created, expires time.Time) storage.Session {
			r := session(id)
			r.UserID, r.CreatedAt, r.AuthTime, r.ExpiresAt = userID, created, created, expires
			mustOK(t, "create "+id, s.CreateSession(ctx, r))
			return r
		}
		oldest := mk("oldest", "alice", at(0), at(2*time.Hour))
		newest := mk("newest", "alice", at(20*time.Minute), at(2*time.Hour))
		middle := mk("middle", "alice", at(10*time.Minute), now.Add(time.Microsecond))
		mk("expired", "alice", at(30*time.Minute), at(40*time.Minute))
		mk("at-expiry", "alice", at(30*time.Minute), now)
		mk("bob's", "bob", at(15*time.Minute), at(2*time.Hour))

		got, err := s.ListUserSessions(ctx, "alice", now)
		mustOK(t, "list alice's", err)
		mustEqual(t, "alice's sessions", got, []storage.Session{newest, middle, oldest})
		none, err := s.ListUserSessions(ctx, "nobody", now)
		mustOK(t, "list unknown user's", err)
		if len(none) != 0 {
			t.Fatalf("an unknown user has sessions: %+v", none)
		}
		// Every session is past its expiry a day later.
		none, err = s.ListUserSessions(ctx, "alice", at(24*time.Hour))
		mustOK(t, "list later", err)
		if len(none) != 0 {
			t.Fatalf("expired sessions listed: %+v", none)
		}
	}},
	{"RegistrationTokenHashRoundTrip", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		for _, hash := range []string{storage.Hash("first"), storage.Hash("rotated"), ""} {
			c := fullClient("dyn")
			c.RegistrationTokenHash = hash
			mustOK(t, "upsert", s.UpsertClient(ctx, c))
			got, err := s.GetClient(ctx, "dyn")
			mustOK(t, "get", err)
			mustEqual(t, "client", got, c)
			list, err := s.ListClients(ctx)
			mustOK(t, "list", err)
			mustEqual(t, "list", list, []storage.Client{c})
		}
	}},
}

// ---- registration tokens ----

func registrationToken(id string, usesLeft int, created, expires time.Time) storage.RegistrationToken {
	return storage.RegistrationToken{
		ID:          id,
		TokenHash:   storage.Hash("initial access token " + id),
		Description: "for " + id + " — ünïcode",
		UsesLeft:    usesLeft,
		CreatedAt:   created,
		ExpiresAt:   expires,
	}
}

func listRegistrationTokens(t *testing.T, s storage.Store, now time.Time) []storage.RegistrationToken {
	t.Helper()
	got, err := s.ListRegistrationTokens(t.Context(), now)
	mustOK(t, "list registration tokens", err)
	return got
}

var registrationTokenCases = []testCase{
	{"UseSpendsOneUseEach", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		rt := registrationToken("rt", 2, at(0), at(time.Hour))
		mustOK(t, "create", s.CreateRegistrationToken(ctx, rt))
		mustEqual(t, "listed", listRegistrationTokens(t, s, at(0)), []storage.RegistrationToken{rt})
		for _, left := range []int{1, 0} {
			got, err := s.UseRegistrationToken(ctx, rt.TokenHash, at(time.Minute))
			mustOK(t, "use", err)
			want := rt
			want.UsesLeft = left
			mustEqual(t, "token after the use", got, want)
		}
		_, err := s.UseRegistrationToken(ctx, rt.TokenHash, at(time.Minute))
		mustErr(t, "use a used-up token", err, storage.ErrNotFound)
		if l := listRegistrationTokens(t, s, at(time.Minute)); len(l) != 0 {
			t.Fatalf("a used-up token is listed: %+v", l)
		}
	}},
	{"CreateExistingIsConflict", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		rt := registrationToken("rt", 1, at(0), at(time.Hour))
		mustOK(t, "create", s.CreateRegistrationToken(ctx, rt))
		sameID := registrationToken("other", 5, at(0), at(time.Hour))
		sameID.ID = rt.ID
		mustErr(t, "create with the same id", s.CreateRegistrationToken(ctx, sameID), storage.ErrConflict)
		sameHash := registrationToken("other", 5, at(0), at(time.Hour))
		sameHash.TokenHash = rt.TokenHash
		mustErr(t, "create with the same hash", s.CreateRegistrationToken(ctx, sameHash), storage.ErrConflict)
		mustEqual(t, "tokens", listRegistrationTokens(t, s, at(0)), []storage.RegistrationToken{rt})
	}},
	{"UnusableIsNotFound", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		for _, tc := range []struct {
			name string
			rt   storage.RegistrationToken
			now  time.Time
		}{
			{"Unknown", registrationToken("never-stored", 1, at(0), at(time.Hour)), at(0)},
			{"NoUses", registrationToken("no-uses", 0, at(0), at(time.Hour)), at(0)},
			{"AtExpiry", registrationToken("at-expiry", 1, at(0), at(time.Hour)), at(time.Hour)},
			{"AfterExpiry", registrationToken("after-expiry", 1, at(0), at(time.Hour)), at(2 * time.Hour)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.name != "Unknown" {
					mustOK(t, "create", s.CreateRegistrationToken(ctx, tc.rt))
				}
				got, err := s.UseRegistrationToken(ctx, tc.rt.TokenHash, tc.now)
				mustErr(t, "use", err, storage.ErrNotFound)
				mustEqual(t, "returned token", got, storage.RegistrationToken{})
			})
		}
		// The refused uses spent nothing: the expiring token still has its use.
		got, err := s.UseRegistrationToken(ctx, registrationToken("at-expiry", 1, at(0), at(time.Hour)).TokenHash, at(time.Hour-time.Microsecond))
		mustOK(t, "use just before expiry", err)
		if got.UsesLeft != 0 {
			t.Fatalf("UsesLeft after the only use = %d, want 0", got.UsesLeft)
		}
	}},
	{"ConcurrentUsesNeverExceedUsesLeft", func(t *testing.T, s storage.Store) {
		const uses = 3
		for round := range raceRounds {
			rt := registrationToken(fmt.Sprintf("rt-%d", round), uses, at(0), at(time.Hour))
			mustOK(t, "create", s.CreateRegistrationToken(t.Context(), rt))
			left := make([]int, concurrency)
			errs := race(concurrency, func(i int) error {
				got, err := s.UseRegistrationToken(t.Context(), rt.TokenHash, at(time.Minute))
				left[i] = got.UsesLeft
				return err
			})
			var seen []int
			for i, err := range errs {
				switch {
				case err == nil:
					seen = append(seen, left[i])
				case !errors.Is(err, storage.ErrNotFound):
					t.Fatalf("round %d: goroutine %d: %v, want nil or ErrNotFound", round, i, err)
				}
			}
			slices.Sort(seen)
			// Exactly uses successes, each seeing a different count left.
			mustEqual(t, fmt.Sprintf("round %d: UsesLeft seen by the successful uses", round), seen, []int{0, 1, 2})
		}
	}},
	{"ListUsableNewestFirst", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		now := at(time.Hour)
		oldest := registrationToken("oldest", 1, at(0), at(2*time.Hour))
		newest := registrationToken("newest", 10, at(20*time.Minute), at(2*time.Hour))
		middle := registrationToken("middle", 2, at(10*time.Minute), now.Add(time.Microsecond))
		for _, rt := range []storage.RegistrationToken{
			middle, oldest, newest,
			registrationToken("expired", 5, at(30*time.Minute), at(40*time.Minute)),
			registrationToken("at-expiry", 5, at(30*time.Minute), now),
			registrationToken("no-uses", 0, at(30*time.Minute), at(2*time.Hour)),
		} {
			mustOK(t, "create "+rt.ID, s.CreateRegistrationToken(ctx, rt))
		}
		mustEqual(t, "usable tokens", listRegistrationTokens(t, s, now), []storage.RegistrationToken{newest, middle, oldest})
	}},
	{"Delete", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		a, b := registrationToken("a", 5, at(0), at(time.Hour)), registrationToken("b", 5, at(time.Second), at(time.Hour))
		mustOK(t, "create a", s.CreateRegistrationToken(ctx, a))
		mustOK(t, "create b", s.CreateRegistrationToken(ctx, b))
		mustOK(t, "delete a", s.DeleteRegistrationToken(ctx, a.ID))
		_, err := s.UseRegistrationToken(ctx, a.TokenHash, at(0))
		mustErr(t, "use the deleted token", err, storage.ErrNotFound)
		mustErr(t, "delete again", s.DeleteRegistrationToken(ctx, a.ID), storage.ErrNotFound)
		mustErr(t, "delete unknown", s.DeleteRegistrationToken(ctx, "nope"), storage.ErrNotFound)
		mustEqual(t, "tokens left", listRegistrationTokens(t, s, at(0)), []storage.RegistrationToken{b})
		// A used-up token can still be deleted: it is stored until purged.
		c := registrationToken("c", 1, at(0), at(time.Hour))
		mustOK(t, "create c", s.CreateRegistrationToken(ctx, c))
		_, err = s.UseRegistrationToken(ctx, c.TokenHash, at(0))
		mustOK(t, "use c", err)
		mustOK(t, "delete used-up c", s.DeleteRegistrationToken(ctx, c.ID))
	}},
}

// ---- sign-out ----

var endSessionCases = []testCase{
	{"RevokesTheSessionsNonOfflineFamilies", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		sess, other := session("ending"), session("other")
		mustOK(t, "create session", s.CreateSession(ctx, sess))
		mustOK(t, "create other session", s.CreateSession(ctx, other))
		type family struct {
			id, scope   string
			sessionID   string
			wantRevoked bool
		}
		families := []family{
			{"online", "openid profile", sess.IDHash, true},
			{"offline", "openid offline_access", sess.IDHash, false},
			{"offline-only", "offline_access", sess.IDHash, false},
			// A scope merely starting with the word is not offline_access.
			{"look-alike", "openid offline_accessx", sess.IDHash, true},
			{"other-session", "openid", other.IDHash, false},
			{"no-session", "openid", "", false},
		}
		tokens := map[string]storage.RefreshToken{}
		for _, f := range families {
			first := refreshToken(f.id+"-1", f.id)
			first.Scope, first.SessionID = f.scope, f.sessionID
			mustOK(t, "create token "+f.id, s.CreateRefreshToken(ctx, first))
			next := first
			next.TokenHash = storage.Hash(f.id + "-2")
			spent, err := s.RotateRefreshToken(ctx, first.TokenHash, next, at(time.Minute))
			mustOK(t, "rotate "+f.id, err)
			tokens[f.id+"-1"], tokens[f.id+"-2"] = spent, next
		}
		sc := sessionClient("ending", "web")
		record(t, s, sc)

		mustOK(t, "end session", storage.EndSession(ctx, s, sess.IDHash, at(10*time.Minute)))

		_, err := s.GetSession(ctx, sess.IDHash, at(time.Minute))
		mustErr(t, "get the ended session", err, storage.ErrNotFound)
		_, err = s.GetSession(ctx, other.IDHash, at(time.Minute))
		mustOK(t, "get the other session", err)
		for _, f := range families {
			revoked, err := s.FamilyRevoked(ctx, f.id)
			mustOK(t, "FamilyRevoked "+f.id, err)
			if revoked != f.wantRevoked {
				t.Errorf("family %s (scope %q): revoked %v, want %v", f.id, f.scope, revoked, f.wantRevoked)
			}
			for _, n := range []string{"-1", "-2"} {
				r := tokens[f.id+n]
				got, err := s.GetRefreshToken(ctx, r.TokenHash)
				if f.wantRevoked {
					mustErr(t, "token of revoked "+f.id, err, storage.ErrNotFound)
					continue
				}
				mustOK(t, "token of "+f.id, err)
				mustEqual(t, "token of "+f.id, got, r)
			}
		}
		// The session's clients are told through the outbox.
		mustEqual(t, "ended session's clients", takeEnded(t, s, at(11*time.Minute), 10), []storage.SessionClient{sc})
	}},
	{"UnknownSessionIsNotAnError", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		// A token issued without a session must not be taken for one of
		// the empty session id.
		r := refreshToken("no-session", "no-session")
		r.Scope, r.SessionID = "openid", ""
		mustOK(t, "create token", s.CreateRefreshToken(ctx, r))
		for name, id := range map[string]string{"Unknown": storage.Hash("never"), "Empty": ""} {
			mustOK(t, "end "+name+" session", storage.EndSession(ctx, s, id, at(0)))
			mustOK(t, "end "+name+" session again", storage.EndSession(ctx, s, id, at(0)))
		}
		got, err := s.GetRefreshToken(ctx, r.TokenHash)
		mustOK(t, "token without a session", err)
		mustEqual(t, "token without a session", got, r)
	}},
}

// ---- create-only ----

// createCases specify CreateClient and CreateUser: what the admin service
// creates must never replace what someone else created at the same moment.
var createCases = []testCase{
	{"CreateClient", func(t *testing.T, s storage.Store) {
		want := fullClient("web")
		mustOK(t, "create", s.CreateClient(t.Context(), want))
		got, err := s.GetClient(t.Context(), "web")
		mustOK(t, "get", err)
		mustEqual(t, "client", got, want)
		other := fullClient("web")
		other.Name = "Another"
		mustErr(t, "create again", s.CreateClient(t.Context(), other), storage.ErrConflict)
		got, _ = s.GetClient(t.Context(), "web")
		mustEqual(t, "client after the refused create", got, want)
	}},
	{"CreateClientRace", func(t *testing.T, s storage.Store) {
		for round := range raceRounds {
			id := fmt.Sprintf("race-%d", round)
			errs := make([]error, concurrency)
			var wg sync.WaitGroup
			for i := range concurrency {
				wg.Go(func() {
					c := fullClient(id)
					c.Name = fmt.Sprintf("creator %d", i)
					errs[i] = s.CreateClient(t.Context(), c)
				})
			}
			wg.Wait()
			winner := -1
			for i, err := range errs {
				switch {
				case err == nil && winner >= 0:
					t.Fatalf("round %d: creators %d and %d both succeeded", round, winner, i)
				case err == nil:
					winner = i
				case !errors.Is(err, storage.ErrConflict):
					t.Fatalf("round %d: creator %d: %v, want ErrConflict", round, i, err)
				}
			}
			got, err := s.GetClient(t.Context(), id)
			mustOK(t, "get", err)
			if winner < 0 || got.Name != fmt.Sprintf("creator %d", winner) {
				t.Fatalf("round %d: stored %q, winner %d", round, got.Name, winner)
			}
		}
	}},
	{"CreateUser", func(t *testing.T, s storage.Store) {
		created, err := s.CreateUser(t.Context(), user("alice"))
		mustOK(t, "create", err)
		if !isHex128(created.ID) {
			t.Fatalf("created id %q, want 128 random bits in hex", created.ID)
		}
		again := user("alice")
		again.Email = "other@example.com"
		_, err = s.CreateUser(t.Context(), again)
		mustErr(t, "create the same username", err, storage.ErrConflict)
		sameID := user("bob")
		sameID.ID = created.ID
		_, err = s.CreateUser(t.Context(), sameID)
		mustErr(t, "create with a taken id", err, storage.ErrConflict)
		got, err := s.GetUserByUsername(t.Context(), "alice")
		mustOK(t, "get", err)
		mustEqual(t, "user after the refused creates", got, created)
	}},
}
