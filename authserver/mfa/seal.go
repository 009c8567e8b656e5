package mfa

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// ErrInvalidState is the error of a ceremony state (or sealed secret) that
// was tampered with, sealed under another key, made for another purpose or
// user, or has expired. The user starts the ceremony again.
var ErrInvalidState = errors.New("mfa: the sign-in step is invalid or has expired; start again")

// StateLifetime is how long a ceremony state is accepted after it was made.
const StateLifetime = 5 * time.Minute

// sealVersion is the first byte of every sealed value, so that a later
// format can be told apart.
const sealVersion = 1

// seal encrypts payload with AES-256-GCM under key. The purpose and binding
// (e.g. a user id) are authenticated as additional data, and the expiry
// (zero: never) is sealed with the payload, so a value made for one use
// opens for no other. The result is unpadded base64url: safe in a cookie,
// a form field or a database column.
func seal(key []byte, purpose, binding string, expires time.Time, payload []byte) (string, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return "", err
	}
	var exp int64
	if !expires.IsZero() {
		exp = expires.Unix()
	}
	plain := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(payload)), uint64(exp))
	plain = append(plain, payload...)
	// A random 96-bit nonce is safe far beyond the number of values one
	// key seals (NIST SP 800-38D: 2^32 with random nonces).
	out := []byte{sealVersion}
	out = aead.Seal(out, nil, plain, additionalData(purpose, binding))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// open undoes seal at now; ErrInvalidState (wrapped with the reason) when
// the value is malformed, tampered with, for another purpose or binding,
// or expired.
func open(key []byte, purpose, binding string, now time.Time, sealed string) ([]byte, error) {
	payload, _, err := openExpiring(key, purpose, binding, now, sealed)
	return payload, err
}

// openExpiring is open that also returns the expiry sealed with the value
// (zero for none).
func openExpiring(key []byte, purpose, binding string, now time.Time, sealed string) ([]byte, time.Time, error) {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(sealed)
	if err != nil || len(raw) < 1 || raw[0] != sealVersion {
		return nil, time.Time{}, fmt.Errorf("%w (malformed)", ErrInvalidState)
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, time.Time{}, err
	}
	plain, err := aead.Open(nil, nil, raw[1:], additionalData(purpose, binding))
	if err != nil || len(plain) < 8 {
		return nil, time.Time{}, fmt.Errorf("%w (not sealed for this use)", ErrInvalidState)
	}
	var expires time.Time
	if exp := int64(binary.BigEndian.Uint64(plain)); exp != 0 {
		if expires = time.Unix(exp, 0); !now.Before(expires) {
			return nil, time.Time{}, fmt.Errorf("%w (expired)", ErrInvalidState)
		}
	}
	return plain[8:], expires, nil
}

// additionalData binds a sealed value to its purpose and binding; the
// lengths make the encoding unambiguous.
func additionalData(purpose, binding string) []byte {
	ad := []byte{sealVersion}
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(purpose)))
	ad = append(ad, purpose...)
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(binding)))
	return append(ad, binding...)
}

// newAEAD is AES-256-GCM with a random nonce prefixed to the ciphertext.
func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("mfa: %w", err)
	}
	return cipher.NewGCMWithRandomNonce(block)
}
