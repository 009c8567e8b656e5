package config

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Client authentication methods (RFC 7591 §2 token_endpoint_auth_method).
// The storage package has the same names; config imports nothing of ours.
const (
	AuthSecretBasic   = "client_secret_basic"
	AuthSecretPost    = "client_secret_post"
	AuthPrivateKeyJWT = "private_key_jwt"
	AuthNone          = "none"
)

// ProfileFAPI2 is clients[].profile for the FAPI 2.0 Security Profile.
const ProfileFAPI2 = "fapi2"

var (
	authMethods = []string{AuthSecretBasic, AuthSecretPost, AuthPrivateKeyJWT, AuthNone}
	// unsupportedAuthMethods are registered methods (RFC 7591 §2, RFC 8705
	// §2) that a client might expect and this server does not implement:
	// they are refused by name rather than as unknown.
	unsupportedAuthMethods = []string{"client_secret_jwt", "tls_client_auth", "self_signed_tls_client_auth"}
	// dpopAlgorithms are the asymmetric JWS algorithms a DPoP proof may be
	// signed with (RFC 9449 §4.2: never none or a MAC, which the server
	// could not verify with the public key in the proof).
	dpopAlgorithms = []string{"ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "EdDSA"}
	// fapi2IDTokenAlgorithms are the algorithms FAPI 2.0 §5.4.1 allows
	// (PS256, ES256, EdDSA) that the keys package can sign with.
	fapi2IDTokenAlgorithms = []string{"ES256", "EdDSA"}
)

// Bounds of par.* and dpop.*.
const (
	minPARTTL      = time.Second
	maxPARTTL      = 10 * time.Minute
	minProofMaxAge = time.Second
	maxProofMaxAge = 5 * time.Minute
	// fapi2MaxPARTTL: FAPI 2.0 §5.3.2.2 wants expires_in "less than 600
	// seconds".
	fapi2MaxPARTTL = 600 * time.Second
)

// JWKSJSON is jwks as the compact JSON text the store keeps (RFC 7591 §2
// jwks), nil when the client has none. It fails for what YAML can hold and
// JSON cannot, or would change silently: a date (an unquoted 2024-01-01), a
// mapping with keys that are not strings, an infinite number.
func (c Client) JWKSJSON() ([]byte, error) {
	if len(c.JWKS) == 0 {
		return nil, nil
	}
	v, err := jsonValue(c.JWKS, "")
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// jsonValue checks that v (from yaml.v3) has a JSON form that says the
// same, and returns it; path names the offending member in the error.
func jsonValue(v any, path string) (any, error) {
	at := func() string {
		if path == "" {
			return "the value"
		}
		return path
	}
	switch x := v.(type) {
	case nil, string, bool, int, int64, uint64:
		return x, nil
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, fmt.Errorf("%s is not a finite number", at())
		}
		return x, nil
	case time.Time:
		return nil, fmt.Errorf("%s reads as a date in YAML; quote it to keep it a string", at())
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			var err error
			if out[i], err = jsonValue(e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			var err error
			if out[k], err = jsonValue(e, join(path, k)); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[any]any:
		return nil, fmt.Errorf("%s has a key that is not a string; quote the keys", at())
	}
	return nil, fmt.Errorf("%s has a value (%T) that JSON cannot hold", at(), v)
}

// validateClientAuth checks token_endpoint_auth_method against the
// credentials the entry holds, and jwks and jwks_uri. The deep check of the
// keys themselves (public keys only, sizes, algorithms) is package
// clientkeys', which config may not import: setup, the admin service and
// registration run it on top of these rules.
func validateClientAuth(ps *problems, at func(string) string, cl Client) {
	secretField := "secret"
	if cl.Secret == "" {
		secretField = "secret_hash"
	}
	hasSecret := cl.Secret != "" || cl.SecretHash != ""
	hasJWKS := len(cl.JWKS) > 0
	switch m := cl.TokenEndpointAuthMethod; {
	case m == "":
	case m == AuthNone:
		if hasSecret {
			ps.add(at(secretField), "is set, but token_endpoint_auth_method is none (a public client has no secret): remove it, or use client_secret_basic")
		}
	case m == AuthSecretBasic || m == AuthSecretPost:
		if !hasSecret {
			ps.add(at("secret"), "is not set, but token_endpoint_auth_method %s authenticates with a secret: set secret (or secret_hash)", m)
		}
	case m == AuthPrivateKeyJWT:
		if hasSecret {
			ps.add(at(secretField), "is set, but a private_key_jwt client authenticates with its keys (RFC 7523 §2.2), never a secret: remove it")
		}
		if !hasJWKS && cl.JWKSURI == "" {
			ps.add(at("jwks"), "is not set, and neither is jwks_uri: private_key_jwt needs the client's public keys, as jwks (a JWK Set, keys: [...]) or jwks_uri (an https URL serving one)")
		}
	case slices.Contains(unsupportedAuthMethods, m):
		ps.add(at("token_endpoint_auth_method"), "%q is not supported: use private_key_jwt, client_secret_basic, client_secret_post, or none for a public client", m)
	default:
		ps.add(at("token_endpoint_auth_method"), "unknown method %q (allowed: %s)", m, strings.Join(authMethods, ", "))
	}

	if hasJWKS && cl.JWKSURI != "" {
		ps.add(at("jwks_uri"), "is set and so is jwks: give the keys one way, not both (RFC 7591 §2)")
	}
	if cl.JWKSURI != "" {
		if msg := JWKSURIProblem(cl.JWKSURI); msg != "" {
			ps.add(at("jwks_uri"), "%s", msg)
		}
	}
	if hasJWKS {
		jwksShape(ps, at("jwks"), cl)
	}
}

// jwksShape checks that jwks is a JWK Set in form (RFC 7517 §5): a keys
// list of mappings, each with a kty, that JSON can carry as written.
func jwksShape(ps *problems, field string, cl Client) {
	if _, err := cl.JWKSJSON(); err != nil {
		ps.add(field, "cannot be stored as JSON: %v", err)
		return
	}
	keys, ok := cl.JWKS["keys"].([]any)
	if !ok || len(keys) == 0 {
		ps.add(field, "has no keys list: a JWK Set is a mapping with keys: [{kty: EC, crv: P-256, x: ..., y: ...}, ...] holding the client's public keys")
		return
	}
	for i, k := range keys {
		f := fmt.Sprintf("%s.keys[%d]", field, i)
		m, ok := k.(map[string]any)
		switch {
		case !ok:
			ps.add(f, "is not a mapping: each key is a JWK (RFC 7517), such as {kty: EC, crv: P-256, x: ..., y: ...}")
		case m["kty"] == nil:
			ps.add(f, "has no kty: a JWK names its key type (EC, RSA or OKP)")
		default:
			if _, ok := m["kty"].(string); !ok {
				ps.add(f, "has a kty that is not a string (EC, RSA or OKP)")
			}
		}
	}
}

// JWKSURIProblem applies RFC 7591 §2 to a jwks_uri: an absolute URL
// without credentials or fragment, https, or http on a loopback host only
// (over plain http anyone on the path could replace the keys and then sign
// as the client). "" means no problem.
func JWKSURIProblem(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Sprintf("%q is not a URL: %v", raw, err)
	case !u.IsAbs() || u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return fmt.Sprintf("%q is not an absolute URL with a host, such as https://app.example.com/jwks.json", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Sprintf("%q has a fragment; the keys are fetched from the URL without one", raw)
	case u.User != nil:
		return fmt.Sprintf("%q carries user information; put no credentials in the URL", raw)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return ""
	case "http":
		if isLoopback(u.Hostname()) {
			return ""
		}
		return fmt.Sprintf("%q uses http on host %q: http is allowed only for loopback hosts (127.0.0.1, localhost, ::1); use https", raw, u.Hostname())
	}
	return fmt.Sprintf("%q uses the %s: scheme; the keys are fetched with https (or http from a loopback host)", raw, u.Scheme)
}

// validateProfile checks clients[].profile, and for fapi2 what the FAPI 2.0
// Security Profile (final) forbids that the entry or the server's
// configuration would do. PAR, PKCE S256 and DPoP need no check here: the
// server requires them of a fapi2 client whatever its flags say.
func (c Config) validateProfile(ps *problems, at func(string) string, cl Client) {
	switch cl.Profile {
	case "":
		return
	case ProfileFAPI2:
	default:
		ps.add(at("profile"), "unknown profile %q (allowed: %s, or leave it out)", cl.Profile, ProfileFAPI2)
		return
	}

	switch m := cl.TokenEndpointAuthMethod; {
	case m == AuthPrivateKeyJWT:
	case cl.Public():
		ps.add(at("token_endpoint_auth_method"), "profile fapi2 allows confidential clients only (FAPI 2.0 §5.3.2.1): use private_key_jwt with the client's keys (jwks or jwks_uri)")
	case m == "" || m == AuthSecretBasic || m == AuthSecretPost:
		ps.add(at("token_endpoint_auth_method"), "profile fapi2 needs private_key_jwt (FAPI 2.0 §5.3.2.1: clients authenticate with private_key_jwt or mTLS, never a shared secret): set token_endpoint_auth_method: private_key_jwt and jwks or jwks_uri instead of the secret")
	}
	for j, g := range cl.GrantTypes {
		if g == GrantPassword {
			ps.add(fmt.Sprintf("%s[%d]", at("grant_types"), j), "profile fapi2 refuses the password grant (FAPI 2.0 §5.3.2.1)")
		}
	}

	alg, own := cl.IDTokenSignedResponseAlg, true
	if alg == "" {
		alg, own = c.Signing.IDTokenAlgorithm, false
	}
	switch {
	case slices.Contains(fapi2IDTokenAlgorithms, alg):
	case own && !slices.Contains(c.Signing.Algorithms, alg):
		// Reported already: not one of signing.algorithms.
	case own:
		ps.add(at("id_token_signed_response_alg"), "is %s, but profile fapi2 allows only PS256, ES256 or EdDSA (FAPI 2.0 §5.4.1): use ES256 or EdDSA (listed in signing.algorithms)", alg)
	default:
		ps.add(at("id_token_signed_response_alg"), "is not set, so ID tokens are signed with signing.id_token_algorithm %s, which profile fapi2 does not allow (FAPI 2.0 §5.4.1: PS256, ES256 or EdDSA): set it to ES256 or EdDSA (listed in signing.algorithms)", alg)
	}
	if a := c.Signing.AccessAlgorithm(); a == "RS256" {
		ps.add(at("profile"), "is fapi2, but access tokens are signed with RS256 (signing.access_token_algorithm, or else the first of signing.algorithms), which FAPI 2.0 §5.4.1 does not allow: set signing.access_token_algorithm to ES256 or EdDSA")
	}
	if ttl := c.PAR.RequestURITTL.Std(); ttl >= fapi2MaxPARTTL {
		ps.add(at("profile"), "is fapi2, but par.request_uri_ttl is %s: FAPI 2.0 §5.3.2.2 wants a request_uri to expire in less than 600 seconds; lower it (the default is 60s)", c.PAR.RequestURITTL)
	}
}

// validateSenderConstraints checks par.* and dpop.*.
func (c Config) validateSenderConstraints(ps *problems) {
	if ttl := c.PAR.RequestURITTL.Std(); ttl < minPARTTL || ttl > maxPARTTL {
		ps.add("par.request_uri_ttl", "%s must be between 1s and 10m: a request_uri only has to outlive the redirect to the authorization endpoint (RFC 9126 §2.2)", c.PAR.RequestURITTL)
	}
	if age := c.DPoP.ProofMaxAge.Std(); age < minProofMaxAge || age > maxProofMaxAge {
		ps.add("dpop.proof_max_age", "%s must be between 1s and 5m: a proof is made for one request, and the replay cache holds each jti this long (RFC 9449 §11.1)", c.DPoP.ProofMaxAge)
	}
	if len(c.DPoP.Algorithms) == 0 {
		ps.add("dpop.algorithms", "is empty (allowed: %s)", strings.Join(dpopAlgorithms, ", "))
	}
	for i, alg := range c.DPoP.Algorithms {
		field := fmt.Sprintf("dpop.algorithms[%d]", i)
		switch {
		case alg == "none" || strings.HasPrefix(alg, "HS"):
			ps.add(field, "%q cannot sign a DPoP proof: the server verifies proofs with the public key they carry, so only asymmetric algorithms work (allowed: %s)", alg, strings.Join(dpopAlgorithms, ", "))
		case !slices.Contains(dpopAlgorithms, alg):
			ps.add(field, "unknown algorithm %q (allowed: %s)", alg, strings.Join(dpopAlgorithms, ", "))
		case slices.Index(c.DPoP.Algorithms, alg) < i:
			ps.add(field, "%s is listed twice", alg)
		}
	}
}
