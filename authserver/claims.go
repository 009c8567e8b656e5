package authserver

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/authserver-dev/authserver/authserver/mfa"
	"github.com/authserver-dev/authserver/authserver/storage"
)

// This file decides which claims about a user are released, and to whom:
// the scope values of OIDC Core §5.4 and the claims request parameter of
// §5.5, for the ID token and the userinfo endpoint alike.

// scopeClaims are the claims each scope value releases (OIDC Core §5.4).
var scopeClaims = map[string][]string{
	"profile": {"name", "family_name", "given_name", "middle_name", "nickname", "preferred_username",
		"profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"},
	"email":   {"email", "email_verified"},
	"address": {"address"},
	"phone":   {"phone_number", "phone_number_verified"},
}

// userClaimNames are every user claim the server can release, in the order
// discovery lists them.
var userClaimNames = slices.Concat(scopeClaims["profile"], scopeClaims["email"], scopeClaims["address"], scopeClaims["phone"])

// idTokenProtocolClaims are the claims of every ID token that are not about
// the user (OIDC Core §2), besides sub: acr is the level the session's
// sign-in met and amr its methods (RFC 8176), in every ID token and
// userinfo answer.
var idTokenProtocolClaims = []string{"iss", "sub", "aud", "azp", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "acr", "amr"}

// supportedClaims is claims_supported: exactly what some token or userinfo
// answer can carry.
var supportedClaims = slices.Concat(idTokenProtocolClaims, userClaimNames)

// claimRequest is one member of a claims request (OIDC Core §5.5.1): null,
// or an object with essential, value or values. Only acr's value and values
// mean anything here; other claims have one value, the user's.
type claimRequest struct {
	Essential bool     `json:"essential,omitempty"`
	Value     string   `json:"value,omitempty"`
	Values    []string `json:"values,omitempty"`
}

// claimsRequest is the claims parameter, reduced to what the server can
// release: names it does not know are dropped, as are members other than
// userinfo and id_token (both ignored by §5.5).
type claimsRequest struct {
	Userinfo map[string]*claimRequest `json:"userinfo,omitempty"`
	IDToken  map[string]*claimRequest `json:"id_token,omitempty"`
}

// parseClaimsRequest reads the claims parameter; "" is no request. A value
// that is not a JSON object of the §5.5 shape is invalid_request. A request
// for an essential acr none of whose values this server knows fails the
// authentication (§5.5.1.1), as unmet_authentication_requirements, since no
// sign-in here could produce it; one it knows is a demand on the session
// (acr.go).
func parseClaimsRequest(raw string) (*claimsRequest, error) {
	if raw == "" {
		return nil, nil
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &doc); err != nil || doc == nil {
		return nil, errInvalidRequest("claims must be a JSON object with userinfo and id_token members (OIDC Core §5.5)")
	}
	cr := &claimsRequest{}
	for member, dst := range map[string]*map[string]*claimRequest{"userinfo": &cr.Userinfo, "id_token": &cr.IDToken} {
		body, ok := doc[member]
		if !ok || bytes.Equal(bytes.TrimSpace(body), []byte("null")) {
			continue
		}
		var entries map[string]json.RawMessage
		if err := json.Unmarshal(body, &entries); err != nil {
			return nil, errInvalidRequest("claims.%s must be a JSON object of claim names", member)
		}
		for name, spec := range entries {
			if name != "acr" && !slices.Contains(userClaimNames, name) {
				continue // nothing to release: not an error (§5.5.1)
			}
			req, err := parseClaimSpec(spec)
			if err != nil {
				return nil, errInvalidRequest("claims.%s.%s must be null or an object with essential, value or values", member, name)
			}
			if *dst == nil {
				*dst = map[string]*claimRequest{}
			}
			(*dst)[name] = req
		}
	}
	if cr.unmetACR() {
		return nil, errUnmetAuthentication("an essential acr was requested that this server cannot meet; its acr values are %s", strings.Join(mfa.ACRValues(), " "))
	}
	if cr.Userinfo == nil && cr.IDToken == nil {
		return nil, nil
	}
	return cr, nil
}

// parseClaimSpec reads null or {"essential", "value", "values"}. Values of
// another type than a string (allowed by §5.5.1 for other claims) are
// dropped: only acr's are ever compared.
func parseClaimSpec(spec json.RawMessage) (*claimRequest, error) {
	if bytes.Equal(bytes.TrimSpace(spec), []byte("null")) {
		return &claimRequest{}, nil
	}
	var raw struct {
		Essential *bool             `json:"essential"`
		Value     json.RawMessage   `json:"value"`
		Values    []json.RawMessage `json:"values"`
	}
	if err := json.Unmarshal(spec, &raw); err != nil {
		return nil, err
	}
	var out claimRequest
	if raw.Essential != nil {
		out.Essential = *raw.Essential
	}
	_ = json.Unmarshal(raw.Value, &out.Value)
	for _, v := range raw.Values {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out.Values = append(out.Values, s)
		}
	}
	return &out, nil
}

// unmetACR reports whether an essential acr names values of which this
// server knows none.
func (cr *claimsRequest) unmetACR() bool {
	for _, m := range []map[string]*claimRequest{cr.Userinfo, cr.IDToken} {
		if wanted := essentialValues(m); len(wanted) > 0 && !slices.ContainsFunc(wanted, mfa.KnownACR) {
			return true
		}
	}
	return false
}

// essentialACR are the values of an essential acr the request names (in
// id_token or userinfo), nil for none: the session must meet one of them.
func (cr *claimsRequest) essentialACR() []string {
	if cr == nil {
		return nil
	}
	return slices.Concat(essentialValues(cr.IDToken), essentialValues(cr.Userinfo))
}

// essentialValues are the values of m's acr when it is essential.
func essentialValues(m map[string]*claimRequest) []string {
	a, ok := m["acr"]
	if !ok || !a.Essential {
		return nil
	}
	wanted := slices.Clone(a.Values)
	if a.Value != "" {
		wanted = append(wanted, a.Value)
	}
	return wanted
}

// encode is the form stored with the code and the refresh tokens: ""
// without a request.
func (cr *claimsRequest) encode() string {
	if cr == nil {
		return ""
	}
	b, _ := json.Marshal(cr) // maps of strings and bools always marshal
	return string(b)
}

// decodeClaimsRequest reads what encode stored. A stored value that does not
// decode (never written by encode) releases nothing beyond the scopes.
func decodeClaimsRequest(stored string) *claimsRequest {
	if stored == "" {
		return nil
	}
	var cr claimsRequest
	if json.Unmarshal([]byte(stored), &cr) != nil {
		return nil
	}
	return &cr
}

// idTokenNames are the claim names requested for the ID token.
func (cr *claimsRequest) idTokenNames() []string {
	if cr == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(cr.IDToken))
}

// userinfoNames are the user claims requested for userinfo, as the access
// token carries them.
func (cr *claimsRequest) userinfoNames() []string {
	if cr == nil {
		return nil
	}
	return slices.DeleteFunc(slices.Sorted(maps.Keys(cr.Userinfo)), func(n string) bool { return n == "acr" })
}

// releasedClaims are the user's claims that scope releases plus the named
// ones, each only when the user has a value for it.
func releasedClaims(u storage.User, scope string, named []string) map[string]any {
	out := map[string]any{}
	add := func(name string) {
		if v, ok := claimValue(u, name); ok {
			out[name] = v
		}
	}
	for _, sc := range strings.Fields(scope) {
		for _, name := range scopeClaims[sc] {
			add(name)
		}
	}
	for _, name := range named {
		add(name)
	}
	return out
}

// claimValue is the user's value of one user claim, false when absent.
func claimValue(u storage.User, name string) (any, bool) {
	c := u.Claims
	str := func(v string) (any, bool) { return v, v != "" }
	switch name {
	case "name":
		return str(u.Name)
	case "preferred_username":
		return str(u.Username)
	case "email":
		return str(u.Email)
	case "email_verified":
		return u.EmailVerified, u.Email != ""
	case "updated_at":
		return u.UpdatedAt.Unix(), !u.UpdatedAt.IsZero()
	case "given_name":
		return str(c.GivenName)
	case "family_name":
		return str(c.FamilyName)
	case "middle_name":
		return str(c.MiddleName)
	case "nickname":
		return str(c.Nickname)
	case "profile":
		return str(c.Profile)
	case "picture":
		return str(c.Picture)
	case "website":
		return str(c.Website)
	case "gender":
		return str(c.Gender)
	case "birthdate":
		return str(c.Birthdate)
	case "zoneinfo":
		return str(c.Zoneinfo)
	case "locale":
		return str(c.Locale)
	case "phone_number":
		return str(c.PhoneNumber)
	case "phone_number_verified":
		return c.PhoneNumberVerified, c.PhoneNumber != ""
	case "address":
		if c.Address == nil || *c.Address == (storage.Address{}) {
			return nil, false
		}
		return c.Address, true
	}
	return nil, false
}

// withClaims marshals the protocol claims of a token (a struct) and adds the
// user claims; a protocol claim is never overwritten.
func withClaims(protocol any, user map[string]any) ([]byte, error) {
	b, err := json.Marshal(protocol)
	if err != nil || len(user) == 0 {
		return b, err
	}
	var all map[string]any
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	for k, v := range user {
		if _, taken := all[k]; !taken {
			all[k] = v
		}
	}
	return json.Marshal(all)
}

// beyondScope are the requested user claims that the granted scopes do not
// release, for the consent page: the user approves them by name.
func (cr *claimsRequest) beyondScope(scope string) []string {
	if cr == nil {
		return nil
	}
	covered := map[string]bool{}
	for _, sc := range strings.Fields(scope) {
		for _, n := range scopeClaims[sc] {
			covered[n] = true
		}
	}
	var out []string
	for _, m := range []map[string]*claimRequest{cr.Userinfo, cr.IDToken} {
		for name := range m {
			if name != "acr" && !covered[name] && !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// claimDescriptions say in words what a claim asked for by name is, for the
// consent page.
var claimDescriptions = map[string]string{
	"name": "Your name", "given_name": "Your first name", "family_name": "Your last name",
	"middle_name": "Your middle name", "nickname": "Your nickname", "preferred_username": "Your username",
	"profile": "Your profile page", "picture": "Your picture", "website": "Your website",
	"gender": "Your gender", "birthdate": "Your date of birth", "zoneinfo": "Your time zone",
	"locale": "Your language and region", "updated_at": "When your profile last changed",
	"email": "Your email address", "email_verified": "Whether your email address is verified",
	"address": "Your postal address", "phone_number": "Your phone number",
	"phone_number_verified": "Whether your phone number is verified",
}

func claimDescription(name string) string {
	if d, ok := claimDescriptions[name]; ok {
		return d
	}
	return name
}
