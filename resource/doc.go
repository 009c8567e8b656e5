// Package resource lets an API (a "resource server") accept access tokens
// issued by our OAuth 2.0 / OpenID Connect provider, or by any provider that
// issues RFC 9068 JWT access tokens and publishes OIDC discovery and a JWKS.
//
// It owns three things:
//   - discovery of the provider's JWKS and a cache of its public keys, refetched
//     when a token names an unknown kid, at most once per Config.MinRefetchInterval
//     so that forged kids cannot turn the API into a traffic amplifier;
//   - verification of JWT access tokens (RFC 9068): typ, algorithm allow-list,
//     signature, iss, aud, exp, nbf, iat and the other required claims;
//   - net/http middleware speaking RFC 6750 (WWW-Authenticate, invalid_token,
//     insufficient_scope), with the verified Claims in the request context.
//
// It is meant to be copied into, or imported by, third-party APIs, so it
// imports only the standard library and github.com/go-jose/go-jose/v4. It must
// never import anything else of this module (authserver, keys, config, ...):
// a resource server talks to the provider over HTTP only.
package resource
