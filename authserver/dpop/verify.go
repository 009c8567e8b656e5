package dpop

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Defaults applied by NewVerifier to zero-valued Config fields.
const (
	// DefaultMaxAge is how old a proof's iat may be. A proof is made for
	// one request and sent at once; the window only has to absorb
	// latency and modest clock skew, and every second of it is a second a
	// captured proof could be replayed to a server that does not share
	// this one's replay cache.
	DefaultMaxAge = time.Minute
	// DefaultLeeway is how far in the future iat may be: a client clock
	// slightly ahead of ours. Clients with worse clocks are what server
	// nonces (RFC 9449 §8) are for.
	DefaultLeeway = 5 * time.Second
)

// MaxProofSize bounds the work a proof can cause before its signature is
// checked. A proof with a 4096-bit RSA key is under 2 KiB.
const MaxProofSize = 8 << 10

// maxJTISize bounds the jti; 128 random bits need 22 to 32 characters.
const maxJTISize = 256

// Codes of Error, as the OAuth error responses name them (RFC 9449 §7.1,
// §8, §12.2).
const (
	CodeInvalidProof = "invalid_dpop_proof"
	CodeUseNonce     = "use_dpop_nonce"
)

var (
	// ErrInvalidConfig is wrapped by the errors of NewVerifier.
	ErrInvalidConfig = errors.New("dpop: invalid config")
	// ErrReplayed is wrapped by the Error of a proof whose jti was seen
	// before, within the window.
	ErrReplayed = errors.New("dpop: proof replayed")
	// ErrKeyMismatch is wrapped by the Error of a valid proof signed with
	// another key than Request.JKT names. A resource server answers it
	// invalid_token rather than invalid_dpop_proof (RFC 9449 §7.1: the
	// token's binding is what fails).
	ErrKeyMismatch = errors.New("dpop: proof key is not the key the token is bound to")
)

// Error is the error of every proof Verify refuses.
type Error struct {
	// Code is the OAuth error to answer: CodeInvalidProof, or CodeUseNonce
	// when the proof is fine but for the server nonce (the answer then
	// carries a fresh DPoP-Nonce header).
	Code string
	// Reason says what was wrong in words safe to send to the client
	// (error_description): it never contains proof content.
	Reason string
	// Err is the cause, possibly ErrReplayed or ErrKeyMismatch, or a
	// library error meant for logs.
	Err error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return "dpop: " + e.Code + ": " + e.Reason
	}
	return "dpop: " + e.Code + ": " + e.Reason + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

func invalid(reason string, err error) *Error {
	return &Error{Code: CodeInvalidProof, Reason: reason, Err: err}
}

// Config configures a Verifier. The zero value is usable.
type Config struct {
	// Algorithms is the allow-list of proof algorithms, default
	// DefaultAlgorithms. Only asymmetric JWS algorithms may be named.
	Algorithms []string
	// MaxAge is how old a proof's iat may be, default DefaultMaxAge. It is
	// also how long the replay cache keeps each jti.
	MaxAge time.Duration
	// Leeway is how far in the future iat may be. Zero means
	// DefaultLeeway; a negative value means none.
	Leeway time.Duration
	// Now is the clock, default time.Now.
	Now func() time.Time
	// ReplayCache records the accepted proofs. Default: a
	// MemoryReplayCache of DefaultReplayCacheSize entries on Now, owned by
	// this Verifier. Servers with replicas pass one they share.
	ReplayCache ReplayCache
}

// Verifier checks DPoP proofs. It is safe for concurrent use.
type Verifier struct {
	algs     []jose.SignatureAlgorithm
	algNames []string
	maxAge   time.Duration
	leeway   time.Duration
	now      func() time.Time
	replay   ReplayCache
}

// NewVerifier validates cfg and returns a Verifier. Its errors wrap
// ErrInvalidConfig.
func NewVerifier(cfg Config) (*Verifier, error) {
	var problems []string
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = DefaultAlgorithms
	}
	for _, a := range cfg.Algorithms {
		if !asymmetric[a] {
			problems = append(problems, fmt.Sprintf("algorithm %q is not allowed for DPoP proofs (allowed: asymmetric JWS algorithms such as ES256, EdDSA, PS256)", a))
		}
	}
	if cfg.MaxAge < 0 {
		problems = append(problems, "MaxAge must not be negative")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(problems, "; "))
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = DefaultMaxAge
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
	v := &Verifier{
		algNames: slices.Clone(cfg.Algorithms),
		maxAge:   cfg.MaxAge,
		leeway:   cfg.Leeway,
		now:      cfg.Now,
		replay:   cfg.ReplayCache,
	}
	for _, a := range v.algNames {
		v.algs = append(v.algs, jose.SignatureAlgorithm(a))
	}
	return v, nil
}

// Algorithms returns the allowed algorithms, for the algs parameter of a
// DPoP challenge and for dpop_signing_alg_values_supported.
func (v *Verifier) Algorithms() []string { return slices.Clone(v.algNames) }

// Request is the HTTP request a proof is checked against.
type Request struct {
	// Proofs are the values of the request's DPoP header fields,
	// r.Header.Values("DPoP"): exactly one is required (RFC 9449 §4.3
	// check 1).
	Proofs []string
	// Method is the request's method, which htm must equal.
	Method string
	// URL is the absolute URL the client sent the request to (behind a
	// proxy: the public one). Its query and fragment are ignored.
	URL string
	// AccessToken, when set, is the token presented with the proof: the
	// proof's ath must be its hash (§4.3 check 12).
	AccessToken string
	// JKT, when set, is the thumbprint the presented token is bound to
	// (cnf.jkt): the proof's key must have it. It is checked before the jti
	// is recorded, so that only the key's holder can fill the replay cache.
	JKT string
	// CheckNonce, when set, makes a server nonce required (§8, §9): it is
	// called with the proof's nonce ("" when it has none) and reports
	// whether the server currently accepts it. A proof it refuses fails
	// with CodeUseNonce.
	CheckNonce func(nonce string) bool
}

// Proof is what Verify learned from an accepted proof.
type Proof struct {
	// JKT is the RFC 7638 thumbprint of the proof's key, base64url: the
	// cnf.jkt of tokens bound to it.
	JKT       string
	Key       jose.JSONWebKey // the public key
	Algorithm string
	ID        string // jti
	IssuedAt  time.Time
	Nonce     string
}

// Verify applies RFC 9449 §4.3 to the request's proof and records its jti.
// A refused proof is an *Error; any other error means the replay cache
// could not decide, and the proof must not be accepted.
func (v *Verifier) Verify(ctx context.Context, req Request) (*Proof, error) {
	switch len(req.Proofs) {
	case 0:
		return nil, invalid("the request has no DPoP proof (DPoP header)", nil)
	case 1:
	default:
		return nil, invalid("the request has more than one DPoP header", nil)
	}
	raw := req.Proofs[0]
	if len(raw) > MaxProofSize {
		return nil, invalid(fmt.Sprintf("the DPoP proof is longer than %d bytes", MaxProofSize), nil)
	}
	if err := v.checkHeader(raw); err != nil {
		return nil, err
	}
	jws, err := jose.ParseSignedCompact(raw, v.algs)
	if err != nil {
		return nil, invalid("the DPoP proof is not a compact JWS with an allowed algorithm and a public jwk", err)
	}
	h := jws.Signatures[0].Header // compact serialization: exactly one
	jwk := h.JSONWebKey
	if jwk == nil || !jwk.Valid() || !jwk.IsPublic() {
		return nil, invalid("the DPoP proof's jwk header is not a public key", nil)
	}
	if err := keyFits(h.Algorithm, jwk.Key); err != nil {
		return nil, invalid("the DPoP proof's jwk does not fit its alg: "+err.Error(), nil)
	}
	if jwk.Algorithm != "" && jwk.Algorithm != h.Algorithm {
		return nil, invalid("the DPoP proof's jwk names another alg than the proof", nil)
	}
	payload, err := jws.Verify(jwk.Key)
	if err != nil {
		return nil, invalid("the DPoP proof's signature does not verify with its jwk", err)
	}
	c, err := parseClaims(payload)
	if err != nil {
		return nil, err
	}
	if err := v.checkClaims(c, req); err != nil {
		return nil, err
	}
	jkt, err := Thumbprint(jwk)
	if err != nil {
		return nil, invalid("the DPoP proof's jwk has no thumbprint", err)
	}
	if req.JKT != "" && subtle.ConstantTimeCompare([]byte(jkt), []byte(req.JKT)) != 1 {
		return nil, invalid("the DPoP proof is signed with another key than the one the access token is bound to", ErrKeyMismatch)
	}
	if req.CheckNonce != nil && !req.CheckNonce(c.nonce) {
		reason := "the DPoP proof's nonce is not current; use the one in the DPoP-Nonce header"
		if c.nonce == "" {
			reason = "this server requires a nonce in DPoP proofs; use the one in the DPoP-Nonce header"
		}
		return nil, &Error{Code: CodeUseNonce, Reason: reason}
	}
	seen, err := v.replay.Seen(ctx, replayID(jkt, c.jti), c.iat.Add(v.maxAge))
	if err != nil {
		return nil, fmt.Errorf("dpop: replay cache: %w", err)
	}
	if seen {
		return nil, invalid("the DPoP proof was used before; make a new proof for every request", ErrReplayed)
	}
	return &Proof{JKT: jkt, Key: *jwk, Algorithm: h.Algorithm, ID: c.jti, IssuedAt: c.iat, Nonce: c.nonce}, nil
}

// checkHeader applies the checks of the protected header that give a
// precise reason (typ, alg, jwk) before go-jose parses the proof. It reads
// the header as a map, so member names match exactly, as go-jose matches
// them.
func (v *Verifier) checkHeader(raw string) error {
	if strings.Count(raw, ".") != 2 || strings.ContainsFunc(raw, notBase64URLOrDot) {
		return invalid("the DPoP proof is not a compact JWS (a single value, three base64url parts)", nil)
	}
	b64, _, _ := strings.Cut(raw, ".")
	hb, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		return invalid("the DPoP proof's header is not base64url", err)
	}
	var h map[string]json.RawMessage
	if err := json.Unmarshal(hb, &h); err != nil {
		return invalid("the DPoP proof's header is not a JSON object", err)
	}
	var typ, alg string
	if json.Unmarshal(h["typ"], &typ) != nil || !isProofType(typ) {
		return invalid(`the DPoP proof's typ is not "dpop+jwt"`, nil)
	}
	if json.Unmarshal(h["alg"], &alg) != nil || !slices.Contains(v.algNames, alg) {
		return invalid("the DPoP proof's alg is not one of "+strings.Join(v.algNames, ", "), nil)
	}
	if _, ok := h["crit"]; ok {
		return invalid("the DPoP proof has critical header parameters this server does not support", nil)
	}
	var jwk map[string]json.RawMessage
	if json.Unmarshal(h["jwk"], &jwk) != nil || jwk == nil {
		return invalid("the DPoP proof has no jwk header", nil)
	}
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"} {
		if _, ok := jwk[private]; ok {
			return invalid("the DPoP proof's jwk contains a private or symmetric key; send the public key only", nil)
		}
	}
	return nil
}

func notBase64URLOrDot(r rune) bool {
	return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.')
}

// isProofType accepts "dpop+jwt" and "application/dpop+jwt" in any case:
// media types are case-insensitive and RFC 7515 §4.1.9 lets the
// "application/" prefix be omitted.
func isProofType(typ string) bool {
	return strings.EqualFold(typ, ProofType) || strings.EqualFold(typ, "application/"+ProofType)
}

// proofClaims are the claims of a proof whose signature is valid.
type proofClaims struct {
	jti, htm, htu, ath, nonce string
	iat                       time.Time
}

// parseClaims reads the payload as a map, so that member names match
// exactly ("HTM" is not htm), and requires jti, htm, htu and iat (§4.2).
func parseClaims(payload []byte) (*proofClaims, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil, invalid("the DPoP proof's payload is not a JSON object", err)
	}
	var c proofClaims
	for _, f := range []struct {
		name     string
		dst      *string
		required bool
	}{
		{"jti", &c.jti, true}, {"htm", &c.htm, true}, {"htu", &c.htu, true},
		{"ath", &c.ath, false}, {"nonce", &c.nonce, false},
	} {
		v, ok := m[f.name]
		if !ok {
			if f.required {
				return nil, invalid("the DPoP proof has no "+f.name+" claim", nil)
			}
			continue
		}
		if err := json.Unmarshal(v, f.dst); err != nil {
			return nil, invalid("the DPoP proof's "+f.name+" claim is not a string", err)
		}
	}
	if c.jti == "" || len(c.jti) > maxJTISize {
		return nil, invalid(fmt.Sprintf("the DPoP proof's jti must have 1 to %d characters", maxJTISize), nil)
	}
	v, ok := m["iat"]
	if !ok {
		return nil, invalid("the DPoP proof has no iat claim", nil)
	}
	var iat jwt.NumericDate
	if err := json.Unmarshal(v, &iat); err != nil {
		return nil, invalid("the DPoP proof's iat claim is not a number", err)
	}
	c.iat = iat.Time()
	return &c, nil
}

// checkClaims applies §4.3 checks 8, 9, 11 and 12 (ath).
func (v *Verifier) checkClaims(c *proofClaims, req Request) error {
	if c.htm != req.Method {
		return invalid("the DPoP proof's htm is not the request method "+req.Method, nil)
	}
	want, ok := normalizeURL(req.URL)
	if !ok {
		// The server's own URL: a configuration mistake, but still no
		// reason to accept the proof.
		return invalid("the request URL cannot be compared with the DPoP proof's htu", nil)
	}
	if got, ok := normalizeURL(c.htu); !ok || got != want {
		return invalid("the DPoP proof's htu is not the request URL "+want, nil)
	}
	now := v.now()
	if c.iat.Before(now.Add(-v.maxAge)) {
		return invalid(fmt.Sprintf("the DPoP proof is too old (iat more than %s ago); make a new proof for every request", v.maxAge), nil)
	}
	if c.iat.After(now.Add(v.leeway)) {
		return invalid("the DPoP proof's iat is in the future; check the client's clock", nil)
	}
	if req.AccessToken != "" {
		if c.ath == "" {
			return invalid("the DPoP proof has no ath claim (the hash of the access token)", nil)
		}
		if subtle.ConstantTimeCompare([]byte(c.ath), []byte(AccessTokenHash(req.AccessToken))) != 1 {
			return invalid("the DPoP proof's ath is not the hash of the access token it came with", nil)
		}
	}
	return nil
}

// replayID is the ReplayCache id of a proof: a digest of its key and jti.
func replayID(jkt, jti string) string {
	sum := sha256.Sum256([]byte(jkt + "\x00" + jti))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
