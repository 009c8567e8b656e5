package admin_test

import (
	"strings"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/admin"
)

func TestListKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ks, err := f.svc.ListKeys(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ks) != 1 || ks[0].State != "active" || ks[0].Algorithm != "ES256" || ks[0].ID == "" {
		t.Errorf("ListKeys = %+v; want one active ES256 key", ks)
	}

	none := admin.New(admin.Options{Store: f.store, Config: f.opts.Config})
	if _, err := none.ListKeys(f.ctx); err == nil {
		t.Error("ListKeys without keys: no error")
	}
	if _, err := none.RotateKeys(f.ctx, true); err == nil {
		t.Error("RotateKeys without keys: no error")
	}
}

func TestRotateKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	before, _ := f.svc.ListKeys(f.ctx)
	active := before[0]

	// No next key: one is published, to sign after the publish lead.
	r, err := f.svc.RotateKeys(f.ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Created) != 1 || len(r.Promoted) != 0 || len(r.Retired) != 0 || r.Warning != "" || len(r.Before) != 1 || len(r.After) != 2 {
		t.Fatalf("first rotation = %+v; want one key created", r)
	}
	next := r.Created[0]
	if next.State != "next" || !next.ActivatesAt.Equal(f.clock.Now().Add(24*time.Hour)) {
		t.Errorf("created key = %+v; want next, signing in 24h", next)
	}

	// Promoting it before its publish lead has passed is refused.
	f.clock.Add(time.Hour)
	_, err = f.svc.RotateKeys(f.ctx, false)
	e := wantKind(t, err, admin.KindConflict)
	for _, part := range []string{next.ID, next.CreatedAt.UTC().Format(time.RFC3339), next.ActivatesAt.UTC().Format(time.RFC3339),
		"signing.jwks_max_age, 1h0m0s", "reject", "--force"} {
		if !strings.Contains(e.Message, part) {
			t.Errorf("refusal %q does not say %q", e.Message, part)
		}
	}
	if ks, _ := f.svc.ListKeys(f.ctx); len(ks) != 2 || ks[0].ID != active.ID || ks[0].State != "active" {
		t.Errorf("a refused rotation changed the keys: %+v", ks)
	}

	// Once the lead has passed, it is promoted and the old key retired.
	f.clock.Add(24 * time.Hour)
	r, err = f.svc.RotateKeys(f.ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Promoted) != 1 || r.Promoted[0].ID != next.ID || len(r.Retired) != 1 || r.Retired[0].ID != active.ID ||
		len(r.Created) != 0 || r.Warning != "" {
		t.Errorf("second rotation = %+v; want %s promoted, %s retired", r, next.ID, active.ID)
	}

	// With force, a key is promoted early, and the rotation says what that means.
	if r, err = f.svc.RotateKeys(f.ctx, false); err != nil || len(r.Created) != 1 {
		t.Fatalf("third rotation = %+v, %v", r, err)
	}
	early := r.Created[0]
	r, err = f.svc.RotateKeys(f.ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Promoted) != 1 || r.Promoted[0].ID != early.ID || len(r.Retired) != 1 || r.Retired[0].ID != next.ID {
		t.Errorf("forced rotation = %+v", r)
	}
	if !strings.Contains(r.Warning, early.ID) || !strings.Contains(r.Warning, "refetch") {
		t.Errorf("forced rotation warning = %q", r.Warning)
	}

	ev := f.wantEvent("keys.rotated", 4)
	if len(ev) == 4 {
		if ev[0].Fields["forced"] != false || ev[3].Fields["forced"] != true {
			t.Errorf("forced attributes: %v, %v", ev[0].Fields["forced"], ev[3].Fields["forced"])
		}
		if p, _ := ev[3].Fields["promoted"].([]any); len(p) != 1 || p[0] != early.ID {
			t.Errorf("promoted attribute: %v", ev[3].Fields["promoted"])
		}
	}
}
