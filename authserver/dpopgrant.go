package authserver

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"

	"github.com/authserver-dev/authserver/authserver/dpop"
	"github.com/authserver-dev/authserver/authserver/storage"
)

// DPoP at the token endpoint (RFC 9449 §5): the dispatcher checks the
// request's proof once, for every grant (tokenProof), and hands the proof
// key's thumbprint to the grant through the context (withDPoPKey). The
// grant puts it in its *grant (dpopJKT), from which the access token gets
// cnf.jkt (§6.1), the response token_type "DPoP" (§5), and a public
// client's refresh token its binding (§5). Codes bound by dpop_jkt (§10)
// and bound refresh tokens are checked against it (checkBinding).
//
// Error codes. The RFC names invalid_dpop_proof for a proof that is
// invalid (§5) and use_dpop_nonce (§8), but no code for a request that
// lacks a proof it needs, or whose valid proof is signed by another key
// than a code or refresh token is bound to. Here a missing proof is
// invalid_dpop_proof, like a broken one (Keycloak answers the same): the
// client's fix is to send a proof. A valid proof by the wrong key is
// invalid_grant (as in node-oidc-provider): the grant is what does not fit
// the request, as a code of another client does not.

// dpopKeyKey is the context key of the token request's proof thumbprint.
type dpopKeyKey struct{}

// withDPoPKey records the thumbprint of the token request's DPoP proof key
// ("" without a proof) for the grant handler.
func withDPoPKey(ctx context.Context, jkt string) context.Context {
	return context.WithValue(ctx, dpopKeyKey{}, jkt)
}

// dpopKeyFrom is the thumbprint withDPoPKey recorded, "" for none.
func dpopKeyFrom(ctx context.Context) string {
	jkt, _ := ctx.Value(dpopKeyKey{}).(string)
	return jkt
}

// requiresDPoP reports whether every token request of c must carry a
// proof: a client registered with dpop_bound_access_tokens (RFC 9449 §5.2)
// or under the FAPI 2.0 profile, which requires sender-constrained tokens.
func requiresDPoP(c storage.Client) bool {
	return c.DPoPBound || c.Profile == storage.ProfileFAPI2
}

// tokenProof checks the DPoP proof of a token request by the authenticated
// client c and returns its key's thumbprint, "" when the request has none
// and c may do without. The proof's htu is the token endpoint's public URL,
// the issuer's, which is what the client was told in discovery.
func (s *Server) tokenProof(r *http.Request, c storage.Client) (string, error) {
	proof, err := s.dpopProof(r, s.url(pathToken), "", "")
	if err != nil {
		return "", dpopTokenError(err)
	}
	if proof == nil {
		if requiresDPoP(c) {
			return "", errInvalidDPoPProof("client %s must send a DPoP proof (the DPoP header) with every token request: its access tokens are DPoP-bound", c.ID)
		}
		return "", nil
	}
	return proof.JKT, nil
}

// dpopTokenError is the answer to a refused proof at an endpoint of the
// authorization server (token, PAR): 400 with the proof's code
// (invalid_dpop_proof or use_dpop_nonce, RFC 9449 §5, §8) and the reason,
// which never contains proof content. Any other error (the replay cache
// could not decide) is returned as it is, for asProtocolError.
func dpopTokenError(err error) error {
	if pe, ok := errors.AsType[*dpop.Error](err); ok {
		return &protocolError{Code: pe.Code, Description: pe.Reason, Status: http.StatusBadRequest}
	}
	return err
}

func errInvalidDPoPProof(format string, args ...any) *protocolError {
	return newError(dpop.CodeInvalidProof, http.StatusBadRequest, format, args...)
}

// checkBinding applies a code's dpop_jkt (RFC 9449 §10) or a refresh
// token's binding (§5) to the token request's proof key proofJKT. what
// names the bound thing for the client. See the file comment for the codes.
func checkBinding(what, boundJKT, proofJKT string) error {
	switch {
	case boundJKT == "":
		return nil
	case proofJKT == "":
		return errInvalidDPoPProof("%s is bound to a DPoP key; send a DPoP proof signed by that key", what)
	case subtle.ConstantTimeCompare([]byte(boundJKT), []byte(proofJKT)) != 1:
		return errInvalidGrant("%s is bound to another DPoP key than the one that signed the proof", what)
	}
	return nil
}

// refreshJKT is the binding of a refresh token this grant issues: the proof
// key for a public client, none for a confidential one, whose refresh
// tokens are already bound to its credentials (RFC 9449 §5).
func (g *grant) refreshJKT() string {
	if !g.client.Public() {
		return ""
	}
	return g.dpopJKT
}

// successorJKT is the binding of the refresh token that replaces old: the
// same (rotation keeps it), or, for an unbound token of a public client
// refreshed with a proof, the proof's key, since RFC 9449 §5 binds every
// refresh token issued to a public client that presents one.
func successorJKT(old storage.RefreshToken, c storage.Client, proofJKT string) string {
	if old.DPoPJKT != "" || !c.Public() {
		return old.DPoPJKT
	}
	return proofJKT
}

// confirmation is the RFC 7800 cnf claim of a DPoP-bound token (RFC 9449
// §6.1) and of its introspection answer (§6.2).
type confirmation struct {
	JKT string `json:"jkt"`
}

// confirmationOf is the cnf of a token bound to jkt, nil for a bearer
// token (the claim is then left out).
func confirmationOf(jkt string) *confirmation {
	if jkt == "" {
		return nil
	}
	return &confirmation{JKT: jkt}
}

// jkt is the thumbprint c binds to, "" for an unbound token.
func (c *confirmation) jkt() string {
	if c == nil {
		return ""
	}
	return c.JKT
}

// tokenTypeOf is the token_type of an access token bound to jkt: "DPoP"
// (RFC 9449 §5, and so in introspection, RFC 7662 §2.2) or "Bearer".
func tokenTypeOf(jkt string) string {
	if jkt != "" {
		return "DPoP"
	}
	return "Bearer"
}
