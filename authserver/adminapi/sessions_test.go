package adminapi_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/admin"
	"github.com/authserver-dev/authserver/authserver/adminapi"
)

// signInToNativeApp runs the code flow of the public client native-app in
// a fresh browser (a new session), approving consent, and returns its
// tokens.
func (e *env) signInToNativeApp(t *testing.T, username, password string) *oauth2.Token {
	t.Helper()
	oc := &oauth2.Config{ClientID: "native-app", RedirectURL: "http://127.0.0.1:7777/cb", Scopes: []string{"openid", "offline_access"},
		Endpoint: oauth2.Endpoint{AuthURL: e.p.URL + "/authorize", TokenURL: e.p.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()
	loc := e.p.SignIn(t, e.p.Browser(t), oc.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), username, password, "allow")
	tok, err := oc.Exchange(t.Context(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok
}

// refreshWorks reports whether the refresh token still gets tokens.
func (e *env) refreshWorks(t *testing.T, tok *oauth2.Token) bool {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"native-app"}}
	resp, err := http.PostForm(e.p.URL+"/token", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func TestSessionsAndGrants(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	var dora admin.User
	e.must(http.StatusCreated, "POST", "/admin/v1/users", map[string]any{"username": "dora", "password": "dora-password"}, &dora)
	sessions := "/admin/v1/users/" + dora.ID + "/sessions"
	grants := "/admin/v1/users/" + dora.ID + "/grants"

	first := e.signInToNativeApp(t, "dora", "dora-password")
	e.signInToNativeApp(t, "dora", "dora-password")
	e.signInToNativeApp(t, "dora", "dora-password")

	var sl struct{ Sessions []admin.Session }
	e.must(http.StatusOK, "GET", sessions, nil, &sl)
	if len(sl.Sessions) != 3 {
		t.Fatalf("%d sessions, want 3: %+v", len(sl.Sessions), sl.Sessions)
	}
	for _, s := range sl.Sessions {
		if s.UserID != dora.ID || s.ID == "" || s.IP != "127.0.0.1" || s.UserAgent == "" || s.ExpiresAt.Before(s.CreatedAt) {
			t.Errorf("session %+v", s)
		}
	}

	// The grant: one, to native-app, with what was approved.
	var gl struct{ Grants []admin.Grant }
	e.must(http.StatusOK, "GET", grants, nil, &gl)
	if len(gl.Grants) != 1 || gl.Grants[0].ClientID != "native-app" || gl.Grants[0].ClientName != "Native App" ||
		!slices.Contains(gl.Grants[0].Scopes, "offline_access") {
		t.Fatalf("grants %+v", gl.Grants)
	}

	// Revoking it revokes the refresh tokens it allowed.
	if !e.refreshWorks(t, first) {
		t.Fatal("the refresh token does not work before the grant is revoked")
	}
	e.must(http.StatusNoContent, "DELETE", grants+"/native-app", nil, nil)
	if e.refreshWorks(t, first) {
		t.Error("the refresh token still works after its grant was revoked")
	}
	e.must(http.StatusOK, "GET", grants, nil, &gl)
	if len(gl.Grants) != 0 {
		t.Errorf("grants after revocation: %+v", gl.Grants)
	}
	e.call(e.admin, "DELETE", grants+"/native-app", nil).problem(t, http.StatusNotFound, adminapi.TypeNotFound)

	// End one session, then all the others.
	e.must(http.StatusNoContent, "DELETE", sessions+"/"+url.PathEscape(sl.Sessions[0].ID), nil, nil)
	e.must(http.StatusOK, "GET", sessions, nil, &sl)
	if len(sl.Sessions) != 2 {
		t.Fatalf("%d sessions after ending one, want 2", len(sl.Sessions))
	}
	var ended struct{ Ended int }
	e.must(http.StatusOK, "DELETE", sessions, nil, &ended)
	if ended.Ended != 2 {
		t.Errorf("ended %d, want 2", ended.Ended)
	}
	e.must(http.StatusOK, "GET", sessions, nil, &sl)
	if len(sl.Sessions) != 0 {
		t.Errorf("sessions after ending all: %+v", sl.Sessions)
	}
	e.must(http.StatusOK, "DELETE", sessions, nil, &ended)
	if ended.Ended != 0 {
		t.Errorf("ended %d of no sessions", ended.Ended)
	}
}

// Sessions and grants of a file-owned user are the operator's to end, and
// another user's session cannot be ended through this one's.
func TestSessionsOfFileUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	var l struct{ Users []admin.User }
	e.must(http.StatusOK, "GET", "/admin/v1/users?username=alice", nil, &l)
	alice := l.Users[0]
	e.must(http.StatusOK, "GET", "/admin/v1/users?username=bob", nil, &l)
	bob := l.Users[0]
	e.signInToNativeApp(t, "alice", "alice-password")

	var sl struct{ Sessions []admin.Session }
	e.must(http.StatusOK, "GET", "/admin/v1/users/"+alice.ID+"/sessions", nil, &sl)
	if len(sl.Sessions) != 1 {
		t.Fatalf("alice's sessions: %+v", sl.Sessions)
	}
	sid := url.PathEscape(sl.Sessions[0].ID)
	e.call(e.admin, "DELETE", "/admin/v1/users/"+bob.ID+"/sessions/"+sid, nil).problem(t, http.StatusNotFound, adminapi.TypeNotFound)
	e.must(http.StatusNoContent, "DELETE", "/admin/v1/users/"+alice.ID+"/sessions/"+sid, nil, nil)
	e.call(e.admin, "DELETE", "/admin/v1/users/"+alice.ID+"/sessions/"+sid, nil).problem(t, http.StatusNotFound, adminapi.TypeNotFound)

	var gl struct{ Grants []admin.Grant }
	e.must(http.StatusOK, "GET", "/admin/v1/users/"+alice.ID+"/grants", nil, &gl)
	if len(gl.Grants) != 1 {
		t.Fatalf("alice's grants: %+v", gl.Grants)
	}
	e.must(http.StatusNoContent, "DELETE", "/admin/v1/users/"+alice.ID+"/grants/native-app", nil, nil)
}

// An unknown user has no sessions or grants to list or end: 404, not an
// empty list, so that a typo in the id is not mistaken for "nothing".
func TestSessionsOfUnknownUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, c := range []struct{ method, path string }{
		{"GET", "/admin/v1/users/nobody/sessions"},
		{"DELETE", "/admin/v1/users/nobody/sessions"},
		{"DELETE", "/admin/v1/users/nobody/sessions/abc"},
		{"GET", "/admin/v1/users/nobody/grants"},
		{"DELETE", "/admin/v1/users/nobody/grants/native-app"},
	} {
		e.call(e.admin, c.method, c.path, nil).problem(t, http.StatusNotFound, adminapi.TypeNotFound)
	}
}
