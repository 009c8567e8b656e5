package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver-dev/authserver/authserver/backchannel"
	"github.com/authserver-dev/authserver/authserver/storage"
)

// OpenID Connect Back-Channel Logout 1.0. When a login session ends, every
// client that received an ID token in it and registered a
// backchannel_logout_uri is sent a logout token (§2.4) naming the session
// (sid) and the user (sub).
//
// The session_clients records are the outbox. Issuing an ID token in a
// session records its client (recordSessionClient); ending a session deletes
// the session, nothing more, wherever that happens: RP-initiated logout
// here, a new sign-in replacing the browser's session, or the store's own
// cascades (a password change, a deleted user) in this process, another
// replica or the CLI. RunBackchannelLogout then takes the records of
// sessions that no longer exist and hands them to package backchannel,
// which delivers in the background. A session this server ended is taken at
// once (SessionEnded), any other at the next sweep. A session that merely
// expires notifies nobody. Nothing of this runs on a user's request but a
// non-blocking channel send, so a slow relying party never delays anyone.

const (
	// backchannelEvent is the member of a logout token's events claim (§2.4).
	backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"
	// logoutTokenTTL is the exp of a logout token after its iat: long
	// enough for the sender's retries and a relying party's clock skew.
	logoutTokenTTL = 2 * time.Minute
	// DefaultBackchannelSweep is how often sessions ended elsewhere are
	// looked for (Config.BackchannelSweepInterval).
	DefaultBackchannelSweep = 10 * time.Second
	// sweepBatch bounds the records one statement takes.
	sweepBatch = 100
	// endedQueue bounds the sessions ended here that wait to be taken;
	// past it, the next sweep takes them.
	endedQueue = 256
)

// backchannelLogout is the server's side of back-channel logout.
type backchannelLogout struct {
	sender   *backchannel.Sender
	ended    chan string   // sids of sessions this server ended
	sweep    chan struct{} // asks for a sweep now
	interval time.Duration
}

func newBackchannelLogout(s *Server) *backchannelLogout {
	interval := s.cfg.BackchannelSweepInterval
	if interval <= 0 {
		interval = DefaultBackchannelSweep
	}
	return &backchannelLogout{
		sender: &backchannel.Sender{
			Client: s.cfg.BackchannelClient,
			Logger: s.log,
			Done:   s.metrics.BackchannelLogout,
		},
		ended:    make(chan string, endedQueue),
		sweep:    make(chan struct{}, 1),
		interval: interval,
	}
}

// RunBackchannelLogout delivers back-channel logouts until ctx is done:
// at once for the sessions this server ends, and every
// BackchannelSweepInterval for sessions ended anywhere else (another
// replica, the CLI, the store's cascades). Every replica runs it; each
// session's clients are taken by exactly one. Without it running, nobody is
// told (the records wait in the store until their session would have
// expired).
func (s *Server) RunBackchannelLogout(ctx context.Context) {
	b := s.backchannel
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { b.sender.Run(ctx) })
	t := time.NewTicker(b.interval)
	defer t.Stop()
	s.sweepEndedSessions(ctx) // what ended while no server ran
	for {
		select {
		case <-ctx.Done():
			return
		case sid := <-b.ended:
			recs, err := s.store.TakeSessionClients(ctx, sid, s.now())
			if err != nil {
				s.logBackchannelError(ctx, err)
				continue
			}
			s.notifyClients(ctx, recs)
		case <-b.sweep:
			s.sweepEndedSessions(ctx)
		case <-t.C:
			s.sweepEndedSessions(ctx)
		}
	}
}

// SessionEnded says that the login session sid (its IDHash, the sid of its
// ID tokens) was just deleted, so that its clients are told now rather than
// at the next sweep. It never blocks.
func (s *Server) SessionEnded(sid string) {
	select {
	case s.backchannel.ended <- sid:
	default:
		s.SessionsEnded()
	}
}

// SessionsEnded asks for a sweep now: a caller that ended sessions through
// the store (storage SetUserPassword or DeleteUser, or deleting a user's
// sessions) calls it so that their clients are told at once. It never blocks.
func (s *Server) SessionsEnded() {
	select {
	case s.backchannel.sweep <- struct{}{}:
	default: // a sweep is already due
	}
}

// EndSession ends the login session whose IDHash is sid, as signing out
// does: its refresh tokens without offline_access are revoked, the session
// is deleted and the clients that got tokens in it are sent logout tokens.
// Ending an unknown session is not an error.
func (s *Server) EndSession(ctx context.Context, sid string) error {
	return s.endSession(ctx, &storage.Session{IDHash: sid})
}

func (s *Server) sweepEndedSessions(ctx context.Context) {
	for ctx.Err() == nil {
		recs, err := s.store.TakeEndedSessionClients(ctx, s.now(), sweepBatch)
		if err != nil {
			s.logBackchannelError(ctx, err)
			return
		}
		s.notifyClients(ctx, recs)
		if len(recs) < sweepBatch {
			return
		}
	}
}

func (s *Server) logBackchannelError(ctx context.Context, err error) {
	if ctx.Err() == nil {
		s.log.ErrorContext(ctx, "back-channel logout: reading ended sessions failed", slog.Any("err", err))
	}
}

// notifyClients queues a logout token for each record whose client still
// exists and registered a backchannel_logout_uri. Queueing waits while the
// sender's queue is full: that is what bounds memory, and only this loop
// waits.
func (s *Server) notifyClients(ctx context.Context, recs []storage.SessionClient) {
	clients := map[string]*storage.Client{}
	for _, rec := range recs {
		c, seen := clients[rec.ClientID]
		if !seen {
			got, err := s.store.GetClient(ctx, rec.ClientID)
			switch {
			case errors.Is(err, storage.ErrNotFound): // removed since: nobody to tell
			case err != nil:
				s.log.ErrorContext(ctx, "back-channel logout: reading the client failed", slog.String("client_id", rec.ClientID), slog.Any("err", err))
			default:
				c = &got
			}
			clients[rec.ClientID] = c
		}
		if c == nil || c.BackchannelLogoutURI == "" {
			continue
		}
		l := backchannel.Logout{ClientID: c.ID, URI: c.BackchannelLogoutURI, Token: func() (string, error) {
			return s.minter.logoutToken(*c, rec.UserID, rec.SessionID)
		}}
		if s.backchannel.sender.Send(ctx, l) != nil {
			return // stopping
		}
	}
}

// recordSessionClient notes that the grant's client received an ID token in
// the grant's login session, so that the session's end can tell it. Only a
// client with a backchannel_logout_uri is recorded, and only while the
// session lives: a refresh token with offline_access outlives its session,
// and its refreshes must not record (and so notify) again. A failure is
// logged, not returned: the tokens are issued already.
func (s *Server) recordSessionClient(ctx context.Context, g *grant, userID string) {
	if g.sessionID == "" || userID == "" || g.client.BackchannelLogoutURI == "" {
		return
	}
	now := s.now()
	sess, err := s.store.GetSession(ctx, g.sessionID, now)
	if errors.Is(err, storage.ErrNotFound) {
		return
	}
	if err == nil {
		// A session ended between the read and this write leaves a record
		// of a session that no longer exists, which the next sweep takes:
		// the client is told all the same.
		err = s.store.RecordSessionClient(ctx, storage.SessionClient{
			SessionID: sess.IDHash, ClientID: g.client.ID, UserID: userID, CreatedAt: now, ExpiresAt: sess.ExpiresAt,
		})
	}
	if err != nil {
		s.log.ErrorContext(ctx, "back-channel logout: recording the session's client failed; it will not be told when the session ends",
			slog.String("client_id", g.client.ID), slog.Any("err", err))
	}
}

// logoutClaims are the claims of a logout token (Back-Channel Logout 1.0
// §2.4). There is never a nonce: §2.4 forbids it, so that a logout token
// cannot pass for an ID token.
type logoutClaims struct {
	Issuer    string              `json:"iss"`
	Subject   string              `json:"sub"`
	Audience  string              `json:"aud"`
	IssuedAt  int64               `json:"iat"`
	Expiry    int64               `json:"exp"`
	ID        string              `json:"jti"`
	Events    map[string]struct{} `json:"events"`
	SessionID string              `json:"sid"`
}

// logoutTokenHeader types the token explicitly (§2.4, RFC 8725 §3.11), so
// that no verifier of ID or access tokens takes it for one of those.
var logoutTokenHeader = map[jose.HeaderKey]interface{}{jose.HeaderType: "logout+jwt"}

// logoutToken signs a logout token for client c about the user's session
// sid, with the algorithm of c's ID tokens. sid is always sent (the server
// advertises backchannel_logout_session_supported), whether or not c
// registered backchannel_logout_session_required.
func (m *minter) logoutToken(c storage.Client, userID, sid string) (string, error) {
	alg := c.IDTokenAlg
	if alg == "" {
		alg = m.idAlg
	}
	now := m.now()
	payload, err := json.Marshal(logoutClaims{
		Issuer:    m.issuer,
		Subject:   userID,
		Audience:  c.ID,
		IssuedAt:  now.Unix(),
		Expiry:    now.Add(logoutTokenTTL).Unix(),
		ID:        randomID(),
		Events:    map[string]struct{}{backchannelEvent: {}},
		SessionID: sid,
	})
	if err != nil {
		return "", err
	}
	return m.keys.Sign(alg, logoutTokenHeader, payload)
}
