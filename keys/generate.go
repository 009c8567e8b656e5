package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// The JOSE names of the signing algorithms this package supports.
const (
	ES256 = "ES256" // ECDSA on P-256 with SHA-256
	RS256 = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256
	EdDSA = "EdDSA" // Ed25519
)

// DefaultRSABits is the modulus size Generate uses for RS256.
const DefaultRSABits = 2048

// MinRSABits is the smallest modulus GenerateRSA accepts and the smallest
// RS256 key the package will load.
const MinRSABits = 2048

// Generate makes a new private key for the JOSE algorithm alg: ES256 (P-256),
// RS256 (RSA, DefaultRSABits) or EdDSA (Ed25519).
func Generate(alg string) (crypto.Signer, error) {
	return generate(alg, DefaultRSABits)
}

// generate is Generate with the RSA modulus size as a parameter, so that a
// Manager can honour Options.RSABits without widening the exported API.
func generate(alg string, rsaBits int) (crypto.Signer, error) {
	switch alg {
	case ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		return k, nil
	case RS256:
		return GenerateRSA(rsaBits)
	case EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		return priv, nil
	default:
		return nil, fmt.Errorf("keys: unsupported algorithm %q (want ES256, RS256 or EdDSA)", alg)
	}
}

// GenerateRSA makes a new RSA key of the given modulus size for RS256. Sizes
// under MinRSABits are refused.
func GenerateRSA(bits int) (crypto.Signer, error) {
	if bits < MinRSABits {
		return nil, fmt.Errorf("keys: RSA key of %d bits is too small (minimum %d)", bits, MinRSABits)
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, err
	}
	return k, nil
}

// KeyID returns the kid of a key: its RFC 7638 JWK thumbprint with SHA-256,
// base64url without padding. pub may be a public key or a crypto.Signer, whose
// public half is used; either way the kid of a key pair is the same.
func KeyID(pub crypto.PublicKey) (string, error) {
	if s, ok := pub.(crypto.Signer); ok {
		pub = s.Public()
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k == nil {
			return "", errors.New("keys: nil ECDSA public key")
		}
	case *rsa.PublicKey:
		if k == nil {
			return "", errors.New("keys: nil RSA public key")
		}
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "", errors.New("keys: malformed Ed25519 public key")
		}
	default:
		return "", fmt.Errorf("keys: unsupported public key type %T", pub)
	}
	jwk := jose.JSONWebKey{Key: pub}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("keys: thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// checkKey reports whether signer is a usable key for alg and returns the
// length in bytes of the JWS signatures it makes.
func checkKey(alg string, signer crypto.Signer) (sigLen int, err error) {
	switch alg {
	case ES256:
		k, ok := signer.(*ecdsa.PrivateKey)
		if !ok {
			return 0, fmt.Errorf("keys: ES256 needs an ECDSA key, got %T", signer)
		}
		if k.Curve != elliptic.P256() {
			return 0, fmt.Errorf("keys: ES256 needs a P-256 key, got %s", k.Curve.Params().Name)
		}
		return 64, nil
	case RS256:
		k, ok := signer.(*rsa.PrivateKey)
		if !ok {
			return 0, fmt.Errorf("keys: RS256 needs an RSA key, got %T", signer)
		}
		if k.N.BitLen() < MinRSABits {
			return 0, fmt.Errorf("keys: RSA key of %d bits is too small (minimum %d)", k.N.BitLen(), MinRSABits)
		}
		return k.Size(), nil
	case EdDSA:
		k, ok := signer.(ed25519.PrivateKey)
		if !ok {
			return 0, fmt.Errorf("keys: EdDSA needs an Ed25519 key, got %T", signer)
		}
		if len(k) != ed25519.PrivateKeySize {
			return 0, errors.New("keys: malformed Ed25519 private key")
		}
		return ed25519.SignatureSize, nil
	default:
		return 0, fmt.Errorf("keys: unsupported algorithm %q (want ES256, RS256 or EdDSA)", alg)
	}
}
