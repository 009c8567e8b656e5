package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/big"
	"testing"
)

var allAlgs = []string{ES256, RS256, EdDSA}

// rfc7638 computes the JWK thumbprint by hand, independently of go-jose:
// the required members in lexicographic order, no white space (RFC 7638
// section 3; OKP members from RFC 8037 appendix A.3).
func rfc7638(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	var canon string
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		x, y := make([]byte, 32), make([]byte, 32)
		k.X.FillBytes(x)
		k.Y.FillBytes(y)
		canon = fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}`, enc(x), enc(y))
	case *rsa.PublicKey:
		canon = fmt.Sprintf(`{"e":"%s","kty":"RSA","n":"%s"}`, enc(big.NewInt(int64(k.E)).Bytes()), enc(k.N.Bytes()))
	case ed25519.PublicKey:
		canon = fmt.Sprintf(`{"crv":"Ed25519","kty":"OKP","x":"%s"}`, enc(k))
	default:
		t.Fatalf("unexpected key type %T", pub)
	}
	sum := sha256.Sum256([]byte(canon))
	return enc(sum[:])
}

func TestGenerateAndKeyID(t *testing.T) {
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			k1, err := Generate(alg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := checkKey(alg, k1); err != nil {
				t.Fatalf("generated key does not fit %s: %v", alg, err)
			}
			kid, err := KeyID(k1.Public())
			if err != nil {
				t.Fatal(err)
			}
			if len(kid) != 43 {
				t.Errorf("kid %q: want 43 base64url characters", kid)
			}
			again, _ := KeyID(k1.Public())
			fromSigner, _ := KeyID(k1)
			if again != kid || fromSigner != kid {
				t.Errorf("kid not stable: %s, %s, %s", kid, again, fromSigner)
			}
			if want := rfc7638(t, k1.Public()); kid != want {
				t.Errorf("kid %s, RFC 7638 thumbprint %s", kid, want)
			}
			// The kid survives sealing.
			kek := testKEK(1)
			sealed, err := Seal(kek, k1)
			if err != nil {
				t.Fatal(err)
			}
			opened, err := Open(kek, sealed)
			if err != nil {
				t.Fatal(err)
			}
			if kidOpened, _ := KeyID(opened); kidOpened != kid {
				t.Errorf("kid after Open %s, before %s", kidOpened, kid)
			}
			k2, err := Generate(alg)
			if err != nil {
				t.Fatal(err)
			}
			if kid2, _ := KeyID(k2); kid2 == kid {
				t.Error("two generated keys have the same kid")
			}
		})
	}
	if k, _ := Generate(RS256); k.(*rsa.PrivateKey).N.BitLen() != 2048 {
		t.Error("RS256 key is not 2048 bits")
	}
	if k, _ := Generate(ES256); k.(*ecdsa.PrivateKey).Curve.Params().Name != "P-256" {
		t.Error("ES256 key is not P-256")
	}
}

func TestGenerateErrors(t *testing.T) {
	for _, alg := range []string{"", "HS256", "es256", "RS256-3072", "PS256", "none"} {
		if _, err := Generate(alg); err == nil {
			t.Errorf("Generate(%q): no error", alg)
		}
	}
	if _, err := GenerateRSA(1024); err == nil {
		t.Error("GenerateRSA(1024): no error")
	}
	if _, err := KeyID([]byte("not a key")); err == nil {
		t.Error("KeyID of a byte slice: no error")
	}
	if _, err := KeyID((*ecdsa.PublicKey)(nil)); err == nil {
		t.Error("KeyID of nil key: no error")
	}
	if _, err := KeyID(ed25519.PublicKey{1, 2}); err == nil {
		t.Error("KeyID of short Ed25519 key: no error")
	}
}

func TestGenerateRSA3072(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	k, err := GenerateRSA(3072)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := checkKey(RS256, k); err != nil || n != 384 {
		t.Fatalf("checkKey: %d, %v", n, err)
	}
}
