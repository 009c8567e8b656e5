package authserver

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"unicode/utf8"

	"github.com/authserver-dev/authserver/authserver/clientkeys"
)

// This file is the one place that decides whether a request parameter is
// well-formed, before any handler looks at its meaning. Every value that
// comes from the network (query and form values of every endpoint, the
// decoded Basic credentials, the bearer token) passes through checkParam
// once, at the boundary: valid UTF-8, no control characters, and a length
// bound per parameter. Without it, a NUL byte or invalid UTF-8 reaches
// PostgreSQL, which refuses such text (SQLite stores it), and an
// unauthenticated request gets a 500 and an ERROR log line.

// paramRule bounds one parameter. Lengths are in bytes.
type paramRule struct {
	min, max int
	// tab allows HT, which RFC 6749 Appendix A.15 and A.16 allow in a
	// username and a password (UNICODECHARNOCRLF); no other control
	// character is valid in any parameter we read.
	tab bool
	// jsonSpace allows HT, LF and CR, JSON's whitespace (RFC 8259 §2), in a
	// parameter whose value is a JSON document (claims, OIDC Core §5.5).
	jsonSpace bool
	// charset, if set, is the only bytes allowed, described by charsetName.
	charset     func(byte) bool
	charsetName string
}

// defaultParamRule applies to every parameter not in paramRules, including
// ones we ignore: anything longer is not a value a client means to send.
var defaultParamRule = paramRule{max: 2048}

// paramRules are the bounds of the parameters we read. They are generous
// for what clients legitimately send and small against what storage and
// password hashing must handle:
//   - identifiers and credentials: far above what config validation and
//     the generators produce (generated secrets, codes and refresh tokens
//     are 43 characters);
//   - JWTs (access tokens, ID token hints): room for many claims and an
//     RS256 signature by a 4096-bit key;
//   - state, nonce and scope: opaque client values, some clients pack
//     signed data into state;
//   - code_verifier: exactly RFC 7636 §4.1.
var paramRules = map[string]paramRule{
	"client_id":                {max: 256},
	"client_secret":            {max: 512},
	"username":                 {max: 256, tab: true},
	"password":                 {max: 1024, tab: true},
	"redirect_uri":             {max: 2048},
	"post_logout_redirect_uri": {max: 2048},
	"scope":                    {max: 2048},
	"state":                    {max: 4096},
	"nonce":                    {max: 1024},
	"login_hint":               {max: 256},
	"code":                     {max: 256},
	"refresh_token":            {max: 256},
	"code_challenge":           {max: 128},
	"code_verifier":            {min: 43, max: 128, charset: pkceUnreserved, charsetName: "A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1)"},
	"token":                    {max: 8192},
	"access_token":             {max: 8192},
	"id_token_hint":            {max: 8192},
	"csrf_token":               {max: 256},
	"claims":                   {max: 4096, jsonSpace: true},
	"client_assertion":         {max: clientkeys.MaxAssertionSize},
	"client_assertion_type":    {max: 256},
	"request":                  {max: clientkeys.MaxRequestObjectSize},
}

// maxParamName bounds parameter names; names are never stored, but they
// appear in error descriptions.
const maxParamName = 64

// clientCredentialParams are answered invalid_client (401) when malformed at
// the token-like endpoints, as an unknown client or a wrong secret is.
var clientCredentialParams = []string{"client_id", "client_secret", "client_assertion", "client_assertion_type"}

// paramError names the parameter that failed and why, never its value
// (which may be a password, or garbage nobody should see echoed).
type paramError struct {
	name   string // "" when the name itself is malformed
	reason string
}

func (e *paramError) Error() string {
	if e.name == "" {
		return "a parameter name is malformed: " + e.reason
	}
	return "parameter " + e.name + " is malformed: " + e.reason
}

// sentence is the error for a page.
func (e *paramError) sentence() string {
	if e.name == "" {
		return "A parameter name is malformed: " + e.reason + "."
	}
	return "The parameter " + e.name + " is malformed: " + e.reason + "."
}

// tokenError is the RFC 6749 §5.2 answer for the token, revocation and
// introspection endpoints.
func (e *paramError) tokenError() *protocolError {
	if slices.Contains(clientCredentialParams, e.name) {
		return errInvalidClient("%s", e.Error())
	}
	return errInvalidRequest("%s", e.Error())
}

// checkParam checks one value of the named parameter.
func checkParam(name, value string) *paramError {
	rule, ok := paramRules[name]
	if !ok {
		rule = defaultParamRule
	}
	if reason := rule.check(value); reason != "" {
		return &paramError{name: name, reason: reason}
	}
	return nil
}

func (r paramRule) check(v string) string {
	switch {
	case len(v) > r.max:
		return fmt.Sprintf("it is longer than %d bytes", r.max)
	case v != "" && len(v) < r.min:
		return fmt.Sprintf("it is shorter than %d bytes", r.min)
	case !utf8.ValidString(v):
		return "it is not valid UTF-8"
	}
	for i := 0; i < len(v); i++ {
		b := v[i]
		allowed := (b == '\t' && (r.tab || r.jsonSpace)) || ((b == '\n' || b == '\r') && r.jsonSpace)
		if (b < 0x20 && !allowed) || b == 0x7f {
			return "it contains a control character"
		}
		if r.charset != nil && !r.charset(b) {
			return "it may contain only " + r.charsetName
		}
	}
	return ""
}

// checkParams checks every name and value in v. The client's identity and
// the redirect URI are checked first, so that the answer (invalid_client,
// or an error page instead of a redirect) does not depend on map order;
// then the rest by name.
func checkParams(v url.Values) *paramError {
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(paramPriority(a), paramPriority(b)), cmp.Compare(a, b))
	})
	for _, name := range names {
		if reason := (paramRule{max: maxParamName}).check(name); reason != "" {
			return &paramError{reason: reason}
		}
		for _, value := range v[name] {
			if err := checkParam(name, value); err != nil {
				return err
			}
		}
	}
	return nil
}

func paramPriority(name string) int {
	switch name {
	case "client_id":
		return 0
	case "client_secret", "redirect_uri", "post_logout_redirect_uri":
		return 1
	}
	return 2
}

// pkceUnreserved is RFC 7636 §4.1's unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~".
func pkceUnreserved(b byte) bool {
	return 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-' || b == '.' || b == '_' || b == '~'
}
