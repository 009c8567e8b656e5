package registration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Error codes of RFC 7591 §3.2.2 and RFC 6750 §3.1.
const (
	codeInvalidRedirectURI       = "invalid_redirect_uri"
	codeInvalidMetadata          = "invalid_client_metadata"
	codeInvalidSoftwareStatement = "invalid_software_statement"
	codeInvalidToken             = "invalid_token"
)

// regError is an error answer: {error, error_description} with its status.
// Each is made fresh where it is decided.
type regError struct {
	status      int
	code        string
	description string
	// challenge is the WWW-Authenticate header of a 401.
	challenge string
}

// errNoToken is a request without credentials: RFC 6750 §3.1 gives the
// challenge no error code then.
func errNoToken(desc string) *regError {
	return &regError{status: http.StatusUnauthorized, code: codeInvalidToken, description: desc, challenge: `Bearer realm="registration"`}
}

// errBadToken is a token that is not (or no longer) good.
func errBadToken(desc string) *regError {
	return &regError{status: http.StatusUnauthorized, code: codeInvalidToken, description: desc,
		challenge: fmt.Sprintf(`Bearer realm="registration", error=%q, error_description=%q`, codeInvalidToken, desc)}
}

// errMetadata is one invalid_client_metadata problem of the request as a
// whole (not of one field).
func errMetadata(format string, args ...any) *regError {
	return &regError{status: http.StatusBadRequest, code: codeInvalidMetadata, description: fmt.Sprintf(format, args...)}
}

func writeError(w http.ResponseWriter, e *regError) {
	if e.challenge != "" {
		w.Header().Set("WWW-Authenticate", e.challenge)
	}
	writeJSON(w, e.status, map[string]string{"error": e.code, "error_description": e.description})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // our own types: cannot happen
		status, b = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// problem is one broken rule, named by the member of the metadata
// ("redirect_uris[1]"), or by nothing when it is the request's.
type problem struct {
	field, message string
}

// problems are every broken rule of a request, reported at once.
type problems []problem

func (ps *problems) add(field, format string, args ...any) {
	*ps = append(*ps, problem{field: field, message: fmt.Sprintf(format, args...)})
}

// has reports whether a problem names field or one of its elements.
func (ps problems) has(field string) bool {
	for _, p := range ps {
		if p.field == field || strings.HasPrefix(p.field, field+"[") {
			return true
		}
	}
	return false
}

// err is the answer for ps: invalid_redirect_uri when a redirect URI is
// among the problems (RFC 7591 §3.2.2), else invalid_client_metadata, with
// every problem in the description.
func (ps problems) err() *regError {
	code := codeInvalidMetadata
	msgs := make([]string, len(ps))
	for i, p := range ps {
		if p.field == "redirect_uris" || strings.HasPrefix(p.field, "redirect_uris[") {
			code = codeInvalidRedirectURI
		}
		msgs[i] = p.message
		if p.field != "" {
			msgs[i] = p.field + ": " + p.message
		}
	}
	return &regError{status: http.StatusBadRequest, code: code, description: strings.Join(msgs, "; ")}
}

// rfcField renames a field of a clients entry of the configuration file
// (as the admin service and config name them) to its client metadata
// name.
func rfcField(field string) string {
	field = strings.TrimPrefix(field, "clients[0].")
	name, index, _ := strings.Cut(field, "[")
	if index != "" {
		index = "[" + index
	}
	switch name {
	case "id":
		return "client_id"
	case "name":
		return "client_name"
	case "scopes":
		return "scope" // one string in the metadata: no index
	case "secret", "secret_hash":
		return "client_secret"
	}
	return name + index
}

// bearerToken is the RFC 6750 §2.1 credential of the request. The
// registration and client configuration endpoints take it in the header
// only.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}
