package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/x509"
	"encoding/base64"
	"testing"
)

func FuzzParseKEK(f *testing.F) {
	f.Add(base64.StdEncoding.EncodeToString(testKEK(1)))
	f.Add("")
	f.Add("====")
	f.Add(" \n\t")
	f.Add(base64.StdEncoding.EncodeToString(testKEK(1))[:43])
	f.Fuzz(func(t *testing.T, s string) {
		kek, err := ParseKEK(s)
		if err == nil && len(kek) != KEKSize {
			t.Fatalf("accepted %d-byte kek", len(kek))
		}
	})
}

// FuzzOpen feeds garbage sealed keys to Open, which must fail cleanly.
func FuzzOpen(f *testing.F) {
	kek := testKEK(1)
	for _, alg := range allAlgs {
		k, _ := Generate(alg)
		sealed, _ := Seal(kek, k)
		f.Add(sealed)
	}
	f.Add([]byte{})
	f.Add(make([]byte, 28))
	f.Fuzz(func(t *testing.T, sealed []byte) {
		if k, err := Open(kek, sealed); err == nil {
			if _, err := KeyID(k); err != nil {
				t.Fatalf("opened a key without a kid: %v", err)
			}
		}
	})
}

// FuzzOpenPlaintext seals arbitrary bytes properly, as someone holding the
// KEK could, so that the PKCS#8 parsing behind the AEAD is fuzzed too.
func FuzzOpenPlaintext(f *testing.F) {
	kek := testKEK(1)
	for _, alg := range allAlgs {
		k, _ := Generate(alg)
		der, _ := x509.MarshalPKCS8PrivateKey(k)
		f.Add(der)
	}
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		block, _ := aes.NewCipher(kek)
		aead, _ := cipher.NewGCM(block)
		sealed := aead.Seal(make([]byte, 12), make([]byte, 12), der, nil)
		k, err := Open(kek, sealed)
		if err != nil {
			return
		}
		var alg string
		for _, a := range allAlgs {
			if _, err := checkKey(a, k); err == nil {
				alg = a
			}
		}
		if alg == "" {
			return // e.g. a P-384 ECDSA key: opens, but Load refuses it
		}
		kid, err := KeyID(k)
		if err != nil {
			t.Fatal(err)
		}
		sk, err := newSigningKey(alg, kid, k)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sk.sign(nil, []byte("{}")); err != nil {
			t.Logf("sign with parsed key: %v", err)
		}
	})
}
