package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The home page offers "Sign in with MFA", whose authorization URL asks
// for acr_values=urn:authserver:acr:mfa; the plain button asks for none.
func TestMFAButtonAsksForACRValues(t *testing.T) {
	a := offlineApp(t)
	b := newBrowser(t, a.Handler())
	home := b.do(http.MethodGet, "/", nil).Body.String()
	for _, want := range []string{`<a class="button" href="/login">Sign in</a>`, `<a class="button secondary" href="/login/mfa">Sign in with MFA</a>`,
		"acr_values=urn:authserver:acr:mfa"} {
		if !strings.Contains(home, want) {
			t.Errorf("home page lacks %q:\n%s", want, home)
		}
	}

	q := b.startLoginAt("/login/mfa")
	if got := q["acr_values"]; len(got) != 1 || got[0] != "urn:authserver:acr:mfa" {
		t.Errorf("acr_values = %q, want [urn:authserver:acr:mfa]", got)
	}
	for k, v := range map[string]string{"client_id": "demo-web", "response_type": "code", "code_challenge_method": "S256",
		"redirect_uri": "http://127.0.0.1:9094/callback"} {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if len(q.Get(k)) < 43 {
			t.Errorf("%s = %q, want a random value", k, q.Get(k))
		}
	}
	if q := b.startLogin(); q.Has("acr_values") {
		t.Errorf("the plain sign-in asks for acr_values %q", q.Get("acr_values"))
	}
}

// signInAt runs the flow from a sign-in button's path, as the provider
// would answer it after consent, and returns /me.
func signInAt(t *testing.T, f *fakeProvider, b *browser, path string) string {
	t.Helper()
	login := b.startLoginAt(path)
	f.mu.Lock()
	f.challenge, f.nonce = login.Get("code_challenge"), login.Get("nonce")
	f.mu.Unlock()
	rec := b.do(http.MethodGet, "/callback?code=good-code&state="+url.QueryEscape(login.Get("state"))+"&iss="+url.QueryEscape(f.srv.URL), nil)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("callback: status %d\n%s", rec.Code, rec.Body)
	}
	return b.do(http.MethodGet, "/me", nil).Body.String()
}

// The result page says how the user signed in: the ID token's acr and
// amr, in words, and whether the level asked for was met.
func TestPageShowsACRAndAMR(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		acr      string
		amr      []string
		amrRaw   any
		want     []string
		wantNone []string
	}{
		{"MFA asked and met", "/login/mfa", "urn:authserver:acr:mfa", []string{"pwd", "otp", "mfa"}, nil, []string{
			"How you signed in", "<code>urn:authserver:acr:mfa</code>: a password and a second factor",
			"<code>pwd</code>: password", "<code>otp</code>: one-time code (TOTP or recovery code)", "<code>mfa</code>: more than one factor",
			"<code>acr_values=urn:authserver:acr:mfa</code>: met", "The acr urn:authserver:acr:mfa meets the level this app asked for",
			`href="/login/mfa">Sign in again with MFA`,
		}, []string{"not met"}},
		{"a passkey alone meets MFA", "/login/mfa", "urn:authserver:acr:phishing-resistant", []string{"hwk", "user", "mfa"}, nil, []string{
			"a passkey with user verification (phishing-resistant)", "<code>hwk</code>: hardware-bound key", "<code>user</code>: user verification",
			"</code>: met",
		}, nil},
		{"MFA asked, a password given", "/login/mfa", "urn:authserver:acr:password", []string{"pwd"}, nil, []string{
			"<code>urn:authserver:acr:password</code>: a password alone", "<strong>not met</strong>", "a weaker sign-in than asked for",
		}, nil},
		{"nothing asked, nothing said", "/login", "", nil, nil, []string{"acr</th><td>not stated by the provider", "amr</th><td>not stated by the provider"},
			[]string{"Asked for"}},
		{"an amr that is no list", "/login", "urn:authserver:acr:password", nil, "pwd", []string{"How you signed in cannot be read: amr is not an array of strings"}, nil},
		{"an unknown method", "/login", "urn:example:gold", []string{"retina"}, nil, []string{"<code>urn:example:gold</code></td>", "<li><code>retina</code></li>"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeProvider(t)
			f.acr, f.amr, f.amrRaw = tt.acr, tt.amr, tt.amrRaw
			me := signInAt(t, f, newBrowser(t, onlineApp(t, f, fakeAPI(t).URL).Handler()), tt.path)
			for _, w := range tt.want {
				if !strings.Contains(me, w) {
					t.Errorf("/me lacks %q:\n%s", w, me)
				}
			}
			for _, w := range tt.wantNone {
				if strings.Contains(me, w) {
					t.Errorf("/me has %q", w)
				}
			}
		})
	}
}

// A hostile acr is shown escaped, as every claim is.
func TestACRIsEscaped(t *testing.T) {
	f := newFakeProvider(t)
	f.acr = "<script>alert(1)</script>"
	me := signInAt(t, f, newBrowser(t, onlineApp(t, f, fakeAPI(t).URL).Handler()), "/login/mfa")
	if strings.Contains(me, "<script>") || !strings.Contains(me, "&lt;script&gt;") {
		t.Errorf("the acr is not escaped:\n%s", me)
	}
}
