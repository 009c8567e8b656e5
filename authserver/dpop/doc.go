// Package dpop creates and verifies DPoP proofs (RFC 9449, OAuth 2.0
// Demonstrating Proof of Possession): the short-lived JWTs, signed with a
// key the client holds, that bind an access or refresh token to that key so
// that a token stolen from a log or a proxy is useless without the key.
//
// It owns three things:
//   - proof creation (Signer), for clients and for the tests of everyone
//     else: typ "dpop+jwt", the public jwk in the header, jti, htm, htu, iat,
//     and ath and nonce when asked for;
//   - proof verification (Verifier.Verify), every check of RFC 9449 §4.3 in
//     the order that makes refusals cheap: one header value, a compact JWS
//     with an allowed asymmetric algorithm, a public key that fits it, the
//     signature, htm, htu after RFC 3986 normalisation, iat within a window,
//     ath, the key's thumbprint against the token's cnf.jkt, the server
//     nonce, and last the jti against a ReplayCache;
//   - the replay cache contract (ReplayCache) and a bounded in-memory
//     implementation (MemoryReplayCache). The provider backs the contract
//     with its store so that replicas share it.
//
// Refusals are *Error values whose Code is the OAuth error to answer
// (invalid_dpop_proof or use_dpop_nonce); any other error means the proof
// could not be judged (the replay cache failed) and is the server's problem,
// not the client's.
//
// It is a leaf: it imports only the standard library and
// github.com/go-jose/go-jose/v4, so that both the provider and package
// resource (which third-party APIs copy) can use it.
package dpop
