package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"unicode"
)

// The acr values (authentication context class references) the server can
// meet, weakest first: clients[].default_acr_values takes these. Package
// authserver/mfa has the same names; config imports nothing of ours.
const (
	ACRPassword          = "urn:authserver:acr:password"
	ACRMFA               = "urn:authserver:acr:mfa"
	ACRPhishingResistant = "urn:authserver:acr:phishing-resistant"
)

var acrValues = []string{ACRPassword, ACRMFA, ACRPhishingResistant}

// DefaultRPName is webauthn.rp_name when it is not set.
const DefaultRPName = "authserver"

// maxRPName bounds webauthn.rp_name: authenticators may cut a longer name
// at 64 bytes (WebAuthn Level 2 §5.4.1), which would show half a word.
const maxRPName = 64

// WebAuthnRPID is the relying party id passkeys are bound to:
// webauthn.rp_id, or else the issuer's host (lower case).
func (c Config) WebAuthnRPID() string {
	if c.WebAuthn.RPID != "" {
		return c.WebAuthn.RPID
	}
	u, err := url.Parse(c.Issuer)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// WebAuthnOrigins are the origins WebAuthn ceremonies may come from:
// webauthn.origins, or else the issuer's origin, written as a browser
// sends it in clientDataJSON (lower case, no default port), since the
// library compares them as strings.
func (c Config) WebAuthnOrigins() []string {
	if len(c.WebAuthn.Origins) > 0 {
		return slices.Clone(c.WebAuthn.Origins)
	}
	u, err := url.Parse(c.Issuer)
	if err != nil || u.Host == "" {
		return nil
	}
	return []string{canonicalOrigin(u)}
}

// canonicalOrigin is the ASCII serialisation of u's origin (RFC 6454 §6.2):
// scheme and host in lower case, the port only when it is not the scheme's
// default.
func canonicalOrigin(u *url.URL) string {
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") { // IPv6
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}

// validateClientMFA checks default_acr_values.
func validateClientMFA(ps *problems, at func(string) string, cl Client) {
	for j, v := range cl.DefaultACRValues {
		field := fmt.Sprintf("%s[%d]", at("default_acr_values"), j)
		switch {
		case !slices.Contains(acrValues, v):
			ps.add(field, "unknown acr value %q (allowed: %s)", v, strings.Join(acrValues, ", "))
		case slices.Index(cl.DefaultACRValues, v) < j:
			ps.add(field, "%s is listed twice", v)
		}
	}
}

// validateWebAuthn checks webauthn.*. A passkey is bound to the rp_id and
// only usable on origins whose host is it or under it (WebAuthn Level 2
// §5.1.3, "registrable domain suffix"), and the login and account pages
// run at the issuer: so the rp_id must be the issuer's host or a parent
// domain of it, and every origin must be under the rp_id. Browsers compare
// origins as strings, so each must be written as they send it.
func (c Config) validateWebAuthn(ps *problems) {
	w := c.WebAuthn
	iss, err := url.Parse(c.Issuer)
	if err != nil || iss.Hostname() == "" {
		return // the issuer's own problem is reported
	}
	host := strings.ToLower(iss.Hostname())
	rpID := host
	if w.RPID != "" {
		if msg := rpIDProblem(w.RPID, host); msg != "" {
			ps.add("webauthn.rp_id", "%s", msg)
			return // the origins would only repeat it
		}
		rpID = w.RPID
	}
	if w.RPName != "" {
		switch {
		case strings.TrimSpace(w.RPName) == "":
			ps.add("webauthn.rp_name", "is blank; leave it out for %q, or name the service as users know it", DefaultRPName)
		case strings.ContainsFunc(w.RPName, unicode.IsControl):
			ps.add("webauthn.rp_name", "%q contains a control character", w.RPName)
		case len(w.RPName) > maxRPName:
			ps.add("webauthn.rp_name", "is %d bytes long; authenticators may cut it at %d", len(w.RPName), maxRPName)
		}
	}
	bad := false
	for i, o := range w.Origins {
		field := fmt.Sprintf("webauthn.origins[%d]", i)
		switch msg := originProblem(o, rpID); {
		case msg != "":
			ps.add(field, "%s", msg)
			bad = true // perhaps meant as the issuer's: not said twice
		case slices.Index(w.Origins, o) < i:
			ps.add(field, "%s is listed twice", o)
		}
	}
	if own := canonicalOrigin(iss); len(w.Origins) > 0 && !bad && !slices.Contains(w.Origins, own) {
		ps.add("webauthn.origins", "does not list the issuer's origin %s, where the login and account pages run: add it, or leave origins out for it alone", own)
	}
}

// rpIDProblem says why rpID cannot be the relying party id of pages on
// host ("" when it can): it must be host itself or a domain host ends
// with at a label boundary. A one-label suffix ("com") would be a public
// suffix, which browsers refuse; localhost is the exception.
func rpIDProblem(rpID, host string) string {
	switch {
	case strings.Contains(rpID, "://") || strings.ContainsAny(rpID, "/:?#@[]"):
		return fmt.Sprintf("%q is not a domain name: give the host only, such as %q (no scheme, port or path)", rpID, host)
	case rpID != strings.ToLower(rpID):
		return fmt.Sprintf("%q must be written in lower case (%q)", rpID, strings.ToLower(rpID))
	case !domainName(rpID) && net.ParseIP(rpID) == nil:
		return fmt.Sprintf("%q is not a domain name (labels of letters, digits and hyphens, separated by dots)", rpID)
	case rpID == host:
		return ""
	case net.ParseIP(host) != nil:
		return fmt.Sprintf("%q is not the issuer's host %s: an issuer on an IP address can only be its own relying party id (leave rp_id out)", rpID, host)
	case !strings.HasSuffix(host, "."+rpID):
		return fmt.Sprintf("%q is neither the issuer's host %s nor a domain it is under: passkeys bound to it could not be used on the login page (leave rp_id out for %s, or give a parent domain of it)", rpID, host, host)
	case !strings.Contains(rpID, ".") && rpID != "localhost":
		return fmt.Sprintf("%q is a top-level domain, which browsers refuse as a relying party id: give a registrable domain such as %q", rpID, registrableGuess(host, rpID))
	}
	return ""
}

// registrableGuess is the domain one label longer than rpID under host,
// for a message ("example.com" for host id.example.com and rp_id "com").
func registrableGuess(host, rpID string) string {
	rest := strings.TrimSuffix(host, "."+rpID)
	if i := strings.LastIndex(rest, "."); i >= 0 {
		rest = rest[i+1:]
	}
	return rest + "." + rpID
}

// domainName reports whether s is a DNS name of LDH labels (RFC 1123 §2.1),
// in lower case.
func domainName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// originProblem says why o cannot be a WebAuthn origin for rpID ("" when it
// can): scheme://host[:port] exactly as a browser writes it, https (http
// only on a loopback host), its host rpID or under it.
func originProblem(o, rpID string) string {
	u, err := url.Parse(o)
	switch {
	case err != nil:
		return fmt.Sprintf("%q is not a URL: %v", o, err)
	case !u.IsAbs() || u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return fmt.Sprintf("%q is not an absolute origin such as https://id.example.com", o)
	case u.User != nil:
		return fmt.Sprintf("%q carries user information; an origin is scheme://host[:port]", o)
	case u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(o, "#"):
		return fmt.Sprintf("%q has a path, query or fragment; an origin is scheme://host[:port] only (browsers send %s)", o, canonicalOrigin(u))
	}
	host := u.Hostname()
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !isLoopback(host) {
			return fmt.Sprintf("%q uses http on host %q: WebAuthn needs https except on a loopback host (127.0.0.1, localhost, ::1)", o, host)
		}
	default:
		return fmt.Sprintf("%q uses the %s: scheme; WebAuthn origins are https (or http on a loopback host)", o, u.Scheme)
	}
	if want := canonicalOrigin(u); o != want {
		// The library compares clientDataJSON's origin with these as strings.
		return fmt.Sprintf("%q must be written as browsers send it: %s", o, want)
	}
	if h := strings.ToLower(host); h != rpID && !strings.HasSuffix(h, "."+rpID) {
		return fmt.Sprintf("%q is not on the relying party id %s or a host under it: a passkey for %s cannot be used there", o, rpID, rpID)
	}
	return ""
}
