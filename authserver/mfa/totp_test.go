package mfa_test

import (
	"encoding/base32"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/authserver-dev/authserver/authserver/mfa"
)

// rfcSecret is the SHA-1 seed of RFC 6238 Appendix B, in base32.
var rfcSecret = base32.StdEncoding.EncodeToString([]byte("12345678901234567890"))

// rfcVectors are RFC 6238 Appendix B's SHA-1 rows: time and 8-digit code.
var rfcVectors = []struct {
	unix int64
	code string
}{
	{59, "94287082"},
	{1111111109, "07081804"},
	{1111111111, "14050471"},
	{1234567890, "89005924"},
	{2000000000, "69279037"},
	{20000000000, "65353130"},
}

// TestTOTPLibraryMatchesRFC6238 checks the library against the RFC's own
// vectors (8 digits there), so a library change that breaks the algorithm
// shows here and not in an authenticator app.
func TestTOTPLibraryMatchesRFC6238(t *testing.T) {
	t.Parallel()
	for _, v := range rfcVectors {
		got, err := totp.GenerateCodeCustom(rfcSecret, time.Unix(v.unix, 0).UTC(), totp.ValidateOpts{
			Period: 30, Digits: otp.DigitsEight, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		if got != v.code {
			t.Errorf("T=%d: code %s, want %s", v.unix, got, v.code)
		}
	}
}

// TestCheckTOTPRFC6238 checks our 6-digit wrapper on the same vectors: a
// 6-digit code is the same truncated value mod 10^6, i.e. the last six
// digits, and the step matched is T/30.
func TestCheckTOTPRFC6238(t *testing.T) {
	t.Parallel()
	s, c := newService(t)
	for _, v := range rfcVectors {
		c.Set(time.Unix(v.unix, 0))
		step, ok := s.CheckTOTP(rfcSecret, v.code[2:])
		if !ok || step != v.unix/30 {
			t.Errorf("T=%d code %s: step %d ok %v, want step %d", v.unix, v.code[2:], step, ok, v.unix/30)
		}
		if _, ok := s.CheckTOTP(rfcSecret, v.code); ok {
			t.Errorf("T=%d: the 8-digit code was accepted", v.unix)
		}
	}
}

// TestCheckTOTPSkew: one step either side is accepted and reported as that
// step; two steps are refused, as is a wrong code.
func TestCheckTOTPSkew(t *testing.T) {
	t.Parallel()
	s, c := newService(t)
	now := time.Unix(1_700_000_000, 0)
	c.Set(now)
	base := now.Unix() / 30
	for _, d := range []int64{-2, -1, 0, 1, 2} {
		code := codeAt(t, rfcSecret, base+d)
		step, ok := s.CheckTOTP(rfcSecret, code)
		wantOK := d >= -1 && d <= 1
		if ok != wantOK {
			t.Errorf("step %+d: ok = %v, want %v", d, ok, wantOK)
		}
		if ok && step != base+d {
			t.Errorf("step %+d: matched step %d, want %d", d, step, base+d)
		}
	}
	code := codeAt(t, rfcSecret, base)
	if _, ok := s.CheckTOTP(rfcSecret, code[:3]+" "+code[3:]); !ok {
		t.Error("a code typed with a space was refused")
	}
	wrong := []byte(code)
	wrong[5] = '0' + (wrong[5]-'0'+1)%10
	for _, bad := range []string{string(wrong), "", "12345", "1234567", "abcdef"} {
		if _, ok := s.CheckTOTP(rfcSecret, bad); ok {
			t.Errorf("code %q was accepted", bad)
		}
	}
	if _, ok := s.CheckTOTP("not base32!", code); ok {
		t.Error("a code was accepted for an unreadable secret")
	}
}

// codeAt is the 6-digit code of step, computed with the library directly.
func codeAt(t *testing.T, secret string, step int64) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, time.Unix(step*30, 0), totp.ValidateOpts{
		Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// TestNewTOTP: a 160-bit base32 secret, an otpauth URI every app reads
// (issuer, SHA1, 6 digits, 30 s), the secret working with CheckTOTP, and a
// QR code in SVG whose modules are exactly the encoder's for that URI.
func TestNewTOTP(t *testing.T) {
	t.Parallel()
	s, c := newService(t)
	secret, uri, svg, err := s.NewTOTP("alice")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil || len(raw) != 20 {
		t.Fatalf("secret %q: %d bytes, %v; want 20 bytes of base32", secret, len(raw), err)
	}
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || !strings.Contains(u.Path, "alice") ||
		q.Get("secret") != secret || q.Get("issuer") != "Example Login" ||
		(q.Get("algorithm") != "" && q.Get("algorithm") != "SHA1") ||
		(q.Get("digits") != "" && q.Get("digits") != "6") || (q.Get("period") != "" && q.Get("period") != "30") {
		t.Errorf("otpauth URI %s", uri)
	}
	step, ok := s.CheckTOTP(secret, codeAt(t, secret, c.Now().Unix()/30))
	if !ok || step != c.Now().Unix()/30 {
		t.Errorf("the new secret's current code: step %d ok %v", step, ok)
	}
	other, _, _, err := s.NewTOTP("alice")
	if err != nil || other == secret {
		t.Errorf("two enrolments gave the same secret (%v)", err)
	}

	if err := xml.Unmarshal(svg, new(any)); err != nil {
		t.Fatalf("the QR code is not well-formed XML: %v", err)
	}
	for _, bad := range []string{"<script", "href", "on", "data:", "http://", "https://"} {
		rest := strings.ReplaceAll(string(svg), `xmlns="http://www.w3.org/2000/svg"`, "")
		if bad == "on" {
			if strings.Contains(rest, " on") {
				t.Errorf("the SVG has an event attribute: %s", svg)
			}
			continue
		}
		if strings.Contains(rest, bad) {
			t.Errorf("the SVG contains %q", bad)
		}
	}
	qr, err := qrcode.New(uri, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	want := qr.Bitmap()
	got := svgModules(t, svg, len(want))
	for y := range want {
		for x := range want[y] {
			if want[y][x] != got[y][x] {
				t.Fatalf("module (%d,%d) is %v in the SVG, %v in the QR code", x, y, got[y][x], want[y][x])
			}
		}
	}
}

// svgModules reads the dark modules back from the SVG's path.
func svgModules(t *testing.T, svg []byte, n int) [][]bool {
	t.Helper()
	var doc struct {
		ViewBox string `xml:"viewBox,attr"`
		Paths   []struct {
			D string `xml:"d,attr"`
		} `xml:"path"`
	}
	if err := xml.Unmarshal(svg, &doc); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("0 0 %d %d", n, n); doc.ViewBox != want {
		t.Fatalf("viewBox %q, want %q", doc.ViewBox, want)
	}
	m := make([][]bool, n)
	for i := range m {
		m[i] = make([]bool, n)
	}
	if len(doc.Paths) != 1 {
		t.Fatalf("%d paths, want 1", len(doc.Paths))
	}
	for _, sq := range strings.Split(doc.Paths[0].D, "z") {
		if sq == "" {
			continue
		}
		var x, y int
		if _, err := fmt.Sscanf(sq, "M%d %dh1v1h-1", &x, &y); err != nil {
			t.Fatalf("path segment %q: %v", sq, err)
		}
		m[y][x] = true
	}
	return m
}

// TestSealSecret: a sealed TOTP secret opens for its user only, and not
// under another key; the sealed form does not contain the secret.
func TestSealSecret(t *testing.T) {
	t.Parallel()
	s, _ := newService(t)
	other, _ := newServiceKey(t, keyB)
	sealed, err := s.SealSecret("user-1", rfcSecret)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, rfcSecret) {
		t.Fatal("the sealed secret contains the secret")
	}
	again, _ := s.SealSecret("user-1", rfcSecret)
	if again == sealed {
		t.Error("sealing twice gave the same text (no random nonce)")
	}
	got, err := s.OpenSecret("user-1", sealed)
	if err != nil || got != rfcSecret {
		t.Fatalf("OpenSecret = %q, %v", got, err)
	}
	if _, err := s.OpenSecret("user-2", sealed); !errors.Is(err, mfa.ErrInvalidState) {
		t.Errorf("another user's secret opened: %v", err)
	}
	if _, err := other.OpenSecret("user-1", sealed); !errors.Is(err, mfa.ErrInvalidState) {
		t.Errorf("a secret opened under another key: %v", err)
	}
}
