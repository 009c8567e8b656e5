package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// fakeProvider is just enough of an OpenID provider for the demo's unit
// tests: discovery, JWKS and a token endpoint that signs RS256 ID tokens with
// the standard library. The real provider is exercised by the end-to-end test.
type fakeProvider struct {
	t   *testing.T
	srv *httptest.Server
	key *rsa.PrivateKey

	mu sync.Mutex
	// challenge is the PKCE challenge the test read from the authorize URL.
	challenge string
	// nonce goes into the next ID token; idNonceOverride replaces it.
	nonce           string
	idNonceOverride string
	badAtHash       bool
	refreshCount    int
	// acr and amr go into the ID tokens when set; amrRaw replaces amr
	// with any JSON value.
	acr    string
	amr    []string
	amrRaw any
}

func newFakeProvider(t *testing.T) *fakeProvider {
	t.Helper()
	key := testKey()
	f := &fakeProvider{t: t, key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer":                                f.srv.URL,
			"authorization_endpoint":                f.srv.URL + "/authorize",
			"token_endpoint":                        f.srv.URL + "/token",
			"jwks_uri":                              f.srv.URL + "/jwks",
			"end_session_endpoint":                  f.srv.URL + "/logout",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
		}}})
	})
	mux.HandleFunc("POST /token", f.token)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// testKey is generated once: RSA key generation is slow under the race detector.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return key
})

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (f *fakeProvider) token(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id, secret, ok := r.BasicAuth(); !ok || id != "demo-web" || secret != "demo-web-secret-not-for-production" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	nonce := ""
	switch r.PostFormValue("grant_type") {
	case "authorization_code":
		sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
		if r.PostFormValue("code") != "good-code" || b64(sum[:]) != f.challenge {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "bad code or code_verifier"})
			return
		}
		nonce = f.nonce
	case "refresh_token":
		if r.PostFormValue("refresh_token") == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
			return
		}
		f.refreshCount++
	case "password":
		if r.PostFormValue("username") != "alice" || r.PostFormValue("password") != "alice-password" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "wrong username or password"})
			return
		}
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	if f.idNonceOverride != "" {
		nonce = f.idNonceOverride
	}
	now := time.Now()
	access := f.sign(map[string]any{"iss": f.srv.URL, "sub": "alice-id", "aud": "http://127.0.0.1:9095",
		"scope": "openid profile api.read", "exp": now.Add(5 * time.Minute).Unix(), "n": f.refreshCount})
	sum := sha256.Sum256([]byte(access))
	atHash := b64(sum[:16])
	if f.badAtHash {
		atHash = b64([]byte("0123456789abcdef"))
	}
	idClaims := map[string]any{"iss": f.srv.URL, "sub": "alice-id", "aud": "demo-web", "name": "Alice Example",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "at_hash": atHash}
	if nonce != "" {
		idClaims["nonce"] = nonce
	}
	if f.acr != "" {
		idClaims["acr"] = f.acr
	}
	if f.amr != nil {
		idClaims["amr"] = f.amr
	}
	if f.amrRaw != nil {
		idClaims["amr"] = f.amrRaw
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": access, "token_type": "Bearer", "expires_in": 300,
		"refresh_token": "refresh-" + string(rune('a'+f.refreshCount)),
		"id_token":      f.sign(idClaims), "scope": "openid profile api.read",
	})
}

// sign makes an RS256 JWT.
func (f *fakeProvider) sign(claims map[string]any) string {
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "k1", "typ": "JWT"})
	payload, _ := json.Marshal(claims)
	input := b64(header) + "." + b64(payload)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, f.key, crypto.SHA256, sum[:])
	if err != nil {
		f.t.Fatal(err)
	}
	return input + "." + b64(sig)
}

// fakeAPI answers 200 with a profile when a bearer token is present.
func fakeAPI(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.Header.Get("Authorization")) < len("Bearer x") {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"sub": "alice-id", "greeting": "hello from the API"})
	}))
	t.Cleanup(srv.Close)
	return srv
}
