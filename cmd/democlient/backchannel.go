package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/oauth2"
)

// The receiving side of OpenID Connect Back-Channel Logout 1.0: the provider
// POSTs a signed logout token to http://<listen>/backchannel-logout when the
// user's session there ends (sign-out in another app, a password change, an
// administrator), and the app ends its own sessions for that provider
// session. The browser is not involved; its next visit says "signed out by
// the provider".

// backchannelEvent is the member a logout token's events claim must have (§2.4).
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// logoutToken is what a verified logout token says.
type logoutToken struct{ subject, sid string }

// backchannelLogout is the backchannel_logout_uri (§2.5, §2.8): 200 when the
// token is valid (whether or not a session matched), 400 with a JSON error
// otherwise. Never cached.
func (a *app) backchannelLogout(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	var lt logoutToken
	err := r.ParseForm()
	if err == nil {
		lt, err = a.verifyLogoutToken(r.Context(), r.PostForm.Get("logout_token"))
	}
	if err != nil {
		a.log.Warn("logout token rejected", "err", err)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "error_description": err.Error()})
		return
	}
	n := a.endSessions(lt)
	a.log.Info("signed out by the provider", "sub", lt.subject, "sessions", n)
	w.WriteHeader(http.StatusOK)
}

// verifyLogoutToken validates a logout token as §2.6 asks: go-oidc checks
// the signature with the provider's keys, the issuer, the audience (this
// client) and the expiry; then the explicit type logout+jwt, the events
// claim, a sid or sub, a jti and iat, and no nonce, so that no ID token can
// pass for a logout token.
func (a *app) verifyLogoutToken(ctx context.Context, raw string) (logoutToken, error) {
	if raw == "" {
		return logoutToken{}, errors.New("the request has no logout_token")
	}
	if typ := jwtType(raw); !strings.EqualFold(typ, "logout+jwt") && !strings.EqualFold(typ, "application/logout+jwt") {
		return logoutToken{}, fmt.Errorf("the token's typ is %q, not logout+jwt", typ)
	}
	tok, err := a.verifier.Verify(ctx, raw)
	if err != nil {
		return logoutToken{}, err
	}
	var c struct {
		Events map[string]json.RawMessage `json:"events"`
		SID    string                     `json:"sid"`
		JTI    string                     `json:"jti"`
		Nonce  json.RawMessage            `json:"nonce"`
	}
	if err := tok.Claims(&c); err != nil {
		return logoutToken{}, fmt.Errorf("the token's claims: %w", err)
	}
	var event map[string]any
	if ev, ok := c.Events[backchannelEvent]; !ok || json.Unmarshal(ev, &event) != nil || event == nil {
		return logoutToken{}, errors.New("the token's events claim has no back-channel logout event")
	}
	switch {
	case c.Nonce != nil:
		return logoutToken{}, errors.New("the token has a nonce, which a logout token never has")
	case c.SID == "" && tok.Subject == "":
		return logoutToken{}, errors.New("the token names neither a session (sid) nor a user (sub)")
	case c.JTI == "" || tok.IssuedAt.IsZero():
		return logoutToken{}, errors.New("the token lacks jti or iat")
	}
	return logoutToken{subject: tok.Subject, sid: c.SID}, nil
}

// jwtType reads the typ header of a JWT, "" when it has none; the signature
// is checked afterwards.
func jwtType(raw string) string {
	seg, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return ""
	}
	var h struct {
		Typ string `json:"typ"`
	}
	_ = json.Unmarshal(b, &h)
	return h.Typ
}

// endSessions ends the sessions the token names: those of its provider
// session (sid), or with no sid every session of the user (sub). Their
// tokens are forgotten at once; the session stays, marked, until the
// browser's next visit shows why it ended (or it expires).
func (a *app) endSessions(lt logoutToken) int {
	n := 0
	// The store's lock is not held while each session's is: the handlers
	// take them the other way round.
	for _, s := range a.sessions.values() {
		s.mu.Lock()
		match := lt.sid != "" && s.idToken.sid == lt.sid && (lt.subject == "" || s.idToken.subject == lt.subject) ||
			lt.sid == "" && s.idToken.subject == lt.subject
		if match && !s.ended.Load() {
			s.ended.Store(true)
			s.token, s.idToken.raw = &oauth2.Token{}, ""
			n++
		}
		s.mu.Unlock()
	}
	return n
}
