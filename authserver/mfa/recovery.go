package mfa

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strings"
)

// RecoveryCodeCount is how many recovery codes a user gets at a time.
const RecoveryCodeCount = 10

// recoveryCodeBytes is each code's randomness: 10 bytes, 80 bits, written
// as 16 base32 characters in four groups of four (ABCD-EFGH-IJKL-MNOP).
// Far more than an online guesser (throttled like passwords) can reach.
const recoveryCodeBytes = 10

// NewRecoveryCodes makes RecoveryCodeCount fresh, distinct codes, to show
// the user once, and their hashes (HashRecoveryCode), for
// storage ReplaceRecoveryCodes. codes[i] hashes to hashes[i].
func (s *Service) NewRecoveryCodes() (codes, hashes []string) {
	seen := make(map[string]bool, RecoveryCodeCount)
	for len(codes) < RecoveryCodeCount {
		raw := make([]byte, recoveryCodeBytes)
		rand.Read(raw)                                  // never fails (crypto/rand, Go 1.24+)
		plain := base32.StdEncoding.EncodeToString(raw) // 16 characters, no padding
		if seen[plain] {
			continue
		}
		seen[plain] = true
		codes = append(codes, plain[0:4]+"-"+plain[4:8]+"-"+plain[8:12]+"-"+plain[12:16])
		hashes = append(hashes, s.HashRecoveryCode(plain))
	}
	return codes, hashes
}

// HashRecoveryCode is the stored form of a recovery code as typed: case,
// spaces and dashes do not matter. It is HMAC-SHA-256 under a key derived
// from Config.Key, not a plain hash, so that a leaked table cannot be
// searched offline without the key (80 bits would resist anyway; the key
// makes it certain). Hex, 64 characters.
func (s *Service) HashRecoveryCode(code string) string {
	m := hmac.New(sha256.New, s.recoveryKey)
	m.Write([]byte(NormalizeRecoveryCode(code)))
	return hex.EncodeToString(m.Sum(nil))
}

// NormalizeRecoveryCode is code upper-cased, without spaces, tabs or
// dashes: the form that HashRecoveryCode hashes.
func NormalizeRecoveryCode(code string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '-', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014':
			return -1
		}
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, strings.TrimSpace(code))
}
