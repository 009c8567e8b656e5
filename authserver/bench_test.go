package authserver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/dpop"
	"github.com/authserver-dev/authserver/authserver/storage"
)

// The benchmarks run the real provider (SQLite file, real keys) with the
// demo configuration; see BENCHMARKS.md for the method and the numbers.

func tokenRequest(form url.Values, user, secret string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(user, secret)
	return req
}

// BenchmarkTokenEndpointCodeExchange is the whole token endpoint for an
// authorization-code redemption with PKCE, in-process: client
// authentication, atomic code consumption, an ES256 access token, an RS256
// ID token and a refresh token stored as a hash.
func BenchmarkTokenEndpointCodeExchange(b *testing.B) {
	p := authtest.Start(b, nil)
	ctx := context.Background()
	user, err := p.App.Store.GetUserByUsername(ctx, "alice")
	if err != nil {
		b.Fatal(err)
	}
	const verifier = "benchmark-verifier-benchmark-verifier-benchmark"
	challenge := oauth2.S256ChallengeFromVerifier(verifier)
	codes := make([]string, b.N)
	now := p.Clock.Now()
	for i := range codes {
		codes[i] = rand.Text()
		err := p.App.Store.CreateAuthCode(ctx, storage.AuthCode{
			CodeHash: storage.Hash(codes[i]), ClientID: "demo-web", UserID: user.ID, RedirectURI: authtest.DemoRedirect,
			Scope: "openid profile email offline_access api.read", CodeChallenge: challenge, CodeChallengeMethod: "S256",
			Nonce: "n", SessionID: "sid", AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		rec := httptest.NewRecorder()
		p.App.Server.ServeHTTP(rec, tokenRequest(url.Values{"grant_type": {"authorization_code"}, "code": {codes[i]},
			"redirect_uri": {authtest.DemoRedirect}, "code_verifier": {verifier}}, "demo-web", "demo-web-secret-not-for-production"))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkTokenEndpointClientCredentials is the client-credentials grant
// in-process: client authentication and one ES256 access token.
func BenchmarkTokenEndpointClientCredentials(b *testing.B) {
	p := authtest.Start(b, nil)
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"api.read"}}
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		p.App.Server.ServeHTTP(rec, tokenRequest(form, "service", "service-secret-0123456789abcdefghij"))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkTokenClientCredentialsPrivateKeyJWT is
// BenchmarkTokenEndpointClientCredentials with private_key_jwt instead of a
// secret: the assertion's checks and signature, its jti recorded in the
// store's replay cache (one SQLite write), and one ES256 access token. Each
// request needs a fresh assertion, so b.N are signed before the timer
// starts.
func BenchmarkTokenClientCredentialsPrivateKeyJWT(b *testing.B) {
	env := startPK(b, nil)
	for _, key := range []string{"ec", "rsa-ps", "ed", "rsa"} {
		b.Run(pkKeys()[key].alg, func(b *testing.B) {
			forms := make([]url.Values, b.N)
			for i := range forms {
				claims := pkClaims(env.p, pkInline)
				claims["exp"] = claims["iat"].(int64) + 300
				forms[i] = withAssertion(clientCredentialsForm(), pkKeys()[key].sign(b, claims))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if r := serveForm(env.p.App.Server, forms[i]); r.status != http.StatusOK {
					b.Fatalf("status %d: %v", r.status, r.body)
				}
			}
		})
	}
}

// BenchmarkTokenEndpointRefresh is the refresh grant in-process: lookup,
// atomic rotation (one SQLite write transaction), a new access token and ID
// token.
func BenchmarkTokenEndpointRefresh(b *testing.B) {
	p := authtest.Start(b, nil)
	refreshToken := benchRefreshToken(b, p)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		p.App.Server.ServeHTTP(rec, tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}, "demo-web", "demo-web-secret-not-for-production"))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		refreshToken = decodeField(b, rec.Body.Bytes(), "refresh_token")
	}
}

func benchRefreshToken(b *testing.B, p *authtest.Provider) string {
	b.Helper()
	rec := httptest.NewRecorder()
	p.App.Server.ServeHTTP(rec, tokenRequest(url.Values{"grant_type": {"password"}, "username": {"alice"},
		"password": {"alice-password"}, "scope": {"openid offline_access api.read"}}, "demo-web", "demo-web-secret-not-for-production"))
	if rec.Code != http.StatusOK {
		b.Fatalf("password grant: %d %s", rec.Code, rec.Body)
	}
	return decodeField(b, rec.Body.Bytes(), "refresh_token")
}

func decodeField(b *testing.B, body []byte, field string) string {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		b.Fatal(err)
	}
	s, _ := m[field].(string)
	if s == "" {
		b.Fatalf("no %s in %s", field, body)
	}
	return s
}

// httpClient32 keeps up to 32 connections to the loopback server alive.
func httpClient32() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, MaxConnsPerHost: 32}}
}

// BenchmarkHTTPClientCredentials32 posts client-credentials requests over
// loopback HTTP from 32 goroutines (16 per core on 2 cores), at most 32
// connections. req/s = 1e9 / (ns/op).
func BenchmarkHTTPClientCredentials32(b *testing.B) {
	p := authtest.Start(b, nil)
	c := httpClient32()
	body := url.Values{"grant_type": {"client_credentials"}, "scope": {"api.read"}}.Encode()
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			postJSON(b, c, p.URL+"/token", body, "service", "service-secret-0123456789abcdefghij")
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkHTTPRefresh32 rotates refresh tokens over loopback HTTP from 32
// goroutines, each its own family, at most 32 connections: on SQLite, and on
// PostgreSQL behind two replicas (when AUTHSERVER_TEST_POSTGRES_DSN is set).
func BenchmarkHTTPRefresh32(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchHTTPRefresh(b, authtest.Start(b, nil)) })
	b.Run("postgres-2-replicas", func(b *testing.B) { benchHTTPRefresh(b, authtest.StartReplicas(b, 2, nil)) })
}

func benchHTTPRefresh(b *testing.B, p *authtest.Provider) {
	c := httpClient32()
	b.SetParallelism(16)
	// One family per goroutine, made before the clock starts.
	n := 16 * runtime.GOMAXPROCS(0)
	families := make(chan string, n)
	for range n {
		families <- benchRefreshToken(b, p)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		token := <-families
		for pb.Next() {
			body := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}.Encode()
			token = postJSON(b, c, p.URL+"/token", body, "demo-web", "demo-web-secret-not-for-production")["refresh_token"].(string)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// postJSON posts a form with Basic credentials and decodes the 200 answer.
func postJSON(b *testing.B, c *http.Client, u, body, user, secret string) map[string]any {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(user, secret)
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("status %d %v", resp.StatusCode, m)
	}
	return m
}

// BenchmarkTokenClientCredentialsDPoP is BenchmarkTokenEndpointClientCredentials
// with an ES256 DPoP proof on every request: the proof's verification (its
// signature, the claims, one replay-cache insert in the store) and cnf.jkt
// in the token. The proofs are signed before the clock starts, as a
// client's cost, not the server's.
func BenchmarkTokenClientCredentialsDPoP(b *testing.B) {
	p := authtest.Start(b, nil)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	signer, err := dpop.NewSigner(key, "")
	if err != nil {
		b.Fatal(err)
	}
	signer.Now = p.Clock.Now
	proofs := make([]string, b.N)
	for i := range proofs {
		if proofs[i], err = signer.Proof(http.MethodPost, p.URL+"/token", dpop.ProofOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"api.read"}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		rec := httptest.NewRecorder()
		req := tokenRequest(form, "service", "service-secret-0123456789abcdefghij")
		req.Header.Set("DPoP", proofs[i])
		p.App.Server.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
