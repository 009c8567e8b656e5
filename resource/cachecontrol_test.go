package resource

import (
	"net/http"
	"testing"
	"time"
)

func TestJWKSLifetime(t *testing.T) {
	const maxAge = time.Hour
	tests := []struct {
		name     string
		cc       []string // Cache-Control field lines
		age      string   // Age field, none when empty
		fallback time.Duration
		want     time.Duration
	}{
		{name: "no header uses the fallback", fallback: 20 * time.Minute, want: 20 * time.Minute},
		{name: "fallback is capped too", fallback: 2 * time.Hour, want: maxAge},
		{name: "max-age", cc: []string{"public, max-age=600"}, want: 10 * time.Minute},
		{name: "names are case-insensitive", cc: []string{"Public, MAX-AGE=600"}, want: 10 * time.Minute},
		{name: "quoted argument", cc: []string{`max-age="600"`}, want: 10 * time.Minute},
		{name: "whitespace and empty items", cc: []string{" ,, public ,\tmax-age = 600 ,"}, want: 10 * time.Minute},
		{name: "several field lines", cc: []string{"public", "max-age=600"}, want: 10 * time.Minute},
		{name: "capped at KeyMaxAge", cc: []string{"max-age=86400"}, want: maxAge},
		{name: "overflowing max-age is capped", cc: []string{"max-age=99999999999999999999999999"}, want: maxAge},
		{name: "smallest of several max-age", cc: []string{"max-age=600, max-age=60"}, want: time.Minute},
		{name: "max-age=0", cc: []string{"max-age=0"}, want: 0},
		{name: "no-store", cc: []string{"no-store"}, want: 0},
		{name: "no-cache beats max-age", cc: []string{"max-age=600", "No-Cache"}, want: 0},
		{name: "no-cache with field names", cc: []string{`no-cache="Set-Cookie, Vary", max-age=600`}, want: 0},
		{name: "comma inside quotes does not split", cc: []string{`private="a, max-age=1", max-age=600`}, want: 10 * time.Minute},
		{name: "escaped quote inside quotes", cc: []string{`private="a\", max-age=1", max-age=600`}, want: 10 * time.Minute},
		{name: "non-numeric max-age is stale", cc: []string{"max-age=ten"}, fallback: maxAge, want: 0},
		{name: "signed max-age is stale", cc: []string{"max-age=+60"}, fallback: maxAge, want: 0},
		{name: "negative max-age is stale", cc: []string{"max-age=-60"}, fallback: maxAge, want: 0},
		{name: "empty max-age is stale", cc: []string{"max-age="}, fallback: maxAge, want: 0},
		{name: "max-age without argument is stale", cc: []string{"max-age"}, fallback: maxAge, want: 0},
		{name: "unterminated quote is stale", cc: []string{`max-age="60`}, fallback: maxAge, want: 0},
		{name: "s-maxage is for shared caches", cc: []string{"s-maxage=60"}, fallback: maxAge, want: maxAge},
		{name: "no freshness directive", cc: []string{"public, immutable"}, fallback: maxAge, want: maxAge},
		{name: "Age is subtracted", cc: []string{"max-age=600"}, age: "100", want: 500 * time.Second},
		{name: "Age beyond max-age", cc: []string{"max-age=600"}, age: "700", want: 0},
		{name: "Age is subtracted after the cap", cc: []string{"max-age=7200"}, age: "1800", want: 30 * time.Minute},
		{name: "Age applies to the fallback", age: "600", fallback: maxAge, want: 50 * time.Minute},
		{name: "invalid Age is ignored", cc: []string{"max-age=600"}, age: "-5", want: 10 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.cc {
				h.Add("Cache-Control", v)
			}
			if tc.age != "" {
				h.Set("Age", tc.age)
			}
			s := &remoteKeySet{maxAge: maxAge}
			if got := s.lifetime(h, tc.fallback); got != tc.want {
				t.Errorf("lifetime(%q, Age %q) = %v, want %v", tc.cc, tc.age, got, tc.want)
			}
		})
	}
}

// FuzzJWKSLifetime: whatever the headers, the lifetime stays within
// [0, KeyMaxAge] and parsing never panics.
func FuzzJWKSLifetime(f *testing.F) {
	for _, seed := range []string{"public, max-age=600", `no-cache="a, b"`, `max-age="6`, `private="\`, ",,", "max-age=99999999999999999999"} {
		f.Add(seed, "10")
	}
	f.Fuzz(func(t *testing.T, cc, age string) {
		s := &remoteKeySet{maxAge: time.Hour}
		h := http.Header{"Cache-Control": {cc}, "Age": {age}}
		if got := s.lifetime(h, time.Hour); got < 0 || got > time.Hour {
			t.Fatalf("lifetime(%q, Age %q) = %v, outside [0, 1h]", cc, age, got)
		}
	})
}
