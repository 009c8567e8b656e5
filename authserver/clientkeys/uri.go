package clientkeys

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// ValidateJWKSURI checks the client metadata jwks_uri before it is stored:
// an absolute https URL (RFC 7591 §2) without credentials or fragment;
// plain http only for a loopback host (localhost, 127.0.0.0/8, ::1), where
// nothing travels over a network, for development. Over plain http anyone
// on the path could swap the keys and then sign as the client.
//
// It says nothing about where the host resolves to: a provider that lets
// untrusted parties register clients should give the Cache an HTTPClient
// whose dialer refuses internal addresses.
func ValidateJWKSURI(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return fmt.Errorf("jwks_uri is empty")
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return fmt.Errorf("jwks_uri %q is not an absolute URL such as https://client.example.com/jwks.json", raw)
	case u.User != nil:
		return fmt.Errorf("jwks_uri must not contain credentials (user@ or user:password@)")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Errorf("jwks_uri %q must not have a fragment (#...)", raw)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("jwks_uri %q must use https (plain http is accepted only for localhost, 127.0.0.1 or [::1])", raw)
	}
	return fmt.Errorf("jwks_uri %q must be an https URL", raw)
}

// isLoopback reports whether host (without port or brackets) is a loopback
// name or address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
