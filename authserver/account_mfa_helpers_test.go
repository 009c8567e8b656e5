package authserver_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/observe/observetest"
	"github.com/authserver-dev/authserver/config"
)

// accountAuthenticator is a software passkey authenticator for the HTTP
// tests of the account page: it answers a registration's options as a
// platform authenticator with user verification would (attestation
// "none", an ES256 key), so that the server's WebAuthn checks run for real
// without a browser. The browser tests use Chromium's virtual
// authenticator instead.
type accountAuthenticator struct {
	key *ecdsa.PrivateKey
	id  []byte
	// origin is what the browser would write in clientDataJSON.
	origin string
	// userHandle is the user id the registration named; count the
	// signature counter.
	userHandle string
	count      uint32
}

func newAccountAuthenticator(t *testing.T, origin string) *accountAuthenticator {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	return &accountAuthenticator{key: key, id: id, origin: origin}
}

// credentialID is the passkey's id as the store and the page name it.
func (a *accountAuthenticator) credentialID() string {
	return base64.RawURLEncoding.EncodeToString(a.id)
}

// register answers navigator.credentials.create(options) with the
// PublicKeyCredential JSON that webauthn.js would post.
func (a *accountAuthenticator) register(t *testing.T, optionsJSON string) string {
	t.Helper()
	var opts struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
			RP        struct {
				ID string `json:"id"`
			} `json:"rp"`
			User struct {
				ID string `json:"id"`
			} `json:"user"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal([]byte(optionsJSON), &opts); err != nil {
		t.Fatalf("registration options %q: %v", optionsJSON, err)
	}
	a.userHandle = opts.PublicKey.User.ID
	clientData, _ := json.Marshal(map[string]any{"type": "webauthn.create", "challenge": opts.PublicKey.Challenge,
		"origin": a.origin, "crossOrigin": false})
	rpHash := sha256.Sum256([]byte(opts.PublicKey.RP.ID))
	authData := append([]byte{}, rpHash[:]...)
	authData = append(authData, 0x01|0x04|0x40) // user present, user verified, attested credential data
	authData = binary.BigEndian.AppendUint32(authData, 0)
	authData = append(authData, make([]byte, 16)...) // AAGUID
	authData = binary.BigEndian.AppendUint16(authData, uint16(len(a.id)))
	authData = append(authData, a.id...)
	authData = append(authData, a.coseKey()...)
	// CBOR {"fmt": "none", "attStmt": {}, "authData": authData}
	att := []byte{0xa3}
	att = append(att, cborText("fmt")...)
	att = append(att, cborText("none")...)
	att = append(att, cborText("attStmt")...)
	att = append(att, 0xa0)
	att = append(att, cborText("authData")...)
	att = append(att, cborBytes(authData)...)
	b64 := base64.RawURLEncoding.EncodeToString
	out, _ := json.Marshal(map[string]any{
		"id": b64(a.id), "rawId": b64(a.id), "type": "public-key", "authenticatorAttachment": "platform",
		"response": map[string]any{"clientDataJSON": b64(clientData), "attestationObject": b64(att),
			"transports": []string{"internal"}},
		"clientExtensionResults": map[string]any{"credProps": map[string]any{"rk": true}},
	})
	return string(out)
}

// assert answers navigator.credentials.get(options) (a second step or a
// passkey alone) with the PublicKeyCredential JSON webauthn.js would post.
func (a *accountAuthenticator) assert(t *testing.T, optionsJSON string) string {
	t.Helper()
	var opts struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
			RPID      string `json:"rpId"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal([]byte(optionsJSON), &opts); err != nil {
		t.Fatalf("assertion options %q: %v", optionsJSON, err)
	}
	clientData, _ := json.Marshal(map[string]any{"type": "webauthn.get", "challenge": opts.PublicKey.Challenge,
		"origin": a.origin, "crossOrigin": false})
	rpHash := sha256.Sum256([]byte(opts.PublicKey.RPID))
	a.count++
	authData := append(append([]byte{}, rpHash[:]...), 0x01|0x04) // user present, user verified
	authData = binary.BigEndian.AppendUint32(authData, a.count)
	cdHash := sha256.Sum256(clientData)
	digest := sha256.Sum256(append(append([]byte{}, authData...), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	out, _ := json.Marshal(map[string]any{
		"id": b64(a.id), "rawId": b64(a.id), "type": "public-key", "authenticatorAttachment": "platform",
		"response": map[string]any{"clientDataJSON": b64(clientData), "authenticatorData": b64(authData),
			"signature": b64(sig), "userHandle": a.userHandle},
		"clientExtensionResults": map[string]any{},
	})
	return string(out)
}

// coseKey is the public key as a COSE_Key (RFC 9053): EC2, ES256, P-256.
func (a *accountAuthenticator) coseKey() []byte {
	pub, err := a.key.PublicKey.ECDH()
	if err != nil {
		panic(err)
	}
	raw := pub.Bytes() // 0x04 || x || y
	k := []byte{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21}
	k = append(k, cborBytes(raw[1:33])...)
	k = append(k, 0x22)
	return append(k, cborBytes(raw[33:65])...)
}

func cborText(s string) []byte  { return append(cborHead(0x60, len(s)), s...) }
func cborBytes(b []byte) []byte { return append(cborHead(0x40, len(b)), b...) }

// cborHead is the head of a CBOR item of major type major (already
// shifted) and length n < 65536.
func cborHead(major byte, n int) []byte {
	switch {
	case n < 24:
		return []byte{major | byte(n)}
	case n < 256:
		return []byte{major | 24, byte(n)}
	default:
		return []byte{major | 25, byte(n >> 8), byte(n)}
	}
}

var (
	accountPasskeyOptions = regexp.MustCompile(`data-webauthn="register" data-webauthn-options="([^"]*)"`)
	accountPasskeyState   = regexp.MustCompile(`name="webauthn_state" value="([^"]*)"`)
	accountPasskeyIDs     = regexp.MustCompile(`name="passkey" value="([^"]*)">\s*<label`)
	accountTOTPSecret     = regexp.MustCompile(`<code id="totp-secret">([A-Z2-7]+)</code>`)
	accountRecoveryCodes  = regexp.MustCompile(`<li><code>([A-Z0-9-]+)</code></li>`)
)

// passkeyForm is what the page's "Add a passkey" form carries.
func passkeyForm(t *testing.T, body string) (options, state string) {
	t.Helper()
	o, s := accountPasskeyOptions.FindStringSubmatch(body), accountPasskeyState.FindStringSubmatch(body)
	if o == nil || s == nil {
		t.Fatalf("the page has no passkey registration form:\n%s", body)
	}
	return html.UnescapeString(o[1]), html.UnescapeString(s[1])
}

// passkeyFields are the add form's fields for a label and a response.
func passkeyFields(label, state, response string) url.Values {
	return url.Values{"label": {label}, "webauthn_state": {state}, "webauthn_response": {response}}
}

// startPasskeyProvider is a provider whose issuer is at a domain name,
// http://localhost:PORT, as WebAuthn requires (an issuer at an IP address
// has no passkeys). Its URL stays at 127.0.0.1, where the listener is;
// the WebAuthn origin, which the browser writes, is passkeyOrigin's.
func startPasskeyProvider(t *testing.T, logs *observetest.Logs, mutate func(*config.Config)) *authtest.Provider {
	t.Helper()
	localhost := func(c *config.Config) {
		c.Issuer = strings.Replace(c.Issuer, "//127.0.0.1:", "//localhost:", 1)
		if mutate != nil {
			mutate(c)
		}
	}
	if logs == nil {
		return authtest.Start(t, localhost)
	}
	p := authtest.StartLogged(t, observe.NewLogger(logs, "json", "info"), localhost)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("provider log:\n%s", logs)
		}
	})
	return p
}

// formWith is the action and the fields (hidden and pre-filled) of the
// page's first form whose text contains marker.
func formWith(t *testing.T, pg *authtest.Page, marker string) (string, url.Values) {
	t.Helper()
	for _, m := range regexp.MustCompile(`(?s)<form([^>]*)>(.*?)</form>`).FindAllStringSubmatch(pg.Body, -1) {
		if !strings.Contains(m[0], marker) {
			continue
		}
		action := regexp.MustCompile(`action="([^"]*)"`).FindStringSubmatch(m[1])
		vals := url.Values{}
		for _, in := range regexp.MustCompile(`<input[^>]*>`).FindAllString(m[2], -1) {
			name := regexp.MustCompile(`name="([^"]*)"`).FindStringSubmatch(in)
			value := regexp.MustCompile(`value="([^"]*)"`).FindStringSubmatch(in)
			if name != nil && value != nil {
				vals.Set(name[1], html.UnescapeString(value[1]))
			} else if name != nil {
				vals.Set(name[1], "")
			}
		}
		if action == nil {
			t.Fatalf("the form with %s has no action", marker)
		}
		return html.UnescapeString(action[1]), vals
	}
	t.Fatalf("no form with %s on the page (%d at %s):\n%s", marker, pg.Status, pg.URL, pg.Body)
	return "", nil
}

// submitForm posts fields to the page's form action, as from its origin.
func submitForm(t *testing.T, p *authtest.Provider, b *http.Client, pg *authtest.Page, action string, vals url.Values) *authtest.Page {
	t.Helper()
	return send(t, b, http.MethodPost, pg.URL.ResolveReference(&url.URL{Path: action}).String(), vals, sameOriginPost(p))
}

// accountSignInWithPasskey signs username in on /account with the
// password and then, on the second-step page, with a's passkey.
func accountSignInWithPasskey(t *testing.T, p *authtest.Provider, b *http.Client, username, pw string, a *accountAuthenticator) *authtest.Page {
	t.Helper()
	step := authtest.Get(t, b, p.URL+"/account").Submit(t, b, url.Values{"username": {username}, "password": {pw}})
	action, vals := formWith(t, step, `data-webauthn="login"`)
	options := accountText(regexp.MustCompile(`data-webauthn="login" data-webauthn-options="([^"]*)"`), step.Body)
	vals.Set("webauthn_response", a.assert(t, options))
	pg := submitForm(t, p, b, step, action, vals)
	if !onAccount(pg) {
		t.Fatalf("signing in with a passkey as the second step: %d at %s:\n%s", pg.Status, pg.URL, pg.Body)
	}
	return pg
}

// passkeyOrigin is the issuer's origin, where passkeys are made.
func passkeyOrigin(p *authtest.Provider) string {
	u, _ := url.Parse(p.Config.Issuer)
	return u.Scheme + "://" + u.Host
}
