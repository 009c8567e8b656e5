package templates

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// The "Sign-in methods" section of the account page (AccountMethods): the
// forms and fields the server and webauthn.js expect, what is shown only
// once, and the script policy of the page.

func TestAccountMethods(t *testing.T) {
	t.Parallel()
	p := load(t, "")
	day := time.Date(2025, 3, 4, 5, 6, 0, 0, time.UTC)
	base := Account{Username: "alice", Subject: "s", CSRFToken: "tok", Action: "/account"}
	tests := []struct {
		name     string
		methods  AccountMethods
		elements []want
		texts    []string
		absent   []string
		script   bool
	}{
		{
			name: "recent: add a passkey, confirm a new app, new recovery codes",
			methods: AccountMethods{Recent: true, PasskeyOptions: `{"publicKey":{"challenge":"abc"}}`, PasskeyState: "sealed-state",
				Passkeys:    []AccountPasskey{{ID: "cred-1", Label: "Laptop", Created: day, LastUsed: day}, {ID: "cred-2", Label: "Phone", Created: day}},
				TOTPPending: true, TOTPSince: day, TOTPSecret: "JBSWY3DPEHPK3PXP", TOTPQR: `<svg class="totp-qr"><path d="M0 0h1v1h-1z"/></svg>`,
				NewRecoveryCodes: []string{"AAAA-BBBB-CCCC-DDDD", "EEEE-FFFF-GGGG-HHHH"}},
			elements: []want{
				{"form", map[string]string{"method": "post", "action": "/account", "data-webauthn": "register",
					"data-webauthn-options": "{&#34;publicKey&#34;:{&#34;challenge&#34;:&#34;abc&#34;}}"}},
				{"input", map[string]string{"type": "hidden", "name": "op", "value": "add_passkey"}},
				{"input", map[string]string{"type": "hidden", "name": "webauthn_state", "value": "sealed-state"}},
				{"input", map[string]string{"type": "hidden", "name": "webauthn_response"}},
				{"input", map[string]string{"id": "passkey_label", "name": "label", "maxlength": "64"}},
				{"input", map[string]string{"type": "hidden", "name": "passkey", "value": "cred-1"}},
				{"input", map[string]string{"id": "label-cred-2", "name": "label", "value": "Phone"}},
				{"label", map[string]string{"for": "label-cred-2"}},
				{"button", map[string]string{"name": "op", "value": "rename_passkey"}},
				{"button", map[string]string{"name": "op", "value": "remove_passkey"}},
				{"input", map[string]string{"id": "totp_code", "name": "code", "autocomplete": "one-time-code", "inputmode": "numeric"}},
				{"button", map[string]string{"name": "op", "value": "confirm_totp"}},
				{"button", map[string]string{"name": "op", "value": "setup_totp"}},
				{"button", map[string]string{"name": "op", "value": "remove_totp"}},
				{"button", map[string]string{"name": "op", "value": "generate_recovery_codes"}},
			},
			texts: []string{
				`<svg class="totp-qr"><path d="M0 0h1v1h-1z"/></svg>`, `<code id="totp-secret">JBSWY3DPEHPK3PXP</code>`,
				"<strong>Laptop</strong>", "last used <time", "never used",
				`<li><code>AAAA-BBBB-CCCC-DDDD</code></li>`, "shown only this once", "New codes replace the old ones",
				`<p class="alert" data-webauthn-status role="alert" hidden></p>`,
			},
			absent: []string{`value="reauthenticate"`},
			script: true,
		},
		{
			name:    "not recent: the password first, nothing to add or remove",
			methods: AccountMethods{Passkeys: []AccountPasskey{{ID: "cred-1", Label: "Laptop", Created: day}}, TOTPConfirmed: true, TOTPSince: day, RecoveryCodesLeft: 1},
			elements: []want{
				{"input", map[string]string{"id": "reauth_password", "name": "current_password", "type": "password", "autocomplete": "current-password"}},
				{"button", map[string]string{"name": "op", "value": "reauthenticate"}},
				{"button", map[string]string{"name": "op", "value": "rename_passkey"}},
			},
			texts:  []string{"confirm your password first", `<strong id="recovery-left">1</strong> unused recovery code.`, "set up <time"},
			absent: []string{`data-webauthn`, `value="remove_passkey"`, `value="remove_totp"`, `value="generate_recovery_codes"`, `value="setup_totp"`},
		},
		{
			name:    "recent, nothing yet",
			methods: AccountMethods{Recent: true, PasskeyOptions: "{}", PasskeyState: "s", Required: true},
			elements: []want{
				{"button", map[string]string{"name": "op", "value": "setup_totp"}},
			},
			texts:  []string{"You have no passkey.", "Add a passkey or an authenticator app first.", "keep at least one passkey"},
			absent: []string{`value="generate_recovery_codes"`, `value="confirm_totp"`, "<svg"},
			script: true,
		},
		{
			name:    "a pending app after its page: no secret again",
			methods: AccountMethods{Recent: true, PasskeysUnavailable: true, TOTPPending: true, TOTPSince: day},
			elements: []want{
				{"button", map[string]string{"name": "op", "value": "confirm_totp"}},
				{"button", map[string]string{"name": "op", "value": "remove_totp"}},
			},
			texts:  []string{"is not finished", "need this server at a domain name"},
			absent: []string{"totp-secret", "<svg", `data-webauthn`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := base
			data.Methods = tc.methods
			rec := render(t, p, http.StatusOK, data)
			body := rec.Body.String()
			for _, w := range tc.elements {
				if !hasElement(body, w.tag, w.attrs) {
					t.Errorf("no <%s> with %v in:\n%s", w.tag, w.attrs, body)
				}
			}
			for _, s := range tc.texts {
				if !strings.Contains(body, s) {
					t.Errorf("body lacks %q:\n%s", s, body)
				}
			}
			for _, s := range tc.absent {
				if strings.Contains(body, s) {
					t.Errorf("body has %q:\n%s", s, body)
				}
			}
			script := `<script src="` + p.WebAuthnScriptURL() + `" defer></script>`
			if got := strings.Contains(body, script); got != tc.script {
				t.Errorf("loads webauthn.js: %v, want %v", got, tc.script)
			}
			if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
				t.Errorf("CSP %q: the account page runs our own scripts only", csp)
			}
		})
	}
}

// What users and authenticators name (labels, ids, the options) is
// escaped; only the server's own QR code SVG is markup.
func TestAccountMethodsEscapeHostileInput(t *testing.T) {
	t.Parallel()
	const evil = `<script>alert(1)</script>`
	const evilAttr = `"><script>alert(2)</script>`
	p := load(t, "")
	body := render(t, p, http.StatusOK, Account{Username: "a", Action: "/account", CSRFToken: "t", Methods: AccountMethods{
		Recent: true, PasskeyOptions: evilAttr, PasskeyState: evilAttr,
		Passkeys:    []AccountPasskey{{ID: evilAttr, Label: evil}},
		TOTPPending: true, TOTPSecret: evil, NewRecoveryCodes: []string{evil},
	}}).Body.String()
	if strings.Contains(body, "<script>alert") || strings.Contains(body, `"><script`) {
		t.Fatalf("hostile input was not escaped:\n%s", body)
	}
}
