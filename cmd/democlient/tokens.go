package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// verifiedIDToken is what the app keeps of an ID token that passed every check.
type verifiedIDToken struct {
	raw     string // kept for id_token_hint at logout; never shown or logged
	subject string
	sid     string // the provider's session, which back-channel logout names
	name    string
	claims  []claim
	checks  []string // the checks that passed, in words, for the result page
	signIn  signInClaims
}

func (t verifiedIDToken) displayName() string {
	if t.name != "" {
		return t.name
	}
	return t.subject
}

// verifyIDToken checks the token response's ID token: signature, issuer,
// audience and expiry through go-oidc, then the nonce when one was sent, the
// subject when refreshing, and at_hash against the access token.
func (a *app) verifyIDToken(ctx context.Context, tok *oauth2.Token, nonce, wantSubject string) (verifiedIDToken, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return verifiedIDToken{}, errors.New("the token response has no id_token; was the openid scope requested?")
	}
	idt, err := a.verifier.Verify(ctx, raw)
	if err != nil {
		return verifiedIDToken{}, err
	}
	checks := []string{"Signature, issuer, audience and expiry verified (go-oidc, keys from the provider's JWKS)."}
	if nonce != "" {
		if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) == 1 {
			checks = append(checks, "The nonce matches the one this app sent.")
		} else {
			return verifiedIDToken{}, errors.New("the ID token's nonce does not match the one sent with the request (replayed token?)")
		}
	}
	if wantSubject != "" && idt.Subject != wantSubject {
		return verifiedIDToken{}, fmt.Errorf("the refreshed ID token is for subject %q, not %q", idt.Subject, wantSubject)
	}
	// at_hash is optional in the code flow (OIDC Core 3.1.3.6), so its
	// absence is reported rather than refused; a wrong one is refused.
	if idt.AccessTokenHash == "" {
		checks = append(checks, "No at_hash claim: the ID token is not bound to the access token.")
	} else if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		return verifiedIDToken{}, fmt.Errorf("at_hash does not match the access token: %w", err)
	} else {
		checks = append(checks, "at_hash matches the access token.")
	}
	var payload json.RawMessage
	if err := idt.Claims(&payload); err != nil {
		return verifiedIDToken{}, err
	}
	claims, err := claimList(payload)
	if err != nil {
		return verifiedIDToken{}, err
	}
	signIn, err := readSignIn(payload)
	if err != nil {
		// The provider said something odd about how the user signed in;
		// the token is valid all the same.
		checks = append(checks, "How you signed in cannot be read: "+err.Error()+".")
	}
	var names struct {
		Name              string `json:"name"`
		PreferredUsername string `json:"preferred_username"`
		SID               string `json:"sid"`
	}
	_ = json.Unmarshal(payload, &names) // a claim of another type only loses the display name
	return verifiedIDToken{
		raw:     raw,
		subject: idt.Subject,
		sid:     names.SID,
		name:    cmp.Or(names.Name, names.PreferredUsername),
		claims:  claims,
		checks:  checks,
		signIn:  signIn,
	}, nil
}

// jwtPayloadClaims decodes a JWT's payload WITHOUT verifying it: the app
// shows what the access token says, while checking it is the API's job.
func jwtPayloadClaims(token string) ([]claim, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("it does not have three parts")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("its payload is not base64url: %w", err)
	}
	return claimList(payload)
}

// timeClaims are NumericDate claims, shown with their date as well.
var timeClaims = map[string]bool{"exp": true, "iat": true, "nbf": true, "auth_time": true}

// claimList turns a JSON object into rows sorted by name. Numbers keep their
// exact digits; other non-string values are shown as JSON.
func claimList(payload []byte) ([]claim, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("the payload is not a JSON object: %w", err)
	}
	out := make([]claim, 0, len(m))
	for k, v := range m {
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case json.Number:
			s = v.String()
			if n, err := v.Int64(); err == nil && timeClaims[k] {
				s += " (" + time.Unix(n, 0).UTC().Format(time.RFC1123) + ")"
			}
		default:
			b, _ := json.Marshal(v)
			s = string(b)
		}
		out = append(out, claim{Name: k, Value: s})
	}
	slices.SortFunc(out, func(a, b claim) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// apiResult is the outcome of one call to the sample API.
type apiResult struct {
	URL             string
	Scheme          string // of the Authorization header: Bearer, or DPoP with a proof
	Status          string // e.g. "200 OK"
	StatusCode      int
	WWWAuthenticate string // explains a 401 or 403
	Body            string // indented when it is JSON
	Err             string // set when no answer came back
}

// maxAPIBody bounds what the app reads and shows of an answer.
const maxAPIBody = 1 << 20

// callAPI calls the API with the access token, in the scheme its token
// type names: a DPoP-bound token goes as "DPoP <token>", and the app's HTTP
// client adds the proof (RFC 9449 §7); any other as a bearer token.
func (a *app) callAPI(ctx context.Context, tok *oauth2.Token) apiResult {
	return callAPI(ctx, a.client, a.cfg.APIURL, tok.AccessToken, authScheme(tok))
}

// authScheme is the Authorization scheme for tok: DPoP when the provider
// said token_type DPoP (the scheme is case-insensitive, RFC 9110 §11.1).
func authScheme(tok *oauth2.Token) string {
	if strings.EqualFold(tok.TokenType, "DPoP") {
		return "DPoP"
	}
	return "Bearer"
}

func callAPI(ctx context.Context, client *http.Client, apiURL, accessToken, scheme string) apiResult {
	res := apiResult{URL: apiURL, Scheme: scheme}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, apiURL, nil)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	req.Header.Set("Authorization", scheme+" "+accessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIBody))
	if err != nil {
		res.Err = "reading the answer: " + err.Error()
	}
	res.Status, res.StatusCode = resp.Status, resp.StatusCode
	res.WWWAuthenticate = resp.Header.Get("WWW-Authenticate")
	var indented bytes.Buffer
	if json.Indent(&indented, body, "", "  ") == nil {
		res.Body = indented.String()
	} else {
		res.Body = string(body)
	}
	return res
}
