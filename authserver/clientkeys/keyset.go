package clientkeys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/go-jose/go-jose/v4"
)

// MaxKeys bounds the keys of a client's JWK Set. A JWS without a kid is
// tried against every key of its type, so the bound is also the most
// signature checks one forged JWT can cost.
const MaxKeys = 20

// privateMembers are the JWK members that carry secret material: the
// private parts of RSA (RFC 7518 §6.3.2), EC (§6.2.2) and OKP (RFC 8037 §2)
// keys, the value of a symmetric key (RFC 7518 §6.4.1), and go-jose's
// "priv" of ML-DSA keys.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"}

// Key is one verification key of a client.
type Key struct {
	// ID is the JWK's kid, "" when it has none.
	ID string
	// Algorithm is the JWK's alg, "" when it pins none; when set, only
	// JWSs with that alg are verified with the key.
	Algorithm string
	// Public is an *ecdsa.PublicKey, an *rsa.PublicKey or an
	// ed25519.PublicKey.
	Public crypto.PublicKey
}

// KeySet is a client's parsed signing keys. It is immutable, so it can be
// shared by any number of verifications; it is itself a KeySource (an
// inline jwks never changes).
type KeySet struct {
	keys []Key
	// ignored says, by kid, why a key of a jwks_uri document was left
	// out, so that a JWS naming it is refused with that reason rather
	// than "unknown kid".
	ignored map[string]string
}

// KeySource gives the keys of one client: a *KeySet for the jwks metadata,
// Cache.Source for jwks_uri.
type KeySource interface {
	// Keys returns the client's current keys. refresh is set when the keys
	// at hand did not do (no key has the JWS's kid, or, without a kid, none
	// verified it): a remote source then fetches again unless it did so
	// less than its rate-limit interval ago, and otherwise answers what it
	// has. An error wrapping ErrKeysUnavailable means the client has no
	// usable keys now; any other error is the server's.
	Keys(ctx context.Context, refresh bool) (*KeySet, error)
}

var _ KeySource = (*KeySet)(nil)

// Keys implements KeySource: a parsed set is always current.
func (s *KeySet) Keys(context.Context, bool) (*KeySet, error) { return s, nil }

// All returns a copy of the keys, in the order of the JWK Set.
func (s *KeySet) All() []Key { return slices.Clone(s.keys) }

// Len is the number of keys.
func (s *KeySet) Len() int { return len(s.keys) }

// candidates returns the keys that may have signed a JWS with this kid and
// alg: the kid must match exactly when the JWS has one; the key's own alg,
// when it pins one, must be alg; and the key must be of alg's type.
func (s *KeySet) candidates(kid, alg string) []Key {
	var out []Key
	for _, k := range s.keys {
		if kid != "" && k.ID != kid {
			continue
		}
		if k.Algorithm != "" && k.Algorithm != alg {
			continue
		}
		if keyFits(alg, k.Public) != nil {
			continue
		}
		out = append(out, k)
	}
	return out
}

// ParseKeySet parses the client metadata jwks (RFC 7591 §2: a JWK Set,
// {"keys":[...]}) strictly: every key must be a public signing key this
// package can use, each kid distinct. A *KeySetError lists every problem,
// prefixed "jwks.keys[i]".
func ParseKeySet(jwks []byte) (*KeySet, error) {
	return parseKeySet(jwks, "jwks", true)
}

// ValidateJWKS is ParseKeySet for the layers that only store the metadata
// (configuration, administration, dynamic registration): nil, or a
// *KeySetError whose every problem says what to change, as in
// `jwks.keys[0] holds a private key (member "d"): publish only the public
// half`.
func ValidateJWKS(jwks []byte) error {
	_, err := ParseKeySet(jwks)
	return err
}

// ValidateClientKeys checks a client's jwks and jwks_uri metadata together:
// RFC 7591 §2 forbids sending both, each must be valid, and needKeys (the
// client authenticates with private_key_jwt, or must sign its request
// objects) makes one of them required. jwks is the JSON text, nil or empty
// when absent.
func ValidateClientKeys(jwks []byte, jwksURI string, needKeys bool) error {
	hasJWKS := len(bytes.TrimSpace(jwks)) > 0 && string(bytes.TrimSpace(jwks)) != "null"
	switch {
	case hasJWKS && jwksURI != "":
		return &KeySetError{Problems: []string{"jwks and jwks_uri are both set: use one of them (RFC 7591 §2)"}}
	case hasJWKS:
		return ValidateJWKS(jwks)
	case jwksURI != "":
		if err := ValidateJWKSURI(jwksURI); err != nil {
			return &KeySetError{Problems: []string{err.Error()}}
		}
		return nil
	case needKeys:
		return &KeySetError{Problems: []string{"private_key_jwt needs the client's public keys: set jwks (a JWK Set) or jwks_uri (an https URL serving one)"}}
	}
	return nil
}

// keyVerdict is what parseKey made of one JWK.
type keyVerdict int

const (
	keyOK keyVerdict = iota
	// keySkippable: not a signing key of ours (use enc, an unknown kty, a
	// weak or malformed key). A jwks_uri document may hold such keys for
	// other purposes or other servers (RFC 7517 §5: ignore what you do not
	// understand); the jwks metadata, written for us, must not.
	keySkippable
	// keyLeaked: private or symmetric key material. Whoever has the
	// document can sign as the client, so the whole set is refused.
	keyLeaked
)

// parseKeySet parses a JWK Set. strict refuses every key that is not
// keyOK; otherwise skippable keys are left out (and remembered by kid).
// Leaked keys and duplicate kids always refuse the whole set.
func parseKeySet(doc []byte, field string, strict bool) (*KeySet, error) {
	var top map[string]json.RawMessage
	var raws []json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil || top == nil {
		return nil, &KeySetError{Problems: []string{field + ` is not a JSON object; a JWK Set looks like {"keys":[{"kty":"EC",...}]}`}}
	}
	if err := json.Unmarshal(top["keys"], &raws); err != nil || raws == nil {
		return nil, &KeySetError{Problems: []string{field + ` has no "keys" array; a JWK Set looks like {"keys":[{"kty":"EC",...}]}`}}
	}
	var problems []string
	set := &KeySet{}
	firstWithKID := map[string]int{}
	for i, raw := range raws {
		where := fmt.Sprintf("%s.keys[%d]", field, i)
		k, verdict, reason := parseKey(raw)
		switch {
		case verdict == keyLeaked || verdict == keySkippable && strict:
			problems = append(problems, where+" "+reason)
			continue
		case verdict == keySkippable:
			if k.ID != "" {
				if set.ignored == nil {
					set.ignored = map[string]string{}
				}
				set.ignored[k.ID] = reason
			}
			continue
		}
		if k.ID != "" {
			if j, dup := firstWithKID[k.ID]; dup {
				problems = append(problems, fmt.Sprintf("%s has the same kid %q as %s.keys[%d]: give each key its own kid", where, k.ID, field, j))
				continue
			}
			firstWithKID[k.ID] = i
		}
		set.keys = append(set.keys, k)
	}
	switch {
	case len(problems) > 0:
	case len(set.keys) == 0:
		problems = append(problems, field+" has no public signing key (an EC P-256/P-384/P-521, Ed25519 or RSA ≥ 2048 bit key with use \"sig\" or no use)")
	case len(set.keys) > MaxKeys:
		problems = append(problems, fmt.Sprintf("%s has %d signing keys; at most %d are accepted: remove retired keys", field, len(set.keys), MaxKeys))
	}
	if len(problems) > 0 {
		return nil, &KeySetError{Problems: problems}
	}
	for kid := range set.ignored {
		if _, kept := firstWithKID[kid]; kept {
			delete(set.ignored, kid) // an enc key sharing a signing key's kid
		}
	}
	return set, nil
}

// parseKey judges one JWK. The reason reads after the key's position, as
// in "jwks.keys[0] holds a private key ...". The kid is returned whenever
// it could be read, so that a skipped key can be named later.
func parseKey(raw json.RawMessage) (Key, keyVerdict, string) {
	// Read as a map first: member names are case-sensitive (RFC 7517 §4),
	// and private members must be found before any library looks at them.
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return Key{}, keySkippable, "is not a JSON object"
	}
	var kty, kid, use string
	_ = json.Unmarshal(m["kty"], &kty)
	_ = json.Unmarshal(m["kid"], &kid)
	_ = json.Unmarshal(m["use"], &use)
	k := Key{ID: kid}
	if kty == "oct" {
		return k, keyLeaked, `is a symmetric ("oct") key: a JWK Set for private_key_jwt holds public keys only (a shared secret is what client_secret is for)`
	}
	for _, name := range privateMembers {
		if _, ok := m[name]; ok {
			return k, keyLeaked, fmt.Sprintf("holds a private key (member %q): publish only the public half", name)
		}
	}
	if _, ok := m["use"]; ok && use != "sig" {
		return k, keySkippable, fmt.Sprintf(`has use %q: only signing keys (use "sig", or no use) verify client assertions and request objects`, use)
	}
	if ops, ok := m["key_ops"]; ok {
		var list []string
		if json.Unmarshal(ops, &list) != nil || !slices.Contains(list, "verify") {
			return k, keySkippable, `has key_ops without "verify": it is not meant for checking signatures`
		}
	}
	switch kty {
	case "RSA", "EC", "OKP":
	case "":
		return k, keySkippable, `has no kty: use "RSA", "EC" (P-256, P-384, P-521) or "OKP" (Ed25519)`
	default:
		return k, keySkippable, fmt.Sprintf(`has kty %q: use "RSA", "EC" (P-256, P-384, P-521) or "OKP" (Ed25519)`, kty)
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		if errors.Is(err, jose.ErrUnsupportedKeyType) {
			return k, keySkippable, "is not a key type this server verifies with (OKP keys must be on curve Ed25519)"
		}
		return k, keySkippable, "is not a valid " + kty + " key: " + err.Error()
	}
	if !jwk.Valid() || !jwk.IsPublic() {
		return k, keyLeaked, "is not a public key: publish only the public half"
	}
	switch pub := jwk.Key.(type) {
	case *rsa.PublicKey:
		if bits := pub.N.BitLen(); bits < minRSABits {
			return k, keySkippable, fmt.Sprintf("is an RSA key of %d bits: use at least %d", bits, minRSABits)
		}
	case *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return k, keySkippable, fmt.Sprintf("has an unsupported key type %T", pub)
	}
	k.Public, k.Algorithm = jwk.Key, jwk.Algorithm
	if k.Algorithm != "" {
		if !asymmetric[k.Algorithm] {
			return k, keySkippable, fmt.Sprintf("has alg %q: use an asymmetric signature algorithm (ES256, PS256, EdDSA, RS256, ...) or no alg", k.Algorithm)
		}
		if err := keyFits(k.Algorithm, k.Public); err != nil {
			return k, keySkippable, fmt.Sprintf("has alg %q that does not fit the key: %v", k.Algorithm, err)
		}
	}
	return k, keyOK, ""
}
