package adminapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/admin"
	"github.com/authserver-dev/authserver/authserver/adminapi"
	"github.com/authserver-dev/authserver/authserver/observe/observetest"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/config"
)

// storeFactors gives the user two passkeys, a confirmed TOTP
// authenticator, ten recovery codes and a session, as /account and the
// sign-in would, and returns the session's id.
func (e *env) storeFactors(userID string) string {
	e.t.Helper()
	ctx, st, now := e.t.Context(), e.p.App.Store, time.Now()
	for _, id := range []string{"cred-laptop", "cred-phone"} {
		if err := st.CreateWebAuthnCredential(ctx, storage.WebAuthnCredential{ID: userID + "-" + id, UserID: userID, Label: id,
			Credential: []byte(`{"publicKey":"never-shown"}`), CreatedAt: now}); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := st.PutTOTP(ctx, storage.TOTP{UserID: userID, Secret: "sealed-never-shown", CreatedAt: now}); err != nil {
		e.t.Fatal(err)
	}
	if err := st.UseTOTPStep(ctx, userID, 1, now); err != nil {
		e.t.Fatal(err)
	}
	var hashes []string
	for i := range 10 {
		hashes = append(hashes, storage.Hash(userID+"-code-"+string(rune('a'+i))))
	}
	if err := st.ReplaceRecoveryCodes(ctx, userID, hashes, now); err != nil {
		e.t.Fatal(err)
	}
	sid := storage.Hash(userID + "-cookie")
	if err := st.CreateSession(ctx, storage.Session{IDHash: sid, UserID: userID, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		e.t.Fatal(err)
	}
	return sid
}

func (e *env) sessionLives(sid string) bool {
	_, err := e.p.App.Store.GetSession(e.t.Context(), sid, time.Now())
	return err == nil
}

// GET, DELETE and POST on a user's factors, every exchange held against
// openapi.json; removing one ends the user's sessions and is audited.
func TestFactors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	var dora admin.User
	e.must(http.StatusCreated, "POST", "/admin/v1/users", map[string]any{"username": "dora", "password": "dora-password", "require_mfa": true}, &dora)
	if !dora.RequireMFA {
		t.Errorf("created with require_mfa: %+v", dora)
	}
	base := "/admin/v1/users/" + dora.ID + "/factors"

	var f admin.Factors
	a := e.must(http.StatusOK, "GET", base, nil, &f)
	if f.Passkeys == nil || len(f.Passkeys) != 0 || f.TOTP != nil || !strings.Contains(string(a.body), `"passkeys":[]`) {
		t.Errorf("no factors: %s", a.body)
	}

	sid := e.storeFactors(dora.ID)
	a = e.must(http.StatusOK, "GET", base, nil, &f)
	if len(f.Passkeys) != 2 || f.Passkeys[0].ID != dora.ID+"-cred-laptop" || f.Passkeys[0].Label != "cred-laptop" ||
		f.TOTP == nil || !f.TOTP.Confirmed || f.RecoveryCodesLeft != 10 {
		t.Errorf("factors: %s", a.body)
	}
	if strings.Contains(string(a.body), "never-shown") {
		t.Errorf("the factors show a stored secret: %s", a.body)
	}

	e.call(e.admin, "DELETE", base+"/passkeys/cred-none", nil).problem(t, http.StatusNotFound, adminapi.TypeNotFound)
	e.call(e.admin, "GET", "/admin/v1/users/nobody/factors", nil).problem(t, http.StatusNotFound, adminapi.TypeNotFound)
	e.call(e.admin, "POST", "/admin/v1/users/nobody/factors/reset", nil).problem(t, http.StatusNotFound, adminapi.TypeNotFound)
	if !e.sessionLives(sid) {
		t.Fatal("a refused removal ended the session")
	}

	e.must(http.StatusNoContent, "DELETE", base+"/passkeys/"+dora.ID+"-cred-laptop", nil, nil)
	e.must(http.StatusOK, "GET", base, nil, &f)
	if len(f.Passkeys) != 1 || f.Passkeys[0].Label != "cred-phone" {
		t.Errorf("after removing a passkey: %+v", f.Passkeys)
	}
	if e.sessionLives(sid) {
		t.Error("the session lives on after a passkey was removed")
	}
	e.must(http.StatusNoContent, "DELETE", base+"/totp", nil, nil)
	e.call(e.admin, "DELETE", base+"/totp", nil).problem(t, http.StatusNotFound, adminapi.TypeNotFound)

	var reset admin.Factors
	a = e.must(http.StatusOK, "POST", base+"/reset", nil, &reset)
	if len(reset.Passkeys) != 0 || reset.TOTP != nil || reset.RecoveryCodesLeft != 0 {
		t.Errorf("after the reset: %s", a.body)
	}

	lines := e.logs.Lines(t)
	removed, resets := observetest.Where(lines, "event", "mfa.removed"), observetest.Where(lines, "event", "mfa.reset")
	if len(removed) != 2 || len(resets) != 1 {
		t.Fatalf("%d mfa.removed and %d mfa.reset events, want 2 and 1", len(removed), len(resets))
	}
	for _, l := range append(removed, resets...) {
		if l.Str("by") != "admin_api:"+adminClient.ID || l.Str("user_id") != dora.ID {
			t.Errorf("event %s", l.Raw)
		}
	}

	// require_mfa is a field of the user; of a file user, the file's.
	var got admin.User
	e.must(http.StatusOK, "PATCH", "/admin/v1/users/"+dora.ID, map[string]any{"require_mfa": false}, &got)
	if got.RequireMFA {
		t.Errorf("after PATCH require_mfa false: %+v", got)
	}
	var l struct{ Users []admin.User }
	e.must(http.StatusOK, "GET", "/admin/v1/users?username=alice", nil, &l)
	alice := l.Users[0]
	e.call(e.admin, "PATCH", "/admin/v1/users/"+alice.ID, map[string]any{"require_mfa": true}).problem(t, http.StatusConflict, adminapi.TypeFileOwned)
	// Her factors are hers, not the file's.
	e.storeFactors(alice.ID)
	e.must(http.StatusNoContent, "DELETE", "/admin/v1/users/"+alice.ID+"/factors/passkeys/"+alice.ID+"-cred-phone", nil, nil)
	e.must(http.StatusOK, "POST", "/admin/v1/users/"+alice.ID+"/factors/reset", nil, &reset)
	if len(reset.Passkeys) != 0 || reset.TOTP != nil {
		t.Errorf("alice's factors after the reset: %+v", reset)
	}
}

// require_mfa and default_acr_values of clients: created, patched and
// validated as the file's clients are.
func TestClientRequireMFAAndACRValues(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	var c clientBody
	e.must(http.StatusCreated, "POST", "/admin/v1/clients", map[string]any{
		"id": "app", "public": true, "redirect_uris": []string{"https://app.example.com/cb"}, "scopes": []string{"openid"},
		"require_mfa": true, "default_acr_values": []string{config.ACRMFA},
	}, &c)
	if !c.RequireMFA || !slices.Equal(c.DefaultACRValues, []string{config.ACRMFA}) {
		t.Errorf("created %+v", c.Client)
	}
	var got admin.Client
	e.must(http.StatusOK, "PATCH", "/admin/v1/clients/app", map[string]any{"require_mfa": false, "default_acr_values": []string{}}, &got)
	if got.RequireMFA || got.DefaultACRValues == nil || len(got.DefaultACRValues) != 0 {
		t.Errorf("patched %+v", got)
	}
	p := e.call(e.admin, "PATCH", "/admin/v1/clients/app", map[string]any{"default_acr_values": []string{"urn:authserver:acr:pwd"}},
		invalidRequest).problem(t, http.StatusBadRequest, adminapi.TypeInvalid)
	if len(p.Errors) != 1 || p.Errors[0].Field != "default_acr_values[0]" {
		t.Errorf("errors %+v, want one about default_acr_values[0]", p.Errors)
	}
}
