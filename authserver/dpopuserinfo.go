package authserver

import (
	"errors"
	"net/http"
	"strings"

	"github.com/authserver-dev/authserver/authserver/dpop"
)

// Authentication schemes of an access token at userinfo.
const (
	schemeBearer = "Bearer" // RFC 6750
	schemeDPoP   = "DPoP"   // RFC 9449 §7.1
)

// userinfoBinding applies RFC 9449 §7 to a valid access token sent to
// userinfo with scheme: a bound token needs the DPoP scheme and a proof for
// this request (htm, htu = the userinfo URL, ath = the token's hash) signed
// by the key of its cnf.jkt; an unbound one needs the Bearer scheme, so that
// a client cannot believe its token is bound when it is not. It writes the
// refusal and returns false, or returns true. When nonces are required,
// every answer to a DPoP request carries a fresh one.
func (s *Server) userinfoBinding(w http.ResponseWriter, r *http.Request, scheme, raw string, c *accessClaims) bool {
	jkt := c.Confirmation.jkt()
	switch {
	case scheme == schemeBearer && jkt != "":
		// §7.2: otherwise a stolen bound token works without its key.
		s.userinfoError(w, scheme, http.StatusUnauthorized, "invalid_token",
			"the access token is bound to a DPoP key; send it as Authorization: DPoP <token> with a DPoP proof")
		return false
	case scheme == schemeBearer:
		return true
	case jkt == "":
		s.userinfoError(w, scheme, http.StatusUnauthorized, "invalid_token",
			"the access token is not DPoP-bound; send it as Authorization: Bearer <token>")
		return false
	}
	s.setDPoPNonce(w)
	proof, err := s.dpopProof(r, s.url(pathUserinfo), raw, jkt)
	if err == nil && proof == nil {
		s.userinfoError(w, scheme, http.StatusUnauthorized, dpop.CodeInvalidProof,
			"send a DPoP proof (the DPoP header) with a DPoP-bound access token")
		return false
	}
	if err != nil {
		pe, ok := errors.AsType[*dpop.Error](err)
		if !ok { // the replay cache could not decide
			s.writeJSONError(w, r, err)
			return false
		}
		code := pe.Code
		if errors.Is(err, dpop.ErrKeyMismatch) {
			code = "invalid_token" // §7.1: the token's binding is what fails
		}
		s.userinfoError(w, scheme, http.StatusUnauthorized, code, pe.Reason)
		return false
	}
	return true
}

// userinfoNoToken answers a request without an access token: one challenge
// per scheme, without an error code (RFC 6750 §3.1), and the DPoP one with
// the proof algorithms (RFC 9449 §7.1).
func (s *Server) userinfoNoToken(w http.ResponseWriter) {
	h := w.Header()
	h.Add("WWW-Authenticate", `Bearer realm="userinfo"`)
	h.Add("WWW-Authenticate", `DPoP realm="userinfo", algs="`+strings.Join(s.dpop.Algorithms(), " ")+`"`)
	writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_request",
		"error_description": "send the access token as Authorization: Bearer <token>, or Authorization: DPoP <token> with a DPoP proof"})
}

// userinfoError writes an error of userinfo: the challenge of the scheme
// the token came with carries it (RFC 6750 §3, RFC 9449 §7.1), the other
// scheme's challenge follows without one, the DPoP challenge names the
// proof algorithms, and the body repeats the error.
func (s *Server) userinfoError(w http.ResponseWriter, scheme string, status int, code, desc string) {
	withError := `error="` + code + `", error_description="` + challengeText(desc) + `"`
	algs := `algs="` + strings.Join(s.dpop.Algorithms(), " ") + `"`
	h := w.Header()
	if scheme == schemeDPoP {
		h.Add("WWW-Authenticate", "DPoP "+withError+", "+algs)
		h.Add("WWW-Authenticate", `Bearer realm="userinfo"`)
	} else {
		h.Add("WWW-Authenticate", "Bearer "+withError)
		h.Add("WWW-Authenticate", "DPoP "+algs)
	}
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// challengeText keeps what RFC 6750 §3 allows in error_description
// (%x20-21 / %x23-5B / %x5D-7E), so that no description can break out of
// its quoted string.
func challengeText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}
