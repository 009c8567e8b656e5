package resource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// maxTokenSize bounds the work an attacker can make Verify do before any
// signature check. Real access tokens are well under 2 KiB.
const maxTokenSize = 16 << 10

var (
	// ErrExpired is wrapped by the TokenError of a token past its exp, so
	// that callers can tell "refresh and retry" from other failures.
	ErrExpired = errors.New("token expired")
	// ErrUnknownKey is wrapped by the TokenError of a token whose kid is not
	// in the provider's JWKS, even after a refetch (or when the refetch was
	// rate limited or failed; the fetch error is wrapped too).
	ErrUnknownKey = errors.New("unknown signing key")
)

// TokenError is the error of every token Verify refuses.
type TokenError struct {
	// Reason says what was wrong in words safe to send to the client
	// (RFC 6750 error_description): it never contains token content.
	Reason string
	// Err is the underlying cause, possibly ErrExpired or ErrUnknownKey.
	// It may carry library details meant for logs, not for clients.
	Err error
}

func (e *TokenError) Error() string {
	if e.Err == nil {
		return "resource: invalid access token: " + e.Reason
	}
	return "resource: invalid access token: " + e.Reason + ": " + e.Err.Error()
}

func (e *TokenError) Unwrap() error { return e.Err }

// Claims are the verified claims of an access token (RFC 9068 §2.2).
type Claims struct {
	Issuer    string
	Subject   string // the user, or the client itself for client credentials
	ClientID  string
	ID        string // jti
	Audience  []string
	Scopes    []string
	ExpiresAt time.Time
	IssuedAt  time.Time
	NotBefore time.Time // zero when the token has no nbf
	// Confirmation is the key the token is bound to (cnf); zero for a
	// bearer token.
	Confirmation Confirmation
}

// HasScope reports whether the token was granted scope s.
func (c *Claims) HasScope(s string) bool { return slices.Contains(c.Scopes, s) }

// accessTokenClaims is the wire form of an RFC 9068 payload.
type accessTokenClaims struct {
	jwt.Claims
	ClientID string          `json:"client_id"`
	Scope    string          `json:"scope"`
	Cnf      json.RawMessage `json:"cnf"`
}

// Verifier verifies access tokens of one issuer for one audience. It is safe
// for concurrent use.
type Verifier struct {
	issuer   string
	audience string
	realm    string
	algs     []jose.SignatureAlgorithm
	now      func() time.Time
	leeway   time.Duration
	log      *slog.Logger
	keys     *remoteKeySet
	dpop     *dpopCheck
}

// NewVerifier discovers the provider's JWKS through
// cfg.Issuer/.well-known/openid-configuration and fetches it.
//
// It fails if the provider cannot be reached or gives unusable documents:
// a verifier that starts without keys could only refuse every token, and an
// error at start-up is easier to diagnose than a stream of 401s. Callers that
// start before the provider should retry (see cmd/resource). Errors caused by
// cfg itself wrap ErrInvalidConfig and are not worth retrying. ctx bounds the
// start-up fetches only.
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	cfg, dpopCheck, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	jwksURI, err := discover(ctx, cfg.HTTPClient, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("resource: discovery: %w", err)
	}
	keys := &remoteKeySet{
		jwksURI:     jwksURI,
		client:      cfg.HTTPClient,
		now:         cfg.Now,
		minInterval: cfg.MinRefetchInterval,
		maxAge:      cfg.KeyMaxAge,
		log:         cfg.Logger,
	}
	snap, err := keys.fetch(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("resource: JWKS: %w", err)
	}
	// The initial fetch does not count against the refetch rate limit, so a
	// key rotated just after start-up is picked up at once.
	keys.snap.Store(snap)
	return &Verifier{
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
		realm:    cfg.Realm,
		algs:     cfg.signatureAlgorithms(),
		now:      cfg.Now,
		leeway:   cfg.Leeway,
		log:      cfg.Logger,
		keys:     keys,
		dpop:     dpopCheck,
	}, nil
}

// Verify checks raw as an RFC 9068 JWT access token for this verifier's
// issuer and audience and returns its claims. Every refusal is a
// *TokenError. ctx bounds a JWKS refetch caused by an unknown kid.
//
// Verify knows nothing of the request, so it cannot check a DPoP binding:
// a caller that uses it without the middleware must refuse claims with a
// non-zero Confirmation (or check their proof itself with package dpop),
// or a stolen bound token works there as a bearer token.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	if len(raw) > maxTokenSize {
		return nil, &TokenError{Reason: fmt.Sprintf("token is longer than %d bytes", maxTokenSize)}
	}
	// The allow-list is checked by go-jose before anything else, which is
	// what refuses "none" and HS256-with-the-public-key (alg confusion).
	tok, err := jwt.ParseSigned(raw, v.algs)
	if err != nil {
		return nil, &TokenError{Reason: "token is not a JWS-signed JWT with an allowed algorithm", Err: err}
	}
	h := tok.Headers[0] // compact serialization has exactly one signature
	if !isAccessTokenType(h.ExtraHeaders[jose.HeaderType]) {
		return nil, &TokenError{Reason: `token header typ is not "at+jwt" (RFC 9068 §2.1)`}
	}
	if h.KeyID == "" {
		// Our provider always names its key; trying every key instead would
		// let one token cost many signature checks.
		return nil, &TokenError{Reason: "token header has no kid"}
	}

	keys, stale := v.keys.lookup(h.KeyID)
	if !hasUsableKey(keys, h.Algorithm) {
		// Perhaps the provider rotated its keys: fetch them again, within
		// the rate limit, and look once more (another caller's fetch may
		// have landed even if ours was refused).
		ferr := v.keys.refresh(ctx)
		keys, _ = v.keys.lookup(h.KeyID)
		if !hasUsableKey(keys, h.Algorithm) {
			return nil, &TokenError{Reason: "token is signed with a key the issuer does not publish", Err: errors.Join(ErrUnknownKey, ferr)}
		}
	} else if stale {
		// The provider's max-age (or KeyMaxAge) has passed: refresh in the
		// background, within the rate limit, so that keys it withdrew stop
		// working and keys it added arrive before tokens signed with them.
		// This token is judged with the keys at hand, which keep working
		// until a refresh replaces them.
		_, _ = v.keys.startRefresh(ctx)
	}

	var c accessTokenClaims
	err = jose.ErrCryptoFailure
	for _, k := range keys {
		if !k.usableFor(h.Algorithm) {
			continue
		}
		if err = tok.Claims(k.key, &c); err == nil || !errors.Is(err, jose.ErrCryptoFailure) {
			break
		}
	}
	switch {
	case errors.Is(err, jose.ErrCryptoFailure):
		return nil, &TokenError{Reason: "token signature is invalid", Err: err}
	case err != nil:
		return nil, &TokenError{Reason: "token payload is not a valid JWT claims set", Err: err}
	}
	return v.checkClaims(&c)
}

// checkClaims applies RFC 9068 §4 to a payload whose signature is valid.
func (v *Verifier) checkClaims(c *accessTokenClaims) (*Claims, error) {
	if c.Issuer != v.issuer {
		return nil, &TokenError{Reason: "token was not issued by " + v.issuer}
	}
	if !c.Audience.Contains(v.audience) {
		return nil, &TokenError{Reason: "token audience does not include " + v.audience}
	}
	if c.Expiry == nil {
		return nil, &TokenError{Reason: "token has no exp"}
	}
	now := v.now()
	// RFC 7519 §4.1.4: the current time must be before exp.
	if exp := c.Expiry.Time(); !now.Add(-v.leeway).Before(exp) {
		return nil, &TokenError{Reason: "token expired at " + exp.UTC().Format(time.RFC3339), Err: ErrExpired}
	}
	if c.NotBefore != nil && now.Add(v.leeway).Before(c.NotBefore.Time()) {
		return nil, &TokenError{Reason: "token is not valid before " + c.NotBefore.Time().UTC().Format(time.RFC3339)}
	}
	if c.IssuedAt == nil {
		return nil, &TokenError{Reason: "token has no iat"}
	}
	// A token from the future means a broken clock or a forgery; either
	// way its lifetime cannot be trusted.
	if now.Add(v.leeway).Before(c.IssuedAt.Time()) {
		return nil, &TokenError{Reason: "token iat is in the future"}
	}
	switch {
	case c.Subject == "":
		return nil, &TokenError{Reason: "token has no sub"}
	case c.ClientID == "":
		return nil, &TokenError{Reason: "token has no client_id"}
	case c.ID == "":
		return nil, &TokenError{Reason: "token has no jti"}
	}
	cnf, err := parseConfirmation(c.Cnf)
	if err != nil {
		return nil, err
	}

	out := &Claims{
		Issuer:       c.Issuer,
		Subject:      c.Subject,
		ClientID:     c.ClientID,
		ID:           c.ID,
		Audience:     []string(c.Audience),
		Scopes:       strings.Fields(c.Scope),
		ExpiresAt:    c.Expiry.Time(),
		IssuedAt:     c.IssuedAt.Time(),
		Confirmation: cnf,
	}
	if c.NotBefore != nil {
		out.NotBefore = c.NotBefore.Time()
	}
	return out, nil
}

// isAccessTokenType accepts "at+jwt" and "application/at+jwt" in any case:
// media types are case-insensitive and RFC 7515 §4.1.9 lets the
// "application/" prefix be omitted.
func isAccessTokenType(typ any) bool {
	s, ok := typ.(string)
	if !ok {
		return false
	}
	return strings.EqualFold(s, "at+jwt") || strings.EqualFold(s, "application/at+jwt")
}

func hasUsableKey(keys []publicKey, alg string) bool {
	for _, k := range keys {
		if k.usableFor(alg) {
			return true
		}
	}
	return false
}
