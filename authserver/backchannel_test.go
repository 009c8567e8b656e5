package authserver_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver"
	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/observe/observetest"
	"github.com/authserver-dev/authserver/authserver/password"
	"github.com/authserver-dev/authserver/config"
)

// These tests are the equivalents of the conformance suite's back-channel
// logout modules (OIDCCBackChannelRpInitiatedLogoutTestPlan and friends):
// oidcc-backchannel-rp-initiated-logout (logout token after RP-initiated
// logout, verified as the suite does: typ, iss, aud, iat, exp, jti, events,
// sid, sub, no nonce, signature from the JWKS), and the OP side of
// ...-rp-initiated-logout-no-sid-in-token (sid always sent, since the OP
// advertises backchannel_logout_session_supported).

// backchannelEvent is the events member every logout token must carry.
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// bcPatience bounds every wait for something the background sends, so that
// a logout that never comes fails the test instead of hanging it. It is
// no assertion on speed: the sweep alone (every 10 s) is well within it.
const bcPatience = 30 * time.Second

// logoutRP is a relying party's backchannel_logout_uri: it records every
// logout token and answers with status (after hold is closed, if set).
type logoutRP struct {
	*httptest.Server
	mu     sync.Mutex
	tokens []string
	got    chan string
	hold   chan struct{}
	status int
}

func newLogoutRP(t *testing.T, status int, hold chan struct{}) *logoutRP {
	rp := &logoutRP{got: make(chan string, 16), hold: hold, status: status}
	rp.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.ParseForm() != nil {
			t.Errorf("back-channel logout request: %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		}
		tok := r.PostForm.Get("logout_token")
		rp.mu.Lock()
		rp.tokens = append(rp.tokens, tok)
		rp.mu.Unlock()
		rp.got <- tok
		if rp.hold != nil {
			<-rp.hold
		}
		w.WriteHeader(rp.status)
	}))
	t.Cleanup(rp.Close)
	return rp
}

func (rp *logoutRP) count() int {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return len(rp.tokens)
}

// next waits for the next logout token the RP receives.
func (rp *logoutRP) next(t *testing.T) string {
	t.Helper()
	select {
	case tok := <-rp.got:
		return tok
	case <-time.After(bcPatience):
		t.Fatalf("no logout token within %s", bcPatience)
		return ""
	}
}

// bcClient registers a confidential client, consent skipped, whose
// back-channel logout endpoint is rp (nil: none).
func bcClient(id string, rp *logoutRP, alg string) config.Client {
	c := config.Client{
		ID: id, Name: id, Secret: id + "-secret-0123456789abcdefghijklmnop",
		RedirectURIs: []string{"http://127.0.0.1:7790/" + id},
		GrantTypes:   []string{"authorization_code", "refresh_token"},
		Scopes:       []string{"openid", "profile", "offline_access"},
		SkipConsent:  true, IDTokenSignedResponseAlg: alg,
	}
	if rp != nil {
		c.BackchannelLogoutURI = rp.URL + "/backchannel-logout"
	}
	return c
}

// startBackchannel starts a provider with clients and its back-channel
// logout loop (which authtest does not run), with instant back-off.
func startBackchannel(t *testing.T, clients ...config.Client) *authtest.Provider {
	t.Helper()
	p := authtest.Start(t, func(c *config.Config) { c.Clients = append(c.Clients, clients...) })
	authserver.BackchannelSender(p.App.Server).After = func(time.Duration) <-chan time.Time {
		c := make(chan time.Time, 1)
		c <- time.Time{}
		return c
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.App.Server.RunBackchannelLogout(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return p
}

// bcSession is what one client got from a code flow.
type bcSession struct {
	client  config.Client
	token   *oauth2.Token
	rawID   string
	idToken *oidc.IDToken
	sid     string
}

// bcCodeFlow signs the browser's user in to client c (alice, unless the
// browser has a session already) and redeems the code.
func bcCodeFlow(t *testing.T, p *authtest.Provider, b *http.Client, provider *oidc.Provider, c config.Client) bcSession {
	t.Helper()
	ctx := t.Context()
	oc := &oauth2.Config{ClientID: c.ID, ClientSecret: c.Secret, Endpoint: provider.Endpoint(), RedirectURL: c.RedirectURIs[0], Scopes: c.Scopes}
	verifier := oauth2.GenerateVerifier()
	loc := p.SignIn(t, b, oc.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-"+c.ID)), "alice", "alice-password", "allow")
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("%s: no code in %s", c.ID, loc)
	}
	tok, err := oc.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("%s: exchange: %v", c.ID, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: c.ID}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("%s: ID token: %v", c.ID, err)
	}
	var claims struct {
		SID string `json:"sid"`
	}
	if err := idt.Claims(&claims); err != nil || claims.SID == "" {
		t.Fatalf("%s: ID token has no sid (%v)", c.ID, err)
	}
	return bcSession{client: c, token: tok, rawID: raw, idToken: idt, sid: claims.SID}
}

// checkLogoutToken verifies a logout token as a relying party must (Back-
// Channel Logout 1.0 §2.6), with go-oidc for the signature, iss, aud and
// exp, and by hand for the rest, against what the client got at sign-in.
func checkLogoutToken(t *testing.T, provider *oidc.Provider, raw string, in bcSession) {
	t.Helper()
	tok, err := provider.Verifier(&oidc.Config{ClientID: in.client.ID}).Verify(t.Context(), raw)
	if err != nil {
		t.Fatalf("%s: logout token does not verify: %v", in.client.ID, err)
	}
	header, idHeader := bcJWTHeader(t, raw), bcJWTHeader(t, in.rawID)
	if header["typ"] != "logout+jwt" {
		t.Errorf("%s: typ %v, want logout+jwt", in.client.ID, header["typ"])
	}
	if header["alg"] != idHeader["alg"] {
		t.Errorf("%s: logout token signed with %v, its ID tokens with %v", in.client.ID, header["alg"], idHeader["alg"])
	}
	var c struct {
		Events map[string]json.RawMessage `json:"events"`
		SID    string                     `json:"sid"`
		JTI    string                     `json:"jti"`
		IAT    int64                      `json:"iat"`
		EXP    int64                      `json:"exp"`
		Nonce  *string                    `json:"nonce"`
	}
	if err := tok.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if ev, ok := c.Events[backchannelEvent]; !ok || strings.TrimSpace(string(ev)) != "{}" {
		t.Errorf("%s: events %v, want {%q: {}}", in.client.ID, c.Events, backchannelEvent)
	}
	if tok.Subject != in.idToken.Subject || c.SID != in.sid || tok.Issuer != in.idToken.Issuer {
		t.Errorf("%s: logout token sub %q sid %q iss %q; the session's ID token had sub %q sid %q iss %q",
			in.client.ID, tok.Subject, c.SID, tok.Issuer, in.idToken.Subject, in.sid, in.idToken.Issuer)
	}
	if len(tok.Audience) != 1 || tok.Audience[0] != in.client.ID {
		t.Errorf("%s: aud %v", in.client.ID, tok.Audience)
	}
	if c.Nonce != nil {
		t.Errorf("%s: logout token has a nonce (§2.4 forbids it)", in.client.ID)
	}
	if c.JTI == "" || c.IAT == 0 || c.EXP <= c.IAT || c.EXP-c.IAT > 600 {
		t.Errorf("%s: jti %q iat %d exp %d: want a jti and a short lifetime", in.client.ID, c.JTI, c.IAT, c.EXP)
	}
}

func bcJWTHeader(t *testing.T, raw string) map[string]any {
	t.Helper()
	seg, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(seg)
	var h map[string]any
	if err == nil {
		err = json.Unmarshal(b, &h)
	}
	if err != nil {
		t.Fatalf("JWT header: %v", err)
	}
	return h
}

// bcWaitForMetric waits until the outcome's count reaches want.
func bcWaitForMetric(t *testing.T, p *authtest.Provider, outcome string, want float64) {
	t.Helper()
	deadline := time.After(bcPatience)
	for {
		if got := observetest.Scrape(t, p.App.Metrics).Value("authserver_backchannel_logouts_total", "outcome", outcome); got >= want {
			return
		}
		select {
		case <-deadline:
			t.Fatalf("authserver_backchannel_logouts_total{outcome=%s} did not reach %v within %s", outcome, want, bcPatience)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// bcLogout is RP-initiated logout with the client's ID token as the hint,
// which ends the browser's session at once (its sid is the session's).
func bcLogout(t *testing.T, p *authtest.Provider, b *http.Client, in bcSession) {
	t.Helper()
	// A deadline only so that a logout that waited for a relying party
	// fails instead of hanging the test.
	ctx, cancel := context.WithTimeout(t.Context(), bcPatience)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/logout?"+url.Values{"id_token_hint": {in.rawID}}.Encode(), nil)
	resp, err := b.Do(req)
	if err != nil {
		t.Fatalf("logout: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("logout answered %d", resp.StatusCode)
	}
}

func TestBackchannelLogoutAfterRPInitiatedLogout(t *testing.T) {
	t.Parallel()
	rpOne, rpTwo := newLogoutRP(t, http.StatusOK, nil), newLogoutRP(t, http.StatusNoContent, nil)
	one, two, silent := bcClient("bc-one", rpOne, ""), bcClient("bc-two", rpTwo, "ES256"), bcClient("bc-silent", nil, "")
	p := startBackchannel(t, one, two, silent)
	provider, err := oidc.NewProvider(t.Context(), p.URL)
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Supported        bool `json:"backchannel_logout_supported"`
		SessionSupported bool `json:"backchannel_logout_session_supported"`
	}
	if err := provider.Claims(&meta); err != nil || !meta.Supported || !meta.SessionSupported {
		t.Errorf("discovery: backchannel_logout_supported %v, backchannel_logout_session_supported %v (%v)", meta.Supported, meta.SessionSupported, err)
	}

	b := p.Browser(t)
	inOne, inTwo, inSilent := bcCodeFlow(t, p, b, provider, one), bcCodeFlow(t, p, b, provider, two), bcCodeFlow(t, p, b, provider, silent)
	if inOne.sid != inTwo.sid || inOne.sid != inSilent.sid {
		t.Fatalf("one browser session, three sids: %s %s %s", inOne.sid, inTwo.sid, inSilent.sid)
	}
	// A refresh in the live session records nothing new (the record is
	// kept once per session and client).
	if _, err := (&oauth2.Config{ClientID: one.ID, ClientSecret: one.Secret, Endpoint: provider.Endpoint()}).
		TokenSource(t.Context(), &oauth2.Token{RefreshToken: inOne.token.RefreshToken}).Token(); err != nil {
		t.Fatalf("refresh: %v", err)
	}

	bcLogout(t, p, b, inOne)
	checkLogoutToken(t, provider, rpOne.next(t), inOne)
	checkLogoutToken(t, provider, rpTwo.next(t), inTwo)
	bcWaitForMetric(t, p, observe.OutcomeSucceeded, 2)

	// The client without a backchannel_logout_uri got nothing: two
	// logouts in all, both delivered. A sweep finds nothing more.
	p.App.Server.SessionsEnded()
	f := observetest.Scrape(t, p.App.Metrics)
	if s, fl := f.Value("authserver_backchannel_logouts_total", "outcome", "succeeded"), f.Value("authserver_backchannel_logouts_total", "outcome", "failed"); s != 2 || fl != 0 {
		t.Errorf("logouts: %v succeeded, %v failed; want 2 and 0", s, fl)
	}
	left, err := p.App.Store.TakeEndedSessionClients(t.Context(), p.Clock.Now(), 10)
	if err != nil || len(left) != 0 {
		t.Errorf("records left after the logout: %+v (%v)", left, err)
	}

	// The offline_access refresh token outlives the session; refreshing
	// it must not record the ended session again (which would send a
	// second logout token).
	if _, err := (&oauth2.Config{ClientID: two.ID, ClientSecret: two.Secret, Endpoint: provider.Endpoint()}).
		TokenSource(t.Context(), &oauth2.Token{RefreshToken: inTwo.token.RefreshToken}).Token(); err != nil {
		t.Fatalf("refresh after logout: %v", err)
	}
	if left, err := p.App.Store.TakeEndedSessionClients(t.Context(), p.Clock.Now(), 10); err != nil || len(left) != 0 {
		t.Errorf("a refresh after the session ended recorded it again: %+v (%v)", left, err)
	}
	if n1, n2 := rpOne.count(), rpTwo.count(); n1 != 1 || n2 != 1 {
		t.Errorf("logout tokens received: %d and %d, want one each", n1, n2)
	}
}

// A relying party that hangs, then fails, delays neither the logout nor the
// other relying parties, and is tried a bounded number of times.
func TestBackchannelLogoutFailingRPDoesNotDelayLogout(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	failing, ok := newLogoutRP(t, http.StatusInternalServerError, hold), newLogoutRP(t, http.StatusOK, nil)
	released := false
	release := func() {
		if !released {
			released = true
			close(hold)
		}
	}
	t.Cleanup(release) // before the RP's Close, which waits for its handler
	bad, good := bcClient("bc-bad", failing, ""), bcClient("bc-good", ok, "")
	p := startBackchannel(t, bad, good)
	provider, err := oidc.NewProvider(t.Context(), p.URL)
	if err != nil {
		t.Fatal(err)
	}
	b := p.Browser(t)
	inBad, inGood := bcCodeFlow(t, p, b, provider, bad), bcCodeFlow(t, p, b, provider, good)

	bcLogout(t, p, b, inBad) // returns while the failing RP's handler is held
	checkLogoutToken(t, provider, ok.next(t), inGood)
	first := failing.next(t) // the first attempt is in the held handler
	release()
	checkLogoutToken(t, provider, first, inBad)
	bcWaitForMetric(t, p, observe.OutcomeFailed, 1)
	if n := failing.count(); n != 3 {
		t.Errorf("the failing RP was tried %d times, want 3", n)
	}
	bcWaitForMetric(t, p, observe.OutcomeSucceeded, 1)
}

// Sessions ended by the store, as a password change does in any process
// (the CLI's `user passwd`, setup.Seed), are found by the sweep.
func TestBackchannelLogoutAfterPasswordChange(t *testing.T) {
	t.Parallel()
	rp := newLogoutRP(t, http.StatusOK, nil)
	c := bcClient("bc-pw", rp, "")
	p := startBackchannel(t, c)
	provider, err := oidc.NewProvider(t.Context(), p.URL)
	if err != nil {
		t.Fatal(err)
	}
	in := bcCodeFlow(t, p, p.Browser(t), provider, c)
	hash, err := password.Hash("a-new-password", password.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.App.Store.SetUserPassword(t.Context(), in.idToken.Subject, hash, p.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	p.App.Server.SessionsEnded()
	checkLogoutToken(t, provider, rp.next(t), in)
}

// A new sign-in in the same browser replaces the session: the clients of
// the old one hold a sid that no longer exists, and are told.
func TestBackchannelLogoutWhenANewSignInReplacesTheSession(t *testing.T) {
	t.Parallel()
	rp := newLogoutRP(t, http.StatusOK, nil)
	c := bcClient("bc-again", rp, "")
	p := startBackchannel(t, c)
	provider, err := oidc.NewProvider(t.Context(), p.URL)
	if err != nil {
		t.Fatal(err)
	}
	b := p.Browser(t)
	first := bcCodeFlow(t, p, b, provider, c)
	oc := &oauth2.Config{ClientID: c.ID, ClientSecret: c.Secret, Endpoint: provider.Endpoint(), RedirectURL: c.RedirectURIs[0], Scopes: c.Scopes}
	p.SignIn(t, b, oc.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "login")),
		"alice", "alice-password", "allow")
	checkLogoutToken(t, provider, rp.next(t), first)
}

// EndSession is the call for the administration paths: it ends one
// session by its sid.
func TestEndSessionSendsLogout(t *testing.T) {
	t.Parallel()
	rp := newLogoutRP(t, http.StatusOK, nil)
	c := bcClient("bc-admin", rp, "")
	p := startBackchannel(t, c)
	provider, err := oidc.NewProvider(t.Context(), p.URL)
	if err != nil {
		t.Fatal(err)
	}
	b := p.Browser(t)
	in := bcCodeFlow(t, p, b, provider, c)
	if err := p.App.Server.EndSession(t.Context(), in.sid); err != nil {
		t.Fatal(err)
	}
	checkLogoutToken(t, provider, rp.next(t), in)
	// The browser is signed out: a new authorization asks for the password.
	if pg := authtest.Get(t, b, p.URL+"/authorize?"+url.Values{"client_id": {c.ID}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {c.RedirectURIs[0]}, "code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())},
		"code_challenge_method": {"S256"}}.Encode()); !strings.Contains(pg.Body, `name="password"`) {
		t.Errorf("after EndSession the browser is still signed in (status %d)", pg.Status)
	}
}
