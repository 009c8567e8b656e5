package mfa_test

import (
	"slices"
	"testing"

	"github.com/authserver-dev/authserver/authserver/mfa"
)

// TestAMRFor covers every sign-in path: the amr values (RFC 8176) and the
// acr they earn.
func TestAMRFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		password bool
		second   mfa.Factor
		amr      []string
		acr      string
	}{
		{true, mfa.NoFactor, []string{"pwd"}, mfa.ACRPassword},
		{true, mfa.FactorTOTP, []string{"pwd", "otp", "mfa"}, mfa.ACRMFA},
		{true, mfa.FactorRecoveryCode, []string{"pwd", "otp", "mfa"}, mfa.ACRMFA},
		{true, mfa.FactorHardwarePasskey, []string{"pwd", "hwk", "user", "mfa"}, mfa.ACRPhishingResistant},
		{true, mfa.FactorSyncedPasskey, []string{"pwd", "swk", "user", "mfa"}, mfa.ACRPhishingResistant},
		{false, mfa.FactorHardwarePasskey, []string{"hwk", "user", "mfa"}, mfa.ACRPhishingResistant},
		{false, mfa.FactorSyncedPasskey, []string{"swk", "user", "mfa"}, mfa.ACRPhishingResistant},
		{false, mfa.NoFactor, nil, ""},
	}
	for _, tc := range tests {
		amr := mfa.AMRFor(tc.password, tc.second)
		if !slices.Equal(amr, tc.amr) {
			t.Errorf("AMRFor(%v, %q) = %v, want %v", tc.password, tc.second, amr, tc.amr)
		}
		if acr := mfa.ACRFor(amr); acr != tc.acr {
			t.Errorf("ACRFor(%v) = %q, want %q", amr, acr, tc.acr)
		}
	}
	// A passkey without user verification is one factor: not
	// phishing-resistant in our sense, not mfa.
	if acr := mfa.ACRFor([]string{"hwk"}); acr != mfa.ACRPassword {
		t.Errorf("ACRFor([hwk]) = %q", acr)
	}
	if !mfa.FactorSyncedPasskey.IsPasskey() || mfa.FactorTOTP.IsPasskey() {
		t.Error("IsPasskey")
	}
}

// TestSatisfies: password < mfa < phishing-resistant; unknown values meet
// nothing and are met by nothing.
func TestSatisfies(t *testing.T) {
	t.Parallel()
	levels := mfa.ACRValues()
	if !slices.Equal(levels, []string{mfa.ACRPassword, mfa.ACRMFA, mfa.ACRPhishingResistant}) ||
		mfa.ACRPassword != "urn:authserver:acr:password" || mfa.ACRMFA != "urn:authserver:acr:mfa" ||
		mfa.ACRPhishingResistant != "urn:authserver:acr:phishing-resistant" {
		t.Fatalf("ACRValues = %v", levels)
	}
	for i, have := range levels {
		for j, want := range levels {
			if got := mfa.Satisfies(have, want); got != (i >= j) {
				t.Errorf("Satisfies(%s, %s) = %v", have, want, got)
			}
		}
		if mfa.Satisfies(have, "urn:other:gold") || mfa.Satisfies("urn:other:gold", have) || mfa.Satisfies("", have) {
			t.Errorf("an unknown value compared with %s", have)
		}
		if !mfa.KnownACR(have) {
			t.Errorf("KnownACR(%s) = false", have)
		}
	}
	if mfa.KnownACR("urn:other:gold") {
		t.Error("KnownACR of an unknown value")
	}
	levels[0] = "changed"
	if mfa.ACRValues()[0] != mfa.ACRPassword {
		t.Error("ACRValues shares its slice")
	}
}
