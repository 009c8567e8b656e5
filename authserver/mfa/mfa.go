// Package mfa is the second-factor toolkit of the sign-in: WebAuthn
// ceremonies (passkeys), TOTP (RFC 6238) with a server-rendered QR code,
// recovery codes, and the acr/amr vocabulary that tells relying parties what
// a sign-in proved.
//
// It keeps no state of its own: a ceremony's session data is sealed
// (AES-256-GCM under a key derived from Config.Key) into the opaque state
// string that the caller puts in a cookie or hidden form field, so any
// replica with the same key finishes what another began; only the fact
// that a state was used goes to the shared replay table
// (storage.ReplayStore), so that it is used once. The records it makes
// (storage.WebAuthnCredential, sealed TOTP secrets, recovery code hashes)
// are stored by the caller through storage.MFAStore: this package uses
// storage for those types and the replay interface only.
package mfa

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/authserver-dev/authserver/authserver/storage"
)

// Config is what the service needs; RPID, RPName, Origins and Key are
// required.
type Config struct {
	// RPID is the WebAuthn relying party id: the issuer's host or a
	// registrable suffix of it (e.g. "login.example.com" or "example.com").
	// Passkeys are bound to it: changing it orphans every enrolled passkey.
	RPID string
	// RPName is shown by authenticators when enrolling a passkey, and is the
	// issuer of TOTP URIs (what the authenticator app lists).
	RPName string
	// Origins are the exact origins (scheme://host[:port]) pages run at;
	// a WebAuthn response collected elsewhere is refused.
	Origins []string
	// Key is at least 32 bytes of secret shared by every replica. Keys for
	// sealing ceremony state, sealing TOTP secrets and hashing recovery
	// codes are derived from it, one per purpose (HKDF-SHA-256). Changing
	// it makes stored TOTP secrets unreadable and recovery codes unusable.
	Key []byte
	// Replay records each finished ceremony (storage.ReplayStore: the
	// same table as DPoP proofs and client assertions), so that a state and
	// response captured once cannot be played again while the state lives:
	// a passkey whose sign count stays zero (most synced ones) would not
	// stop that itself. Required.
	Replay storage.ReplayStore
	// Now is the clock (time.Now when nil); tests move it.
	Now func() time.Time
}

// Service is the second-factor toolkit. It is safe for concurrent use.
type Service struct {
	wa     *webauthn.WebAuthn
	rpName string
	replay storage.ReplayStore
	now    func() time.Time

	stateKey    []byte // AES-256-GCM key of ceremony state
	secretKey   []byte // AES-256-GCM key of TOTP secrets at rest
	recoveryKey []byte // HMAC-SHA-256 key of recovery code hashes
}

// MinKeyLen is the least length of Config.Key.
const MinKeyLen = 32

// New checks cfg and makes the service.
func New(cfg Config) (*Service, error) {
	if len(cfg.Key) < MinKeyLen {
		return nil, fmt.Errorf("mfa: the key is %d bytes; it must be at least %d random bytes, the same on every replica", len(cfg.Key), MinKeyLen)
	}
	if cfg.RPID == "" {
		return nil, errors.New("mfa: no relying party id; set webauthn.rp_id (default: the issuer's host)")
	}
	if cfg.RPName == "" {
		return nil, errors.New("mfa: no relying party name; set webauthn.rp_name")
	}
	if len(cfg.Origins) == 0 {
		return nil, errors.New("mfa: no origins; set webauthn.origins (default: the issuer's origin)")
	}
	for _, o := range cfg.Origins {
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("mfa: origin %q is not scheme://host[:port]", o)
		}
	}
	if cfg.Replay == nil {
		return nil, errors.New("mfa: no replay store; pass the store (storage.ReplayStore) as Config.Replay")
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:                  cfg.RPID,
		RPDisplayName:         cfg.RPName,
		RPOrigins:             append([]string(nil), cfg.Origins...),
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			RequireResidentKey: protocol.ResidentKeyRequired(),
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			UserVerification:   protocol.VerificationRequired,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("mfa: webauthn settings: %w", err)
	}
	s := &Service{wa: wa, rpName: cfg.RPName, replay: cfg.Replay, now: now}
	for _, k := range []struct {
		dst  *[]byte
		info string
	}{
		{&s.stateKey, "authserver mfa ceremony state v1"},
		{&s.secretKey, "authserver mfa totp secret v1"},
		{&s.recoveryKey, "authserver mfa recovery code v1"},
	} {
		if *k.dst, err = hkdf.Key(sha256.New, cfg.Key, nil, k.info, 32); err != nil {
			return nil, fmt.Errorf("mfa: deriving keys: %w", err)
		}
	}
	return s, nil
}
