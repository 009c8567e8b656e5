package authserver

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/url"
	"time"
)

// This file seals the proof of a sign-in's first step into the second-step
// form, so that no session (and no server state) exists before every step
// is done, and any replica can finish what another began.

// pendingTTL is how long a password (or a session's step-up) waits for its
// second step.
const pendingTTL = 5 * time.Minute

// pendingStep is what the first step proved, sealed in the second-step form.
type pendingStep struct {
	// UserID is who the first step proved; AMR what it proved (["pwd"]
	// after a password, the session's amr for a step-up).
	UserID string   `json:"u"`
	AMR    []string `json:"a"`
	// Session is the IDHash of the session a step-up raises, "" after a
	// password: the step-up completes only while the browser still
	// presents that session.
	Session string `json:"s,omitempty"`
	// Want is the acr the target asks for: the page offers the methods
	// that reach it first.
	Want string `json:"w,omitempty"`
	// Exp (Unix seconds) is when the step expires; a refused attempt
	// shows the page again with the same expiry, so failures never
	// lengthen it.
	Exp int64 `json:"e"`
}

// errPendingInvalid is a pending step that was tampered with, made for
// another form, browser or target, or has expired: the user signs in again.
var errPendingInvalid = errors.New("the pending sign-in step is invalid or has expired")

// sealPending encrypts p (AES-256-GCM under a key derived from MFAKey),
// bound as additional data to the form's CSRF token, itself bound to the
// browser's CSRF cookie and session (csrfToken), and to the target's
// parameters: a copied pending step is useless in another browser, and
// cannot be moved to another authorization request.
func (s *Server) sealPending(p pendingStep, csrf string, params url.Values) (string, error) {
	aead, err := s.pendingAEAD()
	if err != nil {
		return "", err
	}
	plain, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nil, nil, plain, pendingBinding(csrf, params))), nil
}

// openPending undoes sealPending for this form and checks the expiry.
func (s *Server) openPending(sealed, csrf string, params url.Values) (pendingStep, error) {
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || sealed == "" {
		return pendingStep{}, errPendingInvalid
	}
	aead, err := s.pendingAEAD()
	if err != nil {
		return pendingStep{}, err
	}
	plain, err := aead.Open(nil, nil, raw, pendingBinding(csrf, params))
	if err != nil {
		return pendingStep{}, errPendingInvalid
	}
	var p pendingStep
	if json.Unmarshal(plain, &p) != nil || p.UserID == "" || s.now().Unix() >= p.Exp {
		return pendingStep{}, errPendingInvalid
	}
	return p, nil
}

func (s *Server) pendingAEAD() (cipher.AEAD, error) {
	block, err := aes.NewCipher(s.pendingKey)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}

// pendingBinding is the additional data of a pending step: a version, the
// CSRF token and the target's parameters, length-prefixed so that no two
// pairs encode alike.
func pendingBinding(csrf string, params url.Values) []byte {
	ad := []byte("authserver pending v1")
	for _, part := range []string{csrf, params.Encode()} {
		ad = binary.BigEndian.AppendUint32(ad, uint32(len(part)))
		ad = append(ad, part...)
	}
	return ad
}
