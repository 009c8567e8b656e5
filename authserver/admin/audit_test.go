package admin_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/admin"
	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/storage"
)

// Every change is one audit event, named from observe.Events, saying who
// made it and what it was about, and never holding a secret.
func TestAuditEvents(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, secret := f.createClient(webClient("billing"))
	rotated, err := f.svc.RotateClientSecret(f.ctx, "billing")
	if err != nil {
		t.Fatal(err)
	}
	const pw = "dave-password"
	u := f.createUser("dave", pw)
	if err := f.svc.SetPassword(f.ctx, u.ID, "dave-password-2"); err != nil {
		t.Fatal(err)
	}
	token, _, err := f.svc.CreateRegistrationToken(f.ctx, time.Hour, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteUser(f.ctx, u.ID); err != nil {
		t.Fatal(err)
	}

	lines := f.logs.Lines(t)
	var names []string
	for _, l := range lines {
		names = append(names, l.Str("event"))
		if !slices.Contains(observe.Events, l.Str("event")) {
			t.Errorf("event %q is not in observe.Events", l.Str("event"))
		}
		if l.Str("by") != actor {
			t.Errorf("event by %q, want %q: %s", l.Str("by"), actor, l.Raw)
		}
	}
	want := []string{"client.created", "client.secret_rotated", "user.created", "user.password_changed", "registration_token.created", "user.removed"}
	if !slices.Equal(names, want) {
		t.Errorf("events = %v, want %v", names, want)
	}
	for _, l := range lines[:2] {
		if l.Str("client_id") != "billing" {
			t.Errorf("%s without client_id: %s", l.Str("event"), l.Raw)
		}
	}
	for _, l := range lines[2:4] {
		if l.Str("user_id") != u.ID || l.Str("username") != "dave" {
			t.Errorf("%s without the user: %s", l.Str("event"), l.Raw)
		}
	}
	f.noSecretsLogged(secret, rotated, storage.Hash(secret), storage.Hash(rotated), pw, "dave-password-2", token, storage.Hash(token))

	// Without WithActor, the event still says that nobody was named.
	if err := f.svc.DeleteClient(context.Background(), "billing"); err != nil {
		t.Fatal(err)
	}
	if ev := f.events("client.removed"); len(ev) != 1 || ev[0].Str("by") != "unknown" {
		t.Errorf("client.removed without an actor: %v", ev)
	}
	if got := admin.Actor(admin.WithActor(context.Background(), "cli")); got != "cli" {
		t.Errorf("Actor = %q", got)
	}
}
