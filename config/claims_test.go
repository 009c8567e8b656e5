package config_test

import (
	"strings"
	"testing"

	"github.com/authserver-dev/authserver/config"
)

// users[].claims decodes every standard claim, nested address included.
func TestUserClaimsDecode(t *testing.T) {
	c, err := config.Parse([]byte(`users:
  - username: alice
    password: p
    claims:
      given_name: Alice
      phone_number: +33 1 23 45 67 89
      phone_number_verified: true
      birthdate: 0000-12-31
      zoneinfo: America/Argentina/Buenos_Aires
      locale: fr_CA
      address:
        locality: Paris
        postal_code: "75001"
`))
	if err != nil {
		t.Fatal(err)
	}
	got := c.Users[0].Claims
	want := config.UserClaims{GivenName: "Alice", PhoneNumber: "+33 1 23 45 67 89", PhoneNumberVerified: true,
		Birthdate: "0000-12-31", Zoneinfo: "America/Argentina/Buenos_Aires", Locale: "fr_CA",
		Address: config.Address{Locality: "Paris", PostalCode: "75001"}}
	if got != want {
		t.Errorf("claims %+v\nwant %+v", got, want)
	}
	if ps := got.Problems("users[0].claims."); len(ps) != 0 {
		t.Errorf("valid claims reported: %v", ps)
	}
	_, err = config.Parse([]byte("users:\n  - username: a\n    password: p\n    claims: {given: A, address: {town: X}}\n"))
	for _, want := range []string{`unknown key "given" in users[0].claims`, `unknown key "town" in users[0].claims.address`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

// Each malformed claim is reported with its path, all at once.
func TestUserClaimsValidation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		claims config.UserClaims
		field  string
	}{
		{"relative picture", config.UserClaims{Picture: "/alice.png"}, "picture"},
		{"javascript website", config.UserClaims{Website: "javascript:alert(1)"}, "website"},
		{"profile without host", config.UserClaims{Profile: "https://"}, "profile"},
		{"birthdate format", config.UserClaims{Birthdate: "31/12/1990"}, "birthdate"},
		{"birthdate day", config.UserClaims{Birthdate: "1990-02-30"}, "birthdate"},
		{"birthdate year zero", config.UserClaims{Birthdate: "0000"}, "birthdate"},
		{"zoneinfo", config.UserClaims{Zoneinfo: "Paris time"}, "zoneinfo"},
		{"locale", config.UserClaims{Locale: "french!"}, "locale"},
		{"phone without country code", config.UserClaims{PhoneNumber: "01 23 45 67 89"}, "phone_number"},
		{"phone too long", config.UserClaims{PhoneNumber: "+1234567890123456"}, "phone_number"},
		{"verified without phone", config.UserClaims{PhoneNumberVerified: true}, "phone_number_verified"},
		{"control character", config.UserClaims{GivenName: "A\x00"}, "given_name"},
		{"control character in address", config.UserClaims{Address: config.Address{Locality: "P\naris"}}, "address.locality"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Users[0].Claims = tc.claims
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), "users[0].claims."+tc.field) {
				t.Fatalf("error %v, want one about users[0].claims.%s", err, tc.field)
			}
		})
	}
	ok := config.UserClaims{Birthdate: "1990", Website: "https://a.example", PhoneNumber: "+1 (425) 555-1212;ext=12", Zoneinfo: "UTC", Locale: "en-US"}
	if ps := ok.Problems(""); len(ps) != 0 {
		t.Errorf("valid claims reported: %v", ps)
	}
}
