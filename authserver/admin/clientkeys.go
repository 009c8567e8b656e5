package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/authserver-dev/authserver/authserver/clientkeys"
	"github.com/authserver-dev/authserver/config"
)

// JWKSProblems is the deep check of a client's jwks metadata (JSON text)
// that the configuration's rules cannot make, since config imports nothing
// of ours: package clientkeys parses it as the token endpoint will, and
// refuses private or symmetric keys, weak RSA keys, encryption keys,
// duplicate kids and keys it cannot use. The problems are named jwks or
// jwks.keys[i], like those of the configuration's rules, so that setup (for
// the file's clients, prefixed clients[i].), the admin service and
// registration all report them alike. Empty jwks has none.
func JWKSProblems(jwks []byte) []config.Problem {
	if noJWKS(jwks) {
		return nil
	}
	err := clientkeys.ValidateJWKS(jwks)
	var kse *clientkeys.KeySetError
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &kse):
		return []config.Problem{{Field: "jwks", Message: err.Error()}}
	}
	ps := make([]config.Problem, 0, len(kse.Problems))
	for _, p := range kse.Problems {
		// "jwks.keys[0] holds a private key ..." → field, message.
		field, msg, ok := strings.Cut(p, " ")
		if !ok || !strings.HasPrefix(field, "jwks") {
			field, msg = "jwks", p
		}
		ps = append(ps, config.Problem{Field: field, Message: msg})
	}
	return ps
}

// noJWKS reports whether jwks is absent: empty, null, or {}, the ways a
// caller can say "no keys" (an empty mapping in the file, --clear jwks).
func noJWKS(jwks []byte) bool {
	t := bytes.TrimSpace(jwks)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return true
	}
	var m map[string]json.RawMessage
	return json.Unmarshal(t, &m) == nil && m != nil && len(m) == 0
}
