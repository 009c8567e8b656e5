package password

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

var testParams = Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}

func TestHashVerify(t *testing.T) {
	h, err := Hash("correct horse", testParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("unexpected encoding %q", h)
	}
	h2, _ := Hash("correct horse", testParams)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt is not random")
	}
	bc, _ := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	for _, tc := range []struct {
		name, hash, pw string
		want           bool
	}{
		{"argon2id right", h, "correct horse", true},
		{"argon2id wrong", h, "correct horsE", false},
		{"argon2id empty", h, "", false},
		{"bcrypt right", string(bc), "correct horse", true},
		{"bcrypt wrong", string(bc), "battery", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Verify(tc.hash, tc.pw)
			if err != nil || got != tc.want {
				t.Fatalf("Verify = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	for _, h := range []string{"", "plain", "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5"} {
		if Valid(h) {
			t.Errorf("Valid(%q) = true", h)
		}
		if ok, err := Verify(h, "x"); ok || err == nil {
			t.Errorf("Verify(%q) = %v, %v; want false and an error", h, ok, err)
		}
	}
}

func FuzzVerify(f *testing.F) {
	h, _ := Hash("pw", testParams)
	f.Add(h, "pw")
	f.Add("$argon2id$v=19$m=1,t=1,p=1$$", "")
	f.Fuzz(func(t *testing.T, encoded, pw string) {
		if strings.Contains(encoded, "m=") && len(encoded) > 200 {
			return
		}
		_, _ = Verify(encoded, pw)
	})
}

// BenchmarkHash measures one login's password cost at the default parameters.
func BenchmarkHash(b *testing.B) {
	h, _ := Hash("alice-password", DefaultParams)
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := Verify(h, "alice-password"); !ok {
			b.Fatal("mismatch")
		}
	}
}

func TestParamsOfAndNeedsRehash(t *testing.T) {
	h, _ := Hash("pw", testParams)
	if p, err := ParamsOf(h); err != nil || p != testParams {
		t.Fatalf("ParamsOf = %+v, %v; want %+v", p, err, testParams)
	}
	bc, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if _, err := ParamsOf(string(bc)); err == nil {
		t.Fatal("ParamsOf read a bcrypt hash as argon2id")
	}
	stronger := Params{MemoryKiB: 128, Iterations: 1, Parallelism: 1}
	for _, tc := range []struct {
		name, hash string
		want       bool
	}{
		{"same parameters", h, false},
		{"bcrypt", string(bc), true},
		{"other parameters", func() string { o, _ := Hash("pw", stronger); return o }(), true},
		{"other key length", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5", true},
		{"unreadable", "plain", true},
	} {
		if got := NeedsRehash(tc.hash, testParams); got != tc.want {
			t.Errorf("%s: NeedsRehash = %v, want %v", tc.name, got, tc.want)
		}
	}
}
