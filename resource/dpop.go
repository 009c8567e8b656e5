package resource

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/authserver-dev/authserver/authserver/dpop"
)

// DPoPConfig configures how the middleware accepts DPoP-bound access tokens
// (RFC 9449 §7): "Authorization: DPoP <token>" with a DPoP proof, signed by
// the key the token's cnf.jkt names, for this very request. Bound tokens
// are always checked this way, and refused as Bearer tokens (§7.2), whatever
// this configuration says: a bound token that worked without its key would
// be bound in name only.
//
// The zero value suits an API that clients reach directly and that also
// accepts plain bearer tokens. Behind a reverse proxy, set PublicURL.
type DPoPConfig struct {
	// PublicURL is the scheme, host and any path prefix under which clients
	// reach this API, e.g. "https://api.example.com", or
	// "https://example.com/api" when a proxy strips /api before forwarding.
	// A proof's htu must equal PublicURL followed by the request's path as
	// this server received it (before any http.StripPrefix).
	//
	// When empty, the URL is made of the request's Host header and
	// "https" when it arrived over TLS, "http" otherwise, which is wrong
	// behind a proxy that terminates TLS: every bound token would then be
	// refused.
	PublicURL string
	// RequestURL, when set, replaces PublicURL: it returns the absolute URL
	// the client sent r to, for deployments where no fixed prefix will do.
	// Build it only from settings and headers a trusted proxy sets.
	RequestURL func(r *http.Request) string
	// Algorithms is the allow-list of proof algorithms, default
	// dpop.DefaultAlgorithms; asymmetric algorithms only. They are
	// advertised in the algs parameter of the DPoP challenge.
	Algorithms []string
	// Required makes this API accept DPoP-bound tokens only: Bearer
	// requests are answered 401 with a DPoP challenge alone. FAPI 2.0
	// resource servers need this.
	Required bool
	// MaxAge is how old a proof's iat may be, default dpop.DefaultMaxAge.
	MaxAge time.Duration
	// ReplayCache records the jti of accepted proofs. Default: an in-memory
	// cache of dpop.DefaultReplayCacheSize entries, one per Verifier or
	// Introspector. Replicas of an API each have their own unless one they
	// share is given here; a captured proof could otherwise be replayed
	// once to each replica within MaxAge.
	ReplayCache dpop.ReplayCache
}

// dpopCheck is a validated DPoPConfig.
type dpopCheck struct {
	proofs     *dpop.Verifier
	algs       string // for the algs challenge parameter
	publicURL  string // without a trailing slash
	requestURL func(*http.Request) string
	required   bool
}

// check validates cfg and builds its dpopCheck, or reports the problems.
func (cfg DPoPConfig) check(now func() time.Time) (*dpopCheck, []string) {
	var problems []string
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			problems = append(problems, "DPoP.PublicURL "+quote(cfg.PublicURL)+" is not an absolute http(s) URL without query and fragment")
		}
	}
	proofs, err := dpop.NewVerifier(dpop.Config{
		Algorithms:  cfg.Algorithms,
		MaxAge:      cfg.MaxAge,
		Now:         now,
		ReplayCache: cfg.ReplayCache,
	})
	if err != nil {
		problems = append(problems, "DPoP: "+strings.TrimPrefix(err.Error(), dpop.ErrInvalidConfig.Error()+": "))
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return &dpopCheck{
		proofs:     proofs,
		algs:       strings.Join(proofs.Algorithms(), " "),
		publicURL:  strings.TrimSuffix(cfg.PublicURL, "/"),
		requestURL: cfg.RequestURL,
		required:   cfg.Required,
	}, nil
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

// defaultDPoPCheck is what a TokenVerifier of another package gets: the
// zero DPoPConfig, with its own replay cache per middleware.
func defaultDPoPCheck() *dpopCheck {
	d, problems := DPoPConfig{}.check(time.Now)
	if problems != nil {
		panic("resource: the zero DPoPConfig is invalid: " + strings.Join(problems, "; "))
	}
	return d
}

// url is the absolute URL the client sent r to, which the proof's htu must
// name.
func (d *dpopCheck) url(r *http.Request) string {
	if d.requestURL != nil {
		return d.requestURL(r)
	}
	path := receivedPath(r)
	if d.publicURL != "" {
		return d.publicURL + path
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + path
}

// receivedPath is the escaped path of r as it arrived: RequestURI is left
// alone by http.StripPrefix and similar rewrites, r.URL is not.
func receivedPath(r *http.Request) string {
	if r.RequestURI != "" && r.RequestURI != "*" {
		if u, err := url.ParseRequestURI(r.RequestURI); err == nil {
			return u.EscapedPath()
		}
	}
	return r.URL.EscapedPath()
}

// verifyProof checks the request's DPoP proof for a token bound to jkt. It
// returns the challenge to answer, or, when the proof could not be judged
// (the replay cache failed), a non-nil error.
func (d *dpopCheck) verifyProof(r *http.Request, token, jkt string) (*challenge, error) {
	_, err := d.proofs.Verify(r.Context(), dpop.Request{
		Proofs:      r.Header.Values("DPoP"),
		Method:      r.Method,
		URL:         d.url(r),
		AccessToken: token,
		JKT:         jkt,
	})
	if err == nil {
		return nil, nil
	}
	pe, ok := errors.AsType[*dpop.Error](err)
	if !ok {
		return nil, err
	}
	if errors.Is(err, dpop.ErrKeyMismatch) {
		// RFC 9449 §7.1: the token's binding is what fails, not the proof.
		return &challenge{scheme: schemeDPoP, code: "invalid_token", description: pe.Reason}, nil
	}
	return &challenge{scheme: schemeDPoP, code: pe.Code, description: pe.Reason}, nil
}

// Confirmation is what an access token is bound to (the RFC 7800 cnf
// claim). The zero value is a bearer token, usable by whoever holds it.
type Confirmation struct {
	// JKT is the RFC 7638 SHA-256 thumbprint of the key the token is bound
	// to (RFC 9449 §6): the middleware accepts the token only with the
	// DPoP scheme and a proof signed by that key.
	JKT string
}

// parseConfirmation reads the cnf member of a token or an introspection
// answer. A token bound by a method this package cannot check (mTLS's
// x5t#S256, a jwk) is refused: accepting it as a bearer token would undo
// its binding.
func parseConfirmation(raw json.RawMessage) (Confirmation, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return Confirmation{}, nil
	}
	var cnf map[string]json.RawMessage
	if err := json.Unmarshal(raw, &cnf); err != nil {
		return Confirmation{}, &TokenError{Reason: "token cnf is not a JSON object", Err: err}
	}
	jkt, ok := cnf["jkt"]
	if !ok || len(cnf) != 1 {
		return Confirmation{}, &TokenError{Reason: "token is bound by a confirmation method this API does not support (it supports DPoP's jkt only)"}
	}
	var c Confirmation
	if err := json.Unmarshal(jkt, &c.JKT); err != nil || !isThumbprint(c.JKT) {
		return Confirmation{}, &TokenError{Reason: "token cnf.jkt is not a base64url SHA-256 thumbprint", Err: err}
	}
	return c, nil
}

func isThumbprint(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == 32
}
