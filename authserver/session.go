package authserver

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/storage"
)

// Cookie names. The provider may share a host with its clients on other ports
// (cookies ignore ports), hence the prefix.
const (
	sessionCookie = "authserver_session"
	csrfCookie    = "authserver_csrf"
	csrfField     = "csrf_token"
)

// currentSession returns the login session of the request, or nil.
func (s *Server) currentSession(r *http.Request) (*storage.Session, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, nil
	}
	sess, err := s.store.GetSession(r.Context(), storage.Hash(ck.Value), s.now())
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &sess, nil
}

// startSession creates a login session for the user and sets its cookie. The
// cookie holds 256 random bits; the store holds only their hash.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, userID string) error {
	// A sign-in always gets a new session id (no fixation), and the one it
	// replaces ends here rather than lingering until it expires.
	if old, err := r.Cookie(sessionCookie); err == nil && old.Value != "" {
		if err := s.store.DeleteSession(r.Context(), storage.Hash(old.Value)); err != nil {
			return err
		}
	}
	id := randomToken()
	now := s.now()
	err := s.store.CreateSession(r.Context(), storage.Session{
		IDHash:    storage.Hash(id),
		UserID:    userID,
		AuthTime:  now,
		CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.SessionTTL),
	})
	if err != nil {
		return err
	}
	http.SetCookie(w, s.cookie(sessionCookie, id, int(s.cfg.SessionTTL.Seconds())))
	return nil
}

// cookie scopes every cookie to the issuer's path, so a provider at
// https://example.com/auth never sends its session to the rest of the host
// (and two issuers on one host keep separate sessions).
func (s *Server) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     cmp.Or(s.base, "/"),
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   s.secureCookies,
		// Lax: the cookie must come along on the top-level redirect from a
		// client to /authorize, but never on a cross-site POST.
		SameSite: http.SameSiteLaxMode,
	}
}

// csrfToken returns the token to put in a form, setting the random CSRF
// cookie it is bound to when the browser has none. The token is an HMAC of the
// cookie under a key every replica shares, so no server state is needed and a
// token from another browser never matches.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	value := ""
	if ck, err := r.Cookie(csrfCookie); err == nil && len(ck.Value) >= 43 {
		value = ck.Value
	} else {
		value = randomToken()
		http.SetCookie(w, s.cookie(csrfCookie, value, 0))
	}
	return s.csrfMAC(value)
}

func (s *Server) csrfMAC(cookie string) string {
	m := hmac.New(sha256.New, s.cfg.CSRFKey)
	m.Write([]byte(cookie))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// validCSRF checks the form's token against the browser's CSRF cookie.
func (s *Server) validCSRF(r *http.Request) bool {
	ck, err := r.Cookie(csrfCookie)
	if err != nil || ck.Value == "" {
		return false
	}
	return hmac.Equal([]byte(r.PostForm.Get(csrfField)), []byte(s.csrfMAC(ck.Value)))
}

// Why a password sign-in failed, for the audit log only: the user and the
// client are told the same thing in every case, so that the answer does not
// reveal whether a username exists.
const (
	loginUnknownUser   = "unknown_user"
	loginWrongPassword = "wrong_password"
	loginUnreadable    = "unreadable_password_hash"
)

// checkPassword verifies a user's password. It returns the user and "", or
// why the sign-in failed (one of the login* reasons). An unknown user costs
// the same hash as a known one, so the answer time does not tell whether a
// username exists.
func (s *Server) checkPassword(ctx context.Context, username, pw string) (storage.User, string, error) {
	u, err := s.store.GetUserByUsername(ctx, username)
	if errors.Is(err, storage.ErrNotFound) {
		_, _ = s.verifyPassword(ctx, s.dummyHash, pw)
		return storage.User{}, loginUnknownUser, nil
	}
	if err != nil {
		return storage.User{}, "", err
	}
	ok, err := s.verifyPassword(ctx, u.PasswordHash, pw)
	if ctx.Err() != nil {
		return storage.User{}, "", ctx.Err()
	}
	if err != nil {
		s.log.ErrorContext(ctx, "stored password hash is unreadable", slog.String("user_id", u.ID), slog.Any("err", err))
		return storage.User{}, loginUnreadable, nil
	}
	if !ok {
		return storage.User{}, loginWrongPassword, nil
	}
	return u, "", nil
}

// auditLogin records the outcome of a password sign-in (via is login_form
// or password_grant): the login.succeeded or login.failed event and the
// logins metric. The username is logged as typed, bounded, because an
// operator investigating an attack needs it; failure is "" on success.
func (s *Server) auditLogin(ctx context.Context, via, username, clientID, userID, failure string) {
	if len(username) > 256 {
		username = strings.ToValidUTF8(username[:256], "")
	}
	attrs := []slog.Attr{slog.String("via", via), slog.String("username", username), slog.String("client_id", clientID)}
	if failure != "" {
		s.metrics.Login(observe.OutcomeFailed)
		observe.Audit(ctx, s.log, observe.EventLoginFailed, append(attrs, slog.String("reason", failure))...)
		return
	}
	s.metrics.Login(observe.OutcomeSucceeded)
	observe.Audit(ctx, s.log, observe.EventLoginSucceeded, append(attrs, slog.String("subject", userID))...)
}

// verifyPassword runs one memory-hard hash when a slot is free. Each argon2id
// verification takes memory_kib of RAM, so without a bound a flood of login
// attempts would exhaust the machine's memory; with it, they queue.
func (s *Server) verifyPassword(ctx context.Context, hash, pw string) (bool, error) {
	select {
	case s.hashSlots <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-s.hashSlots }()
	return s.verify(hash, pw)
}
