package resource_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/resource"
)

func TestKeyRotationIsPickedUp(t *testing.T) {
	clock := newFakeClock()
	f := newFakeIssuer(t)
	v := newVerifier(t, f, clock)
	if got := f.jwksHits.Load(); got != 1 {
		t.Fatalf("JWKS fetched %d times at start-up, want 1", got)
	}

	rotated := f.rotate(t, "key-2")
	if _, err := v.Verify(context.Background(), sign(t, rotated, "at+jwt", f.claims(clock.Now()))); err != nil {
		t.Fatalf("token signed with the rotated key: %v", err)
	}
	if got := f.jwksHits.Load(); got != 2 {
		t.Errorf("JWKS fetched %d times, want 2 (start-up + one refetch)", got)
	}
	// The old keys still verify and cause no fetch.
	if _, err := v.Verify(context.Background(), sign(t, f.key("RS256"), "at+jwt", f.claims(clock.Now()))); err != nil {
		t.Fatalf("token signed with an old key: %v", err)
	}
	if got := f.jwksHits.Load(); got != 2 {
		t.Errorf("JWKS fetched %d times after a known kid, want 2", got)
	}
}

func TestForgedKidFloodIsRateLimited(t *testing.T) {
	clock := newFakeClock()
	f := newFakeIssuer(t)
	v := newVerifier(t, f, clock)
	attacker := newFakeIssuer(t)

	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		forged := attacker.rotate(t, fmt.Sprintf("forged-%d", i))
		raw := sign(t, forged, "at+jwt", f.claims(clock.Now()))
		wg.Go(func() {
			_, err := v.Verify(context.Background(), raw)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, resource.ErrUnknownKey) {
			t.Fatalf("forged kid: err = %v, want ErrUnknownKey", err)
		}
	}
	// Start-up fetch plus at most one refetch in this interval.
	if got := f.jwksHits.Load(); got > 2 {
		t.Errorf("JWKS fetched %d times for %d forged kids, want <= 2", got, n)
	}

	// Within the interval a genuine rotation is not seen yet...
	rotated := f.rotate(t, "key-2")
	raw := sign(t, rotated, "at+jwt", f.claims(clock.Now()))
	if _, err := v.Verify(context.Background(), raw); !errors.Is(err, resource.ErrUnknownKey) {
		t.Fatalf("rotated key inside the rate-limit interval: err = %v, want ErrUnknownKey", err)
	}
	// ...and once the interval has passed, it is.
	clock.advance(resource.DefaultMinRefetchInterval)
	if _, err := v.Verify(context.Background(), raw); err != nil {
		t.Fatalf("rotated key after the interval: %v", err)
	}
	if got := f.jwksHits.Load(); got > 3 {
		t.Errorf("JWKS fetched %d times, want <= 3", got)
	}
}

func TestIssuerDownKeepsCachedKeys(t *testing.T) {
	clock := newFakeClock()
	f := newFakeIssuer(t)
	v := newVerifier(t, f, clock)
	f.down.Store(true)

	raw := sign(t, f.key("ES256"), "at+jwt", f.claims(clock.Now()))
	if _, err := v.Verify(context.Background(), raw); err != nil {
		t.Fatalf("cached key while the issuer is down: %v", err)
	}
	// An unknown kid makes a refetch fail; the cache must survive it.
	unknown := newFakeIssuer(t).rotate(t, "unknown")
	if _, err := v.Verify(context.Background(), sign(t, unknown, "at+jwt", f.claims(clock.Now()))); !errors.Is(err, resource.ErrUnknownKey) {
		t.Fatalf("unknown kid while the issuer is down: err = %v, want ErrUnknownKey", err)
	}
	if _, err := v.Verify(context.Background(), raw); err != nil {
		t.Fatalf("cached key after a failed refetch: %v", err)
	}
}

func TestStaleKeysAreRefreshedAndWithdrawnKeysStopWorking(t *testing.T) {
	clock := newFakeClock()
	f := newFakeIssuer(t)
	v := newVerifier(t, f, clock)

	// The provider withdraws its RS256 key.
	f.mu.Lock()
	f.keys = f.keys[:1] // ES256 only
	f.mu.Unlock()

	// Long after: the next verification starts a background refresh...
	clock.advance(resource.DefaultKeyMaxAge + time.Minute)
	mustVerify(t, v, f.key("ES256"), f, clock)
	// ...after which a token under the withdrawn key is refused.
	withdrawn := signingKey{kid: "key-RS256", alg: "RS256", priv: testKeys()["RS256"]}
	raw := sign(t, withdrawn, "at+jwt", f.claims(clock.Now()))
	if _, err := v.Verify(context.Background(), raw); !errors.Is(err, resource.ErrUnknownKey) {
		t.Fatalf("withdrawn key: err = %v, want ErrUnknownKey", err)
	}
}

// mustVerify verifies a fresh token signed with k and then waits for the
// background refresh the verification may have started, so that the fake
// issuer's counters are final when it returns.
func mustVerify(t *testing.T, v *resource.Verifier, k signingKey, f *fakeIssuer, clock *fakeClock) {
	t.Helper()
	if _, err := v.Verify(context.Background(), sign(t, k, "at+jwt", f.claims(clock.Now()))); err != nil {
		t.Fatalf("token signed with %s: %v", k.kid, err)
	}
	resource.WaitForRefresh(v)
}

// wantCount fails the test unless counter holds want.
func wantCount(t *testing.T, what string, counter *atomic.Int64, want int64) {
	t.Helper()
	if got := counter.Load(); got != want {
		t.Fatalf("%s = %d, want %d", what, got, want)
	}
}

func TestKeySetFreshnessFollowsCacheControl(t *testing.T) {
	tests := []struct {
		name         string
		cacheControl string        // of every JWKS answer; "" sends none
		keyMaxAge    time.Duration // Config.KeyMaxAge, 0 for the default
		want         time.Duration // expected freshness lifetime
	}{
		{name: "max-age is honoured", cacheControl: "public, max-age=600", want: 10 * time.Minute},
		{name: "directives are case-insensitive", cacheControl: "Public, MAX-AGE=120", want: 2 * time.Minute},
		{name: "max-age above the default KeyMaxAge is capped", cacheControl: "public, max-age=86400", want: resource.DefaultKeyMaxAge},
		{name: "max-age above KeyMaxAge is capped", cacheControl: "public, max-age=600", keyMaxAge: 5 * time.Minute, want: 5 * time.Minute},
		{name: "max-age=0", cacheControl: "public, max-age=0", want: 0},
		{name: "no-store", cacheControl: "no-store", want: 0},
		{name: "no-cache beats max-age", cacheControl: "max-age=600, No-Cache", want: 0},
		{name: "invalid max-age", cacheControl: "max-age=ten", want: 0},
		{name: "missing header", want: resource.DefaultKeyMaxAge},
		{name: "missing header, KeyMaxAge set", keyMaxAge: 20 * time.Minute, want: 20 * time.Minute},
		{name: "no max-age", cacheControl: "public", want: resource.DefaultKeyMaxAge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			f := newFakeIssuer(t)
			f.setCacheControl(tc.cacheControl)
			v := newVerifier(t, f, clock, func(c *resource.Config) { c.KeyMaxAge = tc.keyMaxAge })
			k := f.key("ES256")
			wantCount(t, "JWKS requests at start-up", &f.jwksRequests, 1)

			if tc.want > 0 {
				// Fresh until the lifetime has fully elapsed.
				clock.advance(tc.want - time.Second)
				mustVerify(t, v, k, f, clock)
				wantCount(t, "JWKS requests just before the lifetime ends", &f.jwksRequests, 1)
				clock.advance(time.Second)
			}
			// Stale: one background, conditional refresh, answered 304.
			mustVerify(t, v, k, f, clock)
			wantCount(t, "JWKS requests once stale", &f.jwksRequests, 2)
			wantCount(t, "conditional JWKS requests", &f.jwksConditional, 1)
			wantCount(t, "JWKS 304 answers", &f.jwksNotModified, 1)

			// The 304 renewed the lifetime; with a lifetime of 0 the rate
			// limit is what spaces refreshes.
			next := max(tc.want, resource.DefaultMinRefetchInterval)
			mustVerify(t, v, k, f, clock)
			clock.advance(next - time.Second)
			mustVerify(t, v, k, f, clock)
			wantCount(t, "JWKS requests before the next refresh is due", &f.jwksRequests, 2)
			clock.advance(time.Second)
			mustVerify(t, v, k, f, clock)
			wantCount(t, "JWKS requests once the next refresh is due", &f.jwksRequests, 3)
		})
	}
}

func TestNotModifiedKeepsKeysAndRenewsFreshness(t *testing.T) {
	const first = "public, max-age=600"
	tests := []struct {
		name  string
		on304 string        // Cache-Control of the 304; "" sends none
		want  time.Duration // lifetime after the 304
	}{
		{name: "304 with its own max-age", on304: "public, max-age=60", want: time.Minute},
		{name: "304 without Cache-Control keeps the previous lifetime", want: 10 * time.Minute},
		{name: "304 with no-store", on304: "no-store", want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			f := newFakeIssuer(t)
			f.setCacheControl(first)
			v := newVerifier(t, f, clock)
			f.setCacheControl(tc.on304)

			clock.advance(10 * time.Minute)
			mustVerify(t, v, f.key("ES256"), f, clock)
			wantCount(t, "conditional JWKS requests", &f.jwksConditional, 1)
			wantCount(t, "JWKS 304 answers", &f.jwksNotModified, 1)
			wantCount(t, "full JWKS answers", &f.jwksHits, 1)
			// Every cached key still works, without another fetch.
			for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
				mustVerify(t, v, f.key(alg), f, clock)
			}
			wantCount(t, "JWKS requests after the 304", &f.jwksRequests, 2)

			// The 304 counts as a refresh: the next one is due a lifetime
			// (or, for 0, the rate-limit interval) after it.
			next := max(tc.want, resource.DefaultMinRefetchInterval)
			clock.advance(next - time.Second)
			mustVerify(t, v, f.key("ES256"), f, clock)
			wantCount(t, "JWKS requests before the next refresh is due", &f.jwksRequests, 2)
			clock.advance(time.Second)
			mustVerify(t, v, f.key("ES256"), f, clock)
			wantCount(t, "JWKS requests once the next refresh is due", &f.jwksRequests, 3)
		})
	}
}

func TestRotatedKeyAppearsAfterMaxAge(t *testing.T) {
	clock := newFakeClock()
	f := newFakeIssuer(t)
	f.setCacheControl("public, max-age=300")
	v := newVerifier(t, f, clock)

	// The provider publishes a new key ahead of signing with it, and its
	// max-age ends no later than that.
	rotated := f.rotate(t, "key-2")
	clock.advance(5 * time.Minute)
	// Traffic with known kids only refreshes the stale key set...
	mustVerify(t, v, f.key("ES256"), f, clock)
	wantCount(t, "full JWKS answers", &f.jwksHits, 2)
	// ...so the first token under the new key verifies without a fetch.
	mustVerify(t, v, rotated, f, clock)
	wantCount(t, "JWKS requests", &f.jwksRequests, 2)
}

func TestIssuerDownAfterStalenessKeepsServingCachedKeys(t *testing.T) {
	clock := newFakeClock()
	f := newFakeIssuer(t)
	f.setCacheControl("public, max-age=60")
	v := newVerifier(t, f, clock)
	k := f.key("ES256")

	f.down.Store(true)
	clock.advance(time.Minute)
	mustVerify(t, v, k, f, clock) // stale: a refresh is tried, and fails
	wantCount(t, "JWKS requests after the first failure", &f.jwksRequests, 2)

	// The keys keep working, and the failed refresh is not retried before
	// the rate-limit interval has passed.
	mustVerify(t, v, k, f, clock)
	clock.advance(resource.DefaultMinRefetchInterval - time.Second)
	mustVerify(t, v, k, f, clock)
	wantCount(t, "JWKS requests inside the interval", &f.jwksRequests, 2)
	clock.advance(time.Second)
	mustVerify(t, v, k, f, clock)
	wantCount(t, "JWKS requests after the interval", &f.jwksRequests, 3)

	// Once the provider is back, the next due refresh succeeds (a 304: the
	// keys did not change) and the key set is fresh again for max-age.
	f.down.Store(false)
	clock.advance(resource.DefaultMinRefetchInterval)
	mustVerify(t, v, k, f, clock)
	wantCount(t, "JWKS requests after recovery", &f.jwksRequests, 4)
	wantCount(t, "JWKS 304 answers", &f.jwksNotModified, 1)
	clock.advance(time.Minute - time.Second)
	mustVerify(t, v, k, f, clock)
	wantCount(t, "JWKS requests while fresh again", &f.jwksRequests, 4)
}
