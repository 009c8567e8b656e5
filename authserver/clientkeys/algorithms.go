package clientkeys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"slices"
)

// DefaultAlgorithms are the JWS algorithms a Verifier accepts when
// Config.Algorithms is empty: those FAPI 2.0 allows and RS256, which OpenID
// Connect Core §9 makes the one every private_key_jwt client can use. A
// fresh slice each call, so no caller can change another's list.
func DefaultAlgorithms() []string { return []string{"RS256", "PS256", "ES256", "EdDSA"} }

// FAPI2Algorithms are the algorithms the FAPI 2.0 Security Profile allows
// for client assertions and request objects (its cryptography section:
// PS256, ES256 or EdDSA; RS256's PKCS#1 v1.5 signatures are out). Pass them as the policy of a
// client with that profile.
func FAPI2Algorithms() []string { return []string{"PS256", "ES256", "EdDSA"} }

// asymmetric are the only algorithms a Verifier may be configured with.
// With a symmetric algorithm the "key" would be something the server holds
// in common with others — for a JWKS, the public key itself, so anyone could
// sign (the classic RS256-to-HS256 key confusion); none signs nothing.
var asymmetric = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true,
	"EdDSA": true,
}

// minRSABits is the smallest RSA modulus accepted (NIST SP 800-131A, RFC
// 7518 §3.3). go-jose refuses moduli above jose.MaxRSAModulusBits (4096),
// which bounds the cost of one verification.
const minRSABits = 2048

// keyFits reports why pub cannot verify a signature made with alg, or nil
// if it can. go-jose refuses most mismatches when verifying; checking first
// gives a clear reason and also refuses what it would accept (a P-384 key
// under ES256).
func keyFits(alg string, pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		want := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
		if want == nil {
			return fmt.Errorf("an EC key cannot verify %s", alg)
		}
		if k.Curve != want {
			return fmt.Errorf("%s needs a key on curve %s, not %s", alg, want.Params().Name, k.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		if !slices.Contains([]string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}, alg) {
			return fmt.Errorf("an RSA key cannot verify %s", alg)
		}
	case ed25519.PublicKey:
		if alg != "EdDSA" {
			return fmt.Errorf("an Ed25519 key cannot verify %s", alg)
		}
	default:
		return fmt.Errorf("unsupported key type %T", pub)
	}
	return nil
}

// checkAlgorithms returns the problems of a configured algorithm list.
func checkAlgorithms(field string, algs []string) []string {
	var problems []string
	for _, a := range algs {
		if !asymmetric[a] {
			problems = append(problems, fmt.Sprintf("%s: %q is not allowed (allowed: asymmetric JWS algorithms RS256, PS256, ES256, EdDSA and their 384/512 variants; never none or HS*)", field, a))
		}
	}
	return problems
}

// narrow returns the algorithms of base that a policy's list also names, in
// base's order; an empty policy list leaves base as it is.
func narrow(base, policy []string) []string {
	if len(policy) == 0 {
		return base
	}
	var out []string
	for _, a := range base {
		if slices.Contains(policy, a) {
			out = append(out, a)
		}
	}
	return out
}
