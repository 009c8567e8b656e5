// Package keys owns the authorization server's signing keys: generating them
// (ES256 on P-256, RS256 on RSA, EdDSA on Ed25519), naming them (the kid is the
// RFC 7638 JWK thumbprint), sealing them at rest (PKCS#8 DER under AES-256-GCM
// with a 32-byte key-encryption key), signing compact JWS with the active key
// of an algorithm, and publishing the public halves as a JWKS document.
//
// The live key set is a [Manager]: it reads [Record]s from a [Store], creates
// an active key for every configured algorithm that lacks one, and serves
// Sign, JWKS and ETag from an immutable snapshot that readers reach through
// an atomic pointer, without taking a lock.
//
// Keys rotate so that relying parties never notice: [Manager.Tick], run on
// every replica, publishes a next key PublishLead before it signs, promotes
// it after RotationPeriod, and keeps the retired key published for
// RetireAfter, the lifetime of the tokens it signed (see [Schedule]).
// [Manager.Advance] is the operator's "rotate now".
//
// keys is a leaf package. It imports only the standard library,
// github.com/go-jose/go-jose/v4 and golang.org/x/crypto, and must never
// import any other package of this module: storage backends implement its
// Store interface, not the other way round.
package keys
