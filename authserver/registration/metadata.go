package registration

import (
	"bytes"
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/authserver-dev/authserver/authserver/admin"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/config"
)

// maxBody bounds a request's metadata; a client's is a few hundred bytes.
const maxBody = 64 << 10

// maxClientName bounds client_name, which the consent page shows.
const maxClientName = 128

// Values of application_type (OpenID Connect Registration 1.0 §2) and of
// token_endpoint_auth_method (RFC 7591 §2) this server takes.
const (
	appWeb    = "web"
	appNative = "native"

	authNone   = storage.AuthNone
	authBasic  = storage.AuthSecretBasic
	authPost   = storage.AuthSecretPost
	authKeyJWT = storage.AuthPrivateKeyJWT
)

// members are the members of a request's JSON object, without those whose
// value is null: RFC 7592 §2.2 treats a null like a member left out, and so
// does registration.
type members map[string]json.RawMessage

// readMembers reads the request body strictly: application/json in UTF-8,
// at most maxBody bytes, exactly one JSON object, no member twice (two
// parsers could otherwise read two different clients from it). Members
// this server does not know are kept here and ignored later (RFC 7591 §2).
func readMembers(w http.ResponseWriter, r *http.Request) (members, *regError) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, errMetadata("send the client metadata as a JSON object with Content-Type: application/json")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, errMetadata("the client metadata must be UTF-8, not %q", cs)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, errMetadata("the client metadata is larger than %d KiB", maxBody>>10)
		}
		return nil, errMetadata("the request body could not be read")
	}
	if !utf8.Valid(body) {
		return nil, errMetadata("the client metadata is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errMetadata("the body must be one JSON object of client metadata (RFC 7591 §3.1)")
	}
	m := members{}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, errMetadata("the body is not valid JSON: %v", err)
		}
		name, _ := t.(string) // a key of an object is always a string
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, errMetadata("the body is not valid JSON: %v", err)
		}
		if seen[name] {
			return nil, errMetadata("the member %q is given twice", name)
		}
		seen[name] = true
		if !bytes.Equal(raw, []byte("null")) {
			m[name] = raw
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, errMetadata("the body is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errMetadata("the body must be one JSON object, with nothing after it")
	}
	return m, nil
}

// str is the string member name; a value of another type is a problem.
func (m members) str(ps *problems, name string) (string, bool) {
	raw, ok := m[name]
	if !ok {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		ps.add(name, "must be a string")
		return "", false
	}
	return s, true
}

// list is the array of strings member name, each given once.
func (m members) list(ps *problems, name string) ([]string, bool) {
	raw, ok := m[name]
	if !ok {
		return nil, false
	}
	var l []string
	if err := json.Unmarshal(raw, &l); err != nil {
		ps.add(name, "must be an array of strings")
		return nil, false
	}
	for i, s := range l {
		if slices.Index(l, s) < i {
			ps.add(fmt.Sprintf("%s[%d]", name, i), "%q is listed twice", s)
		}
	}
	return l, true
}

// boolean is the boolean member name.
func (m members) boolean(ps *problems, name string) (bool, bool) {
	raw, ok := m[name]
	if !ok {
		return false, false
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		ps.add(name, "must be true or false")
		return false, false
	}
	return b, true
}

// unsupported are metadata this server does not implement and refuses
// rather than ignores, because a client that sends them counts on
// something it would silently not get: encrypted or signed responses,
// pairwise subjects, request objects by reference.
var unsupported = map[string]string{
	"id_token_encrypted_response_alg":      "encrypted ID tokens are not supported",
	"id_token_encrypted_response_enc":      "encrypted ID tokens are not supported",
	"userinfo_encrypted_response_alg":      "encrypted userinfo responses are not supported",
	"userinfo_encrypted_response_enc":      "encrypted userinfo responses are not supported",
	"userinfo_signed_response_alg":         "signed userinfo responses are not supported: userinfo answers plain JSON",
	"sector_identifier_uri":                "pairwise subject identifiers are not supported",
	"request_uris":                         "request objects by reference are not supported: send a signed request object by value (request), or push the request to the pushed authorization request endpoint",
	"authorization_encrypted_response_alg": "encrypted authorization responses are not supported",
	"authorization_signed_response_alg":    "signed authorization responses (JARM) are not supported",
	"request_object_encryption_alg":        "encrypted request objects are not supported: sign them (with a key in jwks or jwks_uri)",
}

// request is a checked registration or update: the client to store, and
// the member the store does not keep, which the answer echoes.
type request struct {
	client          admin.NewClient
	applicationType string
}

// parse checks the metadata of a registration (current nil) or of an
// update of the client current, and maps it onto the client to store.
// Members left out get their defaults (RFC 7591 §2; for an update RFC 7592
// §2.2). Every problem is reported at once.
func (h *Handler) parse(m members, current *admin.Client) (request, *regError) {
	if _, ok := m["software_statement"]; ok {
		return request{}, &regError{status: http.StatusBadRequest, code: codeInvalidSoftwareStatement,
			description: "software statements are not accepted: this server trusts no issuer of them; send the client metadata itself"}
	}
	var ps problems
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if msg, ok := unsupported[name]; ok {
			ps.add(name, "%s", msg)
		}
	}
	if s, ok := m.str(&ps, "subject_type"); ok && s != "public" {
		ps.add("subject_type", "only public subject identifiers are supported")
	}
	if b, _ := m.boolean(&ps, "tls_client_certificate_bound_access_tokens"); b {
		ps.add("tls_client_certificate_bound_access_tokens", "certificate-bound access tokens (mTLS, RFC 8705) are not supported: use dpop_bound_access_tokens (RFC 9449)")
	}
	dpopBound, _ := m.boolean(&ps, "dpop_bound_access_tokens")
	requirePAR, _ := m.boolean(&ps, "require_pushed_authorization_requests")

	appType := appWeb
	if s, ok := m.str(&ps, "application_type"); ok {
		if s != appWeb && s != appNative {
			ps.add("application_type", "must be web or native (OpenID Connect Registration 1.0 §2), not %q", s)
		}
		appType = s
	}
	method := h.authMethod(m, &ps, current)
	grants := h.grantTypes(m, &ps)
	hasCode := slices.Contains(grants, config.GrantAuthorizationCode)
	responseTypes(m, &ps, hasCode)

	redirects, _ := m.list(&ps, "redirect_uris")
	if hasCode && len(redirects) == 0 && !ps.has("redirect_uris") {
		ps.add("redirect_uris", "is required for the authorization_code grant: list every URI the client is sent back to, exactly")
	}
	postLogout, _ := m.list(&ps, "post_logout_redirect_uris")
	name, _ := m.str(&ps, "client_name")
	if n := utf8.RuneCountInString(name); n > maxClientName {
		ps.add("client_name", "is %d characters; at most %d", n, maxClientName)
	} else if strings.ContainsFunc(name, unicode.IsControl) {
		ps.add("client_name", "contains control characters")
	}
	scopes := h.scopes(m, &ps, grants)
	alg, _ := m.str(&ps, "id_token_signed_response_alg")
	backchannel, _ := m.str(&ps, "backchannel_logout_uri")
	if backchannel != "" && !h.loopbackIssuer {
		if msg := backchannelTarget(backchannel); msg != "" {
			ps.add("backchannel_logout_uri", "%s", msg)
		}
	}
	sessionRequired, _ := m.boolean(&ps, "backchannel_logout_session_required")
	jwks, jwksURI := h.keys(m, &ps)

	// Nothing else is taken from the request: a registered client has no
	// audience of its own, never skips consent, never introspects.
	// The method is stored, so that a read answers what was registered and
	// the token endpoint accepts that method only.
	nc := admin.NewClient{Client: admin.Client{
		Name:                               name,
		Public:                             method == authNone,
		RedirectURIs:                       redirects,
		PostLogoutRedirectURIs:             postLogout,
		GrantTypes:                         grants,
		Scopes:                             scopes,
		IDTokenSignedResponseAlg:           alg,
		BackchannelLogoutURI:               backchannel,
		BackchannelLogoutSessionRequired:   sessionRequired,
		TokenEndpointAuthMethod:            method,
		JWKS:                               jwks,
		JWKSURI:                            jwksURI,
		RequirePushedAuthorizationRequests: requirePAR,
		DPoPBoundAccessTokens:              dpopBound,
	}}
	if current != nil {
		nc.ID = current.ID
	}
	for _, p := range h.configProblems(nc) {
		if !ps.hasField(p.field) {
			ps = append(ps, p)
		}
	}
	uriRules(&ps, appType, "redirect_uris", redirects)
	uriRules(&ps, appType, "post_logout_redirect_uris", postLogout)
	if len(ps) > 0 {
		return request{}, ps.err()
	}
	return request{client: nc, applicationType: appType}, nil
}

// authMethod is token_endpoint_auth_method: client_secret_basic by
// default (RFC 7591 §2), none for a public client, private_key_jwt for a
// client that signs JWTs with the keys it registers (jwks or jwks_uri). An
// update keeps the client public or confidential: its secret is not
// changed here (the admin service says which confidential methods it may
// move between).
func (h *Handler) authMethod(m members, ps *problems, current *admin.Client) string {
	method := authBasic
	if s, ok := m.str(ps, "token_endpoint_auth_method"); ok {
		switch s {
		case authNone, authBasic, authPost, authKeyJWT:
			method = s
		case "client_secret_jwt", "tls_client_auth", "self_signed_tls_client_auth":
			ps.add("token_endpoint_auth_method", "%q is not supported: use private_key_jwt (with jwks or jwks_uri), client_secret_basic, client_secret_post, or none for a public client (which must use PKCE)", s)
		default:
			ps.add("token_endpoint_auth_method", "unknown method %q (supported: client_secret_basic, client_secret_post, private_key_jwt, none)", s)
		}
	}
	if current != nil && (method == authNone) != current.Public {
		ps.add("token_endpoint_auth_method", "a registered client cannot change between public (none) and confidential: delete it and register it again")
	}
	return method
}

// keys are jwks (a JSON object, kept as sent) and jwks_uri. On a server
// that does not run on this machine's loopback, a jwks_uri must not make
// the server fetch from its own network (fetchTarget), as for
// backchannel_logout_uri. The rules of the keys themselves are the
// configuration's and clientkeys' (configProblems).
func (h *Handler) keys(m members, ps *problems) (json.RawMessage, string) {
	var jwks json.RawMessage
	if raw, ok := m["jwks"]; ok {
		if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
			ps.add("jwks", `must be a JSON object, a JWK Set: {"keys":[...]} with the client's public keys`)
		} else {
			jwks = raw
		}
	}
	uri, _ := m.str(ps, "jwks_uri")
	if uri != "" && !h.loopbackIssuer {
		if msg := fetchTarget(uri, "jwks_uri", "fetches the client's keys from it"); msg != "" {
			ps.add("jwks_uri", "%s", msg)
		}
	}
	return jwks, uri
}

// grantTypes is grant_types, [authorization_code] by default (RFC 7591 §2),
// each one of registration.allowed_grant_types. The password grant is
// refused even if the configuration allowed it (its validation does not).
func (h *Handler) grantTypes(m members, ps *problems) []string {
	l, ok := m.list(ps, "grant_types")
	if !ok {
		return []string{config.GrantAuthorizationCode}
	}
	if len(l) == 0 {
		ps.add("grant_types", "is empty; leave it out for [authorization_code]")
	}
	allowed := h.cfg.Registration.AllowedGrantTypes
	for i, g := range l {
		field := fmt.Sprintf("grant_types[%d]", i)
		switch {
		case g == config.GrantPassword:
			ps.add(field, "the password grant hands users' passwords to the client; it is only for first-party clients declared in the configuration file")
		case g == "implicit":
			ps.add(field, "the implicit grant is not supported (RFC 9700 §2.1.2): use authorization_code with PKCE")
		case !slices.Contains(allowed, g):
			ps.add(field, "%q is not allowed for registered clients (registration.allowed_grant_types: %s)", g, strings.Join(allowed, ", "))
		}
	}
	return l
}

// responseTypes checks response_types: only code, and consistent with the
// grant types (RFC 7591 §2.1): code if and only if authorization_code. The
// default is what the grant types imply, so it is not stored.
func responseTypes(m members, ps *problems, hasCode bool) {
	l, ok := m.list(ps, "response_types")
	if !ok {
		return
	}
	for i, rt := range l {
		field := fmt.Sprintf("response_types[%d]", i)
		switch {
		case rt == "code":
		case rt == "token":
			ps.add(field, "the implicit flow is not supported (RFC 9700 §2.1.2): use code with PKCE")
		case rt == "id_token" || strings.Contains(rt, " "):
			ps.add(field, "%q is not supported: this server answers response_type code only", rt)
		default:
			ps.add(field, "unknown response type %q (supported: code)", rt)
		}
	}
	switch code := slices.Contains(l, "code"); {
	case hasCode && !code:
		ps.add("response_types", "the authorization_code grant needs the response type code (RFC 7591 §2.1)")
	case !hasCode && code:
		ps.add("response_types", "code needs the authorization_code grant in grant_types (RFC 7591 §2.1)")
	}
}

// standardScopes are the OpenID Connect scopes a registration gets by
// default, when registration.allowed_scopes has them.
var standardScopes = []string{"openid", "profile", "email", "address", "phone"}

// scopes is scope (space-separated, RFC 6749 §3.3), each one of
// registration.allowed_scopes, admin never. Left out, it is the allowed
// standard OpenID Connect scopes, and offline_access for a client with the
// refresh_token grant; other scopes (an API's) only when asked for.
func (h *Handler) scopes(m members, ps *problems, grants []string) []string {
	allowed := h.cfg.Registration.AllowedScopes
	s, ok := m.str(ps, "scope")
	if !ok {
		var def []string
		for _, a := range allowed {
			if slices.Contains(standardScopes, a) || (a == "offline_access" && slices.Contains(grants, config.GrantRefreshToken)) {
				def = append(def, a)
			}
		}
		if len(def) == 0 && !ps.has("scope") {
			ps.add("scope", "name the scopes the client needs (allowed: %s)", strings.Join(allowed, " "))
		}
		return def
	}
	if s == "" {
		ps.add("scope", "is empty; leave it out for the default")
		return nil
	}
	l := strings.Split(s, " ")
	for i, sc := range l {
		switch {
		case sc == "":
			ps.add("scope", "separate scopes with single spaces (RFC 6749 §3.3)")
		case sc == config.AdminScope:
			ps.add("scope", "admin is never granted to a registered client: an operator makes an administration client (`authserver client add`)")
		case !slices.Contains(allowed, sc):
			ps.add("scope", "%q is not allowed for registered clients (registration.allowed_scopes: %s)", sc, strings.Join(allowed, " "))
		case slices.Index(l, sc) < i:
			ps.add("scope", "%q is listed twice", sc)
		}
	}
	return l
}

// configProblems are the problems the configuration file's rules find in
// nc as a clients entry (redirect URIs, grant types, algorithm,
// back-channel URI). The admin service applies the same rules; checking
// them here first reports them together with registration's own, and
// before an initial access token is spent.
func (h *Handler) configProblems(nc admin.NewClient) problems {
	cfg := h.cfg
	cl := config.Client{
		ID:                                 "registered-client",
		Name:                               nc.Name,
		RedirectURIs:                       nc.RedirectURIs,
		PostLogoutRedirectURIs:             nc.PostLogoutRedirectURIs,
		GrantTypes:                         nc.GrantTypes,
		Scopes:                             nc.Scopes,
		IDTokenSignedResponseAlg:           nc.IDTokenSignedResponseAlg,
		BackchannelLogoutURI:               nc.BackchannelLogoutURI,
		BackchannelLogoutSessionRequired:   nc.BackchannelLogoutSessionRequired,
		TokenEndpointAuthMethod:            nc.TokenEndpointAuthMethod,
		JWKSURI:                            nc.JWKSURI,
		RequirePushedAuthorizationRequests: nc.RequirePushedAuthorizationRequests,
		DPoPBoundAccessTokens:              nc.DPoPBoundAccessTokens,
	}
	if len(nc.JWKS) > 0 && json.Unmarshal(nc.JWKS, &cl.JWKS) != nil {
		cl.JWKS = nil // keys said so
	}
	if usesSecret(nc.TokenEndpointAuthMethod) {
		cl.SecretHash = strings.Repeat("0", 64) // any well-formed hash: the server makes the secret
	}
	cfg.Clients = []config.Client{cl}
	var ps problems
	var ve *config.ValidationError
	if errors.As(cfg.Validate(), &ve) {
		for _, p := range ve.Problems {
			if strings.HasPrefix(p.Field, "clients[0].") {
				ps = append(ps, problem{field: rfcField(p.Field), message: p.Message})
			}
		}
	}
	if !ps.has("jwks") && !slices.ContainsFunc(ps, func(p problem) bool { return strings.HasPrefix(p.field, "jwks.") }) {
		// The keys as the token endpoint will read them, as the admin
		// service checks them: here too, so that they are reported with
		// the rest and before an initial access token is spent.
		for _, p := range admin.JWKSProblems(nc.JWKS) {
			ps = append(ps, problem{field: p.Field, message: p.Message})
		}
	}
	return ps
}

// usesSecret reports whether a client of this method gets a secret.
func usesSecret(method string) bool { return method == authBasic || method == authPost }

// hasField reports whether a problem names exactly field.
func (ps problems) hasField(field string) bool {
	return slices.ContainsFunc(ps, func(p problem) bool { return p.field == field })
}

// uriRules applies application_type to the URIs the configuration's rules
// accept (https, or http on a loopback host, or another scheme):
//
//   - web: https, or http on a loopback host for development. A
//     private-use scheme reaches only an app installed on the device.
//   - native: http on a loopback host (RFC 8252 §7.3), https (§7.2), or a
//     private-use scheme that is a reverse domain name the app's owner
//     controls (§7.1), so that two apps do not claim the same scheme.
//
// OpenID Connect Registration 1.0 §2 forbids localhost to web clients only
// for the implicit grant, which this server does not have.
func uriRules(ps *problems, appType, field string, uris []string) {
	for i, raw := range uris {
		f := fmt.Sprintf("%s[%d]", field, i)
		if ps.hasField(f) {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil {
			continue // the configuration's rules said so already
		}
		switch scheme := strings.ToLower(u.Scheme); {
		case scheme == "https" || scheme == "http":
		case appType == appWeb:
			ps.add(f, "%q uses a private-use scheme, which only an app on the device can receive: use https, or register with application_type native", raw)
		case !strings.Contains(scheme, "."):
			ps.add(f, "the private-use scheme %q must be a reverse domain name you control, such as com.example.app:/callback (RFC 8252 §7.1)", u.Scheme)
		}
	}
}

// backchannelTarget refuses, on a server that does not run on this
// machine's loopback, a backchannel_logout_uri that would make the server
// post into its own network (fetchTarget).
func backchannelTarget(raw string) string {
	return fetchTarget(raw, "backchannel_logout_uri", "posts logout tokens to it")
}

// fetchTarget refuses a URL of a registered client that the server itself
// requests (what says how), when it would make the server reach into its
// own network: plain http, localhost, and IP literals that are loopback,
// private, link-local or unspecified. A DNS name may still resolve to such
// an address; that is for the operator's egress rules.
func fetchTarget(raw, member, what string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return "" // the configuration's rules say so
	}
	host := strings.ToLower(u.Hostname())
	if !strings.EqualFold(u.Scheme, "https") {
		return fmt.Sprintf("%q: the server %s, so a registered client's %s must be https", raw, what, member)
	}
	if config.IsLoopbackHost(host) || strings.HasSuffix(host, ".localhost") {
		return fmt.Sprintf("%q is the server's own machine; a registered client's %s must be a public https address", raw, member)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified() || ip.IsMulticast() {
			return fmt.Sprintf("%q is in a private network; a registered client's %s must be a public https address", raw, member)
		}
	}
	return ""
}

// checkIdentity applies RFC 7592 §2.2 to an update of c: client_id is
// required and must be c's; client_secret, if sent, must be c's current
// secret; the values the server assigns must be left out.
func (h *Handler) checkIdentity(ctx context.Context, m members, c admin.Client) (*regError, error) {
	var ps problems
	switch id, ok := m.str(&ps, "client_id"); {
	case ps.has("client_id"):
	case !ok:
		ps.add("client_id", "is required in an update (RFC 7592 §2.2)")
	case id != c.ID:
		ps.add("client_id", "is not the id of the client that this registration access token manages")
	}
	for _, name := range []string{"registration_access_token", "registration_client_uri", "client_secret_expires_at", "client_id_issued_at"} {
		if _, ok := m[name]; ok {
			ps.add(name, "must not be sent in an update (RFC 7592 §2.2): the server assigns it")
		}
	}
	if secret, ok := m.str(&ps, "client_secret"); ok {
		stored, err := h.clients.GetClient(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		if stored.Public() || subtle.ConstantTimeCompare([]byte(storage.Hash(secret)), []byte(stored.SecretHash)) != 1 {
			ps.add("client_secret", "is not the client's secret: leave it out, or send the one it was issued")
		}
	}
	if len(ps) > 0 {
		return ps.err(), nil
	}
	return nil, nil
}

// clientInfo is the client information response (RFC 7591 §3.2.1, RFC
// 7592 §3): the credentials, then the metadata as registered.
type clientInfo struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret,omitempty"`
	// ClientSecretExpiresAt is 0 (never) for a confidential client, and
	// absent for a public one.
	ClientSecretExpiresAt   *int64 `json:"client_secret_expires_at,omitempty"`
	ClientIDIssuedAt        int64  `json:"client_id_issued_at"`
	RegistrationAccessToken string `json:"registration_access_token"`
	RegistrationClientURI   string `json:"registration_client_uri"`

	ClientName                         string          `json:"client_name,omitempty"`
	ApplicationType                    string          `json:"application_type"`
	RedirectURIs                       []string        `json:"redirect_uris"`
	PostLogoutRedirectURIs             []string        `json:"post_logout_redirect_uris,omitempty"`
	GrantTypes                         []string        `json:"grant_types"`
	ResponseTypes                      []string        `json:"response_types"`
	TokenEndpointAuthMethod            string          `json:"token_endpoint_auth_method"`
	JWKS                               json.RawMessage `json:"jwks,omitempty"`
	JWKSURI                            string          `json:"jwks_uri,omitempty"`
	Scope                              string          `json:"scope"`
	IDTokenSignedResponseAlg           string          `json:"id_token_signed_response_alg"`
	BackchannelLogoutURI               string          `json:"backchannel_logout_uri,omitempty"`
	BackchannelLogoutSessionRequired   *bool           `json:"backchannel_logout_session_required,omitempty"`
	RequirePushedAuthorizationRequests bool            `json:"require_pushed_authorization_requests"`
	DPoPBoundAccessTokens              bool            `json:"dpop_bound_access_tokens"`
}

// info is the answer for the stored client c: secret only when it was
// just made, token the client's registration access token, appType its
// application_type. The authentication method is the one stored; the ID
// token algorithm the one in effect (the server's default when the client
// named none).
func (h *Handler) info(c admin.Client, appType, secret, token string) clientInfo {
	ci := clientInfo{
		ClientID:                 c.ID,
		ClientSecret:             secret,
		ClientIDIssuedAt:         c.CreatedAt.Unix(),
		RegistrationAccessToken:  token,
		RegistrationClientURI:    h.issuer + "/register/" + url.PathEscape(c.ID),
		ClientName:               c.Name,
		ApplicationType:          appType,
		RedirectURIs:             nonNil(c.RedirectURIs),
		PostLogoutRedirectURIs:   c.PostLogoutRedirectURIs,
		GrantTypes:               nonNil(c.GrantTypes),
		ResponseTypes:            []string{},
		TokenEndpointAuthMethod:  storedMethod(c),
		JWKS:                     c.JWKS,
		JWKSURI:                  c.JWKSURI,
		Scope:                    strings.Join(c.Scopes, " "),
		IDTokenSignedResponseAlg: cmp.Or(c.IDTokenSignedResponseAlg, h.cfg.Signing.IDTokenAlgorithm),
		BackchannelLogoutURI:     c.BackchannelLogoutURI,

		RequirePushedAuthorizationRequests: c.RequirePushedAuthorizationRequests,
		DPoPBoundAccessTokens:              c.DPoPBoundAccessTokens,
	}
	if slices.Contains(c.GrantTypes, config.GrantAuthorizationCode) {
		ci.ResponseTypes = []string{"code"}
	}
	if usesSecret(ci.TokenEndpointAuthMethod) { // RFC 7591 §3.2.1: with a client_secret
		never := int64(0)
		ci.ClientSecretExpiresAt = &never
	}
	if c.BackchannelLogoutURI != "" {
		required := c.BackchannelLogoutSessionRequired
		ci.BackchannelLogoutSessionRequired = &required
	}
	return ci
}

// storedMethod is the client's token_endpoint_auth_method as registered.
// A client registered before the method was stored has none recorded: it
// registered client_secret_basic (or post; both work for it) or none.
func storedMethod(c admin.Client) string {
	switch {
	case c.TokenEndpointAuthMethod != "":
		return c.TokenEndpointAuthMethod
	case c.Public:
		return authNone
	}
	return authBasic
}

// inferredAppType is application_type for a read, which the store does
// not keep: a client with a private-use redirect URI is native; any other
// passes the web rules, so an update that leaves application_type out
// keeps its URIs valid.
func inferredAppType(c admin.Client) string {
	for _, raw := range slices.Concat(c.RedirectURIs, c.PostLogoutRedirectURIs) {
		if u, err := url.Parse(raw); err == nil && !strings.EqualFold(u.Scheme, "https") && !strings.EqualFold(u.Scheme, "http") {
			return appNative
		}
	}
	return appWeb
}

// nonNil makes an empty list [] in JSON, not null.
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
