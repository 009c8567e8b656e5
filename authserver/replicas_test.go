package authserver_test

import (
	"context"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/authtest"
)

// TestReplicasOnPostgres runs three replicas on one PostgreSQL database
// behind a round-robin balancer, so consecutive requests of one flow land on
// different processes: the login form is posted to another replica than the
// one that rendered it, the code is redeemed on a third, refresh tokens
// rotate across them. Nothing may depend on one process's memory.
func TestReplicasOnPostgres(t *testing.T) {
	p := authtest.StartReplicas(t, 3, nil)
	ctx := context.Background()

	provider, oc := codeClient(t, p)
	verifier := oauth2.GenerateVerifier()
	code := signIn(t, p, oc.AuthCodeURL("r", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n-r")), "r")
	tok, err := oc.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: "demo-web"}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil || idt.Nonce != "n-r" {
		t.Fatalf("ID token: %v", err)
	}
	if _, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
		t.Fatalf("userinfo on another replica: %v", err)
	}

	// Rotation across replicas, then reuse detection across replicas.
	first := tok.RefreshToken
	status, body := refresh(t, p, first, "", "demo-web", "demo-web-secret-not-for-production")
	if status != 200 {
		t.Fatalf("refresh: %d %v", status, body)
	}
	if status, body := refresh(t, p, body["refresh_token"].(string), "", "demo-web", "demo-web-secret-not-for-production"); status != 200 {
		t.Fatalf("second refresh: %d %v", status, body)
	}
	if status, _ := refresh(t, p, first, "", "demo-web", "demo-web-secret-not-for-production"); status != 400 {
		t.Fatalf("reuse on another replica: %d", status)
	}
	if info := introspect(t, p, tok.AccessToken); info["active"] != false {
		t.Fatalf("family still active after reuse: %v", info)
	}

	redeemConcurrently(t, p)
}
