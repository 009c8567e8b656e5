package authserver

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authserver-dev/authserver/authserver/mfa"
	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/templates"
)

// This file is the "Sign-in methods" section of the account page: the
// user's passkeys (add with a WebAuthn registration, rename, remove), one
// TOTP authenticator app (set up, confirm with a first code, remove) and
// ten recovery codes (made and shown once, stored as hashes only).
//
// The rules a change follows:
//   - It needs a recent sign-in: the session's auth_time, or a password
//     confirmed on the page (the re-authentication cookie), within
//     accountRecentAuth. A stolen session cookie alone then cannot add an
//     attacker's passkey or remove the user's. Renaming a passkey changes
//     nothing about security and needs none.
//   - Only the signed-in user's own factors can be named: every store call
//     is keyed by the session's user, and another user's passkey id is
//     answered like one that does not exist.
//   - Enrolling the first second factor, or removing the last one, ends the
//     user's other sessions (signed in under the old rules) and is audited,
//     like every enrolment and removal (by=account).
//   - Recovery codes are the back-up of a passkey or app, not a factor of
//     their own: they can be made only when one exists, and go with the
//     last one, so that sign-in never asks a user for a recovery code as a
//     standing second step.

const (
	// accountRecentAuth is how long after signing in (or confirming the
	// password on the page) sign-in methods may be changed.
	accountRecentAuth = 10 * time.Minute
	// accountReauthCookie carries the proof of a password confirmed on the
	// page: its time and an HMAC bound to the session and the browser
	// (accountReauthValue). It is not a new sign-in: the session, its
	// auth_time and amr, and the applications signed in with it stay.
	accountReauthCookie = "authserver_reauth"
	// csrfAccountReauth is the purpose of the cookie's HMAC, so that it
	// can never pass for a form token, nor a form token for it.
	csrfAccountReauth = "account_reauth"
	// accountMaxLabel is the longest passkey label, in characters.
	accountMaxLabel = 64
	// accountDefaultLabel names a passkey added without a label: the
	// ceremony has already made it on the authenticator by then, so a
	// missing name is not worth refusing it.
	accountDefaultLabel = "Passkey"
	// accountMaxWebAuthnResponse bounds the authenticator's answer (JSON);
	// an attestation with a certificate chain is a few kilobytes.
	accountMaxWebAuthnResponse = 32 << 10
)

// The section's form fields (see the account page's in account.go).
const (
	accountPasskey          = "passkey" // a passkey's credential id
	accountLabel            = "label"
	accountTOTPCode         = "code"
	opReauthenticate        = "reauthenticate"
	opAddPasskey            = "add_passkey"
	opRenamePasskey         = "rename_passkey"
	opRemovePasskey         = "remove_passkey"
	opSetupTOTP             = "setup_totp"
	opConfirmTOTP           = "confirm_totp"
	opRemoveTOTP            = "remove_totp"
	opGenerateRecoveryCodes = "generate_recovery_codes"
)

// accountShown is what one answer shows once and no later page can show
// again: a new authenticator's secret and QR code, new recovery codes.
type accountShown struct {
	totpSecret    string
	totpQR        []byte
	recoveryCodes []string
}

// accountMethods is the section's data: the user's factors as the store
// holds them now, and, while changes are allowed, a passkey registration
// ready for webauthn.js.
func (s *Server) accountMethods(ctx context.Context, r *http.Request, sess *storage.Session, user storage.User, shown accountShown) (templates.AccountMethods, error) {
	m := templates.AccountMethods{Recent: s.accountRecent(r, sess), Required: user.RequireMFA, PasskeysUnavailable: !s.passkeys}
	creds, err := s.store.ListWebAuthnCredentials(ctx, user.ID)
	if err != nil {
		return m, err
	}
	for _, c := range creds {
		m.Passkeys = append(m.Passkeys, templates.AccountPasskey{ID: c.ID, Label: c.Label, Created: c.CreatedAt, LastUsed: c.LastUsedAt})
	}
	switch t, err := s.store.GetTOTP(ctx, user.ID); {
	case err == nil && !t.ConfirmedAt.IsZero():
		m.TOTPConfirmed, m.TOTPSince = true, t.ConfirmedAt
	case err == nil:
		m.TOTPPending, m.TOTPSince = true, t.CreatedAt
	case !errors.Is(err, storage.ErrNotFound):
		return m, err
	}
	if m.RecoveryCodesLeft, err = s.store.CountRecoveryCodes(ctx, user.ID); err != nil {
		return m, err
	}
	if m.Recent && s.passkeys {
		opts, state, err := s.mfa.BeginRegistration(mfaUser(user), creds)
		if err != nil {
			return m, err
		}
		m.PasskeyOptions, m.PasskeyState = string(opts), state
	}
	if m.TOTPPending && shown.totpSecret != "" {
		// The package wrote every byte of the SVG (mfa.NewTOTP).
		m.TOTPSecret, m.TOTPQR = shown.totpSecret, template.HTML(shown.totpQR)
	}
	m.NewRecoveryCodes = shown.recoveryCodes
	return m, nil
}

// accountSecondFactors counts the user's second factors that count: the
// passkeys and a confirmed authenticator app (recovery codes are their
// back-up, and an unconfirmed app nothing yet).
func (s *Server) accountSecondFactors(ctx context.Context, userID string) (int, error) {
	f, err := s.userFactors(ctx, userID)
	if err != nil {
		return 0, err
	}
	n := len(f.passkeys)
	if f.totp != nil { // confirmed only
		n++
	}
	return n, nil
}

// accountRecent reports whether the session may change sign-in methods:
// it signed in, or its password was confirmed on the page, within
// accountRecentAuth.
func (s *Server) accountRecent(r *http.Request, sess *storage.Session) bool {
	if !sess.AuthTime.Before(s.now().Add(-accountRecentAuth)) {
		return true
	}
	ck, err := r.Cookie(s.cookieName(accountReauthCookie))
	if err != nil {
		return false
	}
	iat, _, ok := strings.Cut(ck.Value, ".")
	sec, err := strconv.ParseInt(iat, 10, 64)
	if !ok || err != nil {
		return false
	}
	issued, now := time.Unix(sec, 0), s.now()
	if now.Sub(issued) > accountRecentAuth || issued.After(now.Add(csrfSkew)) {
		return false
	}
	want, ok := s.accountReauthValue(r, sess, iat)
	return ok && want == ck.Value
}

// accountReauthValue is the re-authentication cookie of the session in
// this browser issued at iat: an HMAC (the CSRF tokens' key and function,
// with a purpose of its own) of the user, the session and the browser's
// CSRF cookie, so that it is worth nothing in another session or browser.
// ok is false without a CSRF cookie.
func (s *Server) accountReauthValue(r *http.Request, sess *storage.Session, iat string) (string, bool) {
	ck, err := r.Cookie(s.cookieName(csrfCookie))
	if err != nil || ck.Value == "" {
		return "", false
	}
	return iat + "." + s.csrfMAC(csrfAccountReauth, url.Values{"sub": {sess.UserID}}, ck.Value, sess.IDHash, iat), true
}

// accountRecentOrAsk lets a change through when the session is recent;
// otherwise it shows the page, which then asks for the password, with a
// 403, and reports false.
func (s *Server) accountRecentOrAsk(w http.ResponseWriter, r *http.Request, sess *storage.Session, user storage.User) bool {
	if s.accountRecent(r, sess) {
		return true
	}
	s.renderAccount(w, r, sess, user, "", "Confirm your password first: changing how you sign in needs a sign-in in the last 10 minutes.",
		http.StatusForbidden)
	return false
}

// accountReauthenticate checks the password again (through checkPassword:
// the sign-in's throttle, so that this form is no way around its back-off)
// and sets the re-authentication cookie.
func (s *Server) accountReauthenticate(w http.ResponseWriter, r *http.Request, sess *storage.Session, user storage.User, pw string) {
	refuse := func(status int, msg string) { s.renderAccount(w, r, sess, user, "", msg, status) }
	if pw == "" || checkParam("password", pw) != nil {
		refuse(http.StatusBadRequest, "Enter your password.")
		return
	}
	if !s.accountPasswordRight(w, r, user, pw, "account_reauth", "The password is wrong.", refuse) {
		return
	}
	value, ok := s.accountReauthValue(r, sess, strconv.FormatInt(s.now().Unix(), 10))
	if !ok { // checkCSRF passed, so the browser has the cookie
		refuse(http.StatusForbidden, "Your browser did not keep this page's cookie; allow cookies and try again.")
		return
	}
	http.SetCookie(w, s.cookie(accountReauthCookie, value, int(accountRecentAuth/time.Second)))
	s.accountDone(w, r, "reauthenticated")
}

// accountAddPasskey finishes the registration that the page began (its
// options and sealed state, made by accountMethods) with the
// authenticator's response, which webauthn.js put in the form, and stores
// the passkey under the label.
func (s *Server) accountAddPasskey(w http.ResponseWriter, r *http.Request, sess *storage.Session, user storage.User, response string) {
	if !s.accountRecentOrAsk(w, r, sess, user) {
		return
	}
	refuse := func(status int, msg string) { s.renderAccount(w, r, sess, user, "", msg, status) }
	if !s.passkeys {
		refuse(http.StatusConflict, "Passkeys cannot be added here: they need this server at a domain name, not an IP address.")
		return
	}
	label, problem := accountPasskeyLabel(r.PostForm.Get(accountLabel))
	if problem != "" {
		refuse(http.StatusBadRequest, problem)
		return
	}
	if label == "" {
		label = accountDefaultLabel
	}
	if response == "" {
		refuse(http.StatusBadRequest, "Your browser made no passkey: adding one needs JavaScript and a browser or device that supports passkeys.")
		return
	}
	ctx := r.Context()
	before, err := s.accountSecondFactors(ctx, user.ID)
	if err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	rec, err := s.mfa.FinishRegistration(ctx, mfaUser(user), r.PostForm.Get(fieldWebAuthnState), []byte(response))
	switch {
	case errors.Is(err, mfa.ErrInvalidState):
		refuse(http.StatusBadRequest, "Adding the passkey took too long, or the page was old. Try again.")
		return
	case errors.Is(err, mfa.ErrRefused):
		s.log.InfoContext(ctx, "passkey registration refused", slog.String("user_id", user.ID), slog.Any("err", err))
		refuse(http.StatusBadRequest, "The passkey was not accepted. Try again, or use another passkey.")
		return
	case err != nil:
		s.authorizeError(w, r, nil, err)
		return
	}
	rec.Label, rec.CreatedAt = label, s.now()
	err = s.store.CreateWebAuthnCredential(ctx, rec)
	if errors.Is(err, storage.ErrConflict) {
		refuse(http.StatusConflict, "This passkey is already registered.")
		return
	}
	if err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	s.auditMFA(ctx, observe.EventMFAEnrolled, user, "passkey", slog.String("passkey_id", rec.ID), slog.Bool("first", before == 0))
	s.accountFactorDone(w, r, sess, user, before == 0, "passkey_added")
}

// accountRenamePasskey sets the label of one of the user's passkeys.
func (s *Server) accountRenamePasskey(w http.ResponseWriter, r *http.Request, sess *storage.Session, user storage.User) {
	refuse := func(status int, msg string) { s.renderAccount(w, r, sess, user, "", msg, status) }
	label, problem := accountPasskeyLabel(r.PostForm.Get(accountLabel))
	switch {
	case problem != "":
		refuse(http.StatusBadRequest, problem)
		return
	case label == "":
		refuse(http.StatusBadRequest, "Give the passkey a name.")
		return
	}
	err := storage.ErrNotFound
	if id := r.PostForm.Get(accountPasskey); id != "" {
		err = s.store.RenameWebAuthnCredential(r.Context(), user.ID, id, label)
	}
	if errors.Is(err, storage.ErrNotFound) {
		refuse(http.StatusNotFound, accountNoSuchPasskey)
		return
	}
	if err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	s.accountDone(w, r, "passkey_renamed")
}

// accountNoSuchPasskey answers a passkey id that is not one of the user's:
// another user's, one removed, or none at all, alike.
const accountNoSuchPasskey = "That passkey is not one of yours, or it has been removed."

// accountRemovePasskey removes one of the user's passkeys.
func (s *Server) accountRemovePasskey(w http.ResponseWriter, r *http.Request, sess *storage.Session, user storage.User) {
	if !s.accountRecentOrAsk(w, r, sess, user) {
		return
	}
	ctx := r.Context()
	id := r.PostForm.Get(accountPasskey)
	if !s.accountMayRemove(w, r, sess, user) {
		return
	}
	err := storage.ErrNotFound
	if id != "" {
		err = s.store.DeleteWebAuthnCredential(ctx, user.ID, id)
	}
	if errors.Is(err, storage.ErrNotFound) {
		s.renderAccount(w, r, sess, user, "", accountNoSuchPasskey, http.StatusNotFound)
		return
	}
	if err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	s.accountFactorRemoved(w, r, sess, user, "passkey_removed", "passkey", slog.String("passkey_id", id))
}

// accountMayRemove refuses (409) to remove the last second factor of a
// user who must have one (require_mfa). Whether the one named is the
// user's is the store's to say, after.
func (s *Server) accountMayRemove(w http.ResponseWriter, r *http.Request, sess *storage.Session, user storage.User) bool {
	if !user.RequireMFA {
		return true
	}
	n, err := s.accountSecondFactors(r.Context(), user.ID)
	if err != nil {
		s.authorizeError(w, r, nil, err)
		return false
	}
	if n <= 1 {
		s.renderAccount(w, r, sess, user, "", "Your account requires a second sign-in step: add another passkey or app before removing this one.",
			http.StatusConflict)
		return false
	}
	return true
}

// accountSetupTOTP makes a new authenticator secret, stores it sealed and
// unconfirmed (replacing an unconfirmed one), and shows it once, as a QR
// code and in base32. A confirmed app must be removed first: there is one.
func (s *Server) accountSetupTOTP(w http.ResponseWriter, r *http.Request, sess *storage.Session, user storage.User) {
	if !s.accountRecentOrAsk(w, r, sess, user) {
		return
	}
	ctx := r.Context()
	t, err := s.store.GetTOTP(ctx, user.ID)
	if err == nil && !t.ConfirmedAt.IsZero() {
		s.renderAccount(w, r, sess, user, "", "You have an authenticator app already: remove it first to set up another.", http.StatusConflict)
		return
	}
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.authorizeError(w, r, nil, err)
		return
	}
	secret, _, qr, err := s.mfa.NewTOTP(user.Username)
	if err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	sealed, err := s.mfa.SealSecret(user.ID, secret)
	if err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	if err := s.store.PutTOTP(ctx, storage.TOTP{UserID: user.ID, Secret: sealed, CreatedAt: s.now()}); err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	// Shown in this answer only (no redirect): the store keeps it sealed,
	// and no later page shows it again.
	s.renderAccountWith(w, r, sess, user, "Scan the QR code under “Authenticator app” with the app, then enter a code it shows to finish.", "",
		http.StatusOK, accountShown{totpSecret: secret, totpQR: qr})
}

// accountConfirmTOTP accepts the first code of a new authenticator app,
// which makes it count: CheckTOTP, then UseTOTPStep, which sets
// ConfirmedAt and spends the code's step, so that of two posts of one code
// one succeeds. A wrong code leaves it unconfirmed.
func (s *Server) accountConfirmTOTP(w http.ResponseWriter, r *http.Request, sess *storage.Session, user storage.User) {
	if !s.accountRecentOrAsk(w, r, sess, user) {
		return
	}
	refuse := func(status int, msg string) { s.renderAccount(w, r, sess, user, "", msg, status) }
	ctx := r.Context()
	t, err := s.store.GetTOTP(ctx, user.ID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		refuse(http.StatusNotFound, "There is no authenticator app to confirm: set one up first.")
		return
	case err != nil:
		s.authorizeError(w, r, nil, err)
		return
	case !t.ConfirmedAt.IsZero():
		refuse(http.StatusConflict, "Your authenticator app is set up already.")
		return
	}
	secret, err := s.mfa.OpenSecret(user.ID, t.Secret)
	if err != nil {
		s.log.WarnContext(ctx, "a pending TOTP secret cannot be opened", slog.String("user_id", user.ID), slog.Any("err", err))
		refuse(http.StatusConflict, "This set-up can no longer be finished: start again.")
		return
	}
	before, err := s.accountSecondFactors(ctx, user.ID)
	if err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	step, ok := s.mfa.CheckTOTP(secret, r.PostForm.Get(accountTOTPCode))
	if !ok {
		refuse(http.StatusBadRequest, "That code is not right. Enter the 6 digits the app shows now (and check that the phone's clock is right).")
		return
	}
	err = s.store.UseTOTPStep(ctx, user.ID, step, s.now())
	switch {
	case errors.Is(err, storage.ErrAlreadyUsed):
		refuse(http.StatusBadRequest, "That code has been used already: wait for the app to show the next one.")
		return
	case errors.Is(err, storage.ErrNotFound):
		refuse(http.StatusNotFound, "There is no authenticator app to confirm: set one up first.")
		return
	case err != nil:
		s.authorizeError(w, r, nil, err)
		return
	}
	s.auditMFA(ctx, observe.EventMFAEnrolled, user, "totp", slog.Bool("first", before == 0))
	s.accountFactorDone(w, r, sess, user, before == 0, "totp_confirmed")
}

// accountRemoveTOTP removes the authenticator app; an unconfirmed one is a
// set-up cancelled, which was never a factor.
func (s *Server) accountRemoveTOTP(w http.ResponseWriter, r *http.Request, sess *storage.Session, user storage.User) {
	if !s.accountRecentOrAsk(w, r, sess, user) {
		return
	}
	ctx := r.Context()
	t, err := s.store.GetTOTP(ctx, user.ID)
	if errors.Is(err, storage.ErrNotFound) {
		s.renderAccount(w, r, sess, user, "", "You have no authenticator app.", http.StatusNotFound)
		return
	}
	if err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	confirmed := !t.ConfirmedAt.IsZero()
	if confirmed && !s.accountMayRemove(w, r, sess, user) {
		return
	}
	err = s.store.DeleteTOTP(ctx, user.ID)
	if errors.Is(err, storage.ErrNotFound) {
		s.renderAccount(w, r, sess, user, "", "You have no authenticator app.", http.StatusNotFound)
		return
	}
	if err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	if !confirmed {
		s.accountDone(w, r, "totp_cancelled")
		return
	}
	s.accountFactorRemoved(w, r, sess, user, "totp_removed", "totp")
}

// accountGenerateRecoveryCodes makes RecoveryCodeCount new codes in place
// of any old ones and shows them in this answer only: the store keeps
// their hashes.
func (s *Server) accountGenerateRecoveryCodes(w http.ResponseWriter, r *http.Request, sess *storage.Session, user storage.User) {
	if !s.accountRecentOrAsk(w, r, sess, user) {
		return
	}
	ctx := r.Context()
	n, err := s.accountSecondFactors(ctx, user.ID)
	if err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	if n == 0 {
		s.renderAccount(w, r, sess, user, "", "Add a passkey or an authenticator app first: recovery codes are their back-up.", http.StatusConflict)
		return
	}
	unused, err := s.store.CountRecoveryCodes(ctx, user.ID)
	if err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	codes, hashes := s.mfa.NewRecoveryCodes()
	if err := s.store.ReplaceRecoveryCodes(ctx, user.ID, hashes, s.now()); err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	observe.Audit(ctx, s.log, observe.EventMFARecoveryCodesGenerated, slog.String("username", user.Username),
		slog.String("user_id", user.ID), slog.Int("count", len(codes)), slog.Int("replaced_unused", unused), slog.String("by", "account"))
	s.renderAccountWith(w, r, sess, user, "Your new recovery codes are under “Recovery codes”: save them now, they are shown only this once.", "",
		http.StatusOK, accountShown{recoveryCodes: codes})
}

// accountFactorDone ends an enrolment: when it was the user's first second
// factor, the other sessions, signed in without one, end.
func (s *Server) accountFactorDone(w http.ResponseWriter, r *http.Request, sess *storage.Session, user storage.User, first bool, done string) {
	if first {
		if err := s.endOtherSessions(r.Context(), sess, user); err != nil {
			s.authorizeError(w, r, nil, err)
			return
		}
		done += "_first"
	}
	s.accountDone(w, r, done)
}

// accountFactorRemoved ends a removal: audited, and when no second factor
// is left, the recovery codes go too and the other sessions end.
func (s *Server) accountFactorRemoved(w http.ResponseWriter, r *http.Request, sess *storage.Session, user storage.User, done, factor string, attrs ...slog.Attr) {
	ctx := r.Context()
	left, err := s.accountSecondFactors(ctx, user.ID)
	if err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	s.auditMFA(ctx, observe.EventMFARemoved, user, factor, append(attrs, slog.Bool("last", left == 0))...)
	if left > 0 {
		s.accountDone(w, r, done)
		return
	}
	if err := s.store.ReplaceRecoveryCodes(ctx, user.ID, nil, s.now()); err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	if err := s.endOtherSessions(ctx, sess, user); err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	s.accountDone(w, r, "last_removed")
}

// auditMFA records a change of one of the user's factors on /account.
func (s *Server) auditMFA(ctx context.Context, event string, user storage.User, factor string, attrs ...slog.Attr) {
	observe.Audit(ctx, s.log, event, append([]slog.Attr{slog.String("username", user.Username), slog.String("user_id", user.ID),
		slog.String("factor", factor), slog.String("by", "account")}, attrs...)...)
}

// accountPasskeyLabel is a label as typed, trimmed, or why it cannot be one
// (checkParams has already refused control characters).
func accountPasskeyLabel(raw string) (string, string) {
	label := strings.TrimSpace(raw)
	if utf8.RuneCountInString(label) > accountMaxLabel {
		return "", "A passkey's name may have at most 64 characters."
	}
	return label, ""
}

// accountTakeWebAuthnResponse takes the authenticator's response out of the
// form, before checkParams (whose bound suits parameters, not this JSON),
// and checks it against a bound of its own.
func accountTakeWebAuthnResponse(r *http.Request) (string, *paramError) {
	v := r.PostForm.Get(fieldWebAuthnResponse)
	r.PostForm.Del(fieldWebAuthnResponse)
	r.Form.Del(fieldWebAuthnResponse)
	rule := paramRule{max: accountMaxWebAuthnResponse, jsonSpace: true}
	if reason := rule.check(v); reason != "" {
		return "", &paramError{name: fieldWebAuthnResponse, reason: reason}
	}
	return v, nil
}
