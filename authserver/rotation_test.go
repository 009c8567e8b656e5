package authserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/config"
	"github.com/authserver-dev/authserver/resource"
)

func jwks(t *testing.T, p *authtest.Provider) (kids []string, maxAge int, etag string) {
	t.Helper()
	resp, err := http.Get(p.URL + "/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			Alg string `json:"alg"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		if k.Alg == "ES256" {
			kids = append(kids, k.Kid)
		}
	}
	cc := resp.Header.Get("Cache-Control")
	maxAge, _ = strconv.Atoi(strings.TrimPrefix(cc, "public, max-age="))
	return kids, maxAge, resp.Header.Get("ETag")
}

// TestKeyRotationNobodyNotices walks one rotation of the access-token key on
// the provider's clock: tokens signed before, during and after it verify in
// the resource package and in go-oidc's remote key set, with no restart of
// anything, and a token of a removed key no longer does.
func TestKeyRotationNobodyNotices(t *testing.T) {
	p := authtest.Start(t, func(c *config.Config) {
		c.Signing.RotationPeriod = config.Duration(2 * time.Hour)
		c.Signing.PublishLead = config.Duration(30 * time.Minute)
		c.Signing.JWKSMaxAge = config.Duration(10 * time.Minute)
		c.Tokens.AccessTokenTTL = config.Duration(2 * time.Hour)
	})
	ctx := context.Background()
	api, err := resource.NewVerifier(ctx, resource.Config{Issuer: p.URL, Audience: "http://127.0.0.1:9095",
		Now: p.Clock.Now, MinRefetchInterval: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	rp := oidc.NewRemoteKeySet(ctx, p.URL+"/jwks.json")
	verifies := func(name, tok string) {
		t.Helper()
		if _, err := api.Verify(ctx, tok); err != nil {
			t.Errorf("%s: resource: %v", name, err)
		}
		if _, err := rp.VerifySignature(ctx, tok); err != nil {
			t.Errorf("%s: go-oidc: %v", name, err)
		}
	}
	tick := func() {
		t.Helper()
		if _, err := p.App.Keys.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}

	kids, maxAge, _ := jwks(t, p)
	if len(kids) != 1 || maxAge != 600 {
		t.Fatalf("start: ES256 keys %v, max-age %d", kids, maxAge)
	}
	keyA := kids[0]
	before := passwordToken(t, p, "api.read")
	verifies("before", before)

	// 1h31m: the next key is published, not yet signing.
	p.Clock.Advance(91 * time.Minute)
	tick()
	kids, maxAge, _ = jwks(t, p)
	if len(kids) != 2 || maxAge > 30*60 {
		t.Fatalf("after publishing: ES256 keys %v, max-age %d", kids, maxAge)
	}
	during := passwordToken(t, p, "api.read")
	if kidOf(t, during) != keyA {
		t.Fatal("the next key signed before its time")
	}
	verifies("before, after publishing", before)
	verifies("during", during)

	// 2h02m: the new key signs; the old one is retired but still published.
	p.Clock.Advance(31 * time.Minute)
	tick()
	after := passwordToken(t, p, "api.read")
	if kidOf(t, after) == keyA {
		t.Fatal("the old key still signs after the rotation")
	}
	verifies("during, after the switch", during)
	verifies("after", after)

	// Once every token of the old key has expired, the key is unpublished.
	p.Clock.Advance(126 * time.Minute)
	tick()
	kids, _, _ = jwks(t, p)
	if slices.Contains(kids, keyA) || !slices.Contains(kids, kidOf(t, after)) {
		t.Fatalf("after retirement the ES256 keys are %v; want the signing key and not %s", kids, keyA)
	}
	if _, err := oidc.NewRemoteKeySet(ctx, p.URL+"/jwks.json").VerifySignature(ctx, during); err == nil {
		t.Error("a token of a removed key still verifies")
	}
	if _, err := api.Verify(ctx, during); err == nil {
		t.Error("resource accepts a token of a removed key")
	}
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(decodeSegment(t, strings.Split(tok, ".")[0]), &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

func TestJWKSConditionalGet(t *testing.T) {
	p := authtest.Start(t, nil)
	_, _, etag := jwks(t, p)
	req, _ := http.NewRequest(http.MethodGet, p.URL+"/jwks.json", nil)
	req.Header.Set("If-None-Match", etag)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if etag == "" || resp.StatusCode != http.StatusNotModified {
		t.Fatalf("ETag %q, conditional GET %d", etag, resp.StatusCode)
	}
}

// Each client may choose its ID-token algorithm; discovery lists them all.
func TestIDTokenAlgorithmPerClient(t *testing.T) {
	p := authtest.Start(t, func(c *config.Config) {
		c.Signing.Algorithms = []string{"EdDSA", "ES256", "RS256"}
		c.Clients[0].IDTokenSignedResponseAlg = "EdDSA"
	})
	ctx := context.Background()
	provider, oc := codeClient(t, p)
	tok := codeTokens(t, p)
	raw := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: oc.ClientID, SupportedSigningAlgs: []string{"EdDSA"}}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("EdDSA ID token: %v", err)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatalf("at_hash with EdDSA (SHA-512): %v", err)
	}
	if kidAlg(t, tok.AccessToken) != "EdDSA" {
		t.Errorf("access token alg = %s; want the first algorithm", kidAlg(t, tok.AccessToken))
	}
	var doc struct {
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := provider.Claims(&doc); err != nil || strings.Join(doc.Algs, ",") != "EdDSA,ES256,RS256" {
		t.Fatalf("discovery algs %v %v", doc.Algs, err)
	}
}

func kidAlg(t *testing.T, tok string) string {
	var h struct {
		Alg string `json:"alg"`
	}
	_ = json.Unmarshal(decodeSegment(t, strings.Split(tok, ".")[0]), &h)
	return h.Alg
}
