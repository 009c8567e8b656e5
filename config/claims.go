package config

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// UserClaims are a user's OpenID Connect standard claims (OIDC Core §5.1)
// beyond those with keys of their own: sub is the user's id,
// preferred_username the username, name, email and email_verified are
// users[].name, .email and .email_verified, and updated_at is when the user
// last changed. The keys are the claim names. Which of them a client
// receives is decided by its scopes (profile, email, address, phone) and
// the claims request parameter.
type UserClaims struct {
	GivenName  string `yaml:"given_name,omitempty" json:"given_name,omitempty"`
	FamilyName string `yaml:"family_name,omitempty" json:"family_name,omitempty"`
	MiddleName string `yaml:"middle_name,omitempty" json:"middle_name,omitempty"`
	Nickname   string `yaml:"nickname,omitempty" json:"nickname,omitempty"`
	// Profile, Picture and Website are absolute http(s) URLs.
	Profile string `yaml:"profile,omitempty" json:"profile,omitempty"`
	Picture string `yaml:"picture,omitempty" json:"picture,omitempty"`
	Website string `yaml:"website,omitempty" json:"website,omitempty"`
	Gender  string `yaml:"gender,omitempty" json:"gender,omitempty"`
	// Birthdate is YYYY-MM-DD, YYYY (year only) or 0000-MM-DD (year withheld).
	Birthdate string `yaml:"birthdate,omitempty" json:"birthdate,omitempty"`
	// Zoneinfo is an IANA time zone name such as Europe/Paris.
	Zoneinfo string `yaml:"zoneinfo,omitempty" json:"zoneinfo,omitempty"`
	// Locale is a BCP 47 language tag such as en-US (fr_CA is accepted too).
	Locale string `yaml:"locale,omitempty" json:"locale,omitempty"`
	// PhoneNumber starts with + and the country code (E.164); spaces,
	// hyphens and parentheses may separate the digits, and ;ext=123 may follow.
	PhoneNumber         string  `yaml:"phone_number,omitempty" json:"phone_number,omitempty"`
	PhoneNumberVerified bool    `yaml:"phone_number_verified,omitempty" json:"phone_number_verified,omitempty"`
	Address             Address `yaml:"address,omitempty" json:"address,omitempty"`
}

// Address is the structured address claim (OIDC Core §5.1.1).
type Address struct {
	// Formatted is the whole address for display; it may span lines.
	Formatted     string `yaml:"formatted,omitempty" json:"formatted,omitempty"`
	StreetAddress string `yaml:"street_address,omitempty" json:"street_address,omitempty"`
	Locality      string `yaml:"locality,omitempty" json:"locality,omitempty"`
	Region        string `yaml:"region,omitempty" json:"region,omitempty"`
	PostalCode    string `yaml:"postal_code,omitempty" json:"postal_code,omitempty"`
	Country       string `yaml:"country,omitempty" json:"country,omitempty"`
}

var (
	zoneinfoPattern = regexp.MustCompile(`^(UTC|[A-Z][A-Za-z_+-]*(/[A-Za-z0-9_+-]+)+)$`)
	localePattern   = regexp.MustCompile(`^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$`)
	phonePattern    = regexp.MustCompile(`^\+[0-9][0-9 ()-]*[0-9]?(;ext=[0-9]+)?$`)
)

// Problems lists what is wrong with the claims, each with its claim name
// (prefix + name), so that the configuration and the CLI report the same
// mistakes in the same words.
func (c UserClaims) Problems(prefix string) []Problem {
	var ps problems
	at := func(name string) string { return prefix + name }
	for name, v := range map[string]string{"profile": c.Profile, "picture": c.Picture, "website": c.Website} {
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ps.add(at(name), "%q is not an absolute http or https URL", v)
		}
	}
	if c.Birthdate != "" && !validBirthdate(c.Birthdate) {
		ps.add(at("birthdate"), "%q is not a date: use YYYY-MM-DD, YYYY or 0000-MM-DD (OIDC Core §5.1)", c.Birthdate)
	}
	if c.Zoneinfo != "" && !zoneinfoPattern.MatchString(c.Zoneinfo) {
		ps.add(at("zoneinfo"), "%q is not a time zone name such as Europe/Paris or America/Los_Angeles", c.Zoneinfo)
	}
	if c.Locale != "" && !localePattern.MatchString(c.Locale) {
		ps.add(at("locale"), "%q is not a language tag such as en-US", c.Locale)
	}
	if c.PhoneNumber != "" {
		number, _, _ := strings.Cut(c.PhoneNumber, ";")
		digits := len(strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, number))
		if !phonePattern.MatchString(c.PhoneNumber) || digits > 15 {
			ps.add(at("phone_number"), "%q is not an international number such as +1 (425) 555-1212 (E.164: + and at most 15 digits)", c.PhoneNumber)
		}
	}
	if c.PhoneNumberVerified && c.PhoneNumber == "" {
		ps.add(at("phone_number_verified"), "is true but there is no phone_number")
	}
	for name, v := range map[string]string{
		"given_name": c.GivenName, "family_name": c.FamilyName, "middle_name": c.MiddleName, "nickname": c.Nickname,
		"gender": c.Gender, "address.street_address": c.Address.StreetAddress, "address.locality": c.Address.Locality,
		"address.region": c.Address.Region, "address.postal_code": c.Address.PostalCode, "address.country": c.Address.Country,
	} {
		if strings.ContainsAny(v, "\x00\r\n\t") {
			ps.add(at(name), "contains a control character")
		}
	}
	sortProblems(ps)
	return ps
}

// validBirthdate accepts the three forms of OIDC Core §5.1's birthdate.
func validBirthdate(v string) bool {
	if len(v) == 4 {
		_, err := time.Parse("2006", v)
		return err == nil && v != "0000"
	}
	if strings.HasPrefix(v, "0000-") {
		// The year is withheld; any leap year checks the month and day.
		_, err := time.Parse("2006-01-02", "2000"+v[4:])
		return err == nil
	}
	_, err := time.Parse("2006-01-02", v)
	return err == nil
}

// sortProblems orders problems by field, so that map iteration above never
// changes the report.
func sortProblems(ps problems) {
	slices.SortFunc(ps, func(a, b Problem) int { return strings.Compare(a.Field, b.Field) })
}
