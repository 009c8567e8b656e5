package clientkeys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"time"
)

// RequestObjectType is the typ RFC 9101 §10.8 asks request objects to
// carry, so that no other JWT of the client passes for one.
const RequestObjectType = "oauth-authz-req+jwt"

// RequestObjectPolicy is what one client's profile requires of its request
// objects beyond RFC 9101. The zero value requires nothing more.
type RequestObjectPolicy struct {
	// Algorithms narrows the Verifier's allow-list for this client; empty
	// keeps it.
	Algorithms []string
	// RequireExpiry makes exp required.
	RequireExpiry bool
	// RequireNotBefore makes nbf required.
	RequireNotBefore bool
	// MaxNotBeforeAge, when set, is how long ago nbf may be: a request
	// object made long ago is refused even if it has not expired.
	MaxNotBeforeAge time.Duration
	// MaxLifetime, when set, bounds exp after nbf (or iat, or now, the
	// first present).
	MaxLifetime time.Duration
}

// FAPI2RequestObjectPolicy is the policy of a client with the FAPI 2.0
// profile: FAPI2Algorithms, and the bounds FAPI 1.0 Advanced §5.2.2 set
// for signed requests and the FAPI 2.0 message-signing profile keeps: exp
// and nbf required, nbf at most 60 minutes old, exp at most 60 minutes
// after nbf.
func FAPI2RequestObjectPolicy() RequestObjectPolicy {
	return RequestObjectPolicy{
		Algorithms:       FAPI2Algorithms(),
		RequireExpiry:    true,
		RequireNotBefore: true,
		MaxNotBeforeAge:  time.Hour,
		MaxLifetime:      time.Hour,
	}
}

// jwtClaimNames are the claims of the JWT itself (RFC 7519 §4.1), not
// authorization request parameters: they are checked, never returned.
var jwtClaimNames = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti"}

var requestObjectKind = jwtKind{
	code:     CodeInvalidRequestObject,
	noun:     "request object",
	maxSize:  MaxRequestObjectSize,
	typeOK:   func(typ string) bool { return mediaType(typ, RequestObjectType) },
	typeHint: `use "` + RequestObjectType + `" or no typ`,
}

// VerifyRequestObject checks a signed request object (RFC 9101, the
// request parameter, at the authorization or PAR endpoint) of clientID,
// the client_id parameter of the request: a compact JWS with an allowed
// algorithm (an unsigned one, alg none, is refused) signed by one of keys;
// typ, when present, RequestObjectType; iss clientID; aud naming issuer;
// exp, when present (required by the policy), in the future; iat and nbf,
// when present, not in the future; the policy's bounds; a client_id claim,
// when present, equal to clientID; and no request or request_uri inside.
//
// It returns the authorization request parameters the object carries, for
// the caller to use instead of those outside it ("their parameters win"):
// string claims as they are, others (claims, authorization_details,
// max_age as a number) as compact JSON, the JWT's own claims (iss, aud,
// exp, ...) left out. Checking that response_type and client_id outside
// match, as OpenID Connect Core §6.1 requires, is the caller's.
//
// A refused object is an *Error with CodeInvalidRequestObject; any other
// error means it could not be judged.
func (v *Verifier) VerifyRequestObject(ctx context.Context, requestObject, clientID string, keys KeySource, issuer string, p RequestObjectPolicy) (url.Values, error) {
	k := requestObjectKind
	if clientID == "" {
		return nil, k.fail(nil, "cannot be checked without the client_id parameter")
	}
	if issuer == "" {
		return nil, errors.New("clientkeys: VerifyRequestObject needs the issuer")
	}
	t, err := k.parse(requestObject, narrow(v.algs, p.Algorithms))
	if err != nil {
		return nil, err
	}
	if err := v.checkRequestObjectClaims(t.claims, clientID, issuer, p); err != nil {
		return nil, err
	}
	if _, err := k.verify(ctx, t, keys); err != nil {
		return nil, err
	}
	return requestParams(t.claims)
}

func (v *Verifier) checkRequestObjectClaims(c claims, clientID, issuer string, p RequestObjectPolicy) error {
	k := requestObjectKind
	iss, present, err := c.str("iss")
	switch {
	case err != nil:
		return k.fail(nil, "is invalid: %v", err)
	case !present:
		return k.fail(nil, "has no iss claim: it must be the client_id %q", clientID)
	case iss != clientID:
		return k.fail(nil, "has an iss claim other than the client_id %q", clientID)
	}
	aud, err := c.audience()
	if err != nil {
		return k.fail(nil, "is invalid: %v", err)
	}
	if !slices.Contains(aud, issuer) {
		return k.fail(nil, "has an aud claim that does not name this server: use the issuer %q", issuer)
	}
	if id, present, err := c.str("client_id"); err != nil {
		return k.fail(nil, "is invalid: %v", err)
	} else if present && id != clientID {
		return k.fail(nil, "has a client_id claim other than the client_id parameter %q", clientID)
	}
	for _, nested := range []string{"request", "request_uri"} {
		if _, ok := c[nested]; ok {
			return k.fail(nil, "contains a %s claim: a request object cannot refer to another (RFC 9101 §4)", nested)
		}
	}
	t, err := readTimes(c)
	if err != nil {
		return k.fail(nil, "is invalid: %v", err)
	}
	return v.checkRequestObjectTimes(t, p)
}

func (v *Verifier) checkRequestObjectTimes(t jwtTimes, p RequestObjectPolicy) error {
	k := requestObjectKind
	now := v.now()
	switch {
	case p.RequireExpiry && !t.hasExp:
		return k.fail(nil, "has no exp claim: this client's request objects must expire")
	case p.RequireNotBefore && !t.hasNbf:
		return k.fail(nil, "has no nbf claim: this client's request objects must say when they were made")
	case t.hasExp && !now.Before(t.exp):
		return k.fail(ErrExpired, "has expired (exp is in the past)")
	case p.MaxNotBeforeAge > 0 && t.hasNbf && t.nbf.Before(now.Add(-p.MaxNotBeforeAge)):
		return k.fail(nil, "is too old: nbf may be at most %s ago", p.MaxNotBeforeAge)
	}
	if p.MaxLifetime > 0 && t.hasExp {
		from, what := now, "now"
		switch {
		case t.hasNbf:
			from, what = t.nbf, "nbf"
		case t.hasIat:
			from, what = t.iat, "iat"
		}
		if t.exp.Sub(from) > p.MaxLifetime {
			return k.fail(nil, "lives too long: exp may be at most %s after %s", p.MaxLifetime, what)
		}
	}
	return v.checkNotFuture(k, t)
}

// requestParams turns the claims of a verified request object into
// authorization request parameters.
func requestParams(c claims) (url.Values, error) {
	params := url.Values{}
	for name, raw := range c {
		raw = bytes.TrimSpace(raw)
		switch {
		case slices.Contains(jwtClaimNames, name):
			continue
		case bytes.Equal(raw, []byte("null")):
			continue // an absent parameter
		case len(raw) > 0 && raw[0] == '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, requestObjectKind.fail(err, "is invalid: its %s claim is not a valid string", name)
			}
			params.Set(name, s)
		default:
			var buf bytes.Buffer
			if err := json.Compact(&buf, raw); err != nil {
				return nil, requestObjectKind.fail(err, "is invalid: its %s claim is not valid JSON", name)
			}
			params.Set(name, buf.String())
		}
	}
	return params, nil
}
