package admin_test

import (
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/admin"
	"github.com/authserver-dev/authserver/authserver/storage"
)

func TestRegistrationTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tt := range []struct {
		name   string
		ttl    time.Duration
		uses   int
		fields []string
	}{
		{"too short and no use", 30 * time.Second, 0, []string{"ttl", "uses"}},
		{"too long and too many uses", 2161 * time.Hour, 1001, []string{"ttl", "uses"}},
	} {
		_, _, err := f.svc.CreateRegistrationToken(f.ctx, tt.ttl, tt.uses, "")
		for _, field := range tt.fields {
			wantProblem(t, err, field)
		}
	}
	_, _, err := f.svc.CreateRegistrationToken(f.ctx, time.Hour, 1, "line\nbreak")
	wantProblem(t, err, "description")

	twice, rt, err := f.svc.CreateRegistrationToken(f.ctx, time.Hour, 2, "for CI")
	if err != nil {
		t.Fatal(err)
	}
	if len(twice) != 43 || !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(rt.ID) || rt.UsesLeft != 2 ||
		!rt.ExpiresAt.Equal(f.clock.Now().Add(time.Hour)) || rt.Description != "for CI" {
		t.Errorf("token %q, %+v", twice, rt)
	}
	stored, err := f.store.ListRegistrationTokens(f.ctx, f.clock.Now())
	if err != nil || len(stored) != 1 || stored[0].TokenHash != storage.Hash(twice) {
		t.Fatalf("stored tokens = %+v, %v; want one, with the token's hash", stored, err)
	}
	for range 2 {
		if err := f.svc.UseRegistrationToken(f.ctx, twice); err != nil {
			t.Fatal(err)
		}
	}
	wantKind(t, f.svc.UseRegistrationToken(f.ctx, twice), admin.KindNotFound)
	wantKind(t, f.svc.UseRegistrationToken(f.ctx, "made-up"), admin.KindNotFound)

	short, _, err := f.svc.CreateRegistrationToken(f.ctx, time.Minute, 5, "")
	if err != nil {
		t.Fatal(err)
	}
	kept, keptInfo, err := f.svc.CreateRegistrationToken(f.ctx, 2*time.Hour, 5, "kept")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Minute)
	wantKind(t, f.svc.UseRegistrationToken(f.ctx, short), admin.KindNotFound)

	list, err := f.svc.ListRegistrationTokens(f.ctx)
	if err != nil || len(list) != 1 || list[0].ID != keptInfo.ID {
		t.Errorf("ListRegistrationTokens = %+v, %v; want only the one still usable", list, err)
	}
	if err := f.svc.DeleteRegistrationToken(f.ctx, keptInfo.ID); err != nil {
		t.Fatal(err)
	}
	wantKind(t, f.svc.UseRegistrationToken(f.ctx, kept), admin.KindNotFound)
	wantKind(t, f.svc.DeleteRegistrationToken(f.ctx, keptInfo.ID), admin.KindNotFound)

	f.wantEvent("registration_token.created", 3)
	f.wantEvent("registration_token.deleted", 1)
	f.noSecretsLogged(twice, short, kept, storage.Hash(twice), storage.Hash(kept))
}

func TestRegisterClient(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := webClient("")
	c.Name = "Registered App"
	reg, secret, token, err := f.svc.RegisterClient(f.ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`).MatchString(reg.ID) || !reg.Registered || reg.Owner != "database" || secret == "" || len(token) != 43 {
		t.Errorf("registered %+v, secret %q, token %q", reg, secret, token)
	}
	st, _ := f.store.GetClient(f.ctx, reg.ID)
	if st.RegistrationTokenHash != storage.Hash(token) || st.SecretHash != storage.Hash(secret) {
		t.Errorf("stored hashes %q, %q", st.RegistrationTokenHash, st.SecretHash)
	}
	f.wantEvent("client.registered", 1)

	if got, err := f.svc.RegisteredClient(f.ctx, reg.ID, token); err != nil || got.ID != reg.ID {
		t.Errorf("RegisteredClient = %+v, %v", got, err)
	}
	_, err = f.svc.RegisteredClient(f.ctx, reg.ID, token+"x")
	wantKind(t, err, admin.KindNotFound)
	_, err = f.svc.RegisteredClient(f.ctx, "nobody", token)
	wantKind(t, err, admin.KindNotFound)
	// A client made by an operator is not managed at the endpoint, with
	// any token, not even an empty one.
	f.createClient(webClient("operators"))
	for _, tok := range []string{token, ""} {
		_, err = f.svc.RegisteredClient(f.ctx, "operators", tok)
		wantKind(t, err, admin.KindNotFound)
	}
	_, err = f.svc.RegisteredClient(f.ctx, "demo-web", "")
	wantKind(t, err, admin.KindNotFound)

	// Replacing: every field anew, the secret and the token stay.
	repl := webClient("ignored")
	repl.Name = "Renamed App"
	repl.RedirectURIs = []string{"https://new.example.com/cb"}
	got, err := f.svc.ReplaceRegisteredClient(f.ctx, reg.ID, repl)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != reg.ID || got.Name != "Renamed App" || !slices.Equal(got.RedirectURIs, repl.RedirectURIs) || got.Public {
		t.Errorf("replaced = %+v", got)
	}
	after, _ := f.store.GetClient(f.ctx, reg.ID)
	if after.SecretHash != st.SecretHash || after.RegistrationTokenHash != st.RegistrationTokenHash {
		t.Error("replacing changed the secret or the registration access token")
	}
	f.wantEvent("client.updated", 1)
	bad := repl
	bad.RedirectURIs = []string{"https://new.example.com/cb#frag"}
	_, err = f.svc.ReplaceRegisteredClient(f.ctx, reg.ID, bad)
	wantProblem(t, err, "redirect_uris[0]")
	_, err = f.svc.ReplaceRegisteredClient(f.ctx, "operators", repl)
	wantKind(t, err, admin.KindNotFound)

	// Registration validates as CreateClient does.
	invalid := webClient("")
	invalid.GrantTypes = []string{"implicit"}
	_, _, _, err = f.svc.RegisterClient(f.ctx, invalid)
	wantProblem(t, err, "grant_types[0]")
	f.noSecretsLogged(secret, token, storage.Hash(secret), storage.Hash(token))
}
