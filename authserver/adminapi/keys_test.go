package adminapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/admin"
	"github.com/authserver-dev/authserver/authserver/adminapi"
	"github.com/authserver-dev/authserver/config"
)

// Listing and rotating the signing keys. Promoting a key before its
// publish lead is a conflict unless forced; a token signed by a key just
// promoted is accepted by the API at once (its verifier refetches the JWKS
// in-process on an unknown kid).
func TestKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	var kl struct{ Keys []admin.Key }
	e.must(http.StatusOK, "GET", "/admin/v1/keys", nil, &kl)
	if len(kl.Keys) == 0 || kl.Keys[0].State != "active" {
		t.Fatalf("keys %+v: want the active one first", kl.Keys)
	}

	// Step until a next key waits for its publish lead: then a promotion
	// without force is refused.
	var rot admin.Rotation
	for range 3 {
		a := e.call(e.admin, "POST", "/admin/v1/keys/rotate", nil)
		if a.status == http.StatusConflict {
			p := a.problem(t, http.StatusConflict, adminapi.TypeConflict)
			if !strings.Contains(p.Detail, "force") {
				t.Errorf("the refusal %q does not say how to force it", p.Detail)
			}
			break
		}
		if a.status != http.StatusOK {
			t.Fatalf("rotate: %d %s", a.status, a)
		}
		a.decode(t, &rot)
		if len(rot.Created)+len(rot.Promoted) == 0 {
			t.Fatalf("a rotation that changed nothing: %+v", rot)
		}
	}
	var next admin.Key
	e.must(http.StatusOK, "GET", "/admin/v1/keys", nil, &kl)
	for _, k := range kl.Keys {
		if k.State == "next" && k.ActivatesAt.After(time.Now()) {
			next = k
		}
	}
	if next.ID == "" {
		t.Fatalf("no next key waiting for its publish lead: %+v", kl.Keys)
	}

	e.must(http.StatusOK, "POST", "/admin/v1/keys/rotate?force=true", nil, &rot)
	if rot.Warning == "" || !slices.ContainsFunc(rot.Promoted, func(k admin.Key) bool { return k.ID == next.ID }) {
		t.Fatalf("forced rotation %+v: want %s promoted with a warning", rot, next.ID)
	}
	// A token signed by the key promoted a moment ago.
	fresh := e.withToken(e.token(adminClient.ID, adminClient.Secret, config.AdminScope))
	if a := e.call(fresh, "GET", "/admin/v1/keys", nil); a.status != http.StatusOK {
		t.Errorf("a token of the new key: %d %s", a.status, a)
	}

	e.call(e.admin, "POST", "/admin/v1/keys/rotate?force=maybe", nil, invalidRequest).problem(t, http.StatusBadRequest, adminapi.TypeInvalid)
}

func TestRegistrationTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	type created struct {
		admin.RegistrationToken
		Token string `json:"token"`
	}
	var def, partner created
	a := e.must(http.StatusCreated, "POST", "/admin/v1/registration-tokens", map[string]any{}, &def)
	if def.Token == "" || def.UsesLeft != 1 || def.ExpiresAt.Sub(def.CreatedAt) != 24*time.Hour ||
		a.header.Get("Location") != "/admin/v1/registration-tokens/"+def.ID {
		t.Errorf("default token %+v, Location %q", def, a.header.Get("Location"))
	}
	e.must(http.StatusCreated, "POST", "/admin/v1/registration-tokens", map[string]any{"ttl": "2h", "uses": 3, "description": "partner onboarding"}, &partner)
	if partner.UsesLeft != 3 || partner.Description != "partner onboarding" || partner.ExpiresAt.Sub(partner.CreatedAt) != 2*time.Hour {
		t.Errorf("token %+v", partner)
	}
	if strings.Contains(e.logs.String(), partner.Token) {
		t.Error("the log holds a registration token")
	}

	var tl struct {
		RegistrationTokens []admin.RegistrationToken `json:"registration_tokens"`
	}
	e.must(http.StatusOK, "GET", "/admin/v1/registration-tokens", nil, &tl)
	if len(tl.RegistrationTokens) != 2 {
		t.Fatalf("tokens %+v", tl.RegistrationTokens)
	}
	e.must(http.StatusNoContent, "DELETE", "/admin/v1/registration-tokens/"+def.ID, nil, nil)
	e.must(http.StatusOK, "GET", "/admin/v1/registration-tokens", nil, &tl)
	if len(tl.RegistrationTokens) != 1 || tl.RegistrationTokens[0].ID != partner.ID {
		t.Errorf("after delete: %+v", tl.RegistrationTokens)
	}
	e.call(e.admin, "DELETE", "/admin/v1/registration-tokens/"+def.ID, nil).problem(t, http.StatusNotFound, adminapi.TypeNotFound)

	for _, tc := range []struct {
		name    string
		body    any
		invalid bool
		fields  []string
	}{
		{"ttl not a duration", map[string]any{"ttl": "forever"}, false, []string{"ttl"}},
		{"ttl too short", map[string]any{"ttl": "10s"}, false, []string{"ttl"}},
		{"ttl too long", map[string]any{"ttl": "2400h"}, false, []string{"ttl"}},
		{"no uses", map[string]any{"uses": 0}, true, []string{"uses"}},
		{"uses not a number", map[string]any{"uses": "3"}, true, []string{"uses"}},
		{"unknown field", map[string]any{"scopes": []string{"openid"}}, true, []string{"scopes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []callOption
			if tc.invalid {
				opts = append(opts, invalidRequest)
			}
			p := e.call(e.admin, "POST", "/admin/v1/registration-tokens", tc.body, opts...).problem(t, http.StatusBadRequest, adminapi.TypeInvalid)
			checkFields(t, p, tc.fields)
		})
	}
}
