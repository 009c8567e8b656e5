package config_test

import (
	"net/url"
	"testing"

	"github.com/authserver-dev/authserver/config"
)

// Finding "The session cookie goes to every app on the same host": browsers
// send a host's cookies to every port of it, so on plain http only a host
// name of its own keeps the provider's session from its clients. The demo
// must not teach the unsafe layout: its provider and its client have
// different host names.
func TestTheSessionCookieGoesToEveryAppOnTheSameHost(t *testing.T) {
	t.Parallel()
	c := config.Default()
	iss, err := url.Parse(c.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	if iss.Hostname() != "localhost" {
		t.Errorf("demo issuer %s; want it on localhost", c.Issuer)
	}
	for _, cl := range c.Clients {
		for _, raw := range append(append([]string(nil), cl.RedirectURIs...), cl.PostLogoutRedirectURIs...) {
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if u.Hostname() == iss.Hostname() {
				t.Errorf("demo client %s at %s shares the host name of the issuer %s", cl.ID, raw, c.Issuer)
			}
		}
	}
}
