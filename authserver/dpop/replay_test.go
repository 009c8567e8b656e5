package dpop_test

import (
	"context"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/dpop"
)

func TestVerifierDefaultReplayCacheIsBounded(t *testing.T) {
	t.Parallel()
	// The default cache uses the Verifier's clock: a proof recorded at
	// "now" is forgotten once the fake clock passes its window, and the
	// proof is by then too old anyway.
	clock := newFakeClock()
	v := newVerifier(t, clock)
	s := newSigner(t, "P-256", "", clock)
	raw, err := s.Proof(testMethod, testURL, dpop.ProofOptions{})
	if err != nil {
		t.Fatal(err)
	}
	req := dpop.Request{Proofs: []string{raw}, Method: testMethod, URL: testURL}
	if _, err := v.Verify(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	clock.advance(dpop.DefaultMaxAge + time.Second)
	if _, err := v.Verify(context.Background(), req); err == nil {
		t.Fatal("old proof accepted after its replay entry expired")
	}
}
