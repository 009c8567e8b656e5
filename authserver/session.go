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
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/storage"
)

// Cookie names, before the prefix that cookieName adds under https. The
// provider may share a host with its clients on other ports (cookies ignore
// ports), hence the authserver_ in the name.
const (
	sessionCookie = "authserver_session"
	csrfCookie    = "authserver_csrf"
	csrfField     = "csrf_token"
)

// cookieName is the name a cookie has on the wire. Under https a root issuer
// uses the __Host- prefix: the browser then accepts the cookie only with
// Secure, Path=/ and no Domain, so neither an http page nor a sibling
// subdomain can plant or overwrite it. __Host- demands Path=/, which would
// send the session to every application on the host; an issuer with a path
// keeps its cookies on that path instead, with the weaker __Secure- prefix
// (only a secure page can set it). Plain http (the loopback demo) can have
// neither prefix.
func (s *Server) cookieName(name string) string {
	switch {
	case !s.secureCookies:
		return name
	case s.base == "":
		return "__Host-" + name
	default:
		return "__Secure-" + name
	}
}

// currentSession returns the login session of the request, or nil.
func (s *Server) currentSession(r *http.Request) (*storage.Session, error) {
	ck, err := r.Cookie(s.cookieName(sessionCookie))
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
// cookie holds 256 random bits; the store holds only their hash. amr is what
// the sign-in proved (RFC 8176), carried into every token of the session.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, userID string, amr []string) error {
	// A sign-in always gets a new session id (no fixation), and the one it
	// replaces ends here rather than lingering until it expires; the
	// clients that got tokens in it are told (back-channel logout), since
	// the sid they hold names a session that no longer exists.
	if old, err := r.Cookie(s.cookieName(sessionCookie)); err == nil && old.Value != "" {
		if err := s.store.DeleteSession(r.Context(), storage.Hash(old.Value)); err != nil {
			return err
		}
		s.SessionEnded(storage.Hash(old.Value))
	}
	id := randomToken()
	now := s.now()
	var ip string
	if addr := observe.ClientIP(r.Context()); addr.IsValid() {
		ip = addr.String()
	}
	err := s.store.CreateSession(r.Context(), storage.Session{
		IDHash:    storage.Hash(id),
		UserID:    userID,
		AuthTime:  now,
		CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.SessionTTL),
		// Shown on /account, so that the user can tell sessions apart.
		UserAgent: storedUserAgent(r.UserAgent()),
		IP:        ip,
		AMR:       amr,
	})
	if err != nil {
		return err
	}
	http.SetCookie(w, s.cookie(sessionCookie, id, int(s.cfg.SessionTTL.Seconds())))
	return nil
}

// storedUserAgent is the User-Agent as a session keeps it: what the
// browser sent, which anyone can write, made valid UTF-8 without control
// characters (PostgreSQL refuses some in text) and cut to
// storage.MaxUserAgent bytes on a character boundary.
func storedUserAgent(ua string) string {
	ua = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(ua, ""))
	if len(ua) <= storage.MaxUserAgent {
		return ua
	}
	cut := storage.MaxUserAgent
	for cut > 0 && !utf8.RuneStart(ua[cut]) {
		cut--
	}
	return ua[:cut]
}

// cookie scopes every cookie to the issuer's path, so a provider at
// https://example.com/auth never sends its session to the rest of the host
// (and two issuers on one host keep separate sessions). name is one of the
// unprefixed names above.
func (s *Server) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     s.cookieName(name),
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

// What a form's CSRF token allows: a token for one form is refused by the
// others.
const (
	csrfLogin   = "login"
	csrfConsent = "consent"
	csrfLogout  = "logout"
	// csrfAccount is every form of the account page; csrfAccountLogin the
	// login form that returns to it (account.go).
	csrfAccount      = "account"
	csrfAccountLogin = "account_login"
)

// csrfSkew is how far in the future a token's issue time may lie: replicas'
// clocks differ a little.
const csrfSkew = time.Minute

// csrfToken returns the token to put in a form of the given purpose that
// carries params (the pending authorization or logout request), setting the
// random CSRF cookie when the browser has none. The token is its issue time
// and an HMAC, under a key every replica shares, of the purpose, the request,
// the browser's CSRF cookie, its login session cookie (none when signed out)
// and that time. No server state is needed, and a token is good only for the
// one pending request, in the browser and session it was shown to, for
// CSRFTokenTTL. A page on another port of the same host can plant the CSRF
// cookie (cookies ignore ports), but the tokens it can obtain name its own
// session and request, and it cannot read the one shown to the victim.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request, purpose string, params url.Values) string {
	value := ""
	if ck, err := r.Cookie(s.cookieName(csrfCookie)); err == nil && len(ck.Value) >= 43 {
		value = ck.Value
	} else {
		value = randomToken()
		http.SetCookie(w, s.cookie(csrfCookie, value, 0))
	}
	iat := strconv.FormatInt(s.now().Unix(), 10)
	return iat + "." + s.csrfMAC(purpose, params, value, s.sessionBinding(r), iat)
}

// sessionBinding names the login session the browser presents, or "" (the
// hash, as the store keys it, so that a token never contains the session id).
func (s *Server) sessionBinding(r *http.Request) string {
	if ck, err := r.Cookie(s.cookieName(sessionCookie)); err == nil && ck.Value != "" {
		return storage.Hash(ck.Value)
	}
	return ""
}

func (s *Server) csrfMAC(purpose string, params url.Values, cookie, session, iat string) string {
	m := hmac.New(sha256.New, s.cfg.CSRFKey)
	// url.Values encodes unambiguously, with sorted keys.
	m.Write([]byte(url.Values{"v": {"2"}, "purpose": {purpose}, "request": {params.Encode()},
		"cookie": {cookie}, "session": {session}, "iat": {iat}}.Encode()))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// validCSRF checks the form's token against the form's purpose, the request
// it carries (params), the browser's cookies and the token's age.
func (s *Server) validCSRF(r *http.Request, purpose string, params url.Values) bool {
	ck, err := r.Cookie(s.cookieName(csrfCookie))
	if err != nil || ck.Value == "" {
		return false
	}
	iat, mac, ok := strings.Cut(r.PostForm.Get(csrfField), ".")
	if !ok {
		return false
	}
	sec, err := strconv.ParseInt(iat, 10, 64)
	if err != nil {
		return false
	}
	issued, now := time.Unix(sec, 0), s.now()
	if now.Sub(issued) > s.cfg.CSRFTokenTTL || issued.After(now.Add(csrfSkew)) {
		return false
	}
	return hmac.Equal([]byte(mac), []byte(s.csrfMAC(purpose, params, ck.Value, s.sessionBinding(r), iat)))
}

// sameOrigin refuses a state-changing request that a browser says came from
// another origin (Sec-Fetch-Site, or Origin against Host): a page on another
// port of the same host is same-site, so SameSite=Lax cookies come along,
// but it is not same-origin. A request with neither header is not from a
// browser (or from one too old to send them) and passes; the CSRF token
// still guards it. On refusal it has answered 403.
func (s *Server) sameOrigin(w http.ResponseWriter, r *http.Request) bool {
	if err := s.crossOrigin.Check(r); err != nil {
		s.log.WarnContext(r.Context(), "cross-origin form post refused", slog.String("path", r.URL.Path),
			slog.String("sec_fetch_site", r.Header.Get("Sec-Fetch-Site")), slog.String("origin", r.Header.Get("Origin")))
		s.renderError(w, http.StatusForbidden, "Request refused",
			"This form was sent by another site or application, not by this sign-in page.", "Go back to the application and start again.")
		return false
	}
	return true
}

// newCrossOriginProtection is the check of sameOrigin. The issuer's own
// origin is trusted explicitly, for a browser that sends only Origin through
// a reverse proxy that rewrites Host.
func newCrossOriginProtection(issuer *url.URL) (*http.CrossOriginProtection, error) {
	c := http.NewCrossOriginProtection()
	if err := c.AddTrustedOrigin(issuer.Scheme + "://" + issuer.Host); err != nil {
		return nil, err
	}
	return c, nil
}

// Why a password sign-in failed, for the audit log only: the user and the
// client are told the same thing in every case, so that the answer does not
// reveal whether a username exists.
const (
	loginUnknownUser   = "unknown_user"
	loginWrongPassword = "wrong_password"
	loginUnreadable    = "unreadable_password_hash"
	// loginDisabled is a right password of a disabled user
	// (storage.User.Disabled).
	loginDisabled = "disabled"
)

// checkPassword verifies a user's password. It returns the user and "", or
// why the sign-in failed (one of the login* reasons), or an error: a 429
// protocolError when the username or client IP is in back-off (see
// throttling.go), checked before any hash so that a correct password is
// refused too. An unknown user costs the same hash, with the same
// parameters, as a known one and is throttled the same way, so neither the
// answer nor its time tells whether a username exists. A success resets the
// username's counter (not the IP's) and upgrades an outdated hash. A
// disabled user's right password is a failure (loginDisabled), counted like
// a wrong one, so that neither the answer nor the throttle tells a guesser
// that the password was right.
func (s *Server) checkPassword(ctx context.Context, username, pw string) (storage.User, string, error) {
	keys := loginKeys(ctx, username)
	if err := s.refuseIfBlocked(ctx, observe.ThrottleLogin, slog.String("username", boundedUsername(username)), keys...); err != nil {
		return storage.User{}, "", err
	}
	u, failure, err := s.verifyUser(ctx, username, pw)
	if err != nil {
		return storage.User{}, "", err
	}
	if failure == "" && u.Disabled {
		failure = loginDisabled
	}
	if failure != "" {
		return storage.User{}, failure, s.countFailure(ctx, keys...)
	}
	s.forgetFailures(ctx, keys[0])
	s.upgradeHash(ctx, u, pw)
	return u, "", nil
}

// verifyUser is checkPassword without the throttle.
func (s *Server) verifyUser(ctx context.Context, username, pw string) (storage.User, string, error) {
	u, err := s.store.GetUserByUsername(ctx, username)
	if errors.Is(err, storage.ErrNotFound) {
		if _, err := s.verifyPassword(ctx, s.dummyHash, pw); err != nil {
			return storage.User{}, "", err
		}
		return storage.User{}, loginUnknownUser, nil
	}
	if err != nil {
		return storage.User{}, "", err
	}
	ok, err := s.verifyPassword(ctx, u.PasswordHash, pw)
	if ctx.Err() != nil {
		return storage.User{}, "", ctx.Err()
	}
	if _, busy := throttledFor(err); busy {
		return storage.User{}, "", err
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

// auditLogin records the outcome of a password sign-in (via is login_form,
// password_grant, account_login for the account page's sign-in, or
// account_password for its check of the current password): the login.succeeded or login.failed event and the
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

// verifyPassword runs one memory-hard hash when a slot is free: first one of
// the client IP's slots, so that one address cannot take every slot of the
// replica, then one of the replica's (see hashSlot).
func (s *Server) verifyPassword(ctx context.Context, hash, pw string) (bool, error) {
	releaseIP, err := s.ipHashSlot(ctx)
	if err != nil {
		return false, err
	}
	defer releaseIP()
	release, err := s.hashSlot(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	return s.verify(hash, pw)
}
