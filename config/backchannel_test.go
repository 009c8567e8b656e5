package config_test

import (
	"strings"
	"testing"

	"github.com/authserver-dev/authserver/config"
)

// TestBackchannelLogoutURI checks clients[].backchannel_logout_uri
// (OpenID Connect Back-Channel Logout 1.0 §2.2): an absolute URI without
// fragment, https or loopback http; each problem names the field.
func TestBackchannelLogoutURI(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		uri     string
		wantMsg string // "" means valid
	}{
		{"https://app.example.com/backchannel-logout", ""},
		{"https://app.example.com:8443/bc?tenant=a", ""},
		{"http://127.0.0.1:9094/backchannel-logout", ""},
		{"http://localhost:9094/bc", ""},
		{"http://[::1]:9094/bc", ""},
		{"http://app.example.com/bc", "loopback"},
		{"/backchannel-logout", "absolute"},
		{"app.example.com/bc", "absolute"},
		{"https:///bc", "absolute"},
		{"https://app.example.com/bc#frag", "fragment"},
		{"https://app.example.com/bc#", "fragment"},
		{"https://user:pw@app.example.com/bc", "user information"},
		{"ftp://app.example.com/bc", "scheme"},
		{"javascript://app.example.com/%0aalert(1)", "scheme"},
		{"https://app.example.com/%zz", "not a URL"},
	} {
		c := config.Default()
		c.Clients[0].BackchannelLogoutURI = tt.uri
		err := c.Validate()
		if tt.wantMsg == "" {
			if err != nil {
				t.Errorf("%q refused: %v", tt.uri, err)
			}
			continue
		}
		ps := problemsOf(t, err)
		if len(ps) != 1 || ps[0].Field != "clients[0].backchannel_logout_uri" || !strings.Contains(ps[0].Message, tt.wantMsg) {
			t.Errorf("%q: problems %v, want one for clients[0].backchannel_logout_uri containing %q", tt.uri, ps, tt.wantMsg)
		}
	}
}

func TestBackchannelSessionRequiredNeedsURI(t *testing.T) {
	t.Parallel()
	c := config.Default()
	c.Clients[0].BackchannelLogoutURI = ""
	c.Clients[0].BackchannelLogoutSessionRequired = true
	ps := problemsOf(t, c.Validate())
	if len(ps) != 1 || ps[0].Field != "clients[0].backchannel_logout_session_required" {
		t.Fatalf("problems %v, want one for clients[0].backchannel_logout_session_required", ps)
	}
	c.Clients[0].BackchannelLogoutURI = "https://app.example.com/bc"
	if err := c.Validate(); err != nil {
		t.Fatalf("with a URI: %v", err)
	}
}

// The demo registers the demo client's receiving endpoint.
func TestDemoRegistersBackchannelLogout(t *testing.T) {
	t.Parallel()
	c := config.Default()
	if got := c.Clients[0].BackchannelLogoutURI; c.Clients[0].ID != "demo-web" || got != "http://127.0.0.1:9094/backchannel-logout" {
		t.Fatalf("demo client %s has backchannel_logout_uri %q", c.Clients[0].ID, got)
	}
}
