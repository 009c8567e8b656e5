package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// runPassword does the resource owner password grant, verifies the ID token
// when there is one, calls the API and prints what it learned. It fails when
// any step fails, including an API answer other than 2xx, so scripts can use
// its exit code.
func runPassword(ctx context.Context, cfg appConfig, creds credentials, stdout io.Writer) error {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0" // only used to build a redirect URI that this mode never sends
	}
	a, err := newApp(ctx, cfg)
	if err != nil {
		return err
	}
	ctx = oidc.ClientContext(ctx, a.client)
	tok, err := a.oauth.PasswordCredentialsToken(ctx, creds.Username, creds.Password)
	if err != nil {
		v := tokenErrorView("", err)
		if v.Code != "" {
			return fmt.Errorf("password grant refused: %s: %s", v.Code, v.Description)
		}
		return fmt.Errorf("password grant: %w", err)
	}
	expires := "not stated"
	if !tok.Expiry.IsZero() {
		expires = tok.Expiry.UTC().Format(time.RFC1123)
	}
	fmt.Fprintf(stdout, "Token response: token_type=%s, access token expires %s, refresh token issued: %t\n",
		tok.Type(), expires, tok.RefreshToken != "")

	if _, ok := tok.Extra("id_token").(string); ok {
		idt, err := a.verifyIDToken(ctx, tok, "", "")
		if err != nil {
			return fmt.Errorf("ID token rejected: %w", err)
		}
		fmt.Fprintln(stdout, "\nID token (verified):")
		for _, c := range idt.checks {
			fmt.Fprintln(stdout, "  -", c)
		}
		printClaims(stdout, idt.claims)
	} else {
		fmt.Fprintln(stdout, "\nNo ID token in the response (the openid scope was not requested or not granted).")
	}

	if claims, err := jwtPayloadClaims(tok.AccessToken); err == nil {
		fmt.Fprintln(stdout, "\nAccess token claims (decoded, verified by the API):")
		printClaims(stdout, claims)
	} else {
		fmt.Fprintln(stdout, "\nThe access token is not a JWT this client can decode:", err)
	}

	res := a.callAPI(ctx, tok)
	fmt.Fprintf(stdout, "\nGET %s (Authorization: %s)\n", res.URL, res.Scheme)
	if res.Err != "" {
		return fmt.Errorf("calling the API: %s", res.Err)
	}
	if a.dpop != nil {
		printDPoP(stdout, a.dpop.status(tok, res))
	}
	fmt.Fprintln(stdout, res.Status)
	if res.WWWAuthenticate != "" {
		fmt.Fprintln(stdout, "WWW-Authenticate:", res.WWWAuthenticate)
	}
	fmt.Fprintln(stdout, res.Body)
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return errors.New("the API answered " + res.Status)
	}
	return nil
}

func printClaims(w io.Writer, claims []claim) {
	width := 0
	for _, c := range claims {
		width = max(width, len(c.Name))
	}
	for _, c := range claims {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.Name, c.Value)
	}
}

// printDPoP says, in password mode with --dpop, whether the token is bound
// to the client's key and whether the API accepted the proof.
func printDPoP(w io.Writer, v *dpopView) {
	fmt.Fprintf(w, "DPoP: this client's key thumbprint %s, token_type %s\n", v.KeyJKT, v.TokenType)
	switch {
	case v.Bound:
		fmt.Fprintf(w, "DPoP: the access token is bound to this key (cnf.jkt %s)\n", v.TokenJKT)
	case v.TokenJKT != "":
		fmt.Fprintf(w, "DPoP: the access token is bound to another key (cnf.jkt %s)\n", v.TokenJKT)
	default:
		fmt.Fprintln(w, "DPoP: the access token is not bound to a key (no cnf.jkt)")
	}
	if v.APIAccepts {
		fmt.Fprintln(w, "DPoP: the API accepted the proof")
	}
}
