package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Grant types a client may list (RFC 6749 §4, §6).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantPassword          = "password"
	GrantClientCredentials = "client_credentials"
)

// Allowed values. They are unexported so that no importer can widen them at
// run time; algorithms are the JWS algorithms the keys package can sign with.
var (
	grantTypes = []string{GrantAuthorizationCode, GrantRefreshToken, GrantPassword, GrantClientCredentials}
	algorithms = []string{"ES256", "RS256", "EdDSA"}
	drivers    = []string{"sqlite", "postgres"}
)

const (
	maxAuthCodeTTL       = 10 * time.Minute // RFC 6749 §4.1.2
	maxRefreshReuseGrace = time.Minute
)

// problems collects Validate's findings.
type problems []Problem

func (ps *problems) add(field, format string, args ...any) {
	*ps = append(*ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Validate checks the configuration as the server will use it (normally after
// ApplyDefaults) and returns a *ValidationError listing every problem, each
// with its field path, or nil.
func (c Config) Validate() error {
	var ps problems
	c.validateServer(&ps)
	c.validateOperations(&ps)
	c.validateSigning(&ps)
	c.validateLifetimes(&ps)
	c.validateAdministration(&ps)
	c.validateSenderConstraints(&ps)
	c.validateWebAuthn(&ps)
	for i, cl := range c.Clients {
		c.validateClient(&ps, i, cl)
	}
	validateUsers(&ps, c.Users)
	if len(ps) == 0 {
		return nil
	}
	return &ValidationError{Problems: ps}
}

func (c Config) validateServer(ps *problems) {
	if msg := issuerProblem(c.Issuer); msg != "" {
		ps.add("issuer", "%s", msg)
	}
	if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		ps.add("listen", "%q is not host:port (for example 127.0.0.1:9096, or :9096 for every interface)", c.Listen)
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		ps.add("listen", "port %q of %q must be a number from 0 to 65535", port, c.Listen)
	}

	if !slices.Contains(drivers, c.Storage.Driver) {
		ps.add("storage.driver", "unknown driver %q (allowed: %s)", c.Storage.Driver, strings.Join(drivers, ", "))
	} else if c.Storage.DSN == "" { // for an unknown driver, an empty dsn is noise
		ps.add("storage.dsn", "is empty; for postgres use e.g. postgres://user@127.0.0.1:5432/authserver?sslmode=disable")
	}
}

// validateOperations checks the keys that decide how the process is run:
// TLS files, trusted proxies, metrics listener, log and SQLite durability.
func (c Config) validateOperations(ps *problems) {
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		ps.add("tls", "cert_file and key_file must be set together (both PEM files), or neither")
	}
	if c.TLS.CertFile != "" && strings.HasPrefix(c.Issuer, "http://") {
		ps.add("issuer", "%q is http, but tls.cert_file is set and the server then speaks only https: use https://%s", c.Issuer, strings.TrimPrefix(c.Issuer, "http://"))
	}
	for i, p := range c.Server.TrustedProxies {
		if _, err := ParseTrustedProxy(p); err != nil {
			ps.add(fmt.Sprintf("server.trusted_proxies[%d]", i), "%q is not a CIDR range or IP address (for example 10.0.0.0/8 or 127.0.0.1)", p)
		}
	}
	if m := c.Observability.MetricsListen; m != MetricsOff {
		if _, _, err := net.SplitHostPort(m); err != nil {
			ps.add("observability.metrics_listen", "%q is not host:port (for example 127.0.0.1:9097), or %q to disable metrics", m, MetricsOff)
		}
	}
	if !slices.Contains([]string{"text", "json"}, c.Log.Format) {
		ps.add("log.format", "unknown format %q (allowed: text, json)", c.Log.Format)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		ps.add("log.level", "unknown level %q (allowed: debug, info, warn, error)", c.Log.Level)
	}
	th := c.Security.Throttle
	for _, n := range []struct {
		field string
		v     int
	}{{"free_failures", th.FreeFailures}, {"ip_free_failures", th.IPFreeFailures}, {"client_free_failures", th.ClientFreeFailures}, {"ip_hash_slots", th.IPHashSlots}} {
		if n.v < 0 {
			ps.add("security.throttle."+n.field, "must not be negative (got %d)", n.v)
		}
	}
	if th.BaseDelay < 0 || th.MaxDelay < th.BaseDelay {
		ps.add("security.throttle.max_delay", "must be at least base_delay (%s), and neither negative", th.BaseDelay)
	}
	if c.Storage.Driver == "sqlite" && !slices.Contains([]string{"full", "normal"}, c.Storage.SQLiteSynchronous) {
		ps.add("storage.sqlite_synchronous", "unknown level %q (allowed: full, normal)", c.Storage.SQLiteSynchronous)
	}
}

// ParseTrustedProxy reads one server.trusted_proxies entry: a CIDR range, or
// a single address meaning just that address.
func ParseTrustedProxy(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// issuerProblem applies OIDC Core §2 / RFC 8414 §2: an https URL with no query
// or fragment. Plain http is allowed on loopback so the demo runs without
// certificates; elsewhere it would expose tokens on the wire.
func issuerProblem(issuer string) string {
	u, err := url.Parse(issuer)
	switch {
	case issuer == "":
		return "is empty"
	case err != nil:
		return fmt.Sprintf("%q is not a URL: %v", issuer, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("%q must be an absolute http or https URL", issuer)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Sprintf("%q has no host", issuer)
	case u.User != nil:
		return fmt.Sprintf("%q must not contain user information", issuer)
	case u.RawQuery != "" || u.ForceQuery:
		return fmt.Sprintf("%q must not have a query", issuer)
	case u.Fragment != "" || strings.Contains(issuer, "#"):
		return fmt.Sprintf("%q must not have a fragment", issuer)
	case strings.HasSuffix(u.Path, "/"):
		// Relying parties compare the issuer byte for byte and append
		// /.well-known/... to it; a trailing slash breaks one or the other.
		return fmt.Sprintf("%q must not end with a slash", issuer)
	case !plainIssuerPath(u):
		// The path prefixes every route pattern and the cookies' Path, so it
		// must read the same escaped and unescaped (authserver.New agrees).
		return fmt.Sprintf("%q: the path must be /-separated segments of letters, digits and - . _ ~, with no empty, . or .. segment", issuer)
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return fmt.Sprintf("%q uses http on host %q: http is allowed only for loopback hosts (127.0.0.1, localhost, ::1); use https", issuer, u.Hostname())
	}
	return ""
}

// plainIssuerPath reports whether the issuer's path is empty or made of
// unreserved characters (RFC 3986 §2.3) in non-empty segments other than
// "." and "..".
func plainIssuerPath(u *url.URL) bool {
	if u.Path == "" {
		return true
	}
	if u.RawPath != "" || !strings.HasPrefix(u.Path, "/") {
		return false
	}
	for _, seg := range strings.Split(u.Path[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		for _, r := range seg {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~", r)) {
				return false
			}
		}
	}
	return true
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c Config) validateSigning(ps *problems) {
	s := c.Signing
	if len(s.Algorithms) == 0 {
		ps.add("signing.algorithms", "is empty (allowed: %s)", strings.Join(algorithms, ", "))
	}
	for i, alg := range s.Algorithms {
		field := fmt.Sprintf("signing.algorithms[%d]", i)
		switch {
		case !slices.Contains(algorithms, alg):
			ps.add(field, "unknown algorithm %q (allowed: %s)", alg, strings.Join(algorithms, ", "))
		case slices.Index(s.Algorithms, alg) < i:
			ps.add(field, "%s is listed twice", alg)
		}
	}
	if s.AccessTokenAlgorithm != "" && !slices.Contains(s.Algorithms, s.AccessTokenAlgorithm) {
		ps.add("signing.access_token_algorithm", "%q is not one of signing.algorithms [%s]", s.AccessTokenAlgorithm, strings.Join(s.Algorithms, ", "))
	}
	if s.RSABits != 2048 && s.RSABits != 3072 {
		ps.add("signing.rsa_bits", "must be 2048 or 3072, got %d", s.RSABits)
	}
	for _, d := range []struct {
		field string
		v     Duration
	}{
		{"signing.rotation_period", s.RotationPeriod},
		{"signing.publish_lead", s.PublishLead},
		{"signing.jwks_max_age", s.JWKSMaxAge},
		{"signing.key_check_interval", s.KeyCheckInterval},
	} {
		if d.v <= 0 {
			ps.add(d.field, "must be positive, got %s", d.v)
		}
	}
	if s.PublishLead > 0 && s.PublishLead <= s.JWKSMaxAge+s.KeyCheckInterval {
		ps.add("signing.publish_lead", "%s must be longer than jwks_max_age (%s) plus key_check_interval (%s): a relying party's cached JWKS must know a key before it signs",
			s.PublishLead, s.JWKSMaxAge, s.KeyCheckInterval)
	}
	if s.RotationPeriod > 0 && s.PublishLead >= s.RotationPeriod {
		ps.add("signing.rotation_period", "%s must be longer than publish_lead (%s)", s.RotationPeriod, s.PublishLead)
	}
	if !slices.Contains(s.Algorithms, s.IDTokenAlgorithm) {
		ps.add("signing.id_token_algorithm", "%q is not one of signing.algorithms [%s]; add it there or choose another (RS256 is the default because OIDC requires every provider to support it)",
			s.IDTokenAlgorithm, strings.Join(s.Algorithms, ", "))
	}
}

func (c Config) validateLifetimes(ps *problems) {
	for _, d := range []struct {
		field string
		v     Duration
	}{
		{"tokens.access_token_ttl", c.Tokens.AccessTokenTTL},
		{"tokens.id_token_ttl", c.Tokens.IDTokenTTL},
		{"tokens.auth_code_ttl", c.Tokens.AuthCodeTTL},
		{"tokens.refresh_token_ttl", c.Tokens.RefreshTokenTTL},
		{"tokens.refresh_idle_ttl", c.Tokens.RefreshIdleTTL},
		{"sessions.ttl", c.Sessions.TTL},
		{"housekeeping.interval", c.Housekeeping.Interval},
	} {
		if d.v <= 0 {
			ps.add(d.field, "must be positive, got %s", d.v)
		}
	}
	if c.Tokens.AuthCodeTTL.Std() > maxAuthCodeTTL {
		ps.add("tokens.auth_code_ttl", "%s is longer than the 10m maximum of RFC 6749 §4.1.2", c.Tokens.AuthCodeTTL)
	}
	if g := c.Tokens.RefreshReuseGrace.Std(); g < 0 || g > maxRefreshReuseGrace {
		ps.add("tokens.refresh_reuse_grace", "%s must be between 0s and 1m: it only needs to cover concurrent refreshes, and a longer window lets a stolen token be replayed", g)
	}
	if c.Housekeeping.BatchSize <= 0 {
		ps.add("housekeeping.batch_size", "must be positive, got %d", c.Housekeeping.BatchSize)
	}
	for i, a := range c.Tokens.DefaultAudience {
		if strings.TrimSpace(a) == "" {
			ps.add(fmt.Sprintf("tokens.default_audience[%d]", i), "is empty")
		}
	}

	p := c.Passwords
	if p.MemoryKiB == 0 {
		ps.add("passwords.memory_kib", "must be positive")
	} else if p.Parallelism > 0 && p.MemoryKiB < 8*uint32(p.Parallelism) {
		// RFC 9106 §3.1: memory must be at least 8 KiB per lane.
		ps.add("passwords.memory_kib", "%d is below the argon2 minimum of 8 KiB per lane (%d)", p.MemoryKiB, 8*uint32(p.Parallelism))
	}
	if p.Iterations == 0 {
		ps.add("passwords.iterations", "must be positive")
	}
	if p.Parallelism == 0 {
		ps.add("passwords.parallelism", "must be positive")
	}
}

// validateAdministration checks admin.*, registration.* and scopes.
func (c Config) validateAdministration(ps *problems) {
	if l := c.Admin.Listen; l != "" {
		if _, _, err := net.SplitHostPort(l); err != nil {
			ps.add("admin.listen", "%q is not host:port (for example 127.0.0.1:9098), or leave it empty to turn the admin API off", l)
		} else if l == c.Listen || (l == c.Observability.MetricsListen && l != MetricsOff) {
			ps.add("admin.listen", "%q is already used by another listener; the admin API needs its own", l)
		}
	}
	if strings.TrimSpace(c.Admin.Audience) == "" {
		ps.add("admin.audience", "is empty")
	}
	r := c.Registration
	switch r.Mode {
	case RegistrationOff, RegistrationInitialAccessToken:
	case RegistrationOpen:
		if u, err := url.Parse(c.Issuer); err == nil && !isLoopback(u.Hostname()) && !r.ForceOpen {
			ps.add("registration.mode", "open lets anyone on the network register clients, and %q is not a loopback issuer: use initial_access_token "+
				"(tokens from `authserver registration-token create`), or set registration.force_open: true if that is really meant", c.Issuer)
		}
	default:
		ps.add("registration.mode", "unknown mode %q (allowed: %s, %s, %s)", r.Mode, RegistrationOff, RegistrationInitialAccessToken, RegistrationOpen)
	}
	for i, s := range r.AllowedScopes {
		field := fmt.Sprintf("registration.allowed_scopes[%d]", i)
		switch {
		case !validScopeToken(s):
			ps.add(field, "%q is not a scope token (RFC 6749 §3.3)", s)
		case s == AdminScope:
			ps.add(field, "%q would let anyone who registers a client administer the server", s)
		}
	}
	for i, g := range r.AllowedGrantTypes {
		field := fmt.Sprintf("registration.allowed_grant_types[%d]", i)
		switch {
		case !slices.Contains(grantTypes, g):
			ps.add(field, "unknown grant type %q (allowed: %s)", g, strings.Join(grantTypes, ", "))
		case g == GrantPassword:
			ps.add(field, "the password grant hands users' passwords to the client; it is for first-party clients declared in the file only")
		}
	}
	for i, s := range c.Scopes {
		at := fmt.Sprintf("scopes[%d]", i)
		switch {
		case !validScopeToken(s.Name):
			ps.add(at+".name", "%q is not a scope token (RFC 6749 §3.3: printable ASCII without spaces, quotes or backslashes)", s.Name)
		case slices.IndexFunc(c.Scopes[:i], func(o Scope) bool { return o.Name == s.Name }) >= 0:
			ps.add(at+".name", "%q is described more than once", s.Name)
		}
		if strings.TrimSpace(s.Description) == "" {
			ps.add(at+".description", "is empty; say in words what the scope lets an application do")
		}
	}
}

// MinClientSecretLen is the shortest secret a clients entry may have. The
// server checks secrets with an unsalted SHA-256 (secrets it generates carry
// 256 random bits), so a short or memorable one could be guessed offline
// from a leaked database or online at the token endpoint.
const MinClientSecretLen = 32

func (c Config) validateClient(ps *problems, i int, cl Client) {
	at := func(field string) string { return fmt.Sprintf("clients[%d].%s", i, field) }

	switch {
	case strings.TrimSpace(cl.ID) == "":
		ps.add(at("id"), "is empty")
	case slices.IndexFunc(c.Clients[:i], func(o Client) bool { return o.ID == cl.ID }) >= 0:
		ps.add(at("id"), "%q is used by more than one client", cl.ID)
	}

	if cl.Secret != "" && cl.SecretHash != "" {
		ps.add(at("secret_hash"), "set either secret or secret_hash, not both")
	}
	if n := utf8.RuneCountInString(cl.Secret); cl.Secret != "" && n < MinClientSecretLen {
		// A secret is checked with one fast hash (see storage.Hash), which
		// only a long random value makes safe to expose to guessing.
		ps.add(at("secret"), "is %d characters, but a client secret needs at least %d: generate one with `openssl rand -base64 32` "+
			"(or keep only its SHA-256 in the file as secret_hash: `printf %%s \"$SECRET\" | sha256sum`)", n, MinClientSecretLen)
	}
	if cl.SecretHash != "" {
		if b, err := hex.DecodeString(cl.SecretHash); err != nil || len(b) != 32 {
			ps.add(at("secret_hash"), "must be the SHA-256 of the secret as 64 hex characters")
		}
	}

	grants := cl.GrantTypes
	for j, g := range grants {
		field := fmt.Sprintf("%s[%d]", at("grant_types"), j)
		switch {
		case g == "implicit":
			ps.add(field, "the implicit grant is not supported (RFC 9700 §2.1.2): use authorization_code with PKCE")
		case !slices.Contains(grantTypes, g):
			ps.add(field, "unknown grant type %q (allowed: %s)", g, strings.Join(grantTypes, ", "))
		case g == GrantClientCredentials && cl.Public():
			ps.add(field, "client_credentials needs a confidential client (a secret, or private_key_jwt with its keys): a public client cannot authenticate (RFC 6749 §4.4)")
		}
	}

	if slices.Contains(grants, GrantAuthorizationCode) && len(cl.RedirectURIs) == 0 {
		ps.add(at("redirect_uris"), "is empty, but the authorization_code grant redirects back to the client")
	}
	for j, u := range cl.RedirectURIs {
		if msg := redirectURIProblem(u); msg != "" {
			ps.add(fmt.Sprintf("%s[%d]", at("redirect_uris"), j), "%s", msg)
		}
	}
	for j, u := range cl.PostLogoutRedirectURIs {
		if msg := redirectURIProblem(u); msg != "" {
			ps.add(fmt.Sprintf("%s[%d]", at("post_logout_redirect_uris"), j), "%s", msg)
		}
	}

	for j, s := range cl.Scopes {
		if !validScopeToken(s) {
			ps.add(fmt.Sprintf("%s[%d]", at("scopes"), j), "%q is not a scope token (RFC 6749 §3.3: printable ASCII without spaces, quotes or backslashes)", s)
		}
	}
	for j, a := range cl.Audience {
		if strings.TrimSpace(a) == "" {
			ps.add(fmt.Sprintf("%s[%d]", at("audience"), j), "is empty")
		}
	}
	if len(cl.Audience) == 0 && len(c.Tokens.DefaultAudience) == 0 {
		// Every client gets access tokens, and a token without an audience
		// would be accepted by any API that trusts this issuer.
		ps.add(at("audience"), "is not set and tokens.default_audience is empty: set %s or tokens.default_audience to the API identifier(s) its access tokens are for",
			at("audience"))
	}
	if alg := cl.IDTokenSignedResponseAlg; alg != "" && !slices.Contains(c.Signing.Algorithms, alg) {
		ps.add(at("id_token_signed_response_alg"), "%q is not one of signing.algorithms [%s]", alg, strings.Join(c.Signing.Algorithms, ", "))
	}
	if u := cl.BackchannelLogoutURI; u != "" {
		if msg := BackchannelLogoutURIProblem(u); msg != "" {
			ps.add(at("backchannel_logout_uri"), "%s", msg)
		}
	} else if cl.BackchannelLogoutSessionRequired {
		ps.add(at("backchannel_logout_session_required"), "is set, but backchannel_logout_uri is not: there is nowhere to send logout tokens")
	}
	validateClientAuth(ps, at, cl)
	c.validateProfile(ps, at, cl)
	validateClientMFA(ps, at, cl)
}

// redirectURIProblem applies RFC 6749 §3.1.2 (absolute, no fragment), RFC 9700
// §4.1 (exact match, so no wildcards) and RFC 8252 (native apps: loopback http
// or a private-use scheme such as com.example.app:/cb).
func redirectURIProblem(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return "is empty"
	case err != nil:
		return fmt.Sprintf("%q is not a URL: %v", raw, err)
	case u.Scheme == "":
		return fmt.Sprintf("%q is not absolute: it needs a scheme such as https://", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Sprintf("%q has a fragment, which RFC 6749 §3.1.2 forbids", raw)
	case strings.Contains(raw, "*"):
		return fmt.Sprintf("%q contains a wildcard: redirect URIs are compared exactly, list each one", raw)
	}
	switch strings.ToLower(u.Scheme) {
	case "javascript", "data", "vbscript", "file":
		return fmt.Sprintf("%q uses the %s: scheme, which would run or read content instead of returning to the client", raw, u.Scheme)
	case "http":
		if u.Hostname() == "" {
			return fmt.Sprintf("%q has no host", raw)
		}
		if !isLoopback(u.Hostname()) {
			return fmt.Sprintf("%q uses http on host %q: http is allowed only for loopback hosts (127.0.0.1, localhost, ::1); use https", raw, u.Hostname())
		}
	case "https":
		if u.Hostname() == "" {
			return fmt.Sprintf("%q has no host", raw)
		}
	}
	return ""
}

// BackchannelLogoutURIProblem applies OpenID Connect Back-Channel Logout
// 1.0 §2.2 to a backchannel_logout_uri: an absolute URI (so no fragment),
// https, or http on a loopback host only (the server POSTs logout tokens to
// it, which must not cross a network in the clear). "" means no problem.
func BackchannelLogoutURIProblem(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Sprintf("%q is not a URL: %v", raw, err)
	case !u.IsAbs() || u.Host == "" || u.Hostname() == "":
		return fmt.Sprintf("%q is not an absolute URL with a host, such as https://app.example.com/backchannel-logout", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Sprintf("%q has a fragment, which an absolute URI cannot have (Back-Channel Logout 1.0 §2.2)", raw)
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
	return fmt.Sprintf("%q uses the %s: scheme; logout tokens are sent with https (or http to a loopback host)", raw, u.Scheme)
}

// validScopeToken reports whether s is a scope-token of RFC 6749 §3.3:
// 1*( %x21 / %x23-5B / %x5D-7E ).
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b < 0x21 || b > 0x7e || b == '"' || b == '\\' {
			return false
		}
	}
	return true
}

func validateUsers(ps *problems, users []User) {
	for i, u := range users {
		at := func(field string) string { return fmt.Sprintf("users[%d].%s", i, field) }
		switch {
		case strings.TrimSpace(u.Username) == "":
			ps.add(at("username"), "is empty")
		case slices.IndexFunc(users[:i], func(o User) bool { return o.Username == u.Username }) >= 0:
			ps.add(at("username"), "%q is used by more than one user", u.Username)
		}
		switch {
		case u.Password != "" && u.PasswordHash != "":
			ps.add(at("password"), "set either password or password_hash, not both")
		case u.Password == "" && u.PasswordHash == "":
			ps.add(at("password"), "set password or password_hash")
		}
		if u.Email != "" {
			if a, err := mail.ParseAddress(u.Email); err != nil || a.Address != u.Email {
				ps.add(at("email"), "%q is not an email address", u.Email)
			}
		}
		*ps = append(*ps, u.Claims.Problems(at("claims."))...)
	}
}

// load decodes data, applies the overrides and defaults and validates the
// result, reporting decoding and validation problems in one list. A value
// that could not be decoded is left out of validation, so it is reported
// once, as what it is, rather than again as the default that replaced it.
func load(data []byte, getenv func(string) string) (Config, error) {
	d := decode(data)
	if !d.usable {
		return Config{}, &ValidationError{Problems: d.problems}
	}
	c := d.config
	c.ApplyEnv(getenv)
	c.ApplyDefaults()
	ps := d.problems
	var ve *ValidationError
	if errors.As(c.Validate(), &ve) {
		for _, p := range ve.Problems {
			if !under(p.Field, d.broken) {
				ps = append(ps, p)
			}
		}
	}
	if len(ps) > 0 {
		return Config{}, &ValidationError{Problems: ps}
	}
	return c, nil
}

// under reports whether field is one of paths or inside one ("" is the
// whole file).
func under(field string, paths []string) bool {
	for _, p := range paths {
		if p == "" || field == p || strings.HasPrefix(field, p+".") || strings.HasPrefix(field, p+"[") {
			return true
		}
	}
	return false
}

// IsLoopbackHost reports whether host (without a port) is localhost or a
// loopback address, where plain http and the embedded demo are allowed.
func IsLoopbackHost(host string) bool { return isLoopback(host) }
