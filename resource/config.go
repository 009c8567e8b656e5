package resource

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Defaults applied by NewVerifier to zero-valued Config fields.
const (
	// DefaultLeeway absorbs small clock differences between the provider and
	// this API. It is deliberately small: every second of leeway is a second
	// an expired token keeps working.
	DefaultLeeway = 5 * time.Second
	// DefaultMinRefetchInterval bounds how often a token with an unknown kid,
	// or a stale key set, can make the verifier fetch the JWKS again.
	DefaultMinRefetchInterval = 30 * time.Second
	// DefaultKeyMaxAge is the longest a fetched key set is trusted before the
	// verifier refreshes it in the background, so that a key the provider
	// withdrew (for example after a compromise) stops being accepted even if
	// the provider's JWKS max-age is longer or absent.
	DefaultKeyMaxAge = time.Hour
	// DefaultHTTPTimeout is the timeout of the http.Client used when
	// Config.HTTPClient is nil. http.DefaultClient has none, and a provider
	// that never answers must not pin goroutines forever.
	DefaultHTTPTimeout = 10 * time.Second
)

// DefaultAlgorithms are the signature algorithms accepted when
// Config.Algorithms is empty: the ones our provider can sign with.
var DefaultAlgorithms = []string{"ES256", "RS256", "EdDSA"}

// ErrInvalidConfig is wrapped by every error NewVerifier returns because of
// the Config itself (as opposed to the provider being unreachable), so a
// caller can tell "retry later" from "fix the configuration".
var ErrInvalidConfig = errors.New("resource: invalid config")

// asymmetricAlgorithms are the only algorithms Config.Algorithms may name.
// Symmetric (HS*) algorithms are refused because a resource server holds only
// public keys: accepting HS256 is how alg-confusion attacks turn a public
// key into an HMAC secret. "none" is refused for obvious reasons.
var asymmetricAlgorithms = map[string]bool{
	"ES256": true, "ES384": true, "ES512": true,
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"EdDSA": true,
}

// Config configures a Verifier. Issuer and Audience are required; every
// other field has a documented default.
type Config struct {
	// Issuer is the provider's issuer identifier, e.g.
	// "http://127.0.0.1:9096". Discovery is read from
	// Issuer + "/.well-known/openid-configuration"; the document's "issuer"
	// and every token's "iss" must equal Issuer exactly.
	Issuer string
	// Audience identifies this API; a token's "aud" must contain it
	// (RFC 9068 §4), so a token minted for another API is refused here.
	Audience string
	// Algorithms is the allow-list of JWS algorithms, default
	// DefaultAlgorithms. Only asymmetric algorithms are allowed.
	Algorithms []string
	// Realm is the realm of WWW-Authenticate challenges, default Audience.
	Realm string
	// HTTPClient fetches discovery and the JWKS. Default: a client with
	// DefaultHTTPTimeout.
	HTTPClient *http.Client
	// Now is the clock, default time.Now. It is used for token lifetimes,
	// for the freshness of the key set and for the refetch rate limit.
	Now func() time.Time
	// Leeway is the clock skew tolerated on exp, nbf and iat. Zero means
	// DefaultLeeway; a negative value means no leeway at all.
	Leeway time.Duration
	// MinRefetchInterval is the minimum time between two JWKS fetches caused
	// by unknown kids or by a stale key set, successful or not. It is what
	// bounds the fetch rate when the provider sends max-age=0 or no-store,
	// or is down. Zero means DefaultMinRefetchInterval.
	MinRefetchInterval time.Duration
	// KeyMaxAge is the upper bound of the key set's freshness lifetime.
	//
	// The lifetime is the JWKS response's Cache-Control max-age: our
	// provider caps it so that a cache honouring it sees a new key before it
	// signs and drops a removed one when it goes. no-store or no-cache mean
	// a lifetime of 0, and a response without max-age gets KeyMaxAge. A 304
	// answer to the conditional refetch (If-None-Match with the last ETag)
	// keeps the keys and renews the lifetime from its own Cache-Control, or
	// reuses the previous one. Once the lifetime is over, the next
	// verification refreshes the key set in the background, within
	// MinRefetchInterval; until then, and if the refresh fails, the cached
	// keys keep working. Zero means DefaultKeyMaxAge.
	KeyMaxAge time.Duration
	// Logger receives fetch failures and rejected tokens (the reason only,
	// never the token). Default: slog.Default().
	Logger *slog.Logger
	// DPoP configures the checks of DPoP-bound tokens (RFC 9449). The zero
	// value accepts them for an API reached without a proxy; see
	// DPoPConfig.
	DPoP DPoPConfig
}

// withDefaults validates cfg and returns a copy with defaults filled in,
// and its DPoP checks.
func (cfg Config) withDefaults() (Config, *dpopCheck, error) {
	var problems []string
	if cfg.Issuer == "" {
		problems = append(problems, "Issuer is required")
	} else if u, err := url.Parse(cfg.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		problems = append(problems, fmt.Sprintf("Issuer %q is not an absolute http(s) URL", cfg.Issuer))
	}
	if cfg.Audience == "" {
		problems = append(problems, "Audience is required")
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = DefaultAlgorithms
	}
	for _, alg := range cfg.Algorithms {
		if !asymmetricAlgorithms[alg] {
			problems = append(problems, fmt.Sprintf("algorithm %q is not allowed (allowed: asymmetric JWS algorithms such as ES256, RS256, EdDSA)", alg))
		}
	}
	if cfg.MinRefetchInterval < 0 {
		problems = append(problems, "MinRefetchInterval must not be negative")
	}
	if cfg.KeyMaxAge < 0 {
		problems = append(problems, "KeyMaxAge must not be negative")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	dpopCheck, dpopProblems := cfg.DPoP.check(cfg.Now)
	problems = append(problems, dpopProblems...)
	if len(problems) > 0 {
		return cfg, nil, fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(problems, "; "))
	}

	cfg.Algorithms = append([]string(nil), cfg.Algorithms...) // the caller may reuse its slice
	if cfg.Realm == "" {
		cfg.Realm = cfg.Audience
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	switch {
	case cfg.Leeway == 0:
		cfg.Leeway = DefaultLeeway
	case cfg.Leeway < 0:
		cfg.Leeway = 0
	}
	if cfg.MinRefetchInterval == 0 {
		cfg.MinRefetchInterval = DefaultMinRefetchInterval
	}
	if cfg.KeyMaxAge == 0 {
		cfg.KeyMaxAge = DefaultKeyMaxAge
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg, dpopCheck, nil
}

func (cfg Config) signatureAlgorithms() []jose.SignatureAlgorithm {
	algs := make([]jose.SignatureAlgorithm, len(cfg.Algorithms))
	for i, a := range cfg.Algorithms {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	return algs
}
