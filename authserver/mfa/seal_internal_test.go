package mfa

import (
	"encoding/base64"
	"errors"
	"testing"
	"time"
)

var sealKey = []byte("0123456789abcdef0123456789abcdef")

// TestSealRoundTrip: what is sealed opens, for its purpose and binding,
// until its expiry (exclusive); a zero expiry never expires.
func TestSealRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	sealed, err := seal(sealKey, "p", "user-1", now.Add(StateLifetime), []byte("payload"))
	if err != nil {
		t.Fatal(err)
	}
	got, exp, err := openExpiring(sealKey, "p", "user-1", now.Add(StateLifetime-time.Second), sealed)
	if err != nil || string(got) != "payload" || !exp.Equal(now.Add(StateLifetime)) {
		t.Fatalf("open = %q, %v, %v", got, exp, err)
	}
	if _, err := open(sealKey, "p", "user-1", now.Add(StateLifetime), sealed); !errors.Is(err, ErrInvalidState) {
		t.Errorf("opened at its expiry: %v", err)
	}
	forever, _ := seal(sealKey, "p", "", time.Time{}, []byte("x"))
	if _, err := open(sealKey, "p", "", now.AddDate(100, 0, 0), forever); err != nil {
		t.Errorf("a value without expiry did not open: %v", err)
	}
}

// TestSealRefusesOtherUses: another purpose, binding or key, a flipped bit
// anywhere, a truncated or garbled value: all ErrInvalidState.
func TestSealRefusesOtherUses(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	sealed, err := seal(sealKey, "webauthn-login", "user-1", now.Add(time.Minute), []byte("payload"))
	if err != nil {
		t.Fatal(err)
	}
	refuse := func(name string, key []byte, purpose, binding, value string) {
		t.Helper()
		if _, err := open(key, purpose, binding, now, value); !errors.Is(err, ErrInvalidState) {
			t.Errorf("%s: opened (%v)", name, err)
		}
	}
	refuse("purpose", sealKey, "webauthn-register", "user-1", sealed)
	refuse("binding", sealKey, "webauthn-login", "user-2", sealed)
	// The length prefixes keep ("ab","c") and ("a","bc") apart.
	refuse("boundary", sealKey, "webauthn-logi", "nuser-1", sealed)
	refuse("key", []byte("fedcba9876543210fedcba9876543210"), "webauthn-login", "user-1", sealed)
	raw, _ := base64.RawURLEncoding.DecodeString(sealed)
	for i := range raw {
		b := append([]byte(nil), raw...)
		b[i] ^= 0x01
		refuse("flipped bit", sealKey, "webauthn-login", "user-1", base64.RawURLEncoding.EncodeToString(b))
	}
	refuse("truncated", sealKey, "webauthn-login", "user-1", sealed[:len(sealed)-4])
	refuse("empty", sealKey, "webauthn-login", "user-1", "")
	refuse("not base64url", sealKey, "webauthn-login", "user-1", sealed+"!")
}
