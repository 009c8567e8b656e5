package clientkeys

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Defaults applied by NewVerifier to zero-valued Config fields.
const (
	// DefaultAssertionMaxLifetime bounds exp of a client assertion, after
	// its iat and after now: an assertion is made for one request, and the
	// bound is also how long its jti must be remembered.
	DefaultAssertionMaxLifetime = 5 * time.Minute
	// DefaultLeeway is the clock skew allowed for iat and nbf: a client
	// clock slightly ahead of ours.
	DefaultLeeway = 60 * time.Second
)

// Size bounds, checked before anything is parsed. An assertion signed with
// a 4096-bit RSA key is under 2 KiB; a request object carries an
// authorization request, claims and authorization_details included.
const (
	MaxAssertionSize     = 8 << 10
	MaxRequestObjectSize = 32 << 10
)

// Config configures a Verifier. The zero value is usable.
type Config struct {
	// Algorithms is the allow-list of JWS algorithms, default
	// DefaultAlgorithms(). Only asymmetric algorithms may be named. A
	// policy can narrow it per client, never widen it.
	Algorithms []string
	// AssertionMaxLifetime bounds a client assertion's exp after its iat
	// and after now (plus Leeway), default DefaultAssertionMaxLifetime.
	AssertionMaxLifetime time.Duration
	// Leeway is how far in the future iat and nbf may be. Zero means
	// DefaultLeeway; a negative value means none.
	Leeway time.Duration
	// Now is the clock, default time.Now.
	Now func() time.Time
	// ReplayCache records the jti of accepted assertions. Default: a
	// MemoryReplayCache of DefaultReplayCacheSize entries on Now, owned by
	// this Verifier. Servers with replicas pass one they share.
	ReplayCache ReplayCache
}

// Verifier checks client assertions and request objects. It is safe for
// concurrent use.
type Verifier struct {
	algs        []string
	maxLifetime time.Duration
	leeway      time.Duration
	now         func() time.Time
	replay      ReplayCache
}

// NewVerifier validates cfg and returns a Verifier. Its errors wrap
// ErrInvalidConfig.
func NewVerifier(cfg Config) (*Verifier, error) {
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = DefaultAlgorithms()
	}
	problems := checkAlgorithms("Algorithms", cfg.Algorithms)
	if cfg.AssertionMaxLifetime < 0 {
		problems = append(problems, "AssertionMaxLifetime must not be negative")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(problems, "; "))
	}
	switch {
	case cfg.Leeway == 0:
		cfg.Leeway = DefaultLeeway
	case cfg.Leeway < 0:
		cfg.Leeway = 0
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ReplayCache == nil {
		cfg.ReplayCache = NewMemoryReplayCache(DefaultReplayCacheSize, cfg.Now)
	}
	return &Verifier{
		algs:        slices.Clone(cfg.Algorithms),
		maxLifetime: orDefault(cfg.AssertionMaxLifetime, DefaultAssertionMaxLifetime),
		leeway:      cfg.Leeway,
		now:         cfg.Now,
		replay:      cfg.ReplayCache,
	}, nil
}

// Algorithms returns the allowed algorithms, for discovery
// (token_endpoint_auth_signing_alg_values_supported,
// request_object_signing_alg_values_supported).
func (v *Verifier) Algorithms() []string { return slices.Clone(v.algs) }

// jwtKind says which JWT a check is about, for the error code and words.
type jwtKind struct {
	code, noun string
	maxSize    int
	typeOK     func(typ string) bool
	typeHint   string
}

func (k jwtKind) fail(err error, format string, args ...any) *Error {
	return &Error{Code: k.code, Reason: "the " + k.noun + " " + fmt.Sprintf(format, args...), Err: err}
}

// signedJWT is a compact JWS whose header passed checkHeader and whose
// claims were read, before its signature is checked.
type signedJWT struct {
	jws    *jose.JSONWebSignature
	alg    string
	kid    string
	claims claims
}

// parse applies the checks that need no key, cheapest first, and reads
// the claims. They are not trusted until verify has run.
func (k jwtKind) parse(raw string, algs []string) (*signedJWT, error) {
	if len(algs) == 0 {
		return nil, k.fail(nil, "cannot be accepted: no signing algorithm is allowed for this client")
	}
	if len(raw) > k.maxSize {
		return nil, k.fail(nil, "is longer than %d bytes", k.maxSize)
	}
	switch strings.Count(raw, ".") {
	case 2:
	case 4:
		return nil, k.fail(nil, "is encrypted (JWE); this server accepts signed JWTs (JWS) only")
	default:
		return nil, k.fail(nil, "is not a compact JWS (three base64url parts separated by dots)")
	}
	if strings.ContainsFunc(raw, notBase64URLOrDot) {
		return nil, k.fail(nil, "is not a compact JWS (three base64url parts separated by dots)")
	}
	if err := k.checkHeader(raw, algs); err != nil {
		return nil, err
	}
	jws, err := jose.ParseSignedCompact(raw, signatureAlgorithms(algs))
	if err != nil {
		return nil, k.fail(err, "is not a compact JWS with an allowed algorithm")
	}
	h := jws.Signatures[0].Header // compact serialization: exactly one
	c, err := parseClaims(jws.UnsafePayloadWithoutVerification())
	if err != nil {
		return nil, k.fail(nil, "is invalid: %v", err)
	}
	return &signedJWT{jws: jws, alg: h.Algorithm, kid: h.KeyID, claims: c}, nil
}

// checkHeader reads the protected header as a map, so member names match
// exactly, and refuses with a precise reason what go-jose would refuse
// with a vague one (alg none, HS*, another algorithm) and what it would
// accept (a wrong typ, critical extensions).
func (k jwtKind) checkHeader(raw string, algs []string) error {
	b64, _, _ := strings.Cut(raw, ".")
	hb, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		return k.fail(err, "is invalid: its header is not base64url")
	}
	var h map[string]json.RawMessage
	if err := json.Unmarshal(hb, &h); err != nil || h == nil {
		return k.fail(err, "is invalid: its header is not a JSON object")
	}
	var alg, typ string
	allowed := strings.Join(algs, ", ")
	if json.Unmarshal(h["alg"], &alg) != nil || alg == "" {
		return k.fail(nil, "is invalid: its header has no alg")
	}
	switch {
	case strings.EqualFold(alg, "none"):
		return k.fail(nil, "is unsigned (alg none): sign it with the client's private key (allowed: %s)", allowed)
	case strings.HasPrefix(alg, "HS"):
		return k.fail(nil, "uses the symmetric algorithm %s: sign it with the private key whose public half is in the client's JWKS (allowed: %s)", alg, allowed)
	case !slices.Contains(algs, alg):
		return k.fail(nil, "is signed with %s, which is not allowed for this client: use one of %s", alg, allowed)
	}
	if t, ok := h["typ"]; ok {
		if json.Unmarshal(t, &typ) != nil || !k.typeOK(typ) {
			return k.fail(nil, "has a typ header this server does not accept: %s", k.typeHint)
		}
	}
	if _, ok := h["crit"]; ok {
		return k.fail(nil, "has critical header parameters (crit) this server does not support")
	}
	return nil
}

// mediaType reports whether typ names want, in any case, with or without
// "application/" (RFC 7515 §4.1.9).
func mediaType(typ, want string) bool {
	return strings.EqualFold(typ, want) || strings.EqualFold(typ, "application/"+want)
}

func notBase64URLOrDot(r rune) bool {
	return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.')
}

func signatureAlgorithms(algs []string) []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(algs))
	for i, a := range algs {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}

// verify checks t's signature with the client's keys: those with t's kid,
// or without a kid every key of the alg's type. When no key has the kid,
// or without a kid none verifies, the source is asked once to refresh (a
// jwks_uri client may have rotated its keys), which it rate-limits.
func (k jwtKind) verify(ctx context.Context, t *signedJWT, keys KeySource) (Key, error) {
	if keys == nil {
		return Key{}, errors.New("clientkeys: no KeySource for the client")
	}
	set, err := k.keys(ctx, keys, false)
	if err != nil {
		return Key{}, err
	}
	key, found, ok := t.tryKeys(set)
	if !ok && (!found || t.kid == "") {
		fresh, err := k.keys(ctx, keys, true)
		if err != nil {
			return Key{}, err
		}
		if fresh != set {
			set = fresh
			key, found, ok = t.tryKeys(set)
		}
	}
	switch {
	case ok:
		return key, nil
	case found:
		return Key{}, k.fail(ErrBadSignature, "signature does not verify with the client's keys")
	case t.kid == "":
		return Key{}, k.fail(ErrUnknownKey, "has no kid, and the client's JWKS has no key for alg %s", t.alg)
	}
	if why, ignored := set.ignored[t.kid]; ignored {
		return Key{}, k.fail(ErrUnknownKey, "names kid %q, a key of the client's JWKS that is ignored: it %s", t.kid, why)
	}
	return Key{}, k.fail(ErrUnknownKey, "names kid %q, but the client's JWKS has no %s key with that kid", t.kid, t.alg)
}

// keys asks the source, turning an ErrKeysUnavailable into a refusal.
func (k jwtKind) keys(ctx context.Context, src KeySource, refresh bool) (*KeySet, error) {
	set, err := src.Keys(ctx, refresh)
	switch {
	case errors.Is(err, ErrKeysUnavailable):
		return nil, k.fail(err, "cannot be checked: the client's keys are unavailable (its jwks_uri could not be fetched or holds no usable key)")
	case err != nil:
		return nil, fmt.Errorf("clientkeys: client keys: %w", err)
	case set == nil:
		return nil, k.fail(ErrKeysUnavailable, "cannot be checked: the client has no keys")
	}
	return set, nil
}

// tryKeys verifies t with the candidate keys of set. found reports whether
// there was any candidate.
func (t *signedJWT) tryKeys(set *KeySet) (key Key, found, ok bool) {
	for _, c := range set.candidates(t.kid, t.alg) {
		if _, err := t.jws.Verify(c.Public); err == nil {
			return c, true, true
		}
		found = true
	}
	return Key{}, found, false
}

// claims are a JWT's claims by exact member name (RFC 7519 §4: names are
// case-sensitive, which encoding/json's struct decoding is not).
type claims map[string]json.RawMessage

func parseClaims(payload []byte) (claims, error) {
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil || c == nil {
		return nil, errors.New("payload is not a JSON object")
	}
	return c, nil
}

// str returns a string claim; present is false when the claim is absent.
func (c claims) str(name string) (v string, present bool, err error) {
	raw, ok := c[name]
	if !ok {
		return "", false, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", true, fmt.Errorf("%s claim is not a string", name)
	}
	return v, true, nil
}

// maxNumericDate is 9999-12-31T23:59:59Z: a NumericDate beyond it (or
// before 1970) is refused, so that no float-to-integer overflow can turn a
// far-future nbf into a past one.
const maxNumericDate = 253402300799

// time returns a NumericDate claim (RFC 7519 §2).
func (c claims) time(name string) (t time.Time, present bool, err error) {
	raw, ok := c[name]
	if !ok {
		return time.Time{}, false, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f < 0 || f > maxNumericDate || math.IsNaN(f) {
		return time.Time{}, true, fmt.Errorf("%s claim is not a NumericDate (seconds since 1970)", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true, nil
}

// audience returns aud, a string or an array of strings (RFC 7519 §4.1.3).
func (c claims) audience() ([]string, error) {
	raw, ok := c["aud"]
	if !ok {
		return nil, errors.New("aud claim is missing")
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, nil
	}
	var many []string
	if json.Unmarshal(raw, &many) != nil {
		return nil, errors.New("aud claim is neither a string nor an array of strings")
	}
	return many, nil
}

// intersects reports whether a and b have a value in common.
func intersects(a, b []string) bool {
	for _, x := range a {
		if x != "" && slices.Contains(b, x) {
			return true
		}
	}
	return false
}
