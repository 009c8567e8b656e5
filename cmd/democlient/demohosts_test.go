package main

import (
	"net"
	"net/url"
	"testing"
)

// Finding "The session cookie goes to every app on the same host": cookies
// ignore ports, so the demo client's default address must not share the
// default issuer's host name, or each would get the other's cookies.
func TestTheSessionCookieGoesToEveryAppOnTheSameHost(t *testing.T) {
	t.Parallel()
	c, _, err := parseFlags("serve", nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	iss, err := url.Parse(c.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		t.Fatal(err)
	}
	if iss.Hostname() == host {
		t.Fatalf("default issuer %s and default listen %s share a host name", c.Issuer, c.Listen)
	}
}
