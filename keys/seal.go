package keys

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KEKSize is the size in bytes of a key-encryption key (AES-256).
const KEKSize = 32

// KEKEnv is the environment variable that carries the key-encryption key,
// named in ParseKEK's errors. Reading it is the caller's business.
const KEKEnv = "AUTHSERVER_KEY_ENCRYPTION_KEY"

// ErrWrongKEK is returned by Open when the sealed key does not authenticate
// under the given key-encryption key: the KEK is not the one it was sealed
// with, or the sealed bytes were altered. It does not guess where the KEK came
// from (variable or file): the caller knows, and says so.
var ErrWrongKEK = errors.New("keys: sealed key does not open with this key-encryption key (not the one it was sealed with) or was altered")

const gcmNonceSize = 12

func newGCM(kek []byte) (cipher.AEAD, error) {
	if len(kek) != KEKSize {
		return nil, fmt.Errorf("keys: key-encryption key must be %d bytes, got %d", KEKSize, len(kek))
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Seal encrypts signer's PKCS#8 DER encoding with AES-256-GCM under kek (32
// bytes). The result is a random 12-byte nonce followed by the ciphertext and
// its tag; it is what Record.PrivateKey holds.
func Seal(kek []byte, signer crypto.Signer) ([]byte, error) {
	aead, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	switch signer.(type) {
	case *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey:
	default:
		return nil, fmt.Errorf("keys: cannot seal key of type %T", signer)
	}
	der, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return nil, fmt.Errorf("keys: encode private key: %w", err)
	}
	defer clear(der)
	out := make([]byte, gcmNonceSize, gcmNonceSize+len(der)+aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, err
	}
	return aead.Seal(out, out, der, nil), nil
}

// Open reverses Seal: it decrypts sealed under kek and parses the PKCS#8
// private key. A wrong kek or altered bytes give ErrWrongKEK.
func Open(kek, sealed []byte) (crypto.Signer, error) {
	aead, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcmNonceSize+aead.Overhead() {
		return nil, errors.New("keys: sealed key is too short")
	}
	der, err := aead.Open(nil, sealed[:gcmNonceSize], sealed[gcmNonceSize:], nil)
	if err != nil {
		return nil, ErrWrongKEK
	}
	defer clear(der)
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("keys: parse sealed private key: %w", err)
	}
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		return k, nil
	case *rsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	default:
		return nil, fmt.Errorf("keys: sealed private key has unsupported type %T", key)
	}
}

// ParseKEK decodes a key-encryption key given in standard base64 (as in the
// AUTHSERVER_KEY_ENCRYPTION_KEY variable; surrounding white space is
// ignored). It must decode to exactly 32 bytes. Errors never echo the value.
func ParseKEK(s string) ([]byte, error) { return parseKEK(s, KEKEnv) }

// parseKEK is ParseKEK with the errors naming source, the variable or file
// the value came from.
func parseKEK(s, source string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("keys: %s is empty; set it to 32 random bytes in standard base64 (e.g. `openssl rand -base64 32`)", source)
	}
	kek, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("keys: %s is not standard base64; set it to 32 random bytes in standard base64 (e.g. `openssl rand -base64 32`)", source)
	}
	if len(kek) != KEKSize {
		n := len(kek)
		clear(kek)
		return nil, fmt.Errorf("keys: %s must decode to exactly %d bytes, got %d (e.g. `openssl rand -base64 32`)", source, KEKSize, n)
	}
	return kek, nil
}

// LoadOrCreateKEKFile returns the key-encryption key kept in the file at
// path, creating the file first if it does not exist (see CreateKEKFile).
// Only a caller that knows no key was ever sealed with another KEK may use
// it: a server whose store already holds sealed keys must use ReadKEKFile and
// stop when the file is missing, since a new KEK would open none of them.
func LoadOrCreateKEKFile(path string) ([]byte, error) {
	kek, err := ReadKEKFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return kek, err
	}
	return CreateKEKFile(path)
}

// ReadKEKFile returns the key-encryption key kept in base64 in the file at
// path. A missing file is an error that matches fs.ErrNotExist.
func ReadKEKFile(path string) ([]byte, error) { return readKEKFile(path) }

// CreateKEKFile writes a new key-encryption key to the file at path: 32
// random bytes in base64, file mode 0600 whatever the umask, missing parent
// directories 0700. If the file exists already (another process created it
// first) its key is returned instead, so two processes racing to create it
// end up with the same key.
func CreateKEKFile(path string) ([]byte, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keys: create directory for key-encryption key: %w", err)
	}
	raw := make([]byte, KEKSize)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	defer clear(raw)
	content := []byte(base64.StdEncoding.EncodeToString(raw) + "\n")
	defer clear(content)
	if err := createExclusive(path, content); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("keys: create key-encryption key file: %w", err)
	}
	return readKEKFile(path)
}

func readKEKFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	return parseKEK(string(b), "key-encryption key file "+path)
}

// createExclusive writes content to path only if path does not exist, so that
// a reader never sees a partly written file: it writes a temporary file in
// the same directory and hard-links it into place. Where the file system has
// no hard links it falls back to an O_EXCL create.
func createExclusive(path string, content []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	err = os.Link(tmpName, path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(content); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
