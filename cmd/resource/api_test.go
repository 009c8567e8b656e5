package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver-dev/authserver/resource"
)

const audience = "http://127.0.0.1:9095"

// startAPI starts a fake issuer (discovery + JWKS) and the sample API on top
// of it, and returns the API's URL and a function minting access tokens.
func startAPI(t *testing.T) (apiURL string, token func(scope string) string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: key, KeyID: "k1", Algorithm: "ES256", Use: "sig"}
	var issuer *httptest.Server
	issuer = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": issuer.URL, "jwks_uri": issuer.URL + "/jwks"})
		case "/jwks":
			_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk.Public()}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(issuer.Close)

	v, err := resource.NewVerifier(context.Background(), resource.Config{
		Issuer: issuer.URL, Audience: audience, HTTPClient: issuer.Client(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(newAPI(v))
	t.Cleanup(api.Close)

	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jwk}, (&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	return api.URL, func(scope string) string {
		now := time.Now()
		payload, _ := json.Marshal(map[string]any{
			"iss": issuer.URL, "sub": "alice", "aud": audience, "client_id": "demo-web", "scope": scope,
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": "j1",
		})
		jws, err := signer.Sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := jws.CompactSerialize()
		return raw
	}
}

func TestAPI(t *testing.T) {
	cases := []struct {
		name     string
		method   string
		path     string
		scope    string // "" sends no token
		body     string
		wantCode int
		wantJSON map[string]string // fields that must be in the response
	}{
		{name: "health", method: "GET", path: "/healthz", wantCode: 200, wantJSON: map[string]string{"status": "ok"}},
		{name: "profile without token", method: "GET", path: "/api/profile", wantCode: 401},
		{name: "profile with the wrong scope", method: "GET", path: "/api/profile", scope: "api.write", wantCode: 403,
			wantJSON: map[string]string{"error": "insufficient_scope"}},
		{name: "profile", method: "GET", path: "/api/profile", scope: "openid api.read", wantCode: 200,
			wantJSON: map[string]string{"sub": "alice", "client_id": "demo-web", "scope": "openid api.read", "message": "hello alice from the sample API"}},
		{name: "note without api.write", method: "POST", path: "/api/notes", scope: "api.read", body: `{"text":"hi"}`, wantCode: 403},
		{name: "note", method: "POST", path: "/api/notes", scope: "api.write", body: `{"text":"buy milk"}`, wantCode: 201,
			wantJSON: map[string]string{"id": "note-1", "sub": "alice", "text": "buy milk"}},
		{name: "note with bad JSON", method: "POST", path: "/api/notes", scope: "api.write", body: `{"text":`, wantCode: 400,
			wantJSON: map[string]string{"error": "invalid_request"}},
		{name: "note without text", method: "POST", path: "/api/notes", scope: "api.write", body: `{}`, wantCode: 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			apiURL, token := startAPI(t)
			req, err := http.NewRequest(c.method, apiURL+c.path, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if c.scope != "" {
				req.Header.Set("Authorization", "Bearer "+token(c.scope))
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != c.wantCode {
				t.Fatalf("status = %d, want %d", resp.StatusCode, c.wantCode)
			}
			if c.wantCode == 401 && resp.Header.Get("WWW-Authenticate") != `Bearer realm="`+audience+`"` {
				t.Errorf("WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
			}
			var got map[string]string
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatalf("body: %v", err)
			}
			for k, want := range c.wantJSON {
				if got[k] != want {
					t.Errorf("%s = %q, want %q (body %v)", k, got[k], want, got)
				}
			}
		})
	}
}

func TestStartVerifierGivesUpAtOnceOnConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		o    options
	}{
		{name: "JWT mode, bad issuer", o: options{issuer: "not a URL", audience: audience}},
		{name: "introspection mode, bad issuer", o: options{issuer: "not a URL", audience: audience, introspect: true, clientID: "api", clientSecret: "s"}},
		{name: "introspection mode, no client secret", o: options{issuer: "http://127.0.0.1:1", audience: audience, introspect: true, clientID: "api"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := startVerifier(context.Background(), c.o, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if !errors.Is(err, resource.ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidConfig", err)
			}
		})
	}
}
