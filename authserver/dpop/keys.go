package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// DefaultAlgorithms are the proof algorithms a Verifier accepts when
// Config.Algorithms is empty: the ones FAPI 2.0 allows (ES256, EdDSA, PS256)
// and RS256, which many clients still use. They are also what a server
// advertises (dpop_signing_alg_values_supported, the algs of a DPoP
// challenge).
var DefaultAlgorithms = []string{"ES256", "EdDSA", "PS256", "RS256"}

// asymmetric are the only algorithms a Verifier may allow (RFC 9449 §4.3
// check 5): a proof is signed with a key whose public half travels in the
// proof itself, so a symmetric (HS*) algorithm would prove nothing, and
// "none" even less.
var asymmetric = map[string]bool{
	"ES256": true, "ES384": true, "ES512": true,
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"EdDSA": true,
}

// minRSABits is the smallest RSA modulus accepted in a proof. go-jose caps
// the largest (jose.MaxRSAModulusBits, 4096), which bounds the cost of one
// verification.
const minRSABits = 2048

// keyFits reports why pub cannot sign with alg, or nil if it can. go-jose
// would refuse most mismatches when verifying anyway; checking first gives
// a clear reason, and refuses what it would accept (a P-384 key under
// ES256, a 1024-bit RSA key).
func keyFits(alg string, pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		want := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
		if want == nil {
			return fmt.Errorf("an EC key cannot sign with %s", alg)
		}
		if k.Curve != want {
			return fmt.Errorf("%s needs a key on curve %s", alg, want.Params().Name)
		}
	case *rsa.PublicKey:
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		default:
			return fmt.Errorf("an RSA key cannot sign with %s", alg)
		}
		if k.N.BitLen() < minRSABits {
			return fmt.Errorf("RSA keys must have at least %d bits", minRSABits)
		}
	case ed25519.PublicKey:
		if alg != "EdDSA" {
			return fmt.Errorf("an Ed25519 key cannot sign with %s", alg)
		}
	default:
		return fmt.Errorf("unsupported key type %T", pub)
	}
	return nil
}

// defaultAlgorithm is the algorithm a Signer uses for pub when none is
// given.
func defaultAlgorithm(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P384():
			return "ES384"
		case elliptic.P521():
			return "ES512"
		}
		return "ES256"
	case ed25519.PublicKey:
		return "EdDSA"
	case *rsa.PublicKey:
		return "PS256"
	}
	return ""
}

// Thumbprint returns the RFC 7638 JWK SHA-256 thumbprint of jwk, base64url
// encoded without padding: the value of cnf.jkt (RFC 9449 §6.1) and of the
// dpop_jkt authorization parameter (§10). A private key gets the thumbprint
// of its public half.
func Thumbprint(jwk *jose.JSONWebKey) (string, error) {
	if jwk == nil || jwk.Key == nil {
		return "", errors.New("dpop: thumbprint of an empty JWK")
	}
	pub := jwk.Public()
	sum, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("dpop: thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// AccessTokenHash is the ath claim for token (RFC 9449 §4.2): the base64url
// SHA-256 of its ASCII value.
func AccessTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
