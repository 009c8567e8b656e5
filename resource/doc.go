// Package resource lets an API (a "resource server") accept access tokens
// issued by our OAuth 2.0 / OpenID Connect provider, or by any provider that
// issues RFC 9068 JWT access tokens and publishes OIDC discovery and a JWKS.
//
// It owns three things:
//   - discovery of the provider's JWKS and a cache of its public keys, kept for
//     the JWKS's Cache-Control max-age (at most Config.KeyMaxAge), then
//     revalidated in the background with its ETag, and refetched when a token
//     names an unknown kid; either way at most once per
//     Config.MinRefetchInterval, so that forged kids cannot turn the API into a
//     traffic amplifier;
//   - verification of JWT access tokens (RFC 9068): typ, algorithm allow-list,
//     signature, iss, aud, exp, nbf, iat and the other required claims;
//   - verification by token introspection (RFC 7662, Introspector) for APIs
//     that must see a revocation, which a self-contained JWT cannot show;
//   - net/http middleware speaking RFC 6750 (WWW-Authenticate, invalid_token,
//     insufficient_scope), with the verified Claims in the request context.
//     Authenticate and RequireScope take any TokenVerifier, so an API
//     switches between the two modes without touching its routes;
//   - sender-constrained tokens (RFC 9449 DPoP) in the same middleware.
//
// # DPoP-bound tokens
//
// A token whose cnf.jkt names a key (Claims.Confirmation) is accepted only
// as "Authorization: DPoP <token>" with a DPoP header holding a proof made
// for this request: signed by that key, for this method and URL, with ath
// the token's hash, recent, and never seen before by this verifier (an
// in-memory, bounded jti cache per Verifier or Introspector). The same
// token sent as a Bearer token is refused (RFC 9449 §7.2), and so is an
// unbound token sent with the DPoP scheme, so that a stolen bound token is
// useless without its key. Unbound Bearer tokens work as before: an API
// that configures nothing accepts both kinds, and answers 401 with a
// challenge for each scheme (WWW-Authenticate: Bearer ..., and DPoP
// algs="..."), the one that failed carrying the error; a problem with the
// proof itself is error="invalid_dpop_proof". DPoPConfig sets the public URL
// behind a proxy (the proof names the URL the client used), the algorithms,
// and Required, which turns Bearer tokens away altogether.
//
// # Introspection mode
//
// An Introspector asks the provider's introspection_endpoint about each
// token, authenticating as a client allowed to introspect. Answers, active
// or not, are cached for IntrospectionConfig.CacheTTL (default 10s), keyed by
// the token's SHA-256, so a revocation is seen by the API at most CacheTTL
// later; a negative CacheTTL turns the cache off and every request costs a
// provider round trip. An active answer is never kept past the token's exp,
// and concurrent requests with the same uncached token share one call.
//
// When the provider cannot answer (unreachable, 5xx, malformed reply; see
// ErrProviderUnavailable), the middleware answers 503 temporarily_unavailable
// without a WWW-Authenticate challenge, not 401: the token may well be good,
// and a 401 would make clients discard it or send users through sign-in
// again. More generally, any error from a TokenVerifier that is not a
// *TokenError is answered 503.
//
// It is meant to be copied into, or imported by, third-party APIs, so it
// imports only the standard library, github.com/go-jose/go-jose/v4 and
// authserver/dpop (DPoP proofs; itself a leaf that imports nothing but
// those two). It must never import anything else of this module
// (authserver, keys, config, ...): a resource server talks to the provider
// over HTTP only.
package resource
