package resource

import (
	"crypto/sha256"
	"testing"
	"time"
)

// TestAnswerCacheBound checks the eviction order of a full cache: expired
// entries first, then the oldest. It is an internal test because filling
// the real 10k-entry cache through HTTP would only make it slow.
func TestAnswerCacheBound(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	key := func(token string) tokenKey { return sha256.Sum256([]byte(token)) }
	entry := func(d time.Duration) answer { return answer{err: &TokenError{Reason: "inactive"}, until: t0.Add(d)} }
	type put struct {
		token string
		life  time.Duration // from t0
		at    time.Duration // from t0
	}
	cases := []struct {
		name     string
		puts     []put
		now      time.Duration // lookups happen at t0+now
		wantLen  int           // right after the puts
		wantIn   []string
		wantGone []string
	}{
		{name: "oldest is evicted when full",
			puts:    []put{{"a", time.Minute, 0}, {"b", time.Minute, 0}, {"c", time.Minute, 0}, {"d", time.Minute, 0}},
			wantLen: 3, wantIn: []string{"b", "c", "d"}, wantGone: []string{"a"}},
		{name: "expired entries go before a live one",
			puts:    []put{{"a", time.Second, 0}, {"b", time.Second, 0}, {"c", time.Minute, 0}, {"d", time.Minute, 2 * time.Second}},
			wantLen: 2, wantIn: []string{"c", "d"}, wantGone: []string{"a", "b"}},
		{name: "putting a key again refreshes it",
			puts:    []put{{"a", time.Minute, 0}, {"b", time.Minute, 0}, {"c", time.Minute, 0}, {"a", time.Minute, 0}, {"d", time.Minute, 0}},
			wantLen: 3, wantIn: []string{"a", "c", "d"}, wantGone: []string{"b"}},
		{name: "an entry is gone at its end of life",
			puts: []put{{"a", 10 * time.Second, 0}, {"b", 11 * time.Second, 0}}, now: 10 * time.Second,
			wantLen: 2, wantIn: []string{"b"}, wantGone: []string{"a"}},
		{name: "an answer already dead is not stored",
			puts: []put{{"a", 0, 0}}, wantLen: 0, wantGone: []string{"a"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cache := newAnswerCache(3)
			for _, p := range c.puts {
				cache.put(key(p.token), entry(p.life), t0.Add(p.at))
			}
			if cache.len() != c.wantLen {
				t.Errorf("len = %d, want %d", cache.len(), c.wantLen)
			}
			for _, tok := range c.wantIn {
				if _, ok := cache.get(key(tok), t0.Add(c.now)); !ok {
					t.Errorf("%s is not cached", tok)
				}
			}
			for _, tok := range c.wantGone {
				if _, ok := cache.get(key(tok), t0.Add(c.now)); ok {
					t.Errorf("%s is still cached", tok)
				}
			}
		})
	}
}
