package authserver_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/config"
)

// oidcc-scope-* as relying parties send them: scopes a client may not have,
// unknown or not registered for it, are dropped (RFC 6749 §3.3) at the
// authorization endpoint and in the password grant, and the token response
// says what was granted; invalid_scope only when nothing allowed remains.
// The client-credentials grant stays strict.
func TestScopesSentBlindlyAreDropped(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, nil)
	rp := newConsentRP(t, p)

	t.Run("authorization", func(t *testing.T) {
		a := rp.start("openid profile made.up api.admin profile").login("alice", "alice-password")
		if got := a.asked(); !sameScopes(got, "openid", "profile") {
			t.Fatalf("consent page asks for %v, want openid and profile only", got)
		}
		tok, _ := a.decide("allow").redeem()
		if got, _ := tok.Extra("scope").(string); got != "openid profile" {
			t.Fatalf("token response scope %q, want %q", got, "openid profile")
		}
		// The refresh answer says the scope too.
		tok, _ = rp.start("openid offline_access").decide("allow").redeem()
		status, body := refresh(t, p, tok.RefreshToken, "", "demo-web", "demo-web-secret-not-for-production")
		if status != http.StatusOK || body["scope"] != "openid offline_access" {
			t.Fatalf("refresh: %d %v", status, body)
		}
	})
	t.Run("authorization with nothing allowed is invalid_scope", func(t *testing.T) {
		if e := rp.start("made.up api.admin").authError(); e != "invalid_scope" {
			t.Fatalf("got %s, want invalid_scope", e)
		}
	})
	password := func(scope string) (int, map[string]any) {
		status, _, body := postToken(t, p, url.Values{"grant_type": {"password"}, "username": {"alice"},
			"password": {"alice-password"}, "scope": {scope}}, "demo-web", "demo-web-secret-not-for-production")
		return status, body
	}
	t.Run("password grant", func(t *testing.T) {
		status, body := password("openid made.up api.read address")
		if status != http.StatusOK || body["scope"] != "openid api.read" {
			t.Fatalf("password grant: %d %v; want scope %q", status, body, "openid api.read")
		}
		if status, body := password("made.up"); status != http.StatusBadRequest || body["error"] != "invalid_scope" {
			t.Fatalf("password grant with nothing allowed: %d %v", status, body)
		}
		// Without a scope: the client's scopes but offline_access, said so.
		status, body = password("")
		if granted, _ := body["scope"].(string); status != http.StatusOK || !hasScope(granted, "openid") || hasScope(granted, "offline_access") {
			t.Fatalf("password grant without scope: %d %v", status, body)
		}
	})
	t.Run("client credentials stay strict", func(t *testing.T) {
		status, _, body := postToken(t, p, url.Values{"grant_type": {"client_credentials"}, "scope": {"api.read made.up"}},
			"service", "service-secret-0123456789abcdefghij")
		if status != http.StatusBadRequest || body["error"] != "invalid_scope" {
			t.Fatalf("client credentials with an unknown scope: %d %v", status, body)
		}
	})
}

// grantTypesAdvertised fetches discovery and returns grant_types_supported.
func grantTypesAdvertised(t *testing.T, p *authtest.Provider) []string {
	t.Helper()
	resp, err := http.Get(p.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		GrantTypes []string `json:"grant_types_supported"`
	}
	if err := jsonDecode(resp, &doc); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery: %d %v", resp.StatusCode, err)
	}
	return doc.GrantTypes
}

// withoutPassword removes the password grant from every configured client.
func withoutPassword(c *config.Config) {
	for i := range c.Clients {
		c.Clients[i].GrantTypes = slices.DeleteFunc(slices.Clone(c.Clients[i].GrantTypes), func(g string) bool { return g == "password" })
	}
}

// checkPasswordAdvertised: discovery lists password exactly while some
// client may use it, also when a client is added or removed (as the CLI
// does) while the providers run; every replica agrees.
func checkPasswordAdvertised(t *testing.T, p *authtest.Provider) {
	t.Helper()
	advertised := func(want bool) {
		t.Helper()
		// Discovery reuses its answer for a few seconds; every replica
		// rechecks once that has passed.
		p.Clock.Advance(6 * time.Second)
		for range len(p.Replicas) + 1 { // every replica behind the balancer
			got := grantTypesAdvertised(t, p)
			if slices.Contains(got, "password") != want || !slices.Contains(got, "authorization_code") {
				t.Fatalf("grant_types_supported %v; password wanted: %v", got, want)
			}
		}
	}
	advertised(false)
	ctx := context.Background()
	c := storage.Client{ID: "legacy-cli", SecretHash: storage.Hash("legacy-cli-secret-0123456789abcdefghij"),
		GrantTypes: []string{"password"}, Scopes: []string{"openid"}}
	if err := p.App.Store.UpsertClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	advertised(true)
	if err := p.App.Store.DeleteClient(ctx, c.ID, p.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	advertised(false)
}

func TestDiscoveryListsPasswordOnlyWhenAClientMayUseIt(t *testing.T) {
	t.Parallel()
	if got := grantTypesAdvertised(t, authtest.Start(t, nil)); !slices.Contains(got, "password") {
		t.Fatalf("the demo client may use password, but discovery lists %v", got)
	}
	checkPasswordAdvertised(t, authtest.Start(t, withoutPassword))
}

func TestDiscoveryListsPasswordOnlyWhenAClientMayUseItAcrossReplicas(t *testing.T) {
	t.Parallel()
	checkPasswordAdvertised(t, authtest.StartReplicas(t, 2, withoutPassword))
}
