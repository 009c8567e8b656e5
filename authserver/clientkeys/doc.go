// Package clientkeys verifies what a client signs with its own keys: client
// assertions for private_key_jwt client authentication (RFC 7523 §2.2,
// RFC 7521 §4.2, OpenID Connect Core §9) and signed request objects
// (RFC 9101, JWT-Secured Authorization Requests).
//
// It owns four things:
//   - client key sets (KeySet, ParseKeySet, ValidateJWKS): the client
//     metadata jwks, public signing keys only — a private or symmetric key,
//     a weak RSA key, an encryption key or a duplicate kid is refused with
//     a message that says what to change, so the config, admin and
//     registration layers can all call the same validation;
//   - remote key sets (Cache, ValidateJWKSURI): the client metadata
//     jwks_uri, fetched over https (http only on loopback hosts) with a
//     timeout and a size limit, following no redirect, cached for the
//     response's max-age within bounds, refetched on an unknown kid at most
//     once per interval per URI (so that a forged kid cannot make us hammer
//     the client's server), one fetch shared by concurrent callers, the
//     last good keys kept when a refresh fails, and a bounded number of
//     URIs;
//   - verification (Verifier.VerifyAssertion, Verifier.VerifyRequestObject):
//     compact JWS only, an allow-list of asymmetric algorithms (never none
//     or HS*, which would let anyone who knows the public key "sign"),
//     narrowed per client when its profile demands (FAPI2Algorithms); the
//     key chosen by kid from the client's keys, never from the JWS itself;
//     then the claims each specification requires;
//   - the replay cache contract for assertion jti values (ReplayCache, the
//     same shape as package dpop's) and a bounded in-memory implementation
//     (MemoryReplayCache). The provider backs the contract with its store
//     so that replicas share it.
//
// Refusals are *Error values whose Code is the OAuth error to answer
// (invalid_client for assertions, invalid_request_object for request
// objects) and whose Reason is safe to send as error_description. Any
// other error means the JWT could not be judged (the replay cache failed)
// and is the server's problem, not the client's.
//
// A typical token endpoint: read client_assertion_type (AssertionType) and
// client_assertion; find the client by client_id, or by
// UnverifiedClientID when the request has none; get its KeySource
// (ParseKeySet of its jwks, or Cache.Source of its jwks_uri, or
// Cache.Resolve for either); call VerifyAssertion with the issuer and the
// endpoint's own URL as audiences.
//
// It is a leaf: it imports only the standard library and
// github.com/go-jose/go-jose/v4, so that any layer of the provider may use
// it without a cycle.
package clientkeys
