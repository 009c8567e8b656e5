package clientkeys

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// AssertionType is the only client_assertion_type this package verifies
// (RFC 7523 §2.2). The token endpoint compares the parameter with it
// before calling VerifyAssertion.
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// maxJTISize bounds the jti; 128 random bits need 22 to 32 characters.
const maxJTISize = 256

// AssertionPolicy is what one client's profile adds to the Verifier's
// rules. The zero value adds nothing.
type AssertionPolicy struct {
	// Algorithms narrows the Verifier's allow-list for this client, e.g.
	// FAPI2Algorithms(); empty keeps it.
	Algorithms []string
}

// Assertion is what VerifyAssertion learned from an accepted assertion.
type Assertion struct {
	ClientID  string
	KeyID     string // kid of the key that verified it, "" when it has none
	Algorithm string
	ID        string    // jti
	Expiry    time.Time // exp
	IssuedAt  time.Time // iat, zero when absent
}

var assertionKind = jwtKind{
	code:    CodeInvalidClient,
	noun:    "client assertion",
	maxSize: MaxAssertionSize,
	// A JWT typed for another purpose (a DPoP proof, a request object, an
	// access token) must not pass for a client assertion, whatever its
	// claims; untyped and "JWT" are what clients send today, and
	// client-authentication+jwt is what draft-ietf-oauth-rfc7523bis asks
	// for.
	typeOK: func(typ string) bool {
		return mediaType(typ, "JWT") || mediaType(typ, "client-authentication+jwt")
	},
	typeHint: `use "JWT", "client-authentication+jwt" or no typ`,
}

// VerifyAssertion authenticates clientID by its client assertion (RFC 7523
// §3, RFC 7521 §4.2, OpenID Connect Core §9): a compact JWS with an
// allowed algorithm, signed by one of keys; iss and sub both clientID; aud
// containing one of audiences (the issuer, the URL of the endpoint that
// received it — the token, PAR, revocation or introspection endpoint —
// whichever the caller accepts); exp in the future and at most
// AssertionMaxLifetime after iat and after now; nbf and iat, when present,
// not in the future; a jti seen for the first time. The jti is recorded
// last, so that only a valid assertion of the client can fill the replay
// cache.
//
// A refused assertion is an *Error with CodeInvalidClient; any other error
// means it could not be judged (the replay cache or the key source failed)
// and must not be accepted.
//
// Accepting the endpoint URL as audience is what RFC 7523 §3 allows; an
// assertion aimed at the issuer only is the stricter choice (it cannot be
// one a client made for another server that claimed our token endpoint as
// its own), so a profile that wants it passes only the issuer.
func (v *Verifier) VerifyAssertion(ctx context.Context, assertion, clientID string, keys KeySource, audiences []string, p AssertionPolicy) (*Assertion, error) {
	k := assertionKind
	if clientID == "" {
		return nil, k.fail(nil, "cannot be checked without a client_id")
	}
	if len(audiences) == 0 {
		return nil, errors.New("clientkeys: VerifyAssertion needs the accepted audiences")
	}
	t, err := k.parse(assertion, narrow(v.algs, p.Algorithms))
	if err != nil {
		return nil, err
	}
	a, err := v.checkAssertionClaims(t.claims, clientID, audiences)
	if err != nil {
		return nil, err
	}
	key, err := k.verify(ctx, t, keys)
	if err != nil {
		return nil, err
	}
	a.KeyID, a.Algorithm = key.ID, t.alg
	seen, err := v.replay.Seen(ctx, assertionReplayID(clientID, a.ID), a.Expiry)
	if err != nil {
		return nil, fmt.Errorf("clientkeys: replay cache: %w", err)
	}
	if seen {
		return nil, k.fail(ErrReplayed, "was used before (same jti): make a new assertion, with a new jti, for every request")
	}
	return a, nil
}

// checkAssertionClaims applies RFC 7523 §3 to the claims.
func (v *Verifier) checkAssertionClaims(c claims, clientID string, audiences []string) (*Assertion, error) {
	k := assertionKind
	for _, name := range []string{"iss", "sub"} {
		got, present, err := c.str(name)
		switch {
		case err != nil:
			return nil, k.fail(nil, "is invalid: %v", err)
		case !present:
			return nil, k.fail(nil, "has no %s claim: it must be the client_id %q", name, clientID)
		case got != clientID:
			return nil, k.fail(nil, "has a %s claim other than the client_id %q: iss and sub must both be the client_id", name, clientID)
		}
	}
	aud, err := c.audience()
	if err != nil {
		return nil, k.fail(nil, "is invalid: %v", err)
	}
	if !intersects(aud, audiences) {
		return nil, k.fail(nil, "has an aud claim that does not name this server: use %s", quoteAll(audiences))
	}
	jti, present, err := c.str("jti")
	switch {
	case err != nil:
		return nil, k.fail(nil, "is invalid: %v", err)
	case !present || jti == "":
		return nil, k.fail(nil, "has no jti claim: give every assertion a unique jti (RFC 7523 §3)")
	case len(jti) > maxJTISize:
		return nil, k.fail(nil, "has a jti longer than %d characters", maxJTISize)
	}
	times, err := readTimes(c)
	if err != nil {
		return nil, k.fail(nil, "is invalid: %v", err)
	}
	if !times.hasExp {
		return nil, k.fail(nil, "has no exp claim: assertions must expire (a few minutes after they are made)")
	}
	now := v.now()
	if !now.Before(times.exp) {
		return nil, k.fail(ErrExpired, "has expired (exp is in the past); make a new one for every request, and check the client's clock")
	}
	if times.exp.After(now.Add(v.maxLifetime + v.leeway)) {
		return nil, k.fail(nil, "expires too late: exp may be at most %s from now", v.maxLifetime)
	}
	if times.hasIat && times.exp.Sub(times.iat) > v.maxLifetime {
		return nil, k.fail(nil, "lives too long: exp may be at most %s after iat", v.maxLifetime)
	}
	if err := v.checkNotFuture(k, times); err != nil {
		return nil, err
	}
	a := &Assertion{ClientID: clientID, ID: jti, Expiry: times.exp}
	if times.hasIat {
		a.IssuedAt = times.iat
	}
	return a, nil
}

// jwtTimes are the NumericDate claims of a JWT.
type jwtTimes struct {
	exp, iat, nbf          time.Time
	hasExp, hasIat, hasNbf bool
}

func readTimes(c claims) (jwtTimes, error) {
	var t jwtTimes
	var err error
	for _, f := range []struct {
		name string
		dst  *time.Time
		has  *bool
	}{{"exp", &t.exp, &t.hasExp}, {"iat", &t.iat, &t.hasIat}, {"nbf", &t.nbf, &t.hasNbf}} {
		if *f.dst, *f.has, err = c.time(f.name); err != nil {
			return t, err
		}
	}
	return t, nil
}

// checkNotFuture refuses an iat or nbf beyond now plus the leeway.
func (v *Verifier) checkNotFuture(k jwtKind, t jwtTimes) error {
	limit := v.now().Add(v.leeway)
	if t.hasIat && t.iat.After(limit) {
		return k.fail(nil, "was issued in the future (iat); check the client's clock")
	}
	if t.hasNbf && t.nbf.After(limit) {
		return k.fail(nil, "is not valid yet (nbf is in the future); check the client's clock")
	}
	return nil
}

// assertionReplayID is the ReplayCache id of an assertion: a digest of its
// client and jti, so a client's jti costs bounded space, one client's jti
// cannot collide with another's, and (by the label) neither with a DPoP
// proof's when one store keeps both.
func assertionReplayID(clientID, jti string) string {
	sum := sha256.Sum256([]byte("client_assertion\x00" + clientID + "\x00" + jti))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// UnverifiedClientID returns the client an assertion claims to come from
// (its sub, when iss is the same), for a token request that authenticates
// with an assertion but sends no client_id (RFC 7521 §4.2 makes it
// optional). Use it only to look up the client and its keys:
// VerifyAssertion, with that client_id, is what decides.
func UnverifiedClientID(assertion string) (string, error) {
	k := assertionKind
	if len(assertion) > k.maxSize || strings.Count(assertion, ".") != 2 {
		return "", k.fail(nil, "is not a compact JWS (three base64url parts separated by dots)")
	}
	parts := strings.SplitN(assertion, ".", 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", k.fail(err, "is invalid: its payload is not base64url")
	}
	c, err := parseClaims(payload)
	if err != nil {
		return "", k.fail(nil, "is invalid: %v", err)
	}
	iss, _, _ := c.str("iss")
	sub, _, _ := c.str("sub")
	if sub == "" || iss != sub {
		return "", k.fail(nil, "does not name a client (iss and sub must both be the client_id); or send client_id")
	}
	return sub, nil
}

func quoteAll(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, " or ")
}
