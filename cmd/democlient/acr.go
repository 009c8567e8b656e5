package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// The provider's acr values (authentication context class references),
// weakest first, as its discovery document lists them in
// acr_values_supported. The demo knows them by name only to explain them:
// it imports nothing of the provider.
const (
	acrPassword          = "urn:authserver:acr:password"
	acrMFA               = "urn:authserver:acr:mfa"
	acrPhishingResistant = "urn:authserver:acr:phishing-resistant"
)

var acrOrder = []string{acrPassword, acrMFA, acrPhishingResistant}

// acrWords says what each level means, for the result page.
var acrWords = map[string]string{
	acrPassword:          "a password alone",
	acrMFA:               "a password and a second factor",
	acrPhishingResistant: "a passkey with user verification (phishing-resistant)",
}

// amrWords says what each RFC 8176 method means.
var amrWords = map[string]string{
	"pwd":  "password",
	"otp":  "one-time code (TOTP or recovery code)",
	"hwk":  "hardware-bound key (passkey on this device)",
	"swk":  "software key (synced passkey)",
	"user": "user verification by the authenticator (PIN or biometrics)",
	"mfa":  "more than one factor",
}

// signInClaims are the ID token's acr and amr (OIDC Core §2), how the
// provider says the user signed in.
type signInClaims struct {
	ACR string   `json:"acr"`
	AMR []string `json:"amr"`
}

// readSignIn reads acr and amr from an ID token's payload. A value of
// another type is reported, not fatal: it only loses the explanation.
func readSignIn(payload []byte) (signInClaims, error) {
	var raw struct {
		ACR json.RawMessage `json:"acr"`
		AMR json.RawMessage `json:"amr"`
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return signInClaims{}, err
	}
	var out signInClaims
	if len(raw.ACR) > 0 && json.Unmarshal(raw.ACR, &out.ACR) != nil {
		return signInClaims{}, fmt.Errorf("acr is not a string: %s", raw.ACR)
	}
	if len(raw.AMR) > 0 && json.Unmarshal(raw.AMR, &out.AMR) != nil {
		return signInClaims{}, fmt.Errorf("amr is not an array of strings: %s", raw.AMR)
	}
	return out, nil
}

// meets reports whether the level have is at least want. An unknown value
// meets nothing: the app cannot tell how strong it is.
func meets(have, want string) bool {
	h, w := slices.Index(acrOrder, have), slices.Index(acrOrder, want)
	return h >= 0 && w >= 0 && h >= w
}

// signInView is the "How you signed in" part of the result page.
type signInView struct {
	ACR, ACRWords string
	AMR           []amrItem
	// Asked is the acr_values the sign-in sent ("" for none); Met says
	// whether the ID token's acr reaches it. acr_values is a voluntary
	// request (OIDC Core §3.1.2.1), so the app checks, and says.
	Asked string
	Met   bool
}

type amrItem struct{ Value, Words string }

func newSignInView(c signInClaims, asked string) signInView {
	v := signInView{ACR: c.ACR, ACRWords: acrWords[c.ACR], Asked: asked, Met: asked == "" || meets(c.ACR, asked)}
	for _, m := range c.AMR {
		v.AMR = append(v.AMR, amrItem{Value: m, Words: amrWords[m]})
	}
	return v
}

// acrCheck is the line of the ID token checks about the level asked for.
func acrCheck(c signInClaims, asked string) string {
	switch {
	case asked == "":
		return ""
	case meets(c.ACR, asked):
		return fmt.Sprintf("The acr %s meets the level this app asked for (acr_values=%s).", c.ACR, asked)
	case c.ACR == "":
		return fmt.Sprintf("This app asked for acr_values=%s, but the ID token has no acr claim: the provider does not say how you signed in.", asked)
	}
	return fmt.Sprintf("This app asked for acr_values=%s, but the ID token's acr is %s: a weaker sign-in than asked for.", asked, strings.TrimSpace(c.ACR))
}
