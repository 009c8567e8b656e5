package conformance

import (
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/storage"
)

// This file specifies what issue 11 (sender-constrained tokens, pushed
// requests, private_key_jwt) asks of a store: the new client metadata, the
// DPoP key and resource indicators a grant carries, pushed authorization
// requests (RFC 9126) and the shared replay cache of one-time ids.

// ---- client metadata ----

// keyClient is a private_key_jwt client with an inline JWK Set under the
// FAPI 2.0 profile; uriClient fetches its keys and authenticates by secret.
func keyClient(id string) storage.Client {
	c := storage.Client{
		ID:                      id,
		Name:                    "Key client " + id,
		RedirectURIs:            []string{"https://app.example/callback"},
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		Scopes:                  []string{"openid"},
		TokenEndpointAuthMethod: storage.AuthPrivateKeyJWT,
		// Whitespace, key order and non-ASCII are the client's: stored as given.
		JWKS: `{"keys": [{"kty":"EC","crv":"P-256","kid":"k-ü 1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",` +
			"\n" + `"y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","use":"sig","alg":"ES256"}]}`,
		RequirePAR: true,
		DPoPBound:  true,
		Profile:    storage.ProfileFAPI2,
		CreatedAt:  at(0),
		UpdatedAt:  at(time.Second),
	}
	return c
}

func uriClient(id string) storage.Client {
	return storage.Client{
		ID:                      id,
		SecretHash:              storage.Hash("secret of " + id),
		RedirectURIs:            []string{"https://other.example/cb"},
		TokenEndpointAuthMethod: storage.AuthSecretPost,
		JWKSURI:                 "https://other.example/.well-known/jwks.json?v=2",
		CreatedAt:               at(0),
		UpdatedAt:               at(0),
	}
}

var clientMetadataCases = []testCase{
	{"RoundTripUpsert", func(t *testing.T, s storage.Store) {
		for _, want := range []storage.Client{keyClient("k"), uriClient("u")} {
			mustOK(t, "upsert "+want.ID, s.UpsertClient(t.Context(), want))
			got, err := s.GetClient(t.Context(), want.ID)
			mustOK(t, "get "+want.ID, err)
			mustEqual(t, "client "+want.ID, got, want)
		}
		list, err := s.ListClients(t.Context())
		mustOK(t, "list", err)
		sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
		mustEqual(t, "listed clients", list, []storage.Client{keyClient("k"), uriClient("u")})
	}},
	{"RoundTripCreate", func(t *testing.T, s storage.Store) {
		for _, want := range []storage.Client{keyClient("k"), uriClient("u")} {
			mustOK(t, "create "+want.ID, s.CreateClient(t.Context(), want))
			got, err := s.GetClient(t.Context(), want.ID)
			mustOK(t, "get "+want.ID, err)
			mustEqual(t, "client "+want.ID, got, want)
		}
	}},
	{"KeyClientIsNotPublic", func(t *testing.T, s storage.Store) {
		// No secret, yet it authenticates: it must not be read back as a
		// public client (which needs no authentication at all).
		mustOK(t, "upsert", s.UpsertClient(t.Context(), keyClient("k")))
		got, err := s.GetClient(t.Context(), "k")
		mustOK(t, "get", err)
		if got.Public() {
			t.Errorf("private_key_jwt client without a secret reads as Public")
		}
		mustEqual(t, "AuthMethods", got.AuthMethods(), []string{storage.AuthPrivateKeyJWT})
	}},
	{"UpsertReplacesMetadata", func(t *testing.T, s storage.Store) {
		// Both ways: set to cleared (a client leaving the FAPI profile must
		// not keep requiring PAR, nor keep old keys) and cleared to set.
		first := keyClient("k")
		mustOK(t, "upsert", s.UpsertClient(t.Context(), first))
		cleared := storage.Client{ID: "k", RedirectURIs: []string{"https://app.example/callback"},
			CreatedAt: at(time.Hour), UpdatedAt: at(time.Hour)}
		mustOK(t, "upsert cleared", s.UpsertClient(t.Context(), cleared))
		got, err := s.GetClient(t.Context(), "k")
		mustOK(t, "get", err)
		want := cleared
		want.CreatedAt = first.CreatedAt
		mustEqual(t, "cleared client", got, want)

		again := uriClient("k")
		again.UpdatedAt = at(2 * time.Hour)
		mustOK(t, "upsert set", s.UpsertClient(t.Context(), again))
		got, err = s.GetClient(t.Context(), "k")
		mustOK(t, "get", err)
		want = again
		want.CreatedAt = first.CreatedAt
		mustEqual(t, "client set again", got, want)
	}},
}

// ---- DPoP-bound codes and refresh tokens ----

const (
	jktA = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
	jktB = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
)

var bindingCases = []testCase{
	{"BoundCodeNeedsItsKey", func(t *testing.T, s storage.Store) {
		// RFC 9449 §10: a code bound to a key is redeemed only by a request
		// proving that key; any other attempt leaves it as it was, so the
		// key's holder can still redeem it (nobody else can burn it).
		c := authCode("bound", at(time.Minute))
		c.DPoPJKT = jktA
		mustOK(t, "create", s.CreateAuthCode(t.Context(), c))
		for name, jkt := range map[string]string{"another key": jktB, "no proof": ""} {
			r := redemption(c, "F")
			r.DPoPJKT = jkt
			_, err := s.ConsumeAuthCode(t.Context(), c.CodeHash, r, at(time.Second))
			mustErr(t, "consume with "+name, err, storage.ErrNotFound)
		}
		_, err := s.ConsumeAuthCode(t.Context(), c.CodeHash, redemption(c, "F"), at(time.Second))
		mustOK(t, "consume with its key", err)
		// An unbound code takes any proof (or none).
		u := authCode("unbound", at(time.Minute))
		mustOK(t, "create unbound", s.CreateAuthCode(t.Context(), u))
		r := redemption(u, "G")
		r.DPoPJKT = jktB
		_, err = s.ConsumeAuthCode(t.Context(), u.CodeHash, r, at(time.Second))
		mustOK(t, "consume unbound with a proof", err)
	}},
	{"CodeCarriesBinding", func(t *testing.T, s storage.Store) {
		c := authCode("code-1", at(time.Minute))
		c.DPoPJKT, c.Resource = jktA, "https://api.example/ urn:other"
		mustOK(t, "create", s.CreateAuthCode(t.Context(), c))
		got, err := s.ConsumeAuthCode(t.Context(), c.CodeHash, redemption(c, "F"), at(time.Second))
		mustOK(t, "consume", err)
		want := c
		want.UsedAt, want.FamilyID = at(time.Second), "F"
		mustEqual(t, "consumed code", got, want)
		// The replay's record is what the caller revokes by: the same.
		got, err = s.ConsumeAuthCode(t.Context(), c.CodeHash, redemption(c, "G"), at(2*time.Second))
		mustErr(t, "replay", err, storage.ErrAlreadyUsed)
		mustEqual(t, "replayed code", got, want)
	}},
	{"RefreshTokenCarriesBinding", func(t *testing.T, s storage.Store) {
		old := refreshToken("rt-1", "F")
		old.DPoPJKT, old.Resource = jktA, "https://api.example/"
		mustOK(t, "create", s.CreateRefreshToken(t.Context(), old))
		got, err := s.GetRefreshToken(t.Context(), old.TokenHash)
		mustOK(t, "get", err)
		mustEqual(t, "token", got, old)
		listed, err := s.ListSessionRefreshTokens(t.Context(), old.SessionID)
		mustOK(t, "list", err)
		mustEqual(t, "listed tokens", listed, []storage.RefreshToken{old})

		// The rotated token is the caller's: stored as given, even bound to
		// another key or resource than the old one.
		next := refreshToken("rt-2", "F")
		next.DPoPJKT, next.Resource = jktB, "urn:other"
		spent, err := s.RotateRefreshToken(t.Context(), old.TokenHash, next, at(time.Minute))
		mustOK(t, "rotate", err)
		wantSpent := old
		wantSpent.SpentAt = at(time.Minute)
		mustEqual(t, "returned old token", spent, wantSpent)
		got, err = s.GetRefreshToken(t.Context(), next.TokenHash)
		mustOK(t, "get next", err)
		mustEqual(t, "next token", got, next)

		replayed, err := s.RotateRefreshToken(t.Context(), old.TokenHash, refreshToken("rt-3", "F"), at(2*time.Minute))
		mustErr(t, "rotate spent", err, storage.ErrAlreadyUsed)
		mustEqual(t, "replayed token", replayed, wantSpent)

		// An unbound rotation of a bound token unbinds: the store does not
		// decide, the token endpoint does.
		unbound := refreshToken("rt-4", "F")
		_, err = s.RotateRefreshToken(t.Context(), next.TokenHash, unbound, at(3*time.Minute))
		mustOK(t, "rotate next", err)
		got, err = s.GetRefreshToken(t.Context(), unbound.TokenHash)
		mustOK(t, "get unbound", err)
		mustEqual(t, "unbound token", got, unbound)
	}},
}

// ---- pushed authorization requests ----

// pushedRequest is a request of client "web" (which withPushClients
// stores, as a pushed request belongs to a stored client).
func pushedRequest(uri string, expiresAt time.Time) storage.PushedRequest {
	return storage.PushedRequest{
		URIHash:  storage.Hash("urn:ietf:params:oauth:request_uri:" + uri),
		ClientID: "web",
		Params: map[string][]string{
			"response_type":         {"code"},
			"redirect_uri":          {"https://app.example/callback?x=1&y=%2F"},
			"scope":                 {"openid profile"},
			"resource":              {"https://api.example/", "urn:other"},
			"claims":                {`{"id_token":{"acr":{"essential":true}}}`},
			"state":                 {"ünï \"quoted\" \\ <b>"},
			"code_challenge":        {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
			"code_challenge_method": {"S256"},
		},
		CreatedAt: at(0),
		ExpiresAt: expiresAt,
	}
}

// withPushClients stores the clients "web" and "other".
func withPushClients(t *testing.T, s storage.Store) {
	t.Helper()
	for _, id := range []string{"web", "other"} {
		mustOK(t, "upsert client "+id, s.UpsertClient(t.Context(), storage.Client{ID: id, CreatedAt: at(0), UpdatedAt: at(0)}))
	}
}

var pushedRequestCases = []testCase{
	{"CreateGetSpend", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		withPushClients(t, s)
		want := pushedRequest("a", at(time.Minute))
		mustOK(t, "create", s.CreatePushedRequest(ctx, want))
		// Reading does not spend: the login page may be reloaded.
		for i := range 3 {
			got, err := s.GetPushedRequest(ctx, want.URIHash, "web", at(time.Duration(i)*time.Second))
			mustOK(t, "get", err)
			mustEqual(t, "pushed request", got, want)
		}
		mustOK(t, "spend", s.SpendPushedRequest(ctx, want.URIHash, "web", at(10*time.Second)))
		_, err := s.GetPushedRequest(ctx, want.URIHash, "web", at(11*time.Second))
		mustErr(t, "get spent", err, storage.ErrAlreadyUsed)
		mustErr(t, "spend again", s.SpendPushedRequest(ctx, want.URIHash, "web", at(12*time.Second)), storage.ErrAlreadyUsed)
	}},
	{"EmptyParams", func(t *testing.T, s storage.Store) {
		withPushClients(t, s)
		want := pushedRequest("a", at(time.Minute))
		want.Params = nil
		mustOK(t, "create", s.CreatePushedRequest(t.Context(), want))
		got, err := s.GetPushedRequest(t.Context(), want.URIHash, "web", at(0))
		mustOK(t, "get", err)
		if len(got.Params) != 0 {
			t.Fatalf("Params = %v, want none", got.Params)
		}
	}},
	{"UnknownIsNotFound", func(t *testing.T, s storage.Store) {
		withPushClients(t, s)
		_, err := s.GetPushedRequest(t.Context(), storage.Hash("never pushed"), "web", at(0))
		mustErr(t, "get", err, storage.ErrNotFound)
		mustErr(t, "spend", s.SpendPushedRequest(t.Context(), storage.Hash("never pushed"), "web", at(0)), storage.ErrNotFound)
	}},
	{"OtherClientIsNotFound", func(t *testing.T, s storage.Store) {
		// RFC 9126 §4: a request_uri is bound to the client that pushed it.
		// Another client is told nothing, and spends nothing.
		ctx := t.Context()
		withPushClients(t, s)
		r := pushedRequest("a", at(time.Minute))
		mustOK(t, "create", s.CreatePushedRequest(ctx, r))
		for _, client := range []string{"other", "", "unknown"} {
			_, err := s.GetPushedRequest(ctx, r.URIHash, client, at(0))
			mustErr(t, "get as "+client, err, storage.ErrNotFound)
			mustErr(t, "spend as "+client, s.SpendPushedRequest(ctx, r.URIHash, client, at(0)), storage.ErrNotFound)
		}
		mustOK(t, "spend by its own client afterwards", s.SpendPushedRequest(ctx, r.URIHash, "web", at(time.Second)))
		// Once spent, it is still nothing to another client: not a replay.
		_, err := s.GetPushedRequest(ctx, r.URIHash, "other", at(2*time.Second))
		mustErr(t, "get spent as other", err, storage.ErrNotFound)
		mustErr(t, "spend spent as other", s.SpendPushedRequest(ctx, r.URIHash, "other", at(2*time.Second)), storage.ErrNotFound)
	}},
	{"Expiry", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		withPushClients(t, s)
		r := pushedRequest("a", at(time.Minute))
		mustOK(t, "create", s.CreatePushedRequest(ctx, r))
		for _, tc := range []struct {
			name string
			now  time.Time
			want error
		}{
			{"JustBefore", at(time.Minute - time.Microsecond), nil},
			{"AtExpiry", at(time.Minute), storage.ErrNotFound},
			{"After", at(time.Hour), storage.ErrNotFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.GetPushedRequest(ctx, r.URIHash, "web", tc.now)
				if !errors.Is(err, tc.want) {
					t.Fatalf("get: error %v, want %v", err, tc.want)
				}
				if tc.want != nil {
					mustErr(t, "spend", s.SpendPushedRequest(ctx, r.URIHash, "web", tc.now), tc.want)
				}
			})
		}
		// The failed spends did not mark it used.
		mustOK(t, "spend before expiry", s.SpendPushedRequest(ctx, r.URIHash, "web", at(time.Second)))
	}},
	{"SpentThenExpiredIsNotFound", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		withPushClients(t, s)
		r := pushedRequest("a", at(time.Minute))
		mustOK(t, "create", s.CreatePushedRequest(ctx, r))
		mustOK(t, "spend", s.SpendPushedRequest(ctx, r.URIHash, "web", at(time.Second)))
		_, err := s.GetPushedRequest(ctx, r.URIHash, "web", at(time.Minute))
		mustErr(t, "get spent at expiry", err, storage.ErrNotFound)
		mustErr(t, "spend spent after expiry", s.SpendPushedRequest(ctx, r.URIHash, "web", at(time.Hour)), storage.ErrNotFound)
	}},
	{"CreateExistingIsConflict", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		withPushClients(t, s)
		r := pushedRequest("a", at(time.Minute))
		mustOK(t, "create", s.CreatePushedRequest(ctx, r))
		other := pushedRequest("a", at(time.Hour))
		other.ClientID, other.Params = "other", map[string][]string{"scope": {"admin"}}
		mustErr(t, "create again", s.CreatePushedRequest(ctx, other), storage.ErrConflict)
		got, err := s.GetPushedRequest(ctx, r.URIHash, "web", at(0))
		mustOK(t, "get", err)
		mustEqual(t, "request after the refused create", got, r)
		_, err = s.GetPushedRequest(ctx, r.URIHash, "other", at(0))
		mustErr(t, "get as the refused creator", err, storage.ErrNotFound)
	}},
	{"ConcurrentSpendHasOneWinner", func(t *testing.T, s storage.Store) {
		withPushClients(t, s)
		for round := range raceRounds {
			r := pushedRequest(fmt.Sprintf("race-%d", round), at(time.Minute))
			mustOK(t, "create", s.CreatePushedRequest(t.Context(), r))
			errs := race(concurrency, func(i int) error {
				if i%4 == 3 {
					err := s.SpendPushedRequest(t.Context(), r.URIHash, "other", at(time.Second))
					if !errors.Is(err, storage.ErrNotFound) {
						return fmt.Errorf("other client: %v, want ErrNotFound", err)
					}
					return storage.ErrAlreadyUsed // counts as a loser below
				}
				return s.SpendPushedRequest(t.Context(), r.URIHash, "web", at(time.Second))
			})
			if winner := oneWinner(t, round, errs); winner%4 == 3 {
				t.Fatalf("round %d: another client's spend won", round)
			}
		}
	}},
	{"DeletingTheClientDeletesItsRequests", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		withPushClients(t, s)
		mine, theirs := pushedRequest("mine", at(time.Minute)), pushedRequest("theirs", at(time.Minute))
		theirs.ClientID = "other"
		mustOK(t, "create mine", s.CreatePushedRequest(ctx, mine))
		mustOK(t, "create theirs", s.CreatePushedRequest(ctx, theirs))
		mustOK(t, "delete client", s.DeleteClient(ctx, "web", at(time.Second)))
		// Registered again under the same id, the client must not inherit
		// what its predecessor pushed.
		mustOK(t, "register again", s.UpsertClient(ctx, storage.Client{ID: "web"}))
		_, err := s.GetPushedRequest(ctx, mine.URIHash, "web", at(2*time.Second))
		mustErr(t, "get the deleted client's request", err, storage.ErrNotFound)
		mustErr(t, "spend the deleted client's request", s.SpendPushedRequest(ctx, mine.URIHash, "web", at(2*time.Second)), storage.ErrNotFound)
		got, err := s.GetPushedRequest(ctx, theirs.URIHash, "other", at(2*time.Second))
		mustOK(t, "get the other client's request", err)
		mustEqual(t, "other client's request", got, theirs)
	}},
	{"Purge", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		withPushClients(t, s)
		now := at(time.Hour)
		type rec struct {
			name    string
			r       storage.PushedRequest
			spentAt time.Time
			live    bool
		}
		recs := []rec{
			{"expired", pushedRequest("expired", at(time.Minute)), time.Time{}, false},
			{"spent-expired", pushedRequest("spent-expired", at(time.Minute)), at(time.Second), false},
			{"at-expiry", pushedRequest("at-expiry", now), time.Time{}, false},
			{"live", pushedRequest("live", at(2*time.Hour)), time.Time{}, true},
			// A spent one stays until it expires, so that its replay is
			// told apart from an unknown request.
			{"spent-live", pushedRequest("spent-live", at(2*time.Hour)), at(time.Second), true},
			{"just-live", pushedRequest("just-live", now.Add(time.Microsecond)), time.Time{}, true},
		}
		dead := 0
		for _, r := range recs {
			mustOK(t, "create "+r.name, s.CreatePushedRequest(ctx, r.r))
			if !r.spentAt.IsZero() {
				mustOK(t, "spend "+r.name, s.SpendPushedRequest(ctx, r.r.URIHash, "web", r.spentAt))
			}
			if !r.live {
				dead++
			}
		}
		purgeInSteps(t, s, now, dead)
		for _, r := range recs {
			// Asked with an earlier clock, a stored request reads as
			// itself or as spent; a purged one as unknown.
			_, err := s.GetPushedRequest(ctx, r.r.URIHash, "web", at(0))
			present := err == nil || errors.Is(err, storage.ErrAlreadyUsed)
			if !present && !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("probe %s: %v", r.name, err)
			}
			if present != r.live {
				t.Errorf("pushed request %s: stored %v after the purge, want %v", r.name, present, r.live)
			}
		}
	}},
}

// purgeInSteps purges at now with limit 1, which must delete exactly one
// row (the store holds dead rows of one kind only), then the rest, then
// nothing.
func purgeInSteps(t *testing.T, s storage.Store, now time.Time, dead int) {
	t.Helper()
	n, err := s.PurgeExpired(t.Context(), now, now, now, 1)
	mustOK(t, "purge with limit 1", err)
	if n != 1 {
		t.Errorf("purge with limit 1 deleted %d rows, want 1", n)
	}
	n, err = s.PurgeExpired(t.Context(), now, now, now, 100)
	mustOK(t, "purge the rest", err)
	if n != dead-1 {
		t.Errorf("second purge deleted %d rows, want %d", n, dead-1)
	}
	n, err = s.PurgeExpired(t.Context(), now, now, now, 100)
	mustOK(t, "purge again", err)
	if n != 0 {
		t.Errorf("purge with nothing dead deleted %d rows", n)
	}
}

// ---- replay cache ----

func seen(t *testing.T, s storage.Store, id string, expiresAt, now time.Time, want bool) {
	t.Helper()
	got, err := s.SeenOnce(t.Context(), id, expiresAt, now)
	mustOK(t, "SeenOnce "+id, err)
	if got != want {
		t.Fatalf("SeenOnce(%q, expires %v, now %v) = %v, want %v", id, expiresAt, now, got, want)
	}
}

var replayCases = []testCase{
	{"FirstUnseenThenSeen", func(t *testing.T, s storage.Store) {
		id := storage.Hash("jti-1")
		seen(t, s, id, at(time.Minute), at(0), false)
		seen(t, s, id, at(time.Minute), at(time.Second), true)
		// A replay does not extend the record: it is still seen until the
		// first expiry, and only then.
		seen(t, s, id, at(time.Hour), at(time.Minute-time.Microsecond), true)
		seen(t, s, id, at(2*time.Minute), at(time.Minute), false)
	}},
	{"DistinctIdsAreIndependent", func(t *testing.T, s storage.Store) {
		a, b := storage.Hash("jti-a"), storage.Hash("jti-b")
		seen(t, s, a, at(time.Minute), at(0), false)
		seen(t, s, b, at(time.Minute), at(0), false)
		seen(t, s, a, at(time.Minute), at(time.Second), true)
		seen(t, s, b, at(time.Minute), at(time.Second), true)
	}},
	{"ExpiredIdIsUnseen", func(t *testing.T, s storage.Store) {
		id := storage.Hash("jti-1")
		seen(t, s, id, at(time.Minute), at(0), false)
		// At its expiry the record no longer counts; the new call records
		// the id again, until its own expiry.
		seen(t, s, id, at(3*time.Minute), at(time.Minute), false)
		seen(t, s, id, at(4*time.Minute), at(2*time.Minute), true)
		seen(t, s, id, at(5*time.Minute), at(3*time.Minute), false)
	}},
	{"ConcurrentSeenOnceHasOneUnseen", func(t *testing.T, s storage.Store) {
		for round := range raceRounds {
			id := storage.Hash(fmt.Sprintf("jti-%d", round))
			now := at(time.Second)
			if round%2 == 1 {
				// Half the rounds race to take over an expired record rather
				// than to insert a new one.
				seen(t, s, id, at(0), at(-time.Second), false)
			}
			errs := race(concurrency, func(i int) error {
				wasSeen, err := s.SeenOnce(t.Context(), id, at(time.Minute), now)
				switch {
				case err != nil:
					return err
				case wasSeen:
					return storage.ErrAlreadyUsed // a loser, for oneWinner
				}
				return nil
			})
			oneWinner(t, round, errs)
			seen(t, s, id, at(time.Minute), now, true)
		}
	}},
	{"Purge", func(t *testing.T, s storage.Store) {
		now := at(time.Hour)
		recs := []struct {
			name      string
			expiresAt time.Time
			live      bool
		}{
			{"expired", at(time.Minute), false},
			{"at-expiry", now, false},
			{"live", at(2 * time.Hour), true},
			{"just-live", now.Add(time.Microsecond), true},
		}
		for _, r := range recs {
			seen(t, s, storage.Hash(r.name), r.expiresAt, at(0), false)
		}
		purgeInSteps(t, s, now, 2)
		// Asked with an earlier clock, at which every record was live, an id
		// still stored is seen and a purged one is not.
		for _, r := range recs {
			got, err := s.SeenOnce(t.Context(), storage.Hash(r.name), at(3*time.Hour), at(0))
			mustOK(t, "probe "+r.name, err)
			if got != r.live {
				t.Errorf("seen id %s: stored %v after the purge, want %v", r.name, got, r.live)
			}
		}
	}},
}
