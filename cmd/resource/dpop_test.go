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
	"net/url"
	"strings"
	"testing"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/dpop"
	"github.com/authserver-dev/authserver/resource"
)

const (
	serviceID     = "service"
	serviceSecret = "service-secret-0123456789abcdefghij"
)

// serviceToken gets a client_credentials token for api.read, bound to
// signer's key when signer is set.
func serviceToken(t *testing.T, p *authtest.Provider, signer *dpop.Signer) (token, tokenType string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.URL+"/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {"api.read"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(serviceID, serviceSecret)
	if signer != nil {
		proof, err := signer.Proof(http.MethodPost, p.URL+"/token", dpop.ProofOptions{})
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("DPoP", proof)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("token request: %d %v", resp.StatusCode, err)
	}
	return body.AccessToken, body.TokenType
}

func newSigner(t *testing.T) *dpop.Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := dpop.NewSigner(key, "ES256")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSampleAPIWithDPoP runs the sample API with each token check and with
// or without --require-dpop: a bound token works with its proof and never as
// a bearer token; --require-dpop refuses unbound tokens too; --public-url
// is the URL the proofs must name.
func TestSampleAPIWithDPoP(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, nil)
	signer := newSigner(t)
	bound, typ := serviceToken(t, p, signer)
	if typ != "DPoP" {
		t.Fatalf("token_type %q for a token request with a proof, want DPoP", typ)
	}
	unbound, _ := serviceToken(t, p, nil)

	for _, tc := range []struct {
		name       string
		introspect bool
		dpop       resource.DPoPConfig
	}{
		{"local verification", false, resource.DPoPConfig{}},
		{"introspection", true, resource.DPoPConfig{}},
		{"--require-dpop", false, resource.DPoPConfig{Required: true}},
		{"--require-dpop with introspection", true, resource.DPoPConfig{Required: true}},
		{"--public-url", false, resource.DPoPConfig{PublicURL: "https://api.example.com/v1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := options{issuer: p.URL, audience: "https://api.example.com", introspect: tc.introspect, dpop: tc.dpop}
			if tc.introspect {
				o.clientID, o.clientSecret = serviceID, serviceSecret
			}
			v, err := startVerifier(context.Background(), o, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			api := httptest.NewServer(newAPI(v))
			defer api.Close()
			// What the client believes the URL is: the proxy's, with --public-url.
			publicURL := api.URL + "/api/profile"
			if tc.dpop.PublicURL != "" {
				publicURL = tc.dpop.PublicURL + "/api/profile"
			}
			get := func(authorization, proofURL, token string) (int, string) {
				req, _ := http.NewRequest(http.MethodGet, api.URL+"/api/profile", nil)
				req.Header.Set("Authorization", authorization)
				if proofURL != "" {
					proof, err := signer.Proof(http.MethodGet, proofURL, dpop.ProofOptions{AccessToken: token})
					if err != nil {
						t.Fatal(err)
					}
					req.Header.Set("DPoP", proof)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.StatusCode, strings.Join(resp.Header.Values("WWW-Authenticate"), ", ")
			}

			if status, www := get("DPoP "+bound, publicURL, bound); status != http.StatusOK {
				t.Errorf("bound token with its proof: %d %s, want 200", status, www)
			}
			// With --require-dpop, Bearer is no credential at all: the
			// answer is the bare DPoP challenge (RFC 6750 §3.1: no error code).
			wantWWW := `error="invalid_token"`
			if tc.dpop.Required {
				wantWWW = "DPoP realm="
			}
			if status, www := get("Bearer "+bound, "", ""); status != http.StatusUnauthorized || !strings.Contains(www, wantWWW) {
				t.Errorf("bound token as Bearer: %d %q, want 401 with %s", status, www, wantWWW)
			}
			if tc.dpop.PublicURL != "" {
				// The proof names the address the API listens on, not the
				// one clients use: a proof for another URL.
				if status, www := get("DPoP "+bound, api.URL+"/api/profile", bound); status != http.StatusUnauthorized || !strings.Contains(www, "invalid_dpop_proof") {
					t.Errorf("proof for the internal URL behind --public-url: %d %q, want 401 invalid_dpop_proof", status, www)
				}
			}
			status, www := get("Bearer "+unbound, "", "")
			switch {
			case tc.dpop.Required && (status != http.StatusUnauthorized || !strings.HasPrefix(www, "DPoP ")):
				t.Errorf("unbound bearer token with --require-dpop: %d %q, want 401 with a DPoP challenge alone", status, www)
			case !tc.dpop.Required && status != http.StatusOK:
				t.Errorf("unbound bearer token: %d %q, want 200", status, www)
			}
		})
	}
}

func TestDPoPFlags(t *testing.T) {
	t.Parallel()
	o, _, err := parseFlags([]string{"--require-dpop", "--public-url", "https://api.example.com"}, noEnv)
	if err != nil || !o.dpop.Required || o.dpop.PublicURL != "https://api.example.com" {
		t.Fatalf("options %+v, %v", o.dpop, err)
	}
	o, _, _ = parseFlags(nil, noEnv)
	if o.dpop.Required || o.dpop.PublicURL != "" {
		t.Errorf("default DPoP options %+v, want the zero value (DPoP accepted, not required)", o.dpop)
	}
	// A wrong --public-url is a configuration error: reported at once, not
	// retried as if the issuer were still starting.
	_, err = startVerifier(context.Background(), options{issuer: "http://127.0.0.1:1", audience: "a",
		dpop: resource.DPoPConfig{PublicURL: "ftp://api.example.com"}}, slog.New(slog.DiscardHandler))
	if !errors.Is(err, resource.ErrInvalidConfig) || !strings.Contains(err.Error(), "PublicURL") {
		t.Errorf("err = %v, want an invalid-config error naming PublicURL", err)
	}
}
