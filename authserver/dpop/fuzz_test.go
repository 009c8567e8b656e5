package dpop_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/authserver-dev/authserver/authserver/dpop"
)

// FuzzVerify feeds arbitrary DPoP header values to Verify: it must never
// panic, must refuse with a *dpop.Error, and may accept only a proof signed
// by the key it carries for this very request.
func FuzzVerify(f *testing.F) {
	clock := newFakeClock()
	s := newSigner(f, "P-256", "", clock)
	valid, err := s.Proof(testMethod, testURL, dpop.ProofOptions{})
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(valid, ".")
	for _, seed := range []string{
		valid,
		parts[0] + "." + parts[1] + ".",
		parts[0] + ".." + parts[2],
		b64(map[string]any{"alg": "none", "typ": "dpop+jwt"}) + "." + parts[1] + ".",
		b64(map[string]any{"alg": "ES256", "typ": "dpop+jwt", "jwk": map[string]any{"kty": "EC", "crv": "P-256", "x": 1}}) + "." + parts[1] + "." + parts[2],
		b64(map[string]any{"alg": "ES256", "typ": "dpop+jwt", "jwk": "x"}) + "." + b64(map[string]any{"iat": "x", "htu": 7}) + "." + parts[2],
		"", ".", "..", "a.b.c", "a.b.c.d.e", "eyJ.eyJ.", strings.Repeat("A", 1000),
	} {
		f.Add(seed)
	}
	v := newVerifier(f, clock)
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := v.Verify(context.Background(), dpop.Request{Proofs: []string{raw}, Method: testMethod, URL: testURL})
		if err != nil {
			if _, ok := errors.AsType[*dpop.Error](err); !ok {
				t.Fatalf("error %v is %T, want *dpop.Error", err, err)
			}
			if p != nil {
				t.Fatal("proof returned with an error")
			}
			return
		}
		if p.JKT == "" || p.ID == "" || !p.Key.IsPublic() {
			t.Fatalf("accepted proof %+v", p)
		}
	})
}
