package conformance

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/storage"
)

// sessionClient is the record of client in the session named id (see
// session), expiring with it.
func sessionClient(id, client string) storage.SessionClient {
	return storage.SessionClient{
		SessionID: storage.Hash(id),
		ClientID:  client,
		UserID:    "user-1",
		CreatedAt: at(0),
		ExpiresAt: at(time.Hour),
	}
}

func sortSessionClients(l []storage.SessionClient) []storage.SessionClient {
	slices.SortFunc(l, func(a, b storage.SessionClient) int {
		return cmp.Or(cmp.Compare(a.SessionID, b.SessionID), cmp.Compare(a.ClientID, b.ClientID))
	})
	return l
}

func record(t *testing.T, s storage.Store, scs ...storage.SessionClient) {
	t.Helper()
	for _, sc := range scs {
		mustOK(t, "record "+sc.ClientID, s.RecordSessionClient(t.Context(), sc))
	}
}

// takeEnded takes every ended session's records, in batches of limit.
func takeEnded(t *testing.T, s storage.Store, now time.Time, limit int) []storage.SessionClient {
	t.Helper()
	var all []storage.SessionClient
	for range 100 {
		got, err := s.TakeEndedSessionClients(t.Context(), now, limit)
		mustOK(t, "take ended", err)
		if len(got) > limit {
			t.Fatalf("take ended with limit %d returned %d records", limit, len(got))
		}
		all = append(all, got...)
		if len(got) == 0 {
			return sortSessionClients(all)
		}
	}
	t.Fatal("take ended never came back empty")
	return nil
}

// sessionClientCases specify storage.SessionClientStore, the outbox of
// back-channel logout.
var sessionClientCases = []testCase{
	{"TakeSessionReturnsItsClientsOnce", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		a, b, other := sessionClient("s1", "a"), sessionClient("s1", "b"), sessionClient("s2", "a")
		b.UserID, b.CreatedAt = "user-1", at(time.Second)
		record(t, s, a, b, other)
		got, err := s.TakeSessionClients(ctx, a.SessionID, at(0))
		mustOK(t, "take", err)
		mustEqual(t, "records of s1", sortSessionClients(got), []storage.SessionClient{a, b})
		again, err := s.TakeSessionClients(ctx, a.SessionID, at(0))
		mustOK(t, "take again", err)
		if len(again) != 0 {
			t.Fatalf("taken twice: %+v", again)
		}
		got, err = s.TakeSessionClients(ctx, other.SessionID, at(0))
		mustOK(t, "take s2", err)
		mustEqual(t, "records of s2", got, []storage.SessionClient{other})
		none, err := s.TakeSessionClients(ctx, storage.Hash("never"), at(0))
		mustOK(t, "take unknown", err)
		if len(none) != 0 {
			t.Fatalf("unknown session has records %+v", none)
		}
	}},
	{"RecordTwiceKeepsTheFirst", func(t *testing.T, s storage.Store) {
		first := sessionClient("s1", "a")
		second := first
		second.CreatedAt, second.ExpiresAt = at(time.Minute), at(2*time.Hour)
		record(t, s, first, second)
		got, err := s.TakeSessionClients(t.Context(), first.SessionID, at(0))
		mustOK(t, "take", err)
		mustEqual(t, "records", got, []storage.SessionClient{first})
	}},
	{"TakeSessionDropsExpired", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		expired, live := sessionClient("s1", "a"), sessionClient("s1", "b")
		expired.ExpiresAt = at(time.Minute)
		record(t, s, expired, live)
		got, err := s.TakeSessionClients(ctx, live.SessionID, at(time.Minute))
		mustOK(t, "take", err)
		mustEqual(t, "records at the first one's expiry", got, []storage.SessionClient{live})
		// The expired record was deleted too, not left for later.
		got, err = s.TakeSessionClients(ctx, live.SessionID, at(0))
		mustOK(t, "take again", err)
		if len(got) != 0 {
			t.Fatalf("expired record was kept: %+v", got)
		}
	}},
	{"TakeEndedOnlyEndedSessions", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		for _, id := range []string{"alive", "ended", "expired-but-stored"} {
			mustOK(t, "create session "+id, s.CreateSession(ctx, session(id)))
		}
		mustOK(t, "end session", s.DeleteSession(ctx, storage.Hash("ended")))
		alive, ended, neverStored := sessionClient("alive", "a"), sessionClient("ended", "a"), sessionClient("never-stored", "b")
		ended2 := sessionClient("ended", "b")
		// A session past its expiry but not purged yet merely expired: its
		// clients are not told (the records expire with it).
		expiredSession := sessionClient("expired-but-stored", "a")
		expiredSession.ExpiresAt = at(time.Minute)
		// A record past its expiry whose session is gone: the session
		// expired and was purged; nobody is told either.
		stale := sessionClient("purged", "a")
		stale.ExpiresAt = at(time.Minute)
		record(t, s, alive, ended, ended2, neverStored, expiredSession, stale)

		got := takeEnded(t, s, at(2*time.Minute), 10)
		mustEqual(t, "ended records", got, sortSessionClients([]storage.SessionClient{ended, ended2, neverStored}))
		left, err := s.TakeSessionClients(ctx, alive.SessionID, at(0))
		mustOK(t, "take alive", err)
		mustEqual(t, "records of the live session", left, []storage.SessionClient{alive})
	}},
	{"TakeEndedHonoursLimit", func(t *testing.T, s storage.Store) {
		var want []storage.SessionClient
		for i := range 7 {
			sc := sessionClient(fmt.Sprintf("ended-%d", i), "a")
			record(t, s, sc)
			want = append(want, sc)
		}
		got := takeEnded(t, s, at(0), 3)
		mustEqual(t, "all ended records", got, sortSessionClients(want))
	}},
	{"TakeEndedZeroNowTakesNothing", func(t *testing.T, s storage.Store) {
		sc := sessionClient("ended", "a")
		record(t, s, sc)
		got, err := s.TakeEndedSessionClients(t.Context(), time.Time{}, 10)
		mustOK(t, "take with zero now", err)
		if len(got) != 0 {
			t.Fatalf("zero now took %+v", got)
		}
		mustEqual(t, "records", takeEnded(t, s, at(0), 10), []storage.SessionClient{sc})
	}},
	{"ConcurrentTakesGetEachRecordOnce", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		const sessions, clients = 10, 3
		var want []storage.SessionClient
		for i := range sessions {
			for j := range clients {
				sc := sessionClient(fmt.Sprintf("ended-%d", i), fmt.Sprintf("client-%d", j))
				record(t, s, sc)
				want = append(want, sc)
			}
		}
		var mu sync.Mutex
		var got []storage.SessionClient
		errs := race(concurrency, func(i int) error {
			var taken []storage.SessionClient
			var err error
			if i%2 == 0 {
				// Half take by session, as the replica that ended it does.
				taken, err = s.TakeSessionClients(ctx, storage.Hash(fmt.Sprintf("ended-%d", i/2%sessions)), at(0))
			} else {
				// Half sweep, as every replica does.
				for err == nil {
					var batch []storage.SessionClient
					batch, err = s.TakeEndedSessionClients(ctx, at(0), 4)
					taken = append(taken, batch...)
					if len(batch) == 0 {
						break
					}
				}
			}
			mu.Lock()
			got = append(got, taken...)
			mu.Unlock()
			return err
		})
		for i, err := range errs {
			mustOK(t, fmt.Sprintf("goroutine %d", i), err)
		}
		got = append(got, takeEnded(t, s, at(0), 100)...)
		mustEqual(t, "records taken (each once)", sortSessionClients(got), sortSessionClients(want))
	}},
	{"PurgeDeletesExpiredRecords", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		expired, atExpiry, live := sessionClient("a", "a"), sessionClient("b", "a"), sessionClient("c", "a")
		expired.ExpiresAt, atExpiry.ExpiresAt = at(time.Minute), at(time.Hour)
		live.ExpiresAt = at(time.Hour + time.Microsecond)
		record(t, s, expired, atExpiry, live)
		n, err := s.PurgeExpired(ctx, at(time.Hour), time.Time{}, time.Time{}, 10)
		mustOK(t, "purge", err)
		if n != 2 {
			t.Fatalf("purge deleted %d rows, want the 2 expired records", n)
		}
		// Probed with an earlier clock, at which all three would be live.
		mustEqual(t, "records left", takeEnded(t, s, at(0), 10), []storage.SessionClient{live})
	}},
}
