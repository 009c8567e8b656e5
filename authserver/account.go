package authserver

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/password"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/templates"
)

// This file is the signed-in user's own page, /account: who they are, their
// sessions (end one, or all others), the applications they allowed (revoke
// one: its refresh tokens die and it must ask again), and a password change.
// Every action is a form post with the account page's CSRF token, checked
// for its origin, and acts only on what belongs to the signed-in user.

const (
	pathAccount = "/account"
	// returnField on the login form says that a sign-in no client asked
	// for returns to the account page. Its only value is returnAccount: it
	// names a page of ours, never a URL, so the login form cannot be made
	// into an open redirect.
	returnField   = "return"
	returnAccount = "account"
	// minPasswordLen is the shortest new password, in characters.
	minPasswordLen = 8
)

// The account page's form fields (a contract, like the login form's).
const (
	accountOp          = "op"
	accountSession     = "session"
	accountClient      = "client_id"
	accountCurrentPW   = "current_password"
	accountNewPW       = "new_password"
	accountNewPWAgain  = "new_password_again"
	opEndSession       = "end_session"
	opEndOtherSessions = "end_other_sessions"
	opRevokeGrant      = "revoke_grant"
	opChangePassword   = "change_password"
)

// accountNotices are what the page says after an action, by the done
// parameter of the redirect that follows it (POST, then redirect, then GET,
// so that reloading the page repeats nothing). Only these fixed words are
// ever shown: the parameter selects, it is never echoed.
var accountNotices = map[string]string{
	"session_ended":    "The session has ended.",
	"others_ended":     "Every other session has ended.",
	"grant_revoked":    "The application's access has been revoked; it will have to ask you again.",
	"password_changed": "Your password has been changed, and every other session has ended.",
	// Sign-in methods (account_mfa.go).
	"reauthenticated":      "Your password is confirmed: for the next 10 minutes you can change how you sign in.",
	"passkey_added":        "The passkey has been added.",
	"passkey_added_first":  "The passkey has been added, and every other session has ended. Make recovery codes too, in case you lose it.",
	"passkey_renamed":      "The passkey has been renamed.",
	"passkey_removed":      "The passkey has been removed.",
	"totp_confirmed":       "The authenticator app is set up.",
	"totp_confirmed_first": "The authenticator app is set up, and every other session has ended. Make recovery codes too, in case you lose your phone.",
	"totp_removed":         "The authenticator app has been removed.",
	"totp_cancelled":       "Setting up the authenticator app has been cancelled.",
	"last_removed":         "Your last passkey or app has been removed, with your recovery codes, and every other session has ended: you sign in with your password alone now.",
}

// accountLoginParams are what the account page's login form carries, and
// so what its CSRF token is bound to.
func accountLoginParams() url.Values { return url.Values{returnField: {returnAccount}} }

// handleAccount shows the account page, or the login page that returns to
// it.
func (s *Server) handleAccount(w http.ResponseWriter, r *http.Request) {
	sess, user, ok := s.accountUser(w, r)
	if !ok {
		return
	}
	s.renderAccount(w, r, sess, user, accountNotices[r.URL.Query().Get("done")], "", http.StatusOK)
}

// accountUser is the signed-in user of the request and their session. A
// browser without a live session, or whose user is gone or disabled, gets
// the login page; on failure it has answered.
func (s *Server) accountUser(w http.ResponseWriter, r *http.Request) (*storage.Session, storage.User, bool) {
	sess, err := s.currentSession(r)
	if err != nil {
		s.authorizeError(w, r, nil, err)
		return nil, storage.User{}, false
	}
	if sess == nil {
		msg := ""
		if r.Method == http.MethodPost {
			msg = "Your session has ended. Please sign in again."
		}
		s.renderAccountLogin(w, r, "", msg, http.StatusOK)
		return nil, storage.User{}, false
	}
	user, err := s.store.GetUser(r.Context(), sess.UserID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && user.Disabled) {
		s.renderAccountLogin(w, r, "", "", http.StatusOK)
		return nil, storage.User{}, false
	}
	if err != nil {
		s.authorizeError(w, r, nil, err)
		return nil, storage.User{}, false
	}
	return sess, user, true
}

// renderAccount shows the page with what the store holds now, with a notice
// or, for a refused action, an error and its status.
func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, sess *storage.Session, user storage.User, notice, errMsg string, status int) {
	s.renderAccountWith(w, r, sess, user, notice, errMsg, status, accountShown{})
}

// renderAccountWith is renderAccount with what this one answer shows once
// (a new authenticator's secret, new recovery codes).
func (s *Server) renderAccountWith(w http.ResponseWriter, r *http.Request, sess *storage.Session, user storage.User, notice, errMsg string, status int, shown accountShown) {
	ctx := r.Context()
	sessions, err := s.store.ListUserSessions(ctx, user.ID, s.now())
	if err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	grants, err := s.accountGrants(ctx, user.ID)
	if err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	methods, err := s.accountMethods(ctx, r, sess, user, shown)
	if err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	page := templates.Account{
		Username:        user.Username,
		Name:            user.Name,
		Email:           user.Email,
		Subject:         user.ID,
		CSRFToken:       s.csrfToken(w, r, csrfAccount, url.Values{}),
		Action:          s.path(pathAccount),
		LogoutURL:       s.path(pathLogout),
		Grants:          grants,
		PasswordManaged: user.Owner == storage.OwnerFile,
		Methods:         methods,
		Notice:          notice,
		Error:           errMsg,
	}
	for _, o := range sessions {
		page.Sessions = append(page.Sessions, templates.AccountSession{ID: o.IDHash, SignedIn: o.AuthTime,
			UserAgent: o.UserAgent, IP: o.IP, Current: o.IDHash == sess.IDHash})
	}
	s.render(w, status, page)
}

// accountGrants are the user's remembered consents with each client's name
// and the scopes in words.
func (s *Server) accountGrants(ctx context.Context, userID string) ([]templates.AccountGrant, error) {
	consents, err := s.store.ListUserConsents(ctx, userID)
	if err != nil {
		return nil, err
	}
	var out []templates.AccountGrant
	for _, g := range consents {
		c, err := s.store.GetClient(ctx, g.ClientID)
		if errors.Is(err, storage.ErrNotFound) {
			continue // removed meanwhile; its grant went with it
		}
		if err != nil {
			return nil, err
		}
		out = append(out, templates.AccountGrant{ClientID: c.ID, ClientName: clientName(c),
			Scopes: s.consentWords(strings.Fields(g.Scope)), Granted: g.CreatedAt})
	}
	return out, nil
}

// renderAccountLogin is the login page of the account page: its form posts
// to the login endpoint with return=account, which sends the browser back
// to /account (accountLogin).
func (s *Server) renderAccountLogin(w http.ResponseWriter, r *http.Request, username, msg string, status int) {
	params := accountLoginParams()
	page := templates.Login{
		ClientName: "your account",
		Username:   username,
		Error:      msg,
		CSRFToken:  s.csrfToken(w, r, csrfAccountLogin, params),
		Action:     s.path(pathLogin),
		Hidden:     fieldsOf(params, []string{returnField}),
	}
	s.passkeyLoginForm(r, &page) // signin_mfa.go
	s.render(w, status, page)
}

// accountLogin is the login form posted with return=account: the same
// checks as a client's sign-in (origin, CSRF token, throttled password
// check, a new session), then back to /account, a fixed path of ours.
// handleLogin has taken the credentials out of the form.
func (s *Server) accountLogin(w http.ResponseWriter, r *http.Request, username, pw string) {
	if len(r.PostForm[returnField]) != 1 || r.PostForm.Get(returnField) != returnAccount {
		s.renderError(w, http.StatusBadRequest, "Invalid request", "The sign-in form did not say where to go next.",
			"Open the account page and sign in again.")
		return
	}
	if !s.checkCSRF(w, r, csrfAccountLogin, accountLoginParams()) {
		return
	}
	if checkParam("username", username) != nil || checkParam("password", pw) != nil {
		s.renderAccountLogin(w, r, "", "This is not a valid username and password.", http.StatusBadRequest)
		return
	}
	if username == "" || pw == "" {
		s.renderAccountLogin(w, r, username, "Enter your username and password.", http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	user, failure, err := s.checkPassword(ctx, username, pw)
	if msg, throttled := tooManyAttempts(w, err); throttled {
		s.renderAccountLogin(w, r, username, msg, http.StatusTooManyRequests)
		return
	}
	if err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	if failure != "" {
		s.auditLogin(ctx, "account_login", username, "", "", failure)
		s.renderAccountLogin(w, r, username, "The username or password is wrong.", http.StatusUnauthorized)
		return
	}
	s.passwordSignedIn(w, r, signInTarget{}, user) // a second step first when the user has a factor
}

// handleAccountAction takes one of the account page's forms.
func (s *Server) handleAccountAction(w http.ResponseWriter, r *http.Request) {
	if !s.parsePageForm(w, r) {
		return
	}
	// Nothing after this may persist or log the passwords.
	pws := map[string]string{}
	for _, name := range []string{accountCurrentPW, accountNewPW, accountNewPWAgain} {
		pws[name] = r.PostForm.Get(name)
		r.PostForm.Del(name)
		r.Form.Del(name)
	}
	response, badResponse := accountTakeWebAuthnResponse(r)
	if !s.checkCSRF(w, r, csrfAccount, url.Values{}) {
		return
	}
	sess, user, ok := s.accountUser(w, r)
	if !ok {
		return
	}
	if bad := cmp.Or(badResponse, checkParams(r.PostForm)); bad != nil {
		s.renderAccount(w, r, sess, user, "", bad.sentence(), http.StatusBadRequest)
		return
	}
	switch r.PostForm.Get(accountOp) {
	case opEndSession:
		s.accountEndSession(w, r, sess, user, r.PostForm.Get(accountSession))
	case opEndOtherSessions:
		s.accountEndOtherSessions(w, r, sess, user)
	case opRevokeGrant:
		s.accountRevokeGrant(w, r, sess, user, r.PostForm.Get(accountClient))
	case opChangePassword:
		s.accountChangePassword(w, r, sess, user, pws[accountCurrentPW], pws[accountNewPW], pws[accountNewPWAgain])
	case opReauthenticate:
		s.accountReauthenticate(w, r, sess, user, pws[accountCurrentPW])
	case opAddPasskey:
		s.accountAddPasskey(w, r, sess, user, response)
	case opRenamePasskey:
		s.accountRenamePasskey(w, r, sess, user)
	case opRemovePasskey:
		s.accountRemovePasskey(w, r, sess, user)
	case opSetupTOTP:
		s.accountSetupTOTP(w, r, sess, user)
	case opConfirmTOTP:
		s.accountConfirmTOTP(w, r, sess, user)
	case opRemoveTOTP:
		s.accountRemoveTOTP(w, r, sess, user)
	case opGenerateRecoveryCodes:
		s.accountGenerateRecoveryCodes(w, r, sess, user)
	default:
		s.renderAccount(w, r, sess, user, "", "The form did not say what to do.", http.StatusBadRequest)
	}
}

// accountDone redirects to the page with the notice of what was done.
func (s *Server) accountDone(w http.ResponseWriter, r *http.Request, done string) {
	http.Redirect(w, r, s.path(pathAccount)+"?done="+done, http.StatusSeeOther)
}

// accountEndSession ends one of the user's own sessions. An id that is not
// a live session of this user, someone else's or one already gone, gets one
// and the same answer, so the form cannot be used to learn about sessions
// of others. Ending this browser's own session is signing out here.
func (s *Server) accountEndSession(w http.ResponseWriter, r *http.Request, sess *storage.Session, user storage.User, id string) {
	ctx := r.Context()
	sessions, err := s.store.ListUserSessions(ctx, user.ID, s.now())
	if err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	for _, o := range sessions {
		if id == "" || o.IDHash != id {
			continue
		}
		if err := s.endSession(ctx, &o); err != nil {
			s.authorizeError(w, r, nil, err)
			return
		}
		s.auditSessionEnded(ctx, o)
		if o.IDHash == sess.IDHash {
			http.SetCookie(w, s.cookie(sessionCookie, "", -1))
			http.Redirect(w, r, s.path(pathAccount), http.StatusSeeOther)
			return
		}
		s.accountDone(w, r, "session_ended")
		return
	}
	s.renderAccount(w, r, sess, user, "", "That session has already ended, or it is not one of yours.", http.StatusNotFound)
}

// accountEndOtherSessions ends every session of the user but this browser's.
func (s *Server) accountEndOtherSessions(w http.ResponseWriter, r *http.Request, sess *storage.Session, user storage.User) {
	if err := s.endOtherSessions(r.Context(), sess, user); err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	s.accountDone(w, r, "others_ended")
}

// endOtherSessions signs out every session of the user but sess: for
// "Sign out all other sessions", and when a first second factor is
// enrolled or the last one removed (account_mfa.go).
func (s *Server) endOtherSessions(ctx context.Context, sess *storage.Session, user storage.User) error {
	sessions, err := s.store.ListUserSessions(ctx, user.ID, s.now())
	if err != nil {
		return err
	}
	for _, o := range sessions {
		if o.IDHash == sess.IDHash {
			continue
		}
		if err := s.endSession(ctx, &o); err != nil {
			return err
		}
		s.auditSessionEnded(ctx, o)
	}
	return nil
}

func (s *Server) auditSessionEnded(ctx context.Context, sess storage.Session) {
	observe.Audit(ctx, s.log, observe.EventLogout, slog.String("subject", sess.UserID), slog.String("sid", sess.IDHash),
		slog.String("by", "account"))
}

// accountRevokeGrant withdraws the user's consent to a client: its refresh
// tokens are revoked with it (RevokeConsent), and its next authorization
// asks again. The store looks the grant up by this user, so another user's
// grant is never touched; no grant at all and someone else's are answered
// alike.
func (s *Server) accountRevokeGrant(w http.ResponseWriter, r *http.Request, sess *storage.Session, user storage.User, clientID string) {
	ctx := r.Context()
	err := storage.ErrNotFound
	if clientID != "" {
		err = s.store.RevokeConsent(ctx, user.ID, clientID, s.now())
	}
	if errors.Is(err, storage.ErrNotFound) {
		s.renderAccount(w, r, sess, user, "", "That application has no access to your account.", http.StatusNotFound)
		return
	}
	if err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	observe.Audit(ctx, s.log, observe.EventConsentRevoked, slog.String("client_id", clientID), slog.String("subject", user.ID),
		slog.String("by", "account"))
	s.accountDone(w, r, "grant_revoked")
}

// accountChangePassword sets a new password once the current one is
// verified, through checkPassword like a sign-in: throttled per username
// and client IP, so this form is no way around the login form's back-off.
// SetUserPassword ends every session and refresh family of the user; this
// browser then gets a fresh session, and every other is signed out.
// A user of the configuration file cannot: the file owns their hash.
func (s *Server) accountChangePassword(w http.ResponseWriter, r *http.Request, sess *storage.Session, user storage.User, current, next, again string) {
	refuse := func(status int, msg string) { s.renderAccount(w, r, sess, user, "", msg, status) }
	switch {
	case user.Owner == storage.OwnerFile:
		refuse(http.StatusForbidden, "Your password is managed by the server's configuration; ask its operator to change it.")
		return
	case checkParam("password", current) != nil || checkParam("password", next) != nil || checkParam("password", again) != nil:
		refuse(http.StatusBadRequest, "This is not a valid password.")
		return
	case current == "" || next == "":
		refuse(http.StatusBadRequest, "Enter your current password, then the new one twice.")
		return
	case next != again:
		refuse(http.StatusBadRequest, "The two new passwords are not the same.")
		return
	case utf8.RuneCountInString(next) < minPasswordLen:
		refuse(http.StatusBadRequest, "The new password needs at least 8 characters.")
		return
	}
	ctx := r.Context()
	if !s.accountPasswordRight(w, r, user, current, "account_password", "The current password is wrong.", refuse) {
		return
	}
	hash, err := s.hashPassword(ctx, next)
	if err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	others, err := s.store.ListUserSessions(ctx, user.ID, s.now())
	if err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	if err := s.store.SetUserPassword(ctx, user.ID, hash, s.now()); err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	// The store ended them all; their clients hear of it now rather than
	// at the next sweep. startSession does the same for this browser's.
	for _, o := range others {
		if o.IDHash != sess.IDHash {
			s.SessionEnded(o.IDHash)
		}
	}
	if err := s.startSession(w, r, user.ID, sessionAMR(sess)); err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	observe.Audit(ctx, s.log, observe.EventUserPasswordChanged, slog.String("username", user.Username),
		slog.String("user_id", user.ID), slog.String("by", "account"))
	s.accountDone(w, r, "password_changed")
}

// hashPassword hashes a new password with the configured parameters in one
// of the replica's hash slots, which bound the memory that argon2id takes.
func (s *Server) hashPassword(ctx context.Context, pw string) (string, error) {
	release, err := s.hashSlot(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return password.Hash(pw, s.passwordParams)
}

// accountPasswordRight checks the signed-in user's password on an account
// form through checkPassword, so that the form shares the sign-in's
// throttle and is no way around its back-off. It answers the request (with
// refuse, or the error page) and reports false unless the password is the
// user's; a wrong one is audited as login.failed with via.
func (s *Server) accountPasswordRight(w http.ResponseWriter, r *http.Request, user storage.User, pw, via, wrong string,
	refuse func(status int, msg string)) bool {
	ctx := r.Context()
	verified, failure, err := s.checkPassword(ctx, user.Username, pw)
	if msg, throttled := tooManyAttempts(w, err); throttled {
		refuse(http.StatusTooManyRequests, msg)
		return false
	}
	if err != nil {
		s.authorizeError(w, r, nil, err)
		return false
	}
	if failure == "" && verified.ID != user.ID {
		failure = loginWrongPassword // the username moved to someone else meanwhile
	}
	if failure != "" {
		s.auditLogin(ctx, via, user.Username, "", "", failure)
		refuse(http.StatusUnauthorized, wrong)
		return false
	}
	return true
}
