package authserver

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/templates"
)

// logoutParams survive the confirmation page.
var logoutParams = []string{"id_token_hint", "post_logout_redirect_uri", "state", "client_id"}

// logoutRequest is a validated RP-initiated logout request.
type logoutRequest struct {
	client      *storage.Client
	hintSubject string
	hintSID     string
	redirectURI string
	state       string
	params      url.Values
}

// parseLogout validates an RP-Initiated Logout 1.0 request (§2, §3). The
// post_logout_redirect_uri is honoured only when it exactly matches one the
// identified client registered; otherwise it is an error page, never a
// redirect.
func (s *Server) parseLogout(ctx context.Context, q url.Values) (*logoutRequest, error) {
	if bad := checkParams(q); bad != nil { // before the store, and never a redirect
		return nil, &pageError{http.StatusBadRequest, "Invalid sign-out request", bad.sentence()}
	}
	req := &logoutRequest{redirectURI: q.Get("post_logout_redirect_uri"), state: q.Get("state"), params: url.Values{}}
	for _, name := range logoutParams {
		if v := q.Get(name); v != "" {
			req.params.Set(name, v)
		}
	}
	clientID := q.Get("client_id")
	accessTokenHint := false
	if hint := q.Get("id_token_hint"); hint != "" {
		var c idClaims
		// An expired hint is still a fine hint (§2); only our signature and
		// our issuer matter.
		typ, err := s.verifyJWT(hint, &c)
		if err != nil || c.Issuer != s.cfg.Issuer {
			return nil, &pageError{http.StatusBadRequest, "Invalid sign-out request", "The id_token_hint was not issued by this server."}
		}
		switch {
		case typ != "" && !strings.EqualFold(typ, "JWT"):
			// Our ID tokens carry no typ; an access token (at+jwt) is
			// signed by the same keys but names no client and no session,
			// and anyone it was shown to (every API) could replay it. It is
			// no hint: the user is asked.
			accessTokenHint = true
		case clientID != "" && clientID != c.Audience:
			return nil, &pageError{http.StatusBadRequest, "Invalid sign-out request", "client_id does not match the id_token_hint."}
		default:
			clientID, req.hintSubject, req.hintSID = c.Audience, c.Subject, c.SessionID
		}
	}
	if clientID != "" {
		c, err := s.store.GetClient(ctx, clientID)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, &pageError{http.StatusBadRequest, "Unknown application", "Client " + clientID + " is not registered."}
		}
		if err != nil {
			return nil, err
		}
		req.client = &c
	}
	if req.redirectURI != "" {
		if req.client == nil {
			detail := "post_logout_redirect_uri needs id_token_hint or client_id to say which application it belongs to."
			if accessTokenHint {
				detail += " The id_token_hint is an access token, not an ID token."
			}
			return nil, &pageError{http.StatusBadRequest, "Invalid sign-out request", detail}
		}
		if !slices.Contains(req.client.PostLogoutRedirectURIs, req.redirectURI) {
			return nil, &pageError{http.StatusBadRequest, "Invalid sign-out request",
				"post_logout_redirect_uri " + req.redirectURI + " is not registered for client " + req.client.ID + "."}
		}
	}
	return req, nil
}

// handleLogout is the end_session_endpoint. A request whose id_token_hint
// is an ID token whose sid names the browser's own session signs out at
// once; any other request asks the user first, so a third-party page cannot
// sign the user out (§6). An ID token without sid (the password grant's) or
// with another session's proves nothing about this browser, and a page that
// got hold of one must not be able to end the session with it.
//
// The confirmation page posts back with a decision, and only that post is
// checked for origin and CSRF token. A POST without a decision is a logout
// request sent as a form, which RP-Initiated Logout §2 requires us to take
// (typically from the client's own, other, origin); it is treated as a GET.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		if !s.parseForm(w, r) {
			return
		}
	} else if err := r.ParseForm(); err != nil {
		s.renderError(w, http.StatusBadRequest, "Invalid request", "The request could not be read.", "")
		return
	}
	form := r.Method == http.MethodPost && r.PostForm.Has("decision") // the confirmation page's answer
	if form && !s.sameOrigin(w, r) {
		return
	}
	req, err := s.parseLogout(r.Context(), r.Form)
	if err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	if form && !s.checkCSRF(w, r, csrfLogout, req.params) {
		return
	}
	sess, err := s.currentSession(r)
	if err != nil {
		s.authorizeError(w, r, nil, err)
		return
	}
	confirmed := form && r.PostForm.Get("decision") == "logout"
	hinted := sess != nil && req.hintSID != "" && req.hintSID == sess.IDHash && req.hintSubject == sess.UserID
	switch {
	case form && r.PostForm.Get("decision") == "cancel":
		s.finishLogout(w, r, req)
		return
	case sess != nil && !confirmed && !hinted:
		s.render(w, http.StatusOK, templates.LogoutConfirm{
			ClientName: clientNameOf(req.client),
			CSRFToken:  s.csrfToken(w, r, csrfLogout, req.params),
			Action:     s.path(pathLogout),
			Hidden:     fieldsOf(req.params, logoutParams),
		})
		return
	case sess != nil:
		if err := s.endSession(r.Context(), sess); err != nil {
			s.authorizeError(w, r, nil, err)
			return
		}
		clientID := ""
		if req.client != nil {
			clientID = req.client.ID
			observe.SetClientID(r.Context(), clientID)
		}
		observe.Audit(r.Context(), s.log, observe.EventLogout, slog.String("subject", sess.UserID), slog.String("client_id", clientID))
		http.SetCookie(w, s.cookie(sessionCookie, "", -1))
	}
	s.finishLogout(w, r, req)
}

// finishLogout returns to the client's registered URI, or shows the
// signed-out page.
func (s *Server) finishLogout(w http.ResponseWriter, r *http.Request, req *logoutRequest) {
	if req.redirectURI == "" {
		s.render(w, http.StatusOK, templates.LoggedOut{})
		return
	}
	u, _ := url.Parse(req.redirectURI) // registered URIs are validated at start
	if req.state != "" {
		q := u.Query()
		q.Set("state", req.state)
		u.RawQuery = q.Encode()
	}
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// endSession is storage.EndSession for this browser's session, then tells
// the clients that got tokens in it at once (back-channel logout,
// backchannel.go) rather than at the next sweep.
func (s *Server) endSession(ctx context.Context, sess *storage.Session) error {
	if err := storage.EndSession(ctx, s.store, sess.IDHash, s.now()); err != nil {
		return err
	}
	s.SessionEnded(sess.IDHash)
	return nil
}

func clientNameOf(c *storage.Client) string {
	if c == nil {
		return ""
	}
	return clientName(*c)
}
