package resource

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
)

// DefaultCacheTTL is the IntrospectionConfig.CacheTTL used when it is zero.
// It is the longest a revoked token keeps working at an API in introspection
// mode, traded against one provider round trip per token per CacheTTL.
const DefaultCacheTTL = 10 * time.Second

// maxCacheEntries bounds the introspection cache, so that a flood of
// distinct (say, random) tokens costs bounded memory.
const maxCacheEntries = 10_000

// ErrProviderUnavailable is wrapped by the errors of Introspector.Verify when
// the provider could not give an answer: unreachable, timed out, 5xx, or a
// malformed response. Such an error says nothing about the token, so the
// middleware answers 503 rather than 401, and it is never cached.
var ErrProviderUnavailable = errors.New("resource: authorization server unavailable")

// IntrospectionConfig configures an Introspector. Issuer, Audience, ClientID
// and ClientSecret are required; every other field has a documented default.
type IntrospectionConfig struct {
	// Issuer is the provider's issuer identifier. Discovery is read from
	// Issuer + "/.well-known/openid-configuration"; its "issuer" and every
	// introspected token's "iss" must equal Issuer exactly.
	Issuer string
	// Audience identifies this API; an active token's "aud" must contain
	// it. It is also the realm of WWW-Authenticate challenges.
	Audience string
	// ClientID and ClientSecret authenticate this API at the introspection
	// endpoint (client_secret_basic). The provider must allow this client
	// to introspect.
	ClientID, ClientSecret string
	// CacheTTL is how long an answer of the provider (active or not) is
	// reused for the same token, and so the longest a revocation can go
	// unnoticed. Zero means DefaultCacheTTL; a negative value disables the
	// cache: every request asks the provider, except that a request
	// arriving while the same token's introspection is in flight shares its
	// answer. An active answer is never kept past the token's exp.
	CacheTTL time.Duration
	// HTTPClient calls discovery and the introspection endpoint. Default: a
	// client with DefaultHTTPTimeout.
	HTTPClient *http.Client
	// Now is the clock, default time.Now. It decides token expiry and
	// cache lifetimes.
	Now func() time.Time
	// Logger is used by the middleware for refused tokens and provider
	// failures (never the token). Default: slog.Default().
	Logger *slog.Logger
	// DPoP configures the checks of DPoP-bound tokens (RFC 9449), whose
	// binding the provider reports as cnf.jkt. See DPoPConfig.
	DPoP DPoPConfig
}

func (cfg IntrospectionConfig) withDefaults() (IntrospectionConfig, *dpopCheck, error) {
	var problems []string
	if cfg.Issuer == "" {
		problems = append(problems, "Issuer is required")
	} else if !isHTTPURL(cfg.Issuer) {
		problems = append(problems, fmt.Sprintf("Issuer %q is not an absolute http(s) URL", cfg.Issuer))
	}
	if cfg.Audience == "" {
		problems = append(problems, "Audience is required")
	}
	if cfg.ClientID == "" {
		problems = append(problems, "ClientID is required")
	}
	if cfg.ClientSecret == "" {
		problems = append(problems, "ClientSecret is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	dpopCheck, dpopProblems := cfg.DPoP.check(cfg.Now)
	problems = append(problems, dpopProblems...)
	if len(problems) > 0 {
		return cfg, nil, fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(problems, "; "))
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg, dpopCheck, nil
}

// Introspector checks access tokens by asking the provider (RFC 7662), so
// that a revoked token is refused within CacheTTL, which local JWT
// verification cannot do. It is safe for concurrent use.
type Introspector struct {
	issuer, audience       string
	endpoint               string
	clientID, clientSecret string
	client                 *http.Client
	now                    func() time.Time
	ttl                    time.Duration // < 0: no cache
	log                    *slog.Logger
	dpop                   *dpopCheck

	mu       sync.Mutex
	cache    *answerCache                    // guarded by mu
	inflight map[tokenKey]*introspectionCall // guarded by mu
}

// introspectionCall is one request to the introspection endpoint that
// concurrent Verify calls for the same token wait on together.
type introspectionCall struct {
	done   chan struct{}
	claims *Claims // written before done is closed
	err    error
}

// NewIntrospector reads the provider's discovery document, which must name
// cfg.Issuer and an introspection_endpoint. Like NewVerifier it fails when
// the provider cannot be reached, and errors caused by cfg itself wrap
// ErrInvalidConfig. ctx bounds the discovery request only.
func NewIntrospector(ctx context.Context, cfg IntrospectionConfig) (*Introspector, error) {
	cfg, dpopCheck, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	doc, err := fetchDiscovery(ctx, cfg.HTTPClient, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("resource: discovery: %w", err)
	}
	if !isHTTPURL(doc.IntrospectionEndpoint) {
		return nil, fmt.Errorf("resource: discovery document at %s has no valid introspection_endpoint (got %q)", doc.wellKnown, doc.IntrospectionEndpoint)
	}
	// The client secret goes to this endpoint: an https issuer must not
	// send it over plain http.
	if strings.HasPrefix(cfg.Issuer, "https:") && !strings.HasPrefix(doc.IntrospectionEndpoint, "https:") {
		return nil, fmt.Errorf("resource: discovery document at %s has a non-https introspection_endpoint %q", doc.wellKnown, doc.IntrospectionEndpoint)
	}
	return &Introspector{
		issuer:       cfg.Issuer,
		audience:     cfg.Audience,
		endpoint:     doc.IntrospectionEndpoint,
		clientID:     cfg.ClientID,
		clientSecret: cfg.ClientSecret,
		client:       cfg.HTTPClient,
		now:          cfg.Now,
		ttl:          cfg.CacheTTL,
		log:          cfg.Logger,
		dpop:         dpopCheck,
		cache:        newAnswerCache(maxCacheEntries),
		inflight:     make(map[tokenKey]*introspectionCall),
	}, nil
}

// Verify asks the provider about raw (or reuses an answer at most CacheTTL
// old) and returns the same Claims as Verifier.Verify. A token the provider
// says is inactive, or that is not an access token for this issuer and
// audience, is refused with a *TokenError. When the provider cannot answer
// the error wraps ErrProviderUnavailable (or ErrInvalidConfig if it refused
// this API's client credentials) and is not a *TokenError.
//
// Concurrent calls for the same token share one request to the provider; ctx
// bounds only this caller's wait for it. Like Verifier.Verify, it cannot
// check a DPoP binding (Claims.Confirmation); the middleware does.
func (in *Introspector) Verify(ctx context.Context, raw string) (*Claims, error) {
	if raw == "" {
		return nil, &TokenError{Reason: "token is empty"}
	}
	if len(raw) > maxTokenSize {
		return nil, &TokenError{Reason: fmt.Sprintf("token is longer than %d bytes", maxTokenSize)}
	}
	key := tokenKey(sha256.Sum256([]byte(raw)))

	in.mu.Lock()
	if a, ok := in.cache.get(key, in.now()); ok {
		in.mu.Unlock()
		return a.result()
	}
	call, ok := in.inflight[key]
	if !ok {
		call = &introspectionCall{done: make(chan struct{})}
		in.inflight[key] = call
		// The request is shared, so it must not die with the caller that
		// happened to start it; fetchTimeout bounds it instead.
		go in.run(context.WithoutCancel(ctx), key, raw, call)
	}
	in.mu.Unlock()

	select {
	case <-call.done:
		return answer{claims: call.claims, err: call.err}.result()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Authenticate is Authenticate(in, next).
func (in *Introspector) Authenticate(next http.Handler) http.Handler { return Authenticate(in, next) }

// RequireScope is RequireScope(in, scope, next).
func (in *Introspector) RequireScope(scope string, next http.Handler) http.Handler {
	return RequireScope(in, scope, next)
}

func (in *Introspector) challengeSettings() (string, *slog.Logger) { return in.audience, in.log }
func (in *Introspector) dpopSettings() *dpopCheck                  { return in.dpop }

// run performs call and caches its answer, unless it is a provider failure:
// those say nothing about the token.
func (in *Introspector) run(ctx context.Context, key tokenKey, raw string, call *introspectionCall) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	// Failures are not logged here but by the middleware, once per request
	// they fail, with the request's context.
	claims, err := in.introspect(ctx, raw)

	in.mu.Lock()
	call.claims, call.err = claims, err
	if _, refused := errors.AsType[*TokenError](err); in.ttl > 0 && (err == nil || refused) {
		now := in.now()
		until := now.Add(in.ttl)
		if claims != nil && claims.ExpiresAt.Before(until) {
			until = claims.ExpiresAt // an active answer must not outlive the token
		}
		in.cache.put(key, answer{claims: claims, err: err, until: until}, now)
	}
	delete(in.inflight, key)
	in.mu.Unlock()
	close(call.done)
}

// introspectionResponse is the RFC 7662 §2.2 answer.
type introspectionResponse struct {
	Active    bool             `json:"active"`
	Scope     string           `json:"scope"`
	ClientID  string           `json:"client_id"`
	Subject   string           `json:"sub"`
	TokenType string           `json:"token_type"`
	Expiry    *jwt.NumericDate `json:"exp"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	Issuer    string           `json:"iss"`
	Audience  jwt.Audience     `json:"aud"` // a string or an array
	ID        string           `json:"jti"`
	Cnf       json.RawMessage  `json:"cnf"` // RFC 9449 §6.2: cnf.jkt of a DPoP-bound token
}

// introspect makes one request to the introspection endpoint and judges the
// answer. Errors never include the token or the client secret.
func (in *Introspector) introspect(ctx context.Context, raw string) (*Claims, error) {
	form := url.Values{"token": {raw}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProviderUnavailable, err)
	}
	// RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic.
	req.SetBasicAuth(url.QueryEscape(in.clientID), url.QueryEscape(in.clientSecret))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := in.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProviderUnavailable, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		// The provider refused this API, not the token: wrong client
		// credentials, or a client not allowed to introspect.
		return nil, fmt.Errorf("%w: introspection endpoint %s refused client %q: status %s", ErrInvalidConfig, in.endpoint, in.clientID, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: POST %s: status %s", ErrProviderUnavailable, in.endpoint, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: POST %s: %w", ErrProviderUnavailable, in.endpoint, err)
	}
	if len(body) > maxDocumentSize {
		return nil, fmt.Errorf("%w: POST %s: body larger than %d bytes", ErrProviderUnavailable, in.endpoint, maxDocumentSize)
	}
	var r introspectionResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%w: POST %s: malformed response: %w", ErrProviderUnavailable, in.endpoint, err)
	}
	return in.check(&r)
}

// check applies to an introspection answer the checks Verifier applies to
// a JWT, so both verifiers accept the same tokens (but for revocation).
func (in *Introspector) check(r *introspectionResponse) (*Claims, error) {
	if !r.Active {
		// RFC 7662 §2.2: the provider says no more than "not active".
		return nil, &TokenError{Reason: "token is not active (revoked, expired or unknown to the issuer)"}
	}
	if strings.EqualFold(r.TokenType, "refresh_token") {
		// A refresh token is for the token endpoint only; an API accepting
		// it would let a stolen refresh token act as an access token.
		return nil, &TokenError{Reason: "token is a refresh token, not an access token"}
	}
	if r.Issuer != in.issuer {
		return nil, &TokenError{Reason: "token was not issued by " + in.issuer}
	}
	if !r.Audience.Contains(in.audience) {
		return nil, &TokenError{Reason: "token audience does not include " + in.audience}
	}
	if r.Expiry == nil {
		return nil, &TokenError{Reason: "token has no exp"}
	}
	// No leeway: the provider's clock already judged the token active; ours
	// only keeps a cached answer from outliving it.
	now := in.now()
	if exp := r.Expiry.Time(); !now.Before(exp) {
		return nil, &TokenError{Reason: "token expired at " + exp.UTC().Format(time.RFC3339), Err: ErrExpired}
	}
	if r.NotBefore != nil && now.Before(r.NotBefore.Time()) {
		return nil, &TokenError{Reason: "token is not valid before " + r.NotBefore.Time().UTC().Format(time.RFC3339)}
	}
	switch {
	case r.Subject == "":
		return nil, &TokenError{Reason: "token has no sub"}
	case r.ClientID == "":
		return nil, &TokenError{Reason: "token has no client_id"}
	case r.ID == "":
		return nil, &TokenError{Reason: "token has no jti"}
	}
	cnf, err := parseConfirmation(r.Cnf)
	if err != nil {
		return nil, err
	}
	c := &Claims{
		Issuer:       r.Issuer,
		Subject:      r.Subject,
		ClientID:     r.ClientID,
		ID:           r.ID,
		Audience:     []string(r.Audience),
		Scopes:       strings.Fields(r.Scope),
		ExpiresAt:    r.Expiry.Time(),
		Confirmation: cnf,
	}
	if r.IssuedAt != nil {
		c.IssuedAt = r.IssuedAt.Time()
	}
	if r.NotBefore != nil {
		c.NotBefore = r.NotBefore.Time()
	}
	return c, nil
}

// answer is a judged introspection result: claims, or the *TokenError of a
// refused token.
type answer struct {
	claims *Claims
	err    error
	until  time.Time // end of its cache lifetime
}

// result returns the answer to one caller. Claims are copied because the
// same answer goes to every caller and handlers may modify what they get.
func (a answer) result() (*Claims, error) {
	if a.err != nil {
		return nil, a.err
	}
	c := *a.claims
	c.Audience = slices.Clone(c.Audience)
	c.Scopes = slices.Clone(c.Scopes)
	return &c, nil
}
