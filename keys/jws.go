package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Compact JWS serialisation is done here rather than by go-jose: a go-jose
// Signer fixes its extra headers when it is built, so with per-call headers
// ("typ": "at+jwt", "typ": "JWT", ...) it would have to be rebuilt for every
// token, and its Sign marshals the header twice. Signing itself is the
// standard library's; tests verify every output with go-jose.

var b64 = base64.RawURLEncoding

// signingKey is an opened key ready to sign, immutable once built.
type signingKey struct {
	alg    string
	kid    string
	signer crypto.Signer
	sigLen int
	// headerPrefix is `{"alg":"…","kid":"…"` with no closing brace.
	headerPrefix []byte
	// bareHeader is the base64url of the header with no extra members.
	bareHeader string
}

func newSigningKey(alg, kid string, signer crypto.Signer) (*signingKey, error) {
	sigLen, err := checkKey(alg, signer)
	if err != nil {
		return nil, err
	}
	a, _ := json.Marshal(alg)
	k, _ := json.Marshal(kid)
	prefix := make([]byte, 0, 16+len(a)+len(k))
	prefix = append(prefix, `{"alg":`...)
	prefix = append(prefix, a...)
	prefix = append(prefix, `,"kid":`...)
	prefix = append(prefix, k...)
	return &signingKey{
		alg:          alg,
		kid:          kid,
		signer:       signer,
		sigLen:       sigLen,
		headerPrefix: prefix,
		bareHeader:   b64.EncodeToString(append(prefix[:len(prefix):len(prefix)], '}')),
	}, nil
}

// reservedHeaders are set by the package, or would change how the payload is
// encoded, and so may not be passed by callers.
var reservedHeaders = map[jose.HeaderKey]bool{
	"alg": true, "kid": true, "b64": true, "crit": true, "jwk": true,
}

// appendHeader appends the JSON protected header to dst: alg and kid first,
// then the caller's members in key order. It returns nil, nil when extra is
// empty (use bareHeader).
func (k *signingKey) appendHeader(dst []byte, extra map[jose.HeaderKey]interface{}) ([]byte, error) {
	if len(extra) == 0 {
		return nil, nil
	}
	for name := range extra {
		if reservedHeaders[name] {
			return nil, fmt.Errorf("keys: header %q is set by the signer and may not be passed", string(name))
		}
	}
	dst = append(dst, k.headerPrefix...)
	if out, ok := appendPlainMembers(dst, extra); ok {
		return out, nil
	}
	rest, err := json.Marshal(extra)
	if err != nil {
		return nil, fmt.Errorf("keys: marshal JWS header: %w", err)
	}
	// rest is `{…}` with at least one member: splice it after the prefix.
	dst = append(dst, ',')
	return append(dst, rest[1:]...), nil
}

// appendPlainMembers is the allocation-free path of appendHeader for the
// usual case, a few string members that need no JSON escaping. It writes
// what json.Marshal would and reports false, leaving dst's contents beyond
// its length undefined, when it cannot.
func appendPlainMembers(dst []byte, extra map[jose.HeaderKey]interface{}) ([]byte, bool) {
	const maxPlain = 8
	if len(extra) > maxPlain {
		return dst, false
	}
	var names [maxPlain]jose.HeaderKey
	var values [maxPlain]string
	n := 0
	for name, v := range extra {
		str, ok := v.(string)
		if !ok || !plainJSON(string(name)) || !plainJSON(str) {
			return dst, false
		}
		names[n], values[n] = name, str
		n++
	}
	// Insertion sort by name: n is tiny.
	for i := 1; i < n; i++ {
		for j := i; j > 0 && names[j] < names[j-1]; j-- {
			names[j], names[j-1] = names[j-1], names[j]
			values[j], values[j-1] = values[j-1], values[j]
		}
	}
	for i := range n {
		dst = append(dst, ',', '"')
		dst = append(dst, names[i]...)
		dst = append(dst, '"', ':', '"')
		dst = append(dst, values[i]...)
		dst = append(dst, '"')
	}
	return append(dst, '}'), true
}

// plainJSON reports whether s is printable ASCII that encoding/json writes
// as is inside a string.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// sign returns the compact JWS of payload with the given extra headers.
func (k *signingKey) sign(extra map[jose.HeaderKey]interface{}, payload []byte) (string, error) {
	var stack [256]byte
	hdr, err := k.appendHeader(stack[:0], extra)
	if err != nil {
		return "", err
	}
	hLen := len(k.bareHeader)
	if hdr != nil {
		hLen = b64.EncodedLen(len(hdr))
	}
	inputLen := hLen + 1 + b64.EncodedLen(len(payload))
	buf := make([]byte, inputLen+1+b64.EncodedLen(k.sigLen))
	if hdr != nil {
		b64.Encode(buf, hdr)
	} else {
		copy(buf, k.bareHeader)
	}
	buf[hLen] = '.'
	b64.Encode(buf[hLen+1:inputLen], payload)
	sig, err := k.rawSign(buf[:inputLen])
	if err != nil {
		return "", err
	}
	if len(sig) != k.sigLen {
		return "", errors.New("keys: signature has unexpected length")
	}
	buf[inputLen] = '.'
	b64.Encode(buf[inputLen+1:], sig)
	return string(buf), nil
}

// rawSign signs the JWS signing input and returns the signature in its JWS
// form (for ES256, R||S of 32 bytes each rather than ASN.1).
func (k *signingKey) rawSign(input []byte) ([]byte, error) {
	switch key := k.signer.(type) {
	case *ecdsa.PrivateKey:
		digest := sha256.Sum256(input)
		der, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
		if err != nil {
			return nil, err
		}
		return ecdsaRaw(der, 32)
	case *rsa.PrivateKey:
		digest := sha256.Sum256(input)
		return rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	case ed25519.PrivateKey:
		return ed25519.Sign(key, input), nil
	default:
		return nil, fmt.Errorf("keys: cannot sign with %T", k.signer)
	}
}

// ecdsaRaw converts an ASN.1 ECDSA signature to the fixed-size R||S form of
// RFC 7518 section 3.4.
func ecdsaRaw(der []byte, size int) ([]byte, error) {
	var r, s []byte
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() ||
		!seq.ReadASN1Integer(&r) || !seq.ReadASN1Integer(&s) || !seq.Empty() ||
		len(r) > size || len(s) > size {
		return nil, errors.New("keys: malformed ECDSA signature")
	}
	out := make([]byte, 2*size)
	copy(out[size-len(r):size], r)
	copy(out[2*size-len(s):], s)
	return out, nil
}
