package admin_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/admin"
	"github.com/authserver-dev/authserver/authserver/storage"
)

func TestCreateGetListClients(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	web, secret := f.createClient(webClient("billing"))
	if len(secret) != 43 {
		t.Errorf("secret %q: want 43 base64url characters (256 bits)", secret)
	}
	if web.Public || web.Owner != "database" || web.Registered || web.Name != "billing" || !web.CreatedAt.Equal(f.clock.Now()) {
		t.Errorf("created client = %+v; want confidential, database-owned, named by its id, created now", web)
	}
	st, err := f.store.GetClient(f.ctx, "billing")
	if err != nil {
		t.Fatal(err)
	}
	if st.SecretHash != storage.Hash(secret) || st.Owner != storage.OwnerDatabase {
		t.Errorf("stored secret hash %q owner %q; want Hash(secret), database", st.SecretHash, st.Owner)
	}

	// The file's defaults for what is left out.
	pub, secret2 := f.createClient(admin.NewClient{Client: admin.Client{ID: "cli-tool", Public: true, RedirectURIs: []string{"http://127.0.0.1:8400/cb"}}})
	if secret2 != "" || !pub.Public {
		t.Errorf("public client: secret %q, public %v", secret2, pub.Public)
	}
	if !slices.Equal(pub.GrantTypes, []string{"authorization_code"}) || !slices.Equal(pub.Scopes, []string{"openid", "profile", "email"}) {
		t.Errorf("defaults: grant types %v, scopes %v", pub.GrantTypes, pub.Scopes)
	}

	// A confidential client that brings the hash of its own secret.
	own := webClient("own-secret")
	own.SecretHash = strings.ToUpper(storage.Hash("a secret kept elsewhere, long enough"))
	if _, s, err := f.svc.CreateClient(f.ctx, own); err != nil || s != "" {
		t.Fatalf("CreateClient with secret_hash: secret %q, %v", s, err)
	}
	if st, _ := f.store.GetClient(f.ctx, "own-secret"); st.SecretHash != storage.Hash("a secret kept elsewhere, long enough") {
		t.Errorf("stored secret hash %q: want the given one in lower case", st.SecretHash)
	}

	got, err := f.svc.GetClient(f.ctx, "billing")
	if err != nil || got.ID != "billing" || !slices.Equal(got.RedirectURIs, web.RedirectURIs) {
		t.Errorf("GetClient = %+v, %v", got, err)
	}
	_, err = f.svc.GetClient(f.ctx, "nobody")
	wantKind(t, err, admin.KindNotFound)

	list, err := f.svc.ListClients(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	if want := []string{"billing", "cli-tool", "demo-web", "own-secret", legacyClient}; !slices.Equal(ids, want) {
		t.Errorf("ListClients ids = %v, want %v", ids, want)
	}
	if i := slices.Index(ids, "demo-web"); list[i].Owner != "file" {
		t.Errorf("demo-web owner %q, want file", list[i].Owner)
	}
	f.wantEvent("client.created", 3)
	f.noSecretsLogged(secret, storage.Hash(secret))
}

func TestCreateClientValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(c *admin.NewClient)
		field  string
	}{
		{"empty id", func(c *admin.NewClient) { c.ID = "" }, "id"},
		{"id with a space", func(c *admin.NewClient) { c.ID = "my app" }, "id"},
		{"id with a control character", func(c *admin.NewClient) { c.ID = "app\x00" }, "id"},
		{"id too long", func(c *admin.NewClient) { c.ID = strings.Repeat("a", 256) }, "id"},
		{"http redirect off loopback", func(c *admin.NewClient) { c.RedirectURIs = []string{"http://app.example.com/cb"} }, "redirect_uris[0]"},
		{"redirect with a fragment", func(c *admin.NewClient) {
			c.RedirectURIs = []string{"https://app.example.com/cb", "https://app.example.com/cb#x"}
		}, "redirect_uris[1]"},
		{"wildcard redirect", func(c *admin.NewClient) { c.RedirectURIs = []string{"https://*.example.com/cb"} }, "redirect_uris[0]"},
		{"javascript redirect", func(c *admin.NewClient) { c.RedirectURIs = []string{"javascript:alert(1)"} }, "redirect_uris[0]"},
		{"no redirect for the code grant", func(c *admin.NewClient) { c.RedirectURIs = nil }, "redirect_uris"},
		{"relative post-logout redirect", func(c *admin.NewClient) { c.PostLogoutRedirectURIs = []string{"/bye"} }, "post_logout_redirect_uris[0]"},
		{"implicit grant", func(c *admin.NewClient) { c.GrantTypes = []string{"implicit"} }, "grant_types[0]"},
		{"unknown grant", func(c *admin.NewClient) { c.GrantTypes = []string{"authorization_code", "magic"} }, "grant_types[1]"},
		{"client credentials for a public client", func(c *admin.NewClient) {
			c.Public, c.GrantTypes = true, []string{"client_credentials"}
		}, "grant_types[0]"},
		{"scope with a space", func(c *admin.NewClient) { c.Scopes = []string{"openid", "read all"} }, "scopes[1]"},
		{"empty audience", func(c *admin.NewClient) { c.Audience = []string{" "} }, "audience[0]"},
		{"ID token algorithm not configured", func(c *admin.NewClient) { c.IDTokenSignedResponseAlg = "RS256" }, "id_token_signed_response_alg"},
		{"back-channel logout over http", func(c *admin.NewClient) { c.BackchannelLogoutURI = "http://app.example.com/logout" }, "backchannel_logout_uri"},
		{"session required without a back-channel URI", func(c *admin.NewClient) { c.BackchannelLogoutSessionRequired = true }, "backchannel_logout_session_required"},
		{"secret hash not SHA-256 hex", func(c *admin.NewClient) { c.SecretHash = "abc" }, "secret_hash"},
		{"secret hash of a public client", func(c *admin.NewClient) { c.Public, c.SecretHash = true, storage.Hash("x") }, "secret_hash"},
	}
	f := newFixture(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := webClient("checked")
			tt.change(&c)
			_, secret, err := f.svc.CreateClient(f.ctx, c)
			if secret != "" {
				t.Errorf("a refused client got a secret")
			}
			wantProblem(t, err, tt.field)
			if _, err := f.store.GetClient(f.ctx, c.ID); err == nil {
				t.Errorf("a refused client was stored")
			}
		})
	}

	t.Run("every problem at once", func(t *testing.T) {
		c := webClient("many")
		c.RedirectURIs = []string{"http://app.example.com/cb"}
		c.GrantTypes = []string{"implicit"}
		c.Scopes = []string{"a b"}
		_, _, err := f.svc.CreateClient(f.ctx, c)
		for _, field := range []string{"redirect_uris[0]", "grant_types[0]", "scopes[0]"} {
			wantProblem(t, err, field)
		}
	})

	t.Run("no audience and no default audience", func(t *testing.T) {
		f := newFixture(t, func(o *admin.Options) { o.Config.Tokens.DefaultAudience = nil })
		_, _, err := f.svc.CreateClient(f.ctx, webClient("no-audience"))
		wantProblem(t, err, "audience")
		c := webClient("with-audience")
		c.Audience = []string{"https://api.example.com"}
		if _, _, err := f.svc.CreateClient(f.ctx, c); err != nil {
			t.Errorf("a client naming its audience: %v", err)
		}
	})
	if n := len(f.events("client.created")); n != 0 {
		t.Errorf("%d client.created events for refused clients", n)
	}
}

func TestCreateClientRefusesExistingIDs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, secret := f.createClient(webClient("billing"))

	again := webClient("billing")
	again.RedirectURIs = []string{"https://evil.example.com/cb"}
	_, s, err := f.svc.CreateClient(f.ctx, again)
	wantKind(t, err, admin.KindConflict)
	st, _ := f.store.GetClient(f.ctx, "billing")
	if s != "" || st.SecretHash != storage.Hash(secret) || st.RedirectURIs[0] != "https://app.example.com/cb" {
		t.Errorf("a refused create changed the client: %+v", st)
	}

	// A user's id is the sub of their tokens, and so is a client's.
	u := f.createUser("dave", "dave-password")
	_, _, err = f.svc.CreateClient(f.ctx, webClient(u.ID))
	e := wantKind(t, err, admin.KindConflict)
	if !strings.Contains(e.Message, "dave") {
		t.Errorf("refusal does not name the user: %v", e)
	}
	_, _, err = f.svc.CreateClient(f.ctx, webClient(f.alice.ID))
	wantKind(t, err, admin.KindConflict)
}

func TestUserIDsAreNeverClientIDs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const taken, free = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
	f.createClient(webClient(taken))
	drawn := []string{taken, free}
	admin.SetUserIDs(f.svc, func() string { id := drawn[0]; drawn = drawn[1:]; return id })
	u := f.createUser("erin", "erin-password")
	if u.ID != free {
		t.Errorf("user id = %q; want %q, the first id no client has", u.ID, free)
	}
}

func TestUpdateClient(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, secret := f.createClient(webClient("billing"))
	created, _ := f.svc.GetClient(f.ctx, "billing")
	f.clock.Add(time.Hour)

	name, uris, skip := "Billing", []string{"https://billing.example.com/cb"}, true
	got, err := f.svc.UpdateClient(f.ctx, "billing", admin.ClientPatch{Name: &name, RedirectURIs: &uris, SkipConsent: &skip})
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != name || !slices.Equal(got.RedirectURIs, uris) || !got.SkipConsent || !got.CreatedAt.Equal(created.CreatedAt) ||
		!got.UpdatedAt.Equal(f.clock.Now()) {
		t.Errorf("updated client = %+v", got)
	}
	if !slices.Equal(got.Scopes, created.Scopes) || got.Public {
		t.Errorf("fields not in the patch changed: %+v", got)
	}
	if st, _ := f.store.GetClient(f.ctx, "billing"); st.SecretHash != storage.Hash(secret) {
		t.Errorf("the update changed the secret")
	}
	ev := f.wantEvent("client.updated", 1)
	if len(ev) == 1 {
		fields, _ := ev[0].Fields["fields"].([]any)
		if len(fields) != 3 || fields[0] != "name" || fields[1] != "redirect_uris" || fields[2] != "skip_consent" {
			t.Errorf("client.updated fields = %v, want [name redirect_uris skip_consent]", ev[0].Fields["fields"])
		}
	}

	// The same values again change nothing, and say nothing.
	if _, err := f.svc.UpdateClient(f.ctx, "billing", admin.ClientPatch{Name: &name}); err != nil {
		t.Fatal(err)
	}
	f.wantEvent("client.updated", 1)

	bad := []string{"http://billing.example.com/cb"}
	_, err = f.svc.UpdateClient(f.ctx, "billing", admin.ClientPatch{RedirectURIs: &bad})
	wantProblem(t, err, "redirect_uris[0]")
	if st, _ := f.store.GetClient(f.ctx, "billing"); st.RedirectURIs[0] != uris[0] {
		t.Errorf("a refused update was stored: %v", st.RedirectURIs)
	}
	// client_credentials is allowed: the client keeps its secret.
	grants := []string{"client_credentials"}
	if _, err := f.svc.UpdateClient(f.ctx, "billing", admin.ClientPatch{GrantTypes: &grants}); err != nil {
		t.Errorf("client_credentials for a confidential client: %v", err)
	}

	_, err = f.svc.UpdateClient(f.ctx, "nobody", admin.ClientPatch{Name: &name})
	wantKind(t, err, admin.KindNotFound)
}

func TestRotateClientSecret(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, old := f.createClient(webClient("billing"))
	secret, err := f.svc.RotateClientSecret(f.ctx, "billing")
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.store.GetClient(f.ctx, "billing")
	if secret == old || len(secret) != 43 || st.SecretHash != storage.Hash(secret) {
		t.Errorf("after rotation: stored hash %q; new secret %q (old %q)", st.SecretHash, secret, old)
	}
	if st.SecretHash == storage.Hash(old) {
		t.Error("the old secret's hash is still stored")
	}
	f.wantEvent("client.secret_rotated", 1)
	f.noSecretsLogged(old, secret, storage.Hash(old), storage.Hash(secret))

	f.createClient(admin.NewClient{Client: admin.Client{ID: "spa", Public: true, RedirectURIs: []string{"https://spa.example.com/cb"}}})
	_, err = f.svc.RotateClientSecret(f.ctx, "spa")
	wantKind(t, err, admin.KindInvalid)
	_, err = f.svc.RotateClientSecret(f.ctx, "nobody")
	wantKind(t, err, admin.KindNotFound)
}

func TestDeleteClientRevokesWhatItWasIssued(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.createClient(webClient("billing"))
	f.createClient(webClient("other"))
	fam, tok := f.family("billing", f.alice.ID, "", "openid offline_access")
	otherFam, otherTok := f.family("other", f.alice.ID, "", "openid")

	if err := f.svc.DeleteClient(f.ctx, "billing"); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.GetClient(f.ctx, "billing")
	wantKind(t, err, admin.KindNotFound)
	f.wantRevoked(fam, tok, true)
	f.wantRevoked(otherFam, otherTok, false)
	f.wantEvent("client.removed", 1)

	wantKind(t, f.svc.DeleteClient(f.ctx, "billing"), admin.KindNotFound)
}

// Every change to an entry the configuration owns is refused: one it
// declares, and one the file the server last started with had.
func TestFileOwnedClientsAreRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	name := "Renamed"
	for _, tt := range []struct {
		id, want string
	}{
		{"demo-web", "client demo-web is declared in " + source + "; edit the file instead"},
		{legacyClient, "belongs to the configuration file the server last started with (it is not in " + source},
	} {
		before, _ := f.store.GetClient(f.ctx, tt.id)
		ops := map[string]error{
			"create": func() error { _, _, err := f.svc.CreateClient(f.ctx, webClient(tt.id)); return err }(),
			"update": func() error {
				_, err := f.svc.UpdateClient(f.ctx, tt.id, admin.ClientPatch{Name: &name})
				return err
			}(),
			"rotate":  func() error { _, err := f.svc.RotateClientSecret(f.ctx, tt.id); return err }(),
			"delete":  f.svc.DeleteClient(f.ctx, tt.id),
			"replace": func() error { _, err := f.svc.ReplaceRegisteredClient(f.ctx, tt.id, webClient(tt.id)); return err }(),
		}
		for op, err := range ops {
			e := wantKind(t, err, admin.KindFileOwned)
			if !strings.Contains(e.Message, tt.want) {
				t.Errorf("%s %s: %q; want it to contain %q", op, tt.id, e.Message, tt.want)
			}
		}
		after, err := f.store.GetClient(f.ctx, tt.id)
		if err != nil || after.SecretHash != before.SecretHash || after.Name != before.Name || !after.UpdatedAt.Equal(before.UpdatedAt) {
			t.Errorf("a refused change changed %s: %+v, %v", tt.id, after, err)
		}
	}
	if lines := f.logs.Lines(t); len(lines) != 0 {
		t.Errorf("refusals logged events: %v", lines)
	}

	// The demo says how to get a file of one's own.
	demo := newFixture(t, func(o *admin.Options) { o.Demo, o.ConfigSource = true, "the embedded demo configuration" })
	e := wantKind(t, demo.svc.DeleteClient(demo.ctx, "demo-web"), admin.KindFileOwned)
	if !strings.Contains(e.Message, "the embedded demo configuration") || !strings.Contains(e.Message, "--config") {
		t.Errorf("demo refusal %q: want the source and --config", e.Message)
	}
}
