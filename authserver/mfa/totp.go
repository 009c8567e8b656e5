package mfa

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
	qrcode "github.com/skip2/go-qrcode"
)

// The TOTP parameters (RFC 6238): what every authenticator app reads from
// an otpauth URI, and what the defaults of those apps are, so that an app
// that ignores the URI's parameters still agrees.
const (
	TOTPPeriod = 30 * time.Second
	TOTPDigits = 6
	// TOTPSkew is how many steps before or after now a code may be from:
	// one step absorbs a phone clock a little off and a code typed as it
	// rolls over.
	TOTPSkew = 1
)

// totpSecretSize is the secret's length in bytes: 160 bits, RFC 4226's
// recommended HMAC-SHA-1 key length.
const totpSecretSize = 20

// NewTOTP makes a new authenticator secret for the account (shown in the
// app, e.g. the username; the app lists it under Config.RPName): the
// secret in base32 (for typing in), the otpauth:// URI, and the URI as a
// QR code in SVG, rendered here (no external service, no data: URI: the
// page inlines it, which html/template allows as template.HTML since this
// package writes every byte of it). The caller stores the secret sealed
// (SealSecret), unconfirmed until CheckTOTP accepts a first code.
func (s *Service) NewTOTP(accountName string) (secret, otpauthURI string, qrSVG []byte, err error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      s.rpName,
		AccountName: accountName,
		Period:      uint(TOTPPeriod / time.Second),
		SecretSize:  totpSecretSize,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", "", nil, fmt.Errorf("mfa: making a TOTP secret: %w", err)
	}
	qr, err := qrcode.New(key.URL(), qrcode.Medium)
	if err != nil {
		return "", "", nil, fmt.Errorf("mfa: rendering the TOTP QR code: %w", err)
	}
	return key.Secret(), key.URL(), qrSVGOf(qr.Bitmap()), nil
}

// qrSVGOf writes a QR bit matrix (quiet zone included) as SVG: one path of
// unit squares, scaled by the viewBox so that it stays sharp at any size.
// The page sets the displayed size with CSS (class "totp-qr").
func qrSVGOf(bits [][]bool) []byte {
	n := len(bits)
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="totp-qr" viewBox="0 0 %d %d" width="%d" height="%d" shape-rendering="crispEdges" role="img" aria-label="QR code of the authenticator key">`, n, n, n*4, n*4)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y, row := range bits {
		for x, dark := range row {
			if dark {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x, y)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return b.Bytes()
}

// SealSecret seals a TOTP secret for the store (storage.TOTP.Secret), bound
// to the user, so that neither a database dump nor a row copied to another
// user yields a working authenticator.
func (s *Service) SealSecret(userID, secret string) (string, error) {
	return seal(s.secretKey, "totp-secret", userID, time.Time{}, []byte(secret))
}

// OpenSecret undoes SealSecret; ErrInvalidState when sealed is not the
// user's secret under this key (e.g. Config.Key was changed).
func (s *Service) OpenSecret(userID, sealed string) (string, error) {
	b, err := open(s.secretKey, "totp-secret", userID, s.now(), sealed)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// CheckTOTP reports whether code is the secret's code for the current time
// step or one step either side (TOTPSkew), and if so which step matched.
// The caller then spends the step with storage UseTOTPStep, which refuses
// a step at or below the last one accepted: so a code works once, and an
// older code never after a newer one. Spaces in code are ignored; the
// comparison is constant-time.
func (s *Service) CheckTOTP(secret, code string) (step int64, ok bool) {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != TOTPDigits {
		return 0, false
	}
	now := s.now().Unix() / int64(TOTPPeriod/time.Second)
	matched := int64(-1)
	// Every candidate is computed and compared, so the time taken does not
	// tell which step (if any) matched.
	for d := int64(-TOTPSkew); d <= TOTPSkew; d++ {
		st := now + d
		if st < 0 {
			continue
		}
		want, err := totpCode(secret, st)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && matched < 0 {
			matched = st
		}
	}
	if matched < 0 {
		return 0, false
	}
	return matched, true
}

// totpCode is the 6-digit SHA-1 code of secret (base32) for time step
// step: RFC 6238 is HOTP (RFC 4226) with the step as counter.
func totpCode(secret string, step int64) (string, error) {
	return hotp.GenerateCodeCustom(secret, uint64(step), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
}
