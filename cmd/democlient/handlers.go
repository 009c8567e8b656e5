package main

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Cookie names. Each holds only a random ID of server-side state.
const (
	loginCookie   = "democlient_login"
	sessionCookie = "democlient_session"
)

// pendingLogin is what /login remembers for /callback: acr is the
// acr_values it asked for ("" for none).
type pendingLogin struct {
	state, nonce, verifier string
	acr                    string
}

// session is a signed-in user's state. mu serialises the handlers of one
// session, which also keeps two refreshes from racing on a rotating token.
type session struct {
	mu       sync.Mutex
	csrf     string
	token    *oauth2.Token
	idToken  verifiedIDToken
	askedACR string // the acr_values of the sign-in, "" for none
	api      apiResult
	flash    string
	flashErr bool
	// ended is set when the provider said, by back-channel logout, that
	// the session this one came from ended; the next visit says so.
	ended atomic.Bool
}

func (a *app) setCookie(w http.ResponseWriter, name, value string, ttl time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   int(ttl / time.Second),
		HttpOnly: true,
		// Lax, not Strict: the provider's redirect to /callback is a
		// cross-site top-level navigation that must carry the login cookie.
		SameSite: http.SameSiteLaxMode,
	})
}

func clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// currentSession returns the session named by the request's cookie. A
// session the provider ended is not current (the home page tells).
func (a *app) currentSession(r *http.Request) (*session, string, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, "", false
	}
	s, ok := a.sessions.get(c.Value)
	if ok && s.ended.Load() {
		return nil, "", false
	}
	return s, c.Value, ok
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	v := homeView{Issuer: a.cfg.Issuer, ClientID: a.cfg.ClientID, MFA: acrMFA}
	if c, err := r.Cookie(sessionCookie); err == nil {
		if s, ok := a.sessions.get(c.Value); ok && s.ended.Load() {
			// Said once: the session goes now.
			a.sessions.remove(c.Value)
			clearCookie(w, sessionCookie)
			v.SignedOutByProvider = true
		} else if ok {
			s.mu.Lock()
			v.SignedInAs = s.idToken.displayName()
			s.mu.Unlock()
		}
	}
	a.render(w, http.StatusOK, "home.html", v)
}

// login starts the authorization code flow. State, nonce and the PKCE
// verifier stay on the server; the browser only gets a random cookie.
func (a *app) login(w http.ResponseWriter, r *http.Request) { a.startLogin(w, r, "") }

// loginMFA starts it asking for a second factor (acr_values, OIDC Core
// §3.1.2.1): a provider session signed in with a password alone is
// stepped up, so the same button also works when already signed in.
func (a *app) loginMFA(w http.ResponseWriter, r *http.Request) { a.startLogin(w, r, acrMFA) }

func (a *app) startLogin(w http.ResponseWriter, r *http.Request, acr string) {
	p := pendingLogin{state: randomString(), nonce: randomString(), verifier: oauth2.GenerateVerifier(), acr: acr}
	id, err := a.logins.put(p)
	if err != nil {
		a.renderError(w, http.StatusServiceUnavailable, errorView{Title: "Busy", Message: err.Error()})
		return
	}
	a.setCookie(w, loginCookie, id, loginTTL)
	opts := []oauth2.AuthCodeOption{oidc.Nonce(p.nonce), oauth2.S256ChallengeOption(p.verifier)}
	if acr != "" {
		opts = append(opts, oauth2.SetAuthURLParam("acr_values", acr))
	}
	http.Redirect(w, r, a.oauth.AuthCodeURL(p.state, opts...), http.StatusFound)
}

// callback finishes the flow: it checks state, exchanges the code with the
// PKCE verifier, verifies the ID token, calls the API and opens a session.
func (a *app) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var pending pendingLogin
	ok := false
	if c, err := r.Cookie(loginCookie); err == nil {
		// Taken, not read: a login attempt serves one callback only.
		pending, ok = a.logins.take(c.Value)
	}
	clearCookie(w, loginCookie)
	if !ok || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(pending.state)) != 1 {
		a.renderError(w, http.StatusBadRequest, errorView{
			Title:   "Unknown sign-in attempt",
			Message: "This answer from the provider does not match a sign-in started in this browser (the state is unknown, expired or already used). Start again from the home page.",
		})
		return
	}
	// RFC 9207: when the provider names itself, it must be the one we asked.
	if iss := q.Get("iss"); iss != "" && iss != a.cfg.Issuer {
		a.renderError(w, http.StatusBadRequest, errorView{
			Title:   "Wrong provider",
			Message: fmt.Sprintf("The answer came from issuer %q, but this app signs in at %q.", iss, a.cfg.Issuer),
		})
		return
	}
	if code := q.Get("error"); code != "" {
		msg := "The provider did not sign you in."
		if code == "access_denied" {
			msg = "Access was denied: you declined, or the provider refused the request."
		}
		a.renderError(w, http.StatusBadRequest, errorView{Title: "Sign-in did not complete", Message: msg, Code: code, Description: q.Get("error_description")})
		return
	}
	code := q.Get("code")
	if code == "" {
		a.renderError(w, http.StatusBadRequest, errorView{Title: "Sign-in did not complete", Message: "The provider's answer has neither a code nor an error."})
		return
	}

	ctx := oidc.ClientContext(r.Context(), a.client)
	tok, err := a.oauth.Exchange(ctx, code, oauth2.VerifierOption(pending.verifier))
	if err != nil {
		v := tokenErrorView("The code could not be exchanged for tokens", err)
		a.log.Warn("code exchange failed", "error_code", v.Code)
		a.renderError(w, http.StatusBadGateway, v)
		return
	}
	idt, err := a.verifyIDToken(ctx, tok, pending.nonce, "")
	if err != nil {
		a.log.Warn("ID token rejected", "err", err)
		a.renderError(w, http.StatusBadGateway, errorView{Title: "The ID token was rejected", Message: err.Error()})
		return
	}
	if check := acrCheck(idt.signIn, pending.acr); check != "" {
		idt.checks = append(idt.checks, check)
	}
	s := &session{csrf: randomString(), token: tok, idToken: idt, askedACR: pending.acr}
	s.api = a.callAPI(ctx, tok)
	id, err := a.sessions.put(s)
	if err != nil {
		a.renderError(w, http.StatusServiceUnavailable, errorView{Title: "Busy", Message: err.Error()})
		return
	}
	a.log.Info("signed in", "sub", idt.subject)
	a.setCookie(w, sessionCookie, id, sessionTTL)
	http.Redirect(w, r, "/me", http.StatusSeeOther)
}

// tokenErrorView explains a failed token request with the provider's own
// error code and description (never the request, which held a secret).
func tokenErrorView(title string, err error) errorView {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode != "" {
		return errorView{Title: title, Message: fmt.Sprintf("The token endpoint answered %d.", re.Response.StatusCode),
			Code: re.ErrorCode, Description: re.ErrorDescription}
	}
	return errorView{Title: title, Message: err.Error()}
}

func (a *app) me(w http.ResponseWriter, r *http.Request) {
	s, _, ok := a.currentSession(r)
	if !ok {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.mu.Lock()
	v := meView{
		Name:          s.idToken.displayName(),
		CSRF:          s.csrf,
		Flash:         s.flash,
		FlashIsError:  s.flashErr,
		Checks:        s.idToken.checks,
		IDClaims:      s.idToken.claims,
		SignIn:        newSignInView(s.idToken.signIn, s.askedACR),
		RefreshIssued: s.token.RefreshToken != "",
		API:           s.api,
		AccessExpiry:  "not stated by the provider",
		Scope:         "as requested (the provider did not list them)",
	}
	if scope, ok := s.token.Extra("scope").(string); ok && scope != "" {
		v.Scope = scope
	}
	if !s.token.Expiry.IsZero() {
		v.AccessExpiry = s.token.Expiry.UTC().Format(time.RFC1123)
	}
	var err error
	if v.AccessClaims, err = jwtPayloadClaims(s.token.AccessToken); err != nil {
		v.AccessNote = "The access token is not a JWT this app can decode (" + err.Error() + "); only the API can tell what it means."
	}
	if a.dpop != nil {
		v.DPoP = a.dpop.status(s.token, s.api)
	}
	// A flash message shows once.
	s.flash, s.flashErr = "", false
	s.mu.Unlock()
	a.render(w, http.StatusOK, "me.html", v)
}

// withSession runs fn for a POST from the result page: it needs a session
// and that session's CSRF token, since SameSite=Lax alone is not a CSRF
// defence for every browser.
func (a *app) withSession(w http.ResponseWriter, r *http.Request, fn func(s *session, id string)) {
	s, id, ok := a.currentSession(r)
	if !ok {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf_token")), []byte(s.csrf)) != 1 {
		a.renderError(w, http.StatusForbidden, errorView{Title: "Request refused", Message: "The form's CSRF token is missing or wrong. Reload the page and try again."})
		return
	}
	fn(s, id)
}

// refresh uses the refresh token and keeps whatever the provider returns.
func (a *app) refresh(w http.ResponseWriter, r *http.Request) {
	a.withSession(w, r, func(s *session, _ string) {
		defer http.Redirect(w, r, "/me", http.StatusSeeOther)
		s.flashErr = true
		if s.token.RefreshToken == "" {
			s.flash = "No refresh token was issued, so there is nothing to refresh. Ask for the offline_access scope."
			return
		}
		ctx := oidc.ClientContext(r.Context(), a.client)
		// A token with only a refresh token counts as expired, so the
		// source asks the provider for new tokens right away.
		tok, err := a.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: s.token.RefreshToken}).Token()
		if err != nil {
			v := tokenErrorView("", err)
			s.flash = "Refreshing failed: " + v.Message
			if v.Code != "" {
				s.flash += " Error " + v.Code + ": " + v.Description
			}
			return
		}
		if _, ok := tok.Extra("id_token").(string); ok {
			idt, err := a.verifyIDToken(ctx, tok, "", s.idToken.subject)
			if err != nil {
				s.flash = "The refreshed ID token was rejected: " + err.Error()
				return
			}
			s.idToken = idt
		}
		rotated := tok.RefreshToken != s.token.RefreshToken
		s.token = tok
		s.flashErr = false
		s.flash = "New tokens issued."
		if !tok.Expiry.IsZero() {
			s.flash += " The access token now expires " + tok.Expiry.UTC().Format(time.RFC1123) + "."
		}
		if rotated {
			s.flash += " The refresh token was rotated."
		}
	})
}

func (a *app) call(w http.ResponseWriter, r *http.Request) {
	a.withSession(w, r, func(s *session, _ string) {
		s.api = a.callAPI(oidc.ClientContext(r.Context(), a.client), s.token)
		http.Redirect(w, r, "/me", http.StatusSeeOther)
	})
}

// logout forgets the local session, then asks the provider to end its own
// (RP-initiated logout) when it advertises an end_session_endpoint.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	a.withSession(w, r, func(s *session, id string) {
		a.sessions.remove(id)
		clearCookie(w, sessionCookie)
		target := "/"
		if a.endSession != "" {
			if u, err := url.Parse(a.endSession); err == nil {
				q := u.Query()
				q.Set("id_token_hint", s.idToken.raw)
				q.Set("post_logout_redirect_uri", a.baseURL+"/")
				q.Set("client_id", a.cfg.ClientID)
				u.RawQuery = q.Encode()
				target = u.String()
			}
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
	})
}
