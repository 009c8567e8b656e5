package mfa

import "slices"

// The acr values (authentication context class references) this server
// can meet, weakest first. A relying party asks for one with acr_values or
// an essential acr claim; ID tokens carry the one the session meets.
const (
	// ACRPassword is a password alone.
	ACRPassword = "urn:authserver:acr:password"
	// ACRMFA is a password and a second factor (a TOTP code, a recovery
	// code or a passkey).
	ACRMFA = "urn:authserver:acr:mfa"
	// ACRPhishingResistant is a passkey with user verification, alone or
	// as the second step: the origin-bound signature cannot be relayed by
	// a look-alike site.
	ACRPhishingResistant = "urn:authserver:acr:phishing-resistant"
)

// The amr values (RFC 8176) sign-ins report.
const (
	AMRPassword    = "pwd"  // a password
	AMROTP         = "otp"  // a TOTP code or a recovery code
	AMRHardwareKey = "hwk"  // a device-bound passkey (not backup eligible)
	AMRSoftwareKey = "swk"  // a synced passkey (backup eligible)
	AMRUser        = "user" // user verification by the authenticator (PIN, biometrics)
	AMRMFA         = "mfa"  // two or more factors
)

// Factor is what a sign-in step proved besides (or instead of) a password.
type Factor string

// The factors.
const (
	// NoFactor: nothing besides the password.
	NoFactor Factor = ""
	// FactorTOTP is a code of the user's TOTP authenticator.
	FactorTOTP Factor = "totp"
	// FactorRecoveryCode is one of the user's single-use recovery codes.
	FactorRecoveryCode Factor = "recovery_code"
	// FactorHardwarePasskey is a device-bound passkey, with user
	// verification (every ceremony of this package requires it).
	FactorHardwarePasskey Factor = "passkey_hwk"
	// FactorSyncedPasskey is a synced (backup-eligible) passkey, with user
	// verification.
	FactorSyncedPasskey Factor = "passkey_swk"
)

// IsPasskey reports whether f is a passkey.
func (f Factor) IsPasskey() bool {
	return f == FactorHardwarePasskey || f == FactorSyncedPasskey
}

// AMRFor is the amr of a sign-in: password tells whether a password was
// checked, second what else was (NoFactor for a password alone; a passkey
// with password false for a passkey alone). A passkey with user
// verification is itself two factors (something held, something known or
// been), so it carries "mfa" even alone. The order is fixed: pwd, otp,
// hwk/swk, user, mfa. Nil when nothing was proved.
func AMRFor(password bool, second Factor) []string {
	var amr []string
	if password {
		amr = append(amr, AMRPassword)
	}
	switch second {
	case FactorTOTP, FactorRecoveryCode:
		amr = append(amr, AMROTP)
	case FactorHardwarePasskey:
		amr = append(amr, AMRHardwareKey, AMRUser)
	case FactorSyncedPasskey:
		amr = append(amr, AMRSoftwareKey, AMRUser)
	}
	if len(amr) > 1 {
		amr = append(amr, AMRMFA)
	}
	return amr
}

// ACRFor is the strongest acr that amr meets: phishing-resistant for a
// passkey with user verification, mfa for two or more factors, password
// for a password, "" for nothing this server knows.
func ACRFor(amr []string) string {
	passkey := slices.Contains(amr, AMRHardwareKey) || slices.Contains(amr, AMRSoftwareKey)
	switch {
	case passkey && slices.Contains(amr, AMRUser):
		return ACRPhishingResistant
	case slices.Contains(amr, AMRMFA):
		return ACRMFA
	case slices.Contains(amr, AMRPassword), passkey:
		return ACRPassword
	}
	return ""
}

// acrOrder lists the acr values weakest first.
var acrOrder = []string{ACRPassword, ACRMFA, ACRPhishingResistant}

// Satisfies reports whether a session at level have meets a request for
// level want (password < mfa < phishing-resistant). An unknown value on
// either side satisfies nothing: a relying party asking for a level this
// server does not know must not get a weaker one.
func Satisfies(have, want string) bool {
	h, w := slices.Index(acrOrder, have), slices.Index(acrOrder, want)
	return h >= 0 && w >= 0 && h >= w
}

// KnownACR reports whether v is one of ACRValues.
func KnownACR(v string) bool { return slices.Contains(acrOrder, v) }

// ACRValues is acr_values_supported for discovery, weakest first.
func ACRValues() []string { return slices.Clone(acrOrder) }
