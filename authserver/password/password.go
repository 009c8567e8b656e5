// Package password hashes and verifies user passwords with argon2id (RFC 9106),
// encoded in the PHC string format so that the parameters travel with each hash
// and can be raised without invalidating old hashes. bcrypt hashes (from
// operators who import users) are verified too. It imports nothing of ours.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Params are the argon2id cost parameters.
type Params struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
}

// DefaultParams follow the OWASP minimum for argon2id (19 MiB, 2 passes, 1 lane):
// about 20 ms on one core, so a login costs little next to the network.
var DefaultParams = Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1}

const (
	saltLen = 16
	keyLen  = 32
)

var b64 = base64.RawStdEncoding

// ErrMalformedHash is returned for a stored hash this package cannot read.
var ErrMalformedHash = errors.New("password: malformed hash")

// Hash returns the PHC-encoded argon2id hash of pw.
func Hash(pw string, p Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, p.Iterations, p.MemoryKiB, p.Parallelism, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether pw matches the encoded hash. The comparison of the
// derived keys is constant-time.
func Verify(encoded, pw string) (bool, error) {
	if strings.HasPrefix(encoded, "$2") {
		err := bcrypt.CompareHashAndPassword([]byte(encoded), []byte(pw))
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return false, nil
		}
		return err == nil, err
	}
	p, salt, want, err := decode(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(pw), salt, p.Iterations, p.MemoryKiB, p.Parallelism, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// Valid reports whether encoded is a hash Verify can read; config uses it to
// reject a bad password_hash before the server starts.
func Valid(encoded string) bool {
	if strings.HasPrefix(encoded, "$2") {
		_, err := bcrypt.Cost([]byte(encoded))
		return err == nil
	}
	_, _, _, err := decode(encoded)
	return err == nil
}

// ParamsOf returns the argon2id parameters an encoded hash was made with.
// A bcrypt hash, or one this package cannot read, is ErrMalformedHash.
func ParamsOf(encoded string) (Params, error) {
	p, _, _, err := decode(encoded)
	return p, err
}

// NeedsRehash reports whether a stored hash should be replaced at the next
// successful sign-in, because it was not made by Hash with p: bcrypt, other
// argon2id parameters, or another key length. Hashes with other costs answer
// a login in another time than the dummy hash of unknown users does, which
// tells an attacker which usernames exist; and raised parameters only
// protect the hashes made after they were raised.
func NeedsRehash(encoded string, p Params) bool {
	got, _, key, err := decode(encoded)
	return err != nil || got != p || len(key) != keyLen
}

func decode(encoded string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, nil, nil, ErrMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, ErrMalformedHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Iterations, &p.Parallelism); err != nil {
		return p, nil, nil, ErrMalformedHash
	}
	// Bounds keep a hostile stored hash from pinning the CPU or memory.
	if p.MemoryKiB == 0 || p.MemoryKiB > 1<<21 || p.Iterations == 0 || p.Iterations > 64 || p.Parallelism == 0 {
		return p, nil, nil, ErrMalformedHash
	}
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return p, nil, nil, ErrMalformedHash
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < 16 {
		return p, nil, nil, ErrMalformedHash
	}
	return p, salt, key, nil
}
