package authserver

import (
	"cmp"
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/authserver-dev/authserver/authserver/mfa"
	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/authserver/throttle"
	"github.com/authserver-dev/authserver/templates"
)

// This file is the strong half of the sign-in: a passkey alone on the login
// page, the second step after a password (a passkey, else a TOTP code, else
// a recovery code), and the step-up of a session too weak for what an
// application asks (acr.go decides when). Nothing here keeps server state
// between the steps: the first step's proof travels in the second step's
// form, sealed (pending.go), and a session exists only once every step is
// done.

const (
	pathPasskeyLogin = "/login/passkey"
	pathSecondStep   = "/login/second-step"
	// csrfSecondStep is the second-step page's forms.
	csrfSecondStep = "second_step"
)

// The second-step and passkey forms' own fields (a contract, like the login
// form's): taken out of the form before the authorization request in it is
// read.
const (
	fieldPending          = "pending"
	fieldMethod           = "method"
	fieldCode             = "code"
	fieldWebAuthnState    = "webauthn_state"
	fieldWebAuthnResponse = "webauthn_response"
)

// defaultRPName is what authenticators show when webauthn.rp_name is unset.
const defaultRPName = "authserver"

// newMFA builds the second-factor service and the key that seals pending
// second steps, and says whether passkeys can work here. Passkeys are bound
// to the relying party id, by default the issuer's host, and accepted only
// from the listed origins, by default the issuer's own
// (scheme://host[:port]). WebAuthn has no relying party ids but domain
// names: an issuer on an IP address (a loopback test or demo) has no
// passkeys, only TOTP and recovery codes, and the service gets a stand-in
// id that no ceremony ever uses.
func newMFA(cfg Config, iss *url.URL) (svc *mfa.Service, pendingKey []byte, passkeys bool, err error) {
	key := cfg.MFAKey
	if len(key) == 0 {
		key = []byte(randomToken()) // one process only: see Config.MFAKey
	}
	origins := cfg.WebAuthnOrigins
	if len(origins) == 0 {
		origins = []string{iss.Scheme + "://" + iss.Host}
	}
	rpID := cmp.Or(cfg.WebAuthnRPID, iss.Hostname())
	if passkeys = net.ParseIP(rpID) == nil; !passkeys {
		rpID = "localhost" // never used: see Server.passkeys
	}
	svc, err = mfa.New(mfa.Config{
		RPID:    rpID,
		RPName:  cmp.Or(cfg.WebAuthnRPName, defaultRPName),
		Origins: origins,
		Key:     key,
		Replay:  cfg.Store, // each ceremony's state answers once
		Now:     cfg.Now,
	})
	if err != nil {
		return nil, nil, false, err
	}
	// A key of its own, so that a pending step can never be opened as one
	// of package mfa's sealed values, nor the other way round.
	if pendingKey, err = hkdf.Key(sha256.New, key, nil, "authserver sign-in pending second step v1", 32); err != nil {
		return nil, nil, false, err
	}
	return svc, pendingKey, passkeys, nil
}

// signInTarget is where a sign-in goes once every step is done: back to an
// authorization request, or (req nil) to the account page.
type signInTarget struct{ req *authzRequest }

// params are what the target's forms carry and their CSRF tokens are bound
// to.
func (t signInTarget) params() url.Values {
	if t.req == nil {
		return accountLoginParams()
	}
	return t.req.formParams()
}

func (t signInTarget) clientID() string {
	if t.req == nil {
		return ""
	}
	return t.req.client.ID
}

// hidden are the target's hidden form fields.
func (t signInTarget) hidden() []templates.Field {
	if t.req == nil {
		return fieldsOf(accountLoginParams(), []string{returnField})
	}
	return fieldsOf(t.req.formParams(), formFields)
}

// signInTargetOf reads the target a posted form carries: return=account,
// or an authorization request, validated again. On failure it has answered.
func (s *Server) signInTargetOf(w http.ResponseWriter, r *http.Request) (signInTarget, bool) {
	if r.PostForm.Has(returnField) {
		if len(r.PostForm[returnField]) != 1 || r.PostForm.Get(returnField) != returnAccount {
			s.renderError(w, http.StatusBadRequest, "Invalid request", "The sign-in form did not say where to go next.",
				"Open the account page and sign in again.")
			return signInTarget{}, false
		}
		return signInTarget{}, true
	}
	req, err := s.parseAuthorize(r.Context(), r.PostForm)
	if err != nil {
		s.authorizeError(w, r, req, err)
		return signInTarget{}, false
	}
	return signInTarget{req: req}, true
}

// restartSignIn shows the target's login page again, with msg.
func (s *Server) restartSignIn(w http.ResponseWriter, r *http.Request, t signInTarget, username, msg string, status int) {
	if t.req == nil {
		s.renderAccountLogin(w, r, username, msg, status)
		return
	}
	s.renderLogin(w, r, t.req, username, msg, status, "")
}

// signedIn starts the session of a completed sign-in and sends the browser
// on to its target.
func (s *Server) signedIn(w http.ResponseWriter, r *http.Request, t signInTarget, user storage.User, via string, amr []string) {
	if err := s.startSession(w, r, user.ID, amr); err != nil {
		s.authorizeError(w, r, t.req, err)
		return
	}
	s.auditSignIn(r.Context(), via, user, t.clientID(), amr)
	if t.req == nil {
		http.Redirect(w, r, s.path(pathAccount), http.StatusSeeOther)
		return
	}
	s.backToAuthorize(w, r, t.req)
}

// backToAuthorize sends the browser back to the authorization endpoint with
// the original request, now that the user has just signed in: prompt=login
// and max_age are satisfied; prompt=consent is not.
func (s *Server) backToAuthorize(w http.ResponseWriter, r *http.Request, req *authzRequest) {
	params := cloneValues(req.formParams())
	if req.pushed == nil { // a pushed request is satisfied by the sign-in's time (signedInSincePush)
		params.Del("prompt")
		if slices.Contains(req.prompts, "consent") {
			params.Set("prompt", "consent")
		}
		params.Del("max_age")
	}
	http.Redirect(w, r, s.path(pathAuthorize)+"?"+params.Encode(), http.StatusSeeOther)
}

// auditSignIn records a completed sign-in (login.succeeded) with what it
// proved. via is login_form (a password alone), second_step, passkey,
// step_up or account_login.
func (s *Server) auditSignIn(ctx context.Context, via string, user storage.User, clientID string, amr []string) {
	s.metrics.Login(observe.OutcomeSucceeded)
	observe.Audit(ctx, s.log, observe.EventLoginSucceeded, slog.String("via", via), slog.String("username", user.Username),
		slog.String("client_id", clientID), slog.String("subject", user.ID), slog.String("amr", strings.Join(amr, " ")),
		slog.String("acr", mfa.ACRFor(amr)))
}

// passwordSignedIn continues a sign-in whose password was right: a user
// with a second factor is asked for it (the session starts only once it is
// given); anyone else is signed in with the password alone. A require_mfa
// user without a factor gets that session too, which is good for /account
// only (continueAuthorize refuses it every client until they enrol).
func (s *Server) passwordSignedIn(w http.ResponseWriter, r *http.Request, t signInTarget, user storage.User) {
	f, err := s.userFactors(r.Context(), user.ID)
	if err != nil {
		s.authorizeError(w, r, t.req, err)
		return
	}
	amr := mfa.AMRFor(true, mfa.NoFactor)
	if !f.any() {
		via := "login_form"
		if t.req == nil {
			via = "account_login"
		}
		s.signedIn(w, r, t, user, via, amr)
		return
	}
	p := pendingStep{UserID: user.ID, AMR: amr, Exp: s.now().Add(pendingTTL).Unix()}
	if t.req != nil {
		d := demandOf(t.req, user)
		p.Want = strongest(d.need, d.want)
	}
	s.renderSecondStep(w, r, t, user, p, f, secondStepView{status: http.StatusOK})
}

// strongest is the stronger of two acr values ("" is none).
func strongest(a, b string) string {
	if a == "" || mfa.Satisfies(b, a) {
		return b
	}
	return a
}

// secondStepView is how the second-step page is shown: after a refusal,
// the method it was about and the words; stepUp for a session too weak.
type secondStepView struct {
	method, msg string
	status      int
	stepUp      bool
}

// renderSecondStep asks user for a second factor for p: the methods of f
// that reach p.Want (all of f's when none does), strongest first.
func (s *Server) renderSecondStep(w http.ResponseWriter, r *http.Request, t signInTarget, user storage.User, p pendingStep, f factors, v secondStepView) {
	methods := f.methodsReaching(p.AMR, p.Want, s.passkeys)
	if len(methods) == 0 { // passkeys only, on an issuer that cannot have them
		s.renderError(w, http.StatusServiceUnavailable, "Passkeys are not available here",
			"Your account signs in with a passkey, and passkeys cannot be used at this server's address.",
			"Ask the server's operator: passkeys need the provider on a domain name, not an IP address.")
		return
	}
	params := t.params()
	csrf := s.csrfToken(w, r, csrfSecondStep, params)
	pending, err := s.sealPending(p, csrf, params)
	if err != nil {
		s.authorizeError(w, r, t.req, err)
		return
	}
	page := templates.SecondStep{
		Username:  user.Username,
		Error:     v.msg,
		Action:    s.path(pathSecondStep),
		CSRFToken: csrf,
		Pending:   pending,
		Hidden:    t.hidden(),
		Method:    cmp.Or(v.method, methods[0]),
		Methods:   methods,
		StepUp:    v.stepUp,
	}
	if t.req != nil {
		page.ClientName = clientName(t.req.client)
	}
	if slices.Contains(methods, templates.MethodPasskey) {
		opts, state, err := s.mfa.BeginLogin(mfaUser(user), f.passkeys)
		if err != nil {
			s.authorizeError(w, r, t.req, err)
			return
		}
		page.PasskeyOptions, page.PasskeyState = string(opts), state
	}
	s.renderFor(w, t, v.status, page)
}

// renderFor renders a page whose forms lead back to t: for an
// authorization request, the redirect that ends it may go to the client.
func (s *Server) renderFor(w http.ResponseWriter, t signInTarget, status int, page any) {
	var redirects []string
	if t.req != nil {
		redirects = append(redirects, t.req.redirectURI)
	}
	if err := s.pages.RenderAllowingRedirects(w, status, page, redirects...); err != nil {
		s.log.Error("rendering a page failed", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

// renderEnrolFirst tells a user who must use a second factor, and has none
// that would do, to set one up on /account first.
func (s *Server) renderEnrolFirst(w http.ResponseWriter, r *http.Request, req *authzRequest, user storage.User) {
	s.renderFor(w, signInTarget{req: req}, http.StatusForbidden, templates.SecondStep{
		ClientName: clientName(req.client),
		Username:   user.Username,
		EnrolURL:   s.path(pathAccount),
	})
}

// methodsReaching are the second-step methods of f, strongest first
// (passkey, TOTP, recovery code; passkeys only when the server can have
// them), keeping those that lift a session with amr before to level when
// any does.
func (f factors) methodsReaching(before []string, level string, passkeys bool) []string {
	var all, reaching []string
	add := func(method string, ok bool, factor mfa.Factor) {
		if !ok {
			return
		}
		all = append(all, method)
		if mfa.Satisfies(mfa.ACRFor(steppedUpAMR(before, factor)), level) || level == "" {
			reaching = append(reaching, method)
		}
	}
	add(templates.MethodPasskey, passkeys && len(f.passkeys) > 0, mfa.FactorHardwarePasskey)
	add(templates.MethodTOTP, f.totp != nil, mfa.FactorTOTP)
	add(templates.MethodRecoveryCode, f.recovery > 0, mfa.FactorRecoveryCode)
	if len(reaching) > 0 {
		return reaching
	}
	return all
}

// mfaUser is the user as package mfa names them to authenticators.
func mfaUser(u storage.User) mfa.User {
	return mfa.User{ID: u.ID, Name: u.Username, DisplayName: cmp.Or(u.Name, u.Username)}
}

// secondStepKeys are the throttle counters of a user's second steps: one
// per user that a right password does not reset (else knowing the password
// would buy unlimited guesses at the code), and the client IP's, shared
// with passwords. The user's key comes first: a right second step resets
// it. A NUL, which no username may contain (checkParam), keeps it apart
// from every username's key.
func secondStepKeys(ctx context.Context, userID string) []throttle.Key {
	keys := []throttle.Key{{Kind: throttle.KindUsername, Value: "\x00second_step\x00" + userID}}
	if ip := observe.ClientIP(ctx); ip.IsValid() {
		keys = append(keys, throttle.Key{Kind: throttle.KindIP, Value: ip.String()})
	}
	return keys
}

// Why a second step failed, for the audit log (mfa.failed).
const (
	stepWrongCode      = "wrong_code"
	stepReplayedCode   = "replayed_code"
	stepSpentCode      = "spent_code"
	stepPasskeyRefused = "passkey_refused"
	stepNoSuchMethod   = "method_not_enrolled"
)

// handleSecondStep takes a second-step form: the pending first step must
// open for this browser's form and target, and the user must still be
// allowed in; then the factor is checked, throttled like a password.
func (s *Server) handleSecondStep(w http.ResponseWriter, r *http.Request) {
	if !s.parsePageForm(w, r) {
		return
	}
	// The step's own fields; the rest is the target. Nothing after this
	// may persist or log the code.
	form := map[string]string{}
	for _, name := range []string{fieldPending, fieldMethod, fieldCode, fieldWebAuthnState, fieldWebAuthnResponse} {
		form[name] = r.PostForm.Get(name)
		r.PostForm.Del(name)
		r.Form.Del(name)
	}
	t, ok := s.signInTargetOf(w, r)
	if !ok || !s.checkCSRF(w, r, csrfSecondStep, t.params()) {
		return
	}
	ctx := r.Context()
	p, err := s.openPending(form[fieldPending], r.PostForm.Get(csrfField), t.params())
	if err != nil {
		s.restartSignIn(w, r, t, "", "The sign-in took too long. Please sign in again.", http.StatusOK)
		return
	}
	if p.Session != "" { // a step-up raises that session, which must still be this browser's
		if sess, err := s.currentSession(r); err != nil || sess == nil || sess.IDHash != p.Session {
			if err != nil {
				s.authorizeError(w, r, t.req, err)
				return
			}
			s.restartSignIn(w, r, t, "", "Your session has ended. Please sign in again.", http.StatusOK)
			return
		}
	}
	user, err := s.store.GetUser(ctx, p.UserID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && user.Disabled) {
		s.restartSignIn(w, r, t, "", "Please sign in again.", http.StatusOK)
		return
	}
	if err != nil {
		s.authorizeError(w, r, t.req, err)
		return
	}
	f, err := s.userFactors(ctx, user.ID)
	if err != nil {
		s.authorizeError(w, r, t.req, err)
		return
	}
	if !f.any() { // removed meanwhile: nothing to ask, and the first step alone is not what was promised
		s.restartSignIn(w, r, t, user.Username, "Please sign in again.", http.StatusOK)
		return
	}
	keys := secondStepKeys(ctx, user.ID)
	again := func(status int, msg string) {
		s.renderSecondStep(w, r, t, user, p, f, secondStepView{method: form[fieldMethod], msg: msg, status: status, stepUp: p.Session != ""})
	}
	if err := s.refuseIfBlocked(ctx, observe.ThrottleLogin, slog.String("username", user.Username), keys...); err != nil {
		if msg, throttled := tooManyAttempts(w, err); throttled {
			again(http.StatusTooManyRequests, msg)
			return
		}
		s.authorizeError(w, r, t.req, err)
		return
	}
	if form[fieldMethod] == templates.MethodPasskey && form[fieldWebAuthnResponse] == "" { // no ceremony ran: not a guess
		again(http.StatusBadRequest, noPasskeyWords)
		return
	}
	factor, failure, err := s.checkSecondStep(ctx, user, f, form)
	if errors.Is(err, mfa.ErrInvalidState) { // a passkey ceremony begun too long ago: not a guess
		again(http.StatusOK, "The passkey took too long to answer. Please try again.")
		return
	}
	if err != nil {
		s.authorizeError(w, r, t.req, err)
		return
	}
	if failure != "" {
		if err := s.countFailure(ctx, keys...); err != nil {
			s.authorizeError(w, r, t.req, err)
			return
		}
		s.auditStepFailed(ctx, user, t.clientID(), form[fieldMethod], failure)
		again(http.StatusUnauthorized, stepFailureWords(form[fieldMethod], failure))
		return
	}
	s.forgetFailures(ctx, keys[0])
	if factor == mfa.FactorRecoveryCode {
		if err := s.recoveryCodeUsed(ctx, user, t.clientID()); err != nil {
			s.authorizeError(w, r, t.req, err)
			return
		}
	}
	via := "second_step"
	if p.Session != "" {
		via = "step_up"
	}
	s.signedIn(w, r, t, user, via, steppedUpAMR(p.AMR, factor))
}

// checkSecondStep checks the factor the form gives: the factor it proved,
// or why it failed (a step* reason), or an error (mfa.ErrInvalidState for a
// passkey ceremony to begin again).
func (s *Server) checkSecondStep(ctx context.Context, user storage.User, f factors, form map[string]string) (mfa.Factor, string, error) {
	now := s.now()
	switch form[fieldMethod] {
	case templates.MethodTOTP:
		if f.totp == nil {
			return "", stepNoSuchMethod, nil
		}
		secret, err := s.mfa.OpenSecret(user.ID, f.totp.Secret)
		if err != nil {
			return "", "", err // not this user's, or MFAKey changed: the operator must know
		}
		step, ok := s.mfa.CheckTOTP(secret, strings.ReplaceAll(form[fieldCode], " ", ""))
		if !ok {
			return "", stepWrongCode, nil
		}
		// Once only: of two uses of one code (or of an older one after a
		// newer), the store lets exactly the first through.
		switch err := s.store.UseTOTPStep(ctx, user.ID, step, now); {
		case errors.Is(err, storage.ErrAlreadyUsed):
			return "", stepReplayedCode, nil
		case errors.Is(err, storage.ErrNotFound):
			return "", stepNoSuchMethod, nil
		case err != nil:
			return "", "", err
		}
		return mfa.FactorTOTP, "", nil
	case templates.MethodRecoveryCode:
		if checkParam(fieldCode, form[fieldCode]) != nil || strings.TrimSpace(form[fieldCode]) == "" {
			return "", stepWrongCode, nil
		}
		switch err := s.store.UseRecoveryCode(ctx, user.ID, s.mfa.HashRecoveryCode(form[fieldCode]), now); {
		case errors.Is(err, storage.ErrNotFound):
			return "", stepWrongCode, nil
		case errors.Is(err, storage.ErrAlreadyUsed):
			return "", stepSpentCode, nil
		case err != nil:
			return "", "", err
		}
		return mfa.FactorRecoveryCode, "", nil
	case templates.MethodPasskey:
		if !s.passkeys || len(f.passkeys) == 0 {
			return "", stepNoSuchMethod, nil
		}
		a, err := s.mfa.FinishLogin(ctx, mfaUser(user), f.passkeys, form[fieldWebAuthnState], []byte(form[fieldWebAuthnResponse]))
		if errors.Is(err, mfa.ErrRefused) {
			s.log.InfoContext(ctx, "a passkey was refused at a second step", slog.String("user_id", user.ID), slog.Any("err", err))
			return "", stepPasskeyRefused, nil
		}
		if err != nil {
			return "", "", err
		}
		s.passkeyUsed(ctx, a)
		return a.Factor(), "", nil
	}
	return "", stepNoSuchMethod, nil
}

// passkeyUsed stores the passkey's new sign count and flags. The sign-in
// has succeeded already; a store error only weakens the next clone check,
// so it is logged, not returned.
func (s *Server) passkeyUsed(ctx context.Context, a mfa.Assertion) {
	c := a.Credential
	if err := s.store.UpdateWebAuthnCredential(ctx, c.UserID, c.ID, c.Credential, s.now()); err != nil {
		s.log.WarnContext(ctx, "could not record a passkey's use", slog.String("user_id", c.UserID), slog.Any("err", err))
	}
}

// noPasskeyWords answer a passkey form posted without a ceremony's answer.
const noPasskeyWords = "Your browser sent no passkey: using one needs JavaScript and a browser or device that supports passkeys."

// stepFailureWords are what the page says after a refused second step.
func stepFailureWords(method, failure string) string {
	switch {
	case failure == stepPasskeyRefused:
		return "That passkey was not accepted. Try again, or use another way below."
	case failure == stepSpentCode:
		return "That recovery code has been used already. Each one works once."
	case method == templates.MethodRecoveryCode:
		return "That recovery code is wrong."
	case failure == stepNoSuchMethod:
		return "Use one of the ways below."
	}
	return "That code is wrong or has been used already. Wait for the next one and try again."
}

func (s *Server) auditStepFailed(ctx context.Context, user storage.User, clientID, method, reason string) {
	s.metrics.Login(observe.OutcomeFailed)
	observe.Audit(ctx, s.log, observe.EventMFAFailed, slog.String("username", user.Username), slog.String("subject", user.ID),
		slog.String("client_id", clientID), slog.String("method", boundedMethod(method)), slog.String("reason", reason))
}

// boundedMethod is the method field as logged: one of ours, else "other".
func boundedMethod(m string) string {
	switch m {
	case templates.MethodPasskey, templates.MethodTOTP, templates.MethodRecoveryCode:
		return m
	}
	return "other"
}

// recoveryCodeUsed records a sign-in with a recovery code and ends every
// other session of the user, with their refresh tokens (storage.EndSession):
// a user reaching for a recovery code may have lost a device, and whoever
// holds it must not stay signed in. The browser's own session is replaced
// by the new one in any case.
func (s *Server) recoveryCodeUsed(ctx context.Context, user storage.User, clientID string) error {
	left, err := s.store.CountRecoveryCodes(ctx, user.ID)
	if err != nil {
		return err
	}
	observe.Audit(ctx, s.log, observe.EventRecoveryCodeUsed, slog.String("username", user.Username), slog.String("subject", user.ID),
		slog.String("client_id", clientID), slog.Int("codes_left", left))
	sessions, err := s.store.ListUserSessions(ctx, user.ID, s.now())
	if err != nil {
		return err
	}
	for _, o := range sessions {
		if err := s.endSession(ctx, &o); err != nil {
			return err
		}
		observe.Audit(ctx, s.log, observe.EventLogout, slog.String("subject", o.UserID), slog.String("sid", o.IDHash),
			slog.String("by", "recovery_code"))
	}
	return nil
}

// passkeyLoginForm adds the "Sign in with a passkey" form to a login page:
// a discoverable ceremony (no username: the passkey names its user). On
// failure the page goes without it; the password form still works.
func (s *Server) passkeyLoginForm(r *http.Request, page *templates.Login) {
	if !s.passkeys {
		return
	}
	opts, state, err := s.mfa.BeginDiscoverableLogin()
	if err != nil {
		s.log.ErrorContext(r.Context(), "could not begin a passkey sign-in", slog.Any("err", err))
		return
	}
	page.PasskeyAction, page.PasskeyOptions, page.PasskeyState = s.path(pathPasskeyLogin), string(opts), state
}

// handlePasskeyLogin takes the login page's passkey form: a passkey with
// user verification alone signs the user in (amr hwk or swk, user, mfa:
// phishing-resistant). A refused passkey counts against the client IP, as
// a wrong password does; there is no username to count against.
func (s *Server) handlePasskeyLogin(w http.ResponseWriter, r *http.Request) {
	if !s.parsePageForm(w, r) {
		return
	}
	state, response := r.PostForm.Get(fieldWebAuthnState), r.PostForm.Get(fieldWebAuthnResponse)
	for _, name := range []string{fieldWebAuthnState, fieldWebAuthnResponse} {
		r.PostForm.Del(name)
		r.Form.Del(name)
	}
	t, ok := s.signInTargetOf(w, r)
	if !ok {
		return
	}
	purpose := csrfLogin
	if t.req == nil {
		purpose = csrfAccountLogin
	}
	if !s.checkCSRF(w, r, purpose, t.params()) {
		return
	}
	if response == "" { // no ceremony ran: not a guess
		s.restartSignIn(w, r, t, "", noPasskeyWords, http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	keys := loginKeys(ctx, "")[1:] // the IP's only
	if err := s.refuseIfBlocked(ctx, observe.ThrottleLogin, slog.String("username", ""), keys...); err != nil {
		if msg, throttled := tooManyAttempts(w, err); throttled {
			s.restartSignIn(w, r, t, "", msg, http.StatusTooManyRequests)
			return
		}
		s.authorizeError(w, r, t.req, err)
		return
	}
	a, err := s.mfa.FinishDiscoverableLogin(ctx, state, []byte(response), func(id string) (storage.WebAuthnCredential, error) {
		return s.store.GetWebAuthnCredential(ctx, id)
	})
	var user storage.User
	if err == nil {
		user, err = s.store.GetUser(ctx, a.Credential.UserID)
		if err == nil && user.Disabled {
			err = mfa.ErrRefused
		}
	}
	switch {
	case errors.Is(err, mfa.ErrInvalidState):
		s.restartSignIn(w, r, t, "", "The passkey sign-in took too long. Please try again.", http.StatusOK)
		return
	case errors.Is(err, mfa.ErrRefused), errors.Is(err, storage.ErrNotFound):
		s.log.InfoContext(ctx, "a passkey sign-in was refused", slog.Any("err", err))
		if err := s.countFailure(ctx, keys...); err != nil {
			s.authorizeError(w, r, t.req, err)
			return
		}
		s.metrics.Login(observe.OutcomeFailed)
		observe.Audit(ctx, s.log, observe.EventLoginFailed, slog.String("via", "passkey"), slog.String("client_id", t.clientID()),
			slog.String("reason", stepPasskeyRefused))
		s.restartSignIn(w, r, t, "", "That passkey was not accepted here. Try again, or sign in with your password.", http.StatusUnauthorized)
		return
	case err != nil:
		s.authorizeError(w, r, t.req, err)
		return
	}
	if t.req != nil && t.req.hintSubject != "" && user.ID != t.req.hintSubject {
		s.authorizeError(w, r, t.req, errLoginRequired("the user who signed in is not the one id_token_hint names"))
		return
	}
	s.passkeyUsed(ctx, a)
	s.signedIn(w, r, t, user, "passkey", mfa.AMRFor(false, a.Factor()))
}

// checkStrength is continueAuthorize's check of a signed-in session against
// what the request demands (acr.go): it answers and returns false when the
// session will not do now, by a second step (step-up), a page sending the
// user to enrol a factor, or an error to the client; prompt=none gets
// interaction_required wherever a page would be shown.
func (s *Server) checkStrength(w http.ResponseWriter, r *http.Request, req *authzRequest, sess *storage.Session) bool {
	st, err := s.sessionStrength(r.Context(), req, sess)
	if err != nil {
		s.authorizeError(w, r, req, err)
		return false
	}
	promptNone := slices.Contains(req.prompts, "none")
	switch {
	case st.verdict == strongEnough:
		return true
	case st.verdict == cannotMeet:
		s.authorizeError(w, r, req, errUnmetAuthentication("the user cannot sign in at the essential acr %s", st.demand.need))
	case promptNone:
		s.authorizeError(w, r, req, errInteractionRequired("the session's sign-in (%s) is weaker than the request demands; the user must take a second step",
			mfa.ACRFor(sessionAMR(sess))))
	case st.verdict == enrolFirst:
		s.renderEnrolFirst(w, r, req, st.user)
	default:
		p := pendingStep{UserID: sess.UserID, AMR: sessionAMR(sess), Session: sess.IDHash,
			Want: strongest(st.demand.need, st.demand.want), Exp: s.now().Add(pendingTTL).Unix()}
		s.renderSecondStep(w, r, signInTarget{req: req}, st.user, p, st.factors, secondStepView{status: http.StatusOK, stepUp: true})
	}
	return false
}

// errInteractionRequired: prompt=none, and the request needs the user (OIDC
// Core §3.1.2.6).
func errInteractionRequired(format string, args ...any) *protocolError {
	return newError("interaction_required", http.StatusBadRequest, format, args...)
}

// errUnmetAuthentication: an essential acr the user cannot meet (OIDC Core
// §5.5.1.1 "a failed authentication attempt", with the code of OpenID
// Connect Core Error Code unmet_authentication_requirements 1.0).
func errUnmetAuthentication(format string, args ...any) *protocolError {
	return newError("unmet_authentication_requirements", http.StatusBadRequest, format, args...)
}

// passwordGrantRefused refuses the password grant to a user who must take a
// second step (one who has a factor or require_mfa) and to a client that
// requires one: the grant has no second step. why is the audit reason.
func (s *Server) passwordGrantRefused(ctx context.Context, c storage.Client, user storage.User) (why string, refusal error, err error) {
	if c.RequireMFA {
		return "client_requires_mfa", errInvalidGrant("client %s requires a second factor; sign in through the browser", c.ID), nil
	}
	f, err := s.userFactors(ctx, user.ID)
	if err != nil {
		return "", nil, err
	}
	if user.RequireMFA || f.any() {
		return "second_factor_required", errInvalidGrant("this account uses a second factor; sign in through the browser"), nil
	}
	return "", nil, nil
}
