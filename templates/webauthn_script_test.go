package templates

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestWebAuthnScriptServed: webauthn.js is served under a content-hash name
// (so it can be cached forever), as JavaScript, with the base path in front
// when there is one, and its URL is what pages get from {{webauthnJS}}.
func TestWebAuthnScriptServed(t *testing.T) {
	p := load(t, "")
	u := p.WebAuthnScriptURL()
	if !regexp.MustCompile(`^/static/webauthn\.[0-9a-f]{16}\.js$`).MatchString(u) {
		t.Fatalf("WebAuthnScriptURL = %q", u)
	}
	want, err := embedded.ReadFile("static/webauthn.js")
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	p.AssetHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, u, nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != http.StatusOK || string(body) != string(want) ||
		!strings.HasPrefix(rec.Header().Get("Content-Type"), "text/javascript") {
		t.Fatalf("GET %s: %d %q, %d bytes", u, rec.Code, rec.Header().Get("Content-Type"), len(body))
	}
	q, err := p.WithBasePath("/auth")
	if err != nil {
		t.Fatal(err)
	}
	if got := q.WebAuthnScriptURL(); got != "/auth"+u {
		t.Errorf("under /auth: %q", got)
	}
}

// TestScriptPolicy: the pages that run the passkey script (login, account)
// may load scripts from us and nowhere else, never inline; every other page
// keeps a policy without any script.
func TestScriptPolicy(t *testing.T) {
	p := load(t, "")
	for _, tc := range []struct {
		data    any
		scripts bool
	}{
		{samples["login.html"], true},
		{samples["account.html"], true},
		{samples["consent.html"], false},
		{samples["error.html"], false},
		{samples["logout.html"], false},
		{samples["logged_out.html"], false},
	} {
		rec := httptest.NewRecorder()
		if err := p.Render(rec, http.StatusOK, tc.data); err != nil {
			t.Fatal(err)
		}
		csp := rec.Header().Get("Content-Security-Policy")
		if has := strings.Contains(csp, "script-src 'self';"); has != tc.scripts {
			t.Errorf("%T: CSP %q; want script-src 'self': %v", tc.data, csp, tc.scripts)
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || !strings.HasPrefix(csp, "default-src 'none';") {
			t.Errorf("%T: CSP %q", tc.data, csp)
		}
		if !tc.scripts && strings.Contains(csp, "script-src") {
			t.Errorf("%T: CSP %q allows scripts", tc.data, csp)
		}
	}
}
