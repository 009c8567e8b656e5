package mfa

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/authserver-dev/authserver/authserver/storage"
)

// ErrRefused is the error of a WebAuthn response that does not prove what
// the ceremony asked: a wrong origin or relying party id, no user
// verification, a bad signature, an unknown or another user's credential,
// a sign count that went backwards (a cloned authenticator). The wrapped text says which, for the log; the user
// is told only that the passkey was not accepted.
var ErrRefused = errors.New("mfa: the passkey was not accepted")

// User is who a registration or second-step ceremony is for.
type User struct {
	// ID is the user's id (the OIDC sub); its bytes are the WebAuthn user
	// handle (at most 64 bytes), which a discoverable credential returns
	// at sign-in to name its user.
	ID string
	// Name is the account name the authenticator shows (the username).
	Name string
	// DisplayName is the person's name it shows beside; Name when empty.
	DisplayName string
}

// Assertion is what a passkey sign-in proved.
type Assertion struct {
	// Credential is the passkey's record after the sign-in (new sign count
	// and backup state): store it with UpdateWebAuthnCredential(
	// Credential.UserID, Credential.ID, Credential.Credential, now). Its
	// UserID is the user who signed in (for a discoverable sign-in, the
	// only statement of who that is). Label and times are the caller's.
	Credential storage.WebAuthnCredential
	// UserVerified: the authenticator verified the user (PIN, biometrics).
	// Always true on success: every ceremony here requires it.
	UserVerified bool
	// BackupEligible: the passkey may be synced between devices (a synced
	// passkey, amr swk); false for a device-bound one (amr hwk).
	BackupEligible bool
	// BackupState: the passkey is currently backed up or synced.
	BackupState bool
}

// Factor is the factor the assertion counts as (for AMRFor).
func (a Assertion) Factor() Factor {
	if a.BackupEligible {
		return FactorSyncedPasskey
	}
	return FactorHardwarePasskey
}

// The purposes a ceremony state is sealed for: a state made for one
// ceremony finishes no other.
const (
	purposeRegister     = "webauthn-register"
	purposeLogin        = "webauthn-login"
	purposeDiscoverable = "webauthn-discoverable"
)

// BeginRegistration starts enrolling a passkey for user: optionsJSON is
// the argument of navigator.credentials.create ({"publicKey": {...}} with
// base64url binary fields; webauthn.js converts them), state the sealed
// ceremony to give back to FinishRegistration within StateLifetime. The
// credential is discoverable (a resident key, so it signs in without a
// username) with user verification required; existing are the user's
// passkeys, excluded so that one authenticator is not enrolled twice.
func (s *Service) BeginRegistration(user User, existing []storage.WebAuthnCredential) (optionsJSON []byte, state string, err error) {
	wu, err := s.waUser(user, existing)
	if err != nil {
		return nil, "", err
	}
	creation, session, err := s.wa.BeginRegistration(wu,
		webauthn.WithExclusions(webauthn.Credentials(wu.creds).CredentialDescriptors()),
		webauthn.WithExtensions(webauthn.WithExtensionCredProps()),
	)
	if err != nil {
		return nil, "", fmt.Errorf("mfa: starting a passkey enrolment: %w", err)
	}
	return s.begin(purposeRegister, user.ID, creation, session)
}

// FinishRegistration checks the authenticator's response (the JSON that
// webauthn.js puts in the form) to the ceremony in state, for the same
// user, and returns the new passkey's record (ID, UserID, Credential; the
// caller sets Label and CreatedAt and stores it with
// CreateWebAuthnCredential). ErrInvalidState for a bad, expired or
// already used state, ErrRefused for a response that does not verify. ctx
// bounds the replay store's write (Config.Replay).
func (s *Service) FinishRegistration(ctx context.Context, user User, state string, responseJSON []byte) (storage.WebAuthnCredential, error) {
	session, spend, err := s.openSession(purposeRegister, user.ID, state)
	if err != nil {
		return storage.WebAuthnCredential{}, err
	}
	wu, err := s.waUser(user, nil)
	if err != nil {
		return storage.WebAuthnCredential{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(responseJSON)
	if err != nil {
		return storage.WebAuthnCredential{}, refused(err)
	}
	cred, err := s.wa.CreateCredential(wu, session, parsed)
	if err != nil {
		return storage.WebAuthnCredential{}, refused(err)
	}
	if err := spend(ctx); err != nil {
		return storage.WebAuthnCredential{}, err
	}
	return record(user.ID, cred)
}

// BeginDiscoverableLogin starts a sign-in with a passkey alone (no
// username: the authenticator offers the passkeys it holds for this site,
// in a dialog or, with mediation "conditional", in the username field's
// autofill). optionsJSON is the argument of navigator.credentials.get.
func (s *Service) BeginDiscoverableLogin() (optionsJSON []byte, state string, err error) {
	assertion, session, err := s.wa.BeginDiscoverableLogin()
	if err != nil {
		return nil, "", fmt.Errorf("mfa: starting a passkey sign-in: %w", err)
	}
	return s.begin(purposeDiscoverable, "", assertion, session)
}

// FinishDiscoverableLogin checks the response to a BeginDiscoverableLogin
// ceremony. lookup finds the passkey by credential id (storage
// GetWebAuthnCredential); its owner must be the user the authenticator
// names (the user handle). The caller then checks that the user
// (Assertion.Credential.UserID) exists and may sign in, and stores the
// updated record. A lookup error is wrapped (errors.Is finds
// storage.ErrNotFound: a passkey removed from the account).
func (s *Service) FinishDiscoverableLogin(ctx context.Context, state string, responseJSON []byte, lookup func(credentialID string) (storage.WebAuthnCredential, error)) (Assertion, error) {
	session, spend, err := s.openSession(purposeDiscoverable, "", state)
	if err != nil {
		return Assertion{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(responseJSON)
	if err != nil {
		return Assertion{}, refused(err)
	}
	var lookupErr error
	var owner string
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		rec, err := lookup(base64.RawURLEncoding.EncodeToString(rawID))
		if err != nil {
			lookupErr = err
			return nil, err
		}
		if !bytes.Equal([]byte(rec.UserID), userHandle) {
			lookupErr = errors.New("the passkey's user handle is not its owner's id")
			return nil, lookupErr
		}
		owner = rec.UserID
		return s.waUser(User{ID: rec.UserID, Name: rec.UserID}, []storage.WebAuthnCredential{rec})
	}
	_, cred, err := s.wa.ValidatePasskeyLogin(handler, session, parsed)
	if lookupErr != nil {
		return Assertion{}, fmt.Errorf("%w: %w", ErrRefused, lookupErr)
	}
	if err != nil {
		return Assertion{}, refused(err)
	}
	return s.assertion(ctx, spend, owner, cred, parsed)
}

// BeginLogin starts a passkey sign-in for a known user (the second step
// after a password): the authenticator may use only creds, the user's
// passkeys. optionsJSON is the argument of navigator.credentials.get.
func (s *Service) BeginLogin(user User, creds []storage.WebAuthnCredential) (optionsJSON []byte, state string, err error) {
	if len(creds) == 0 {
		return nil, "", errors.New("mfa: the user has no passkey to sign in with")
	}
	wu, err := s.waUser(user, creds)
	if err != nil {
		return nil, "", err
	}
	assertion, session, err := s.wa.BeginLogin(wu)
	if err != nil {
		return nil, "", fmt.Errorf("mfa: starting a passkey sign-in: %w", err)
	}
	return s.begin(purposeLogin, user.ID, assertion, session)
}

// FinishLogin checks the response to a BeginLogin ceremony for the same
// user; creds are the user's passkeys now (one removed since is refused).
func (s *Service) FinishLogin(ctx context.Context, user User, creds []storage.WebAuthnCredential, state string, responseJSON []byte) (Assertion, error) {
	session, spend, err := s.openSession(purposeLogin, user.ID, state)
	if err != nil {
		return Assertion{}, err
	}
	wu, err := s.waUser(user, creds)
	if err != nil {
		return Assertion{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(responseJSON)
	if err != nil {
		return Assertion{}, refused(err)
	}
	cred, err := s.wa.ValidateLogin(wu, session, parsed)
	if err != nil {
		return Assertion{}, refused(err)
	}
	return s.assertion(ctx, spend, user.ID, cred, parsed)
}

// assertion checks what the library leaves to the relying party (a sign
// count that did not increase: two copies of the key exist; a ceremony
// finished before), and says what the sign-in proved.
func (s *Service) assertion(ctx context.Context, spend func(context.Context) error, userID string, cred *webauthn.Credential, parsed *protocol.ParsedCredentialAssertionData) (Assertion, error) {
	if cred.Authenticator.CloneWarning {
		return Assertion{}, fmt.Errorf("%w: the sign count did not increase (stored %d, got %d): the authenticator may be cloned", ErrRefused, cred.Authenticator.SignCount, parsed.Response.AuthenticatorData.Counter)
	}
	flags := parsed.Response.AuthenticatorData.Flags
	if !flags.HasUserVerified() {
		return Assertion{}, fmt.Errorf("%w: the authenticator did not verify the user", ErrRefused)
	}
	if err := spend(ctx); err != nil {
		return Assertion{}, err
	}
	rec, err := record(userID, cred)
	if err != nil {
		return Assertion{}, err
	}
	return Assertion{
		Credential:     rec,
		UserVerified:   true,
		BackupEligible: flags.HasBackupEligible(),
		BackupState:    flags.HasBackupState(),
	}, nil
}

// begin seals session for purpose and user, and marshals the options.
func (s *Service) begin(purpose, userID string, options any, session *webauthn.SessionData) ([]byte, string, error) {
	opts, err := json.Marshal(options)
	if err != nil {
		return nil, "", fmt.Errorf("mfa: encoding the WebAuthn options: %w", err)
	}
	raw, err := json.Marshal(session)
	if err != nil {
		return nil, "", fmt.Errorf("mfa: encoding the WebAuthn session: %w", err)
	}
	state, err := seal(s.stateKey, purpose, userID, s.now().Add(StateLifetime), raw)
	if err != nil {
		return nil, "", err
	}
	return opts, state, nil
}

// openSession undoes begin. spend, called once the response verified,
// records the state as used (until it would expire anyway), and fails with
// ErrInvalidState if it was used before: each challenge answers once
// (WebAuthn §13.4.3), though the state carries it and no server keeps it.
func (s *Service) openSession(purpose, userID, state string) (webauthn.SessionData, func(context.Context) error, error) {
	raw, expires, err := openExpiring(s.stateKey, purpose, userID, s.now(), state)
	if err != nil {
		return webauthn.SessionData{}, nil, err
	}
	var session webauthn.SessionData
	if err := json.Unmarshal(raw, &session); err != nil {
		return webauthn.SessionData{}, nil, fmt.Errorf("%w (unreadable)", ErrInvalidState)
	}
	spend := func(ctx context.Context) error {
		seen, err := s.replay.SeenOnce(ctx, storage.Hash("mfa-state:"+state), expires, s.now())
		if err != nil {
			return fmt.Errorf("mfa: recording the passkey ceremony: %w", err)
		}
		if seen {
			return fmt.Errorf("%w (already used)", ErrInvalidState)
		}
		return nil
	}
	return session, spend, nil
}

// waUser is user as the WebAuthn library sees it, with the passkeys recs.
func (s *Service) waUser(user User, recs []storage.WebAuthnCredential) (*waUser, error) {
	if user.ID == "" || len(user.ID) > 64 {
		return nil, fmt.Errorf("mfa: user id %q cannot be a WebAuthn user handle (1 to 64 bytes)", user.ID)
	}
	wu := &waUser{u: user}
	for _, r := range recs {
		var c webauthn.Credential
		if err := json.Unmarshal(r.Credential, &c); err != nil {
			return nil, fmt.Errorf("mfa: passkey %s of user %s is unreadable: %w", r.ID, r.UserID, err)
		}
		c.Authenticator.CloneWarning = false
		wu.creds = append(wu.creds, c)
	}
	return wu, nil
}

// record is the storage form of cred.
func record(userID string, cred *webauthn.Credential) (storage.WebAuthnCredential, error) {
	cred.Authenticator.CloneWarning = false
	b, err := json.Marshal(cred)
	if err != nil {
		return storage.WebAuthnCredential{}, fmt.Errorf("mfa: encoding the passkey: %w", err)
	}
	return storage.WebAuthnCredential{
		ID:         base64.RawURLEncoding.EncodeToString(cred.ID),
		UserID:     userID,
		Credential: b,
	}, nil
}

// refused wraps a library error in ErrRefused with its details (the
// developer information says which check failed; no secret is in it).
func refused(err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return fmt.Errorf("%w: %s: %s %s", ErrRefused, pe.Type, pe.Details, pe.DevInfo)
	}
	return fmt.Errorf("%w: %w", ErrRefused, err)
}

// waUser adapts User to webauthn.User.
type waUser struct {
	u     User
	creds []webauthn.Credential
}

func (w *waUser) WebAuthnID() []byte   { return []byte(w.u.ID) }
func (w *waUser) WebAuthnName() string { return w.u.Name }
func (w *waUser) WebAuthnDisplayName() string {
	if w.u.DisplayName != "" {
		return w.u.DisplayName
	}
	return w.u.Name
}
func (w *waUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }
