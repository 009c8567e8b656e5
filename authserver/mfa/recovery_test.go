package mfa_test

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"testing"

	"github.com/authserver-dev/authserver/authserver/mfa"
)

// TestNewRecoveryCodes: ten distinct codes of four groups of four base32
// characters (80 bits each), each hashing to its hash, fresh every time.
func TestNewRecoveryCodes(t *testing.T) {
	t.Parallel()
	s, _ := newService(t)
	codes, hashes := s.NewRecoveryCodes()
	if len(codes) != mfa.RecoveryCodeCount || len(hashes) != mfa.RecoveryCodeCount || mfa.RecoveryCodeCount != 10 {
		t.Fatalf("%d codes, %d hashes", len(codes), len(hashes))
	}
	format := regexp.MustCompile(`^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$`)
	seen := map[string]bool{}
	for i, c := range codes {
		if !format.MatchString(c) {
			t.Errorf("code %q is not XXXX-XXXX-XXXX-XXXX in base32", c)
		}
		if seen[c] {
			t.Errorf("code %q twice", c)
		}
		seen[c] = true
		if hashes[i] != s.HashRecoveryCode(c) {
			t.Errorf("hashes[%d] is not the hash of codes[%d]", i, i)
		}
	}
	again, _ := s.NewRecoveryCodes()
	for _, c := range again {
		if seen[c] {
			t.Errorf("code %q came again in a new set", c)
		}
	}
}

// TestHashRecoveryCode: case, spaces and dashes do not matter; any other
// character does; the hash is keyed (another key, another hash; not the
// plain SHA-256 of the code), so a leaked table is useless without the key.
func TestHashRecoveryCode(t *testing.T) {
	t.Parallel()
	s, _ := newService(t)
	other, _ := newServiceKey(t, keyB)
	const code = "ABCD-EFGH-IJKL-MNOP"
	h := s.HashRecoveryCode(code)
	for _, typed := range []string{"abcd-efgh-ijkl-mnop", "ABCDEFGHIJKLMNOP", " abcd efgh ijkl mnop ", "AbCd–EfGh-IjKl-MnOp", "ab-cd-ef-gh-ij-kl-mn-op"} {
		if got := s.HashRecoveryCode(typed); got != h {
			t.Errorf("%q hashes differently from %q", typed, code)
		}
	}
	for _, different := range []string{"ABCD-EFGH-IJKL-MNOQ", "ABCD-EFGH-IJKL-MNO", "ABCD-EFGH-IJKL-MNOPA", ""} {
		if s.HashRecoveryCode(different) == h {
			t.Errorf("%q hashes like %q", different, code)
		}
	}
	if other.HashRecoveryCode(code) == h {
		t.Error("another key gives the same hash: the hash is not keyed")
	}
	plain := sha256.Sum256([]byte("ABCDEFGHIJKLMNOP"))
	if h == hex.EncodeToString(plain[:]) {
		t.Error("the hash is the plain SHA-256 of the code")
	}
	if len(h) != 64 {
		t.Errorf("hash %q is not 64 hex characters", h)
	}
}
