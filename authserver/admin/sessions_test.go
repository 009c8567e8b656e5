package admin_test

import (
	"slices"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/admin"
)

func TestSessions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.createClient(webClient("billing"))
	dave := f.createUser("dave", "dave-password")
	oldest := f.session(dave.ID, -2*time.Hour)
	middle := f.session(dave.ID, -time.Hour)
	newest := f.session(dave.ID, 0)
	theirs := f.session(f.alice.ID, 0)
	bound, boundTok := f.family("billing", dave.ID, oldest, "openid")
	offline, offlineTok := f.family("billing", dave.ID, oldest, "openid offline_access")

	list, err := f.svc.ListSessions(f.ctx, dave.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range list {
		ids = append(ids, s.ID)
	}
	if want := []string{newest, middle, oldest}; !slices.Equal(ids, want) {
		t.Fatalf("ListSessions = %v, want newest first %v", ids, want)
	}
	if s := list[0]; s.UserID != dave.ID || s.UserAgent != "test-browser" || s.IP != "192.0.2.7" || !s.ExpiresAt.After(s.CreatedAt) {
		t.Errorf("session = %+v", s)
	}
	_, err = f.svc.ListSessions(f.ctx, "nobody")
	wantKind(t, err, admin.KindNotFound)

	// Another user's session is no session of dave's.
	wantKind(t, f.svc.EndSession(f.ctx, dave.ID, theirs), admin.KindNotFound)
	wantKind(t, f.svc.EndSession(f.ctx, dave.ID, "no-such-session"), admin.KindNotFound)
	if !f.sessionLives(theirs) {
		t.Fatal("ending dave's session by alice's id ended hers")
	}

	// Ending one is signing out there: its tokens go, but offline_access
	// is meant to outlive the browser session.
	if err := f.svc.EndSession(f.ctx, dave.ID, oldest); err != nil {
		t.Fatal(err)
	}
	if f.sessionLives(oldest) {
		t.Error("the ended session lives on")
	}
	f.wantRevoked(bound, boundTok, true)
	f.wantRevoked(offline, offlineTok, false)
	f.wantEvent("session.ended", 1)

	// End every other one.
	n, err := f.svc.EndSessions(f.ctx, dave.ID, newest)
	if err != nil || n != 1 {
		t.Fatalf("EndSessions = %d, %v; want 1", n, err)
	}
	if f.sessionLives(middle) || !f.sessionLives(newest) || !f.sessionLives(theirs) {
		t.Error("EndSessions ended the wrong sessions")
	}
	f.wantEvent("session.ended", 2)
	if n, err := f.svc.EndSessions(f.ctx, dave.ID, ""); err != nil || n != 1 || f.sessionLives(newest) {
		t.Errorf("EndSessions(all) = %d, %v", n, err)
	}
	f.noSecretsLogged(oldest, middle, newest)
}

// Sessions and grants of the file's users are the users' own: ending and
// revoking them changes nothing in the file.
func TestFileOwnedUsersSessionsAndGrants(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	sid := f.session(f.alice.ID, 0)
	if _, err := f.store.GrantConsent(f.ctx, f.alice.ID, "demo-web", "openid", f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if list, err := f.svc.ListSessions(f.ctx, f.alice.ID); err != nil || len(list) != 1 {
		t.Errorf("ListSessions = %v, %v", list, err)
	}
	if err := f.svc.EndSession(f.ctx, f.alice.ID, sid); err != nil {
		t.Error(err)
	}
	if grants, err := f.svc.ListGrants(f.ctx, f.alice.ID); err != nil || len(grants) != 1 {
		t.Errorf("ListGrants = %v, %v", grants, err)
	}
	if err := f.svc.RevokeGrant(f.ctx, f.alice.ID, "demo-web"); err != nil {
		t.Error(err)
	}
}

func TestGrants(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	billing := webClient("billing")
	billing.Name = "Billing"
	f.createClient(billing)
	f.createClient(webClient("archive"))
	dave := f.createUser("dave", "dave-password")
	now := f.clock.Now()
	for _, g := range []struct{ client, scope string }{{"billing", "openid profile"}, {"archive", "openid"}} {
		if _, err := f.store.GrantConsent(f.ctx, dave.ID, g.client, g.scope, now); err != nil {
			t.Fatal(err)
		}
	}
	fam, tok := f.family("billing", dave.ID, "", "openid profile offline_access")
	other, otherTok := f.family("archive", dave.ID, "", "openid offline_access")

	grants, err := f.svc.ListGrants(f.ctx, dave.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(grants) != 2 || grants[0].ClientID != "archive" || grants[1].ClientID != "billing" {
		t.Fatalf("ListGrants = %+v; want archive, billing", grants)
	}
	if g := grants[1]; g.ClientName != "Billing" || !slices.Equal(g.Scopes, []string{"openid", "profile"}) || g.UserID != dave.ID || !g.CreatedAt.Equal(now) {
		t.Errorf("grant = %+v", g)
	}
	_, err = f.svc.ListGrants(f.ctx, "nobody")
	wantKind(t, err, admin.KindNotFound)

	if err := f.svc.RevokeGrant(f.ctx, dave.ID, "billing"); err != nil {
		t.Fatal(err)
	}
	f.wantRevoked(fam, tok, true)
	f.wantRevoked(other, otherTok, false)
	if grants, _ := f.svc.ListGrants(f.ctx, dave.ID); len(grants) != 1 || grants[0].ClientID != "archive" {
		t.Errorf("after revoking: %+v", grants)
	}
	f.wantEvent("consent.revoked", 1)
	wantKind(t, f.svc.RevokeGrant(f.ctx, dave.ID, "billing"), admin.KindNotFound)
	wantKind(t, f.svc.RevokeGrant(f.ctx, "nobody", "billing"), admin.KindNotFound)
}
