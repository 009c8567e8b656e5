package resource_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/dpop"
	"github.com/authserver-dev/authserver/resource"
)

// apiURL is where the tests' clients send their requests.
const apiURL = "https://api.example.test/api/profile"

// The challenges of an API that accepts both schemes and has no error to
// report, as the tests' verifiers (realm testAudience) send them.
const (
	bareBearer = `Bearer realm="` + testAudience + `"`
	bareDPoP   = `DPoP realm="` + testAudience + `", algs="ES256 EdDSA PS256 RS256"`
)

// dpopChallenge is the DPoP challenge carrying an error.
func dpopChallenge(code, description string) string {
	return `DPoP realm="` + testAudience + `", error="` + code + `", error_description="` + description + `", algs="ES256 EdDSA PS256 RS256"`
}

func bearerChallenge(code, description string) string {
	return `Bearer realm="` + testAudience + `", error="` + code + `", error_description="` + description + `"`
}

// clientKeys are the DPoP keys of the tests' clients, distinct from the
// issuer's signing keys.
var clientKeys = sync.OnceValue(func() map[string]crypto.Signer {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return map[string]crypto.Signer{"ES256": ec, "other": other, "EdDSA": ed}
})

func clientSigner(tb testing.TB, name string, clock *fakeClock) *dpop.Signer {
	tb.Helper()
	s, err := dpop.NewSigner(clientKeys()[name], "")
	if err != nil {
		tb.Fatal(err)
	}
	s.Now = clock.Now
	return s
}

// dpopEnv is one API with its verifier, and what a test's client holds.
type dpopEnv struct {
	v              resource.TokenVerifier
	clock          *fakeClock
	client         *dpop.Signer // the key the bound token is bound to
	bound, unbound string       // valid access tokens
	// issue makes another token bound with cnf (nil: unbound).
	issue func(cnf any) string
}

// proof is a proof by s for method and url that goes with token.
func (e *dpopEnv) proof(t *testing.T, s *dpop.Signer, method, url, token string, opts dpop.ProofOptions) string {
	t.Helper()
	opts.AccessToken = token
	p, err := s.Proof(method, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// dpopModes are the two ways an API checks tokens; every DPoP rule must hold
// in both.
var dpopModes = []struct {
	name  string
	start func(t *testing.T, cfg resource.DPoPConfig) *dpopEnv
}{
	{name: "JWT", start: func(t *testing.T, cfg resource.DPoPConfig) *dpopEnv {
		clock := newFakeClock()
		f := newFakeIssuer(t)
		e := &dpopEnv{clock: clock, client: clientSigner(t, "ES256", clock)}
		e.v = newVerifier(t, f, clock, func(c *resource.Config) { c.DPoP = cfg })
		e.issue = func(cnf any) string {
			return sign(t, f.key("ES256"), "at+jwt", with(f.claims(clock.Now()), map[string]any{"cnf": cnf}))
		}
		e.bound = e.issue(map[string]any{"jkt": e.client.Thumbprint()})
		e.unbound = e.issue(nil)
		return e
	}},
	{name: "introspection", start: func(t *testing.T, cfg resource.DPoPConfig) *dpopEnv {
		clock := newFakeClock()
		f := newFakeIntrospection(t, clock)
		e := &dpopEnv{clock: clock, client: clientSigner(t, "ES256", clock)}
		in, err := resource.NewIntrospector(context.Background(), resource.IntrospectionConfig{
			Issuer: f.issuer, Audience: testAudience, ClientID: introspectClientID, ClientSecret: introspectSecret,
			HTTPClient: f.client, Now: clock.Now, Logger: discardLogger(), DPoP: cfg,
		})
		if err != nil {
			t.Fatal(err)
		}
		e.v = in
		var n int
		e.issue = func(cnf any) string {
			n++
			token := "opaque-" + strings.Repeat("x", n)
			changes := map[string]any{"cnf": cnf}
			if cnf != nil {
				changes["token_type"] = "DPoP" // as RFC 9449 §6.2 shows
			}
			f.issue(token, changes)
			return token
		}
		e.bound = e.issue(map[string]any{"jkt": e.client.Thumbprint()})
		e.unbound = e.issue(nil)
		return e
	}},
}

func TestDPoPMiddleware(t *testing.T) {
	type request struct {
		target string   // default apiURL
		method string   // default GET
		auth   string   // Authorization
		auth2  string   // a second Authorization header
		proofs []string // DPoP header values
	}
	// dpopReq is the genuine request with a bound token and its proof.
	dpopReq := func(t *testing.T, e *dpopEnv) request {
		return request{auth: "DPoP " + e.bound, proofs: []string{e.proof(t, e.client, "GET", apiURL, e.bound, dpop.ProofOptions{})}}
	}
	withProof := func(mk func(t *testing.T, e *dpopEnv) string) func(*testing.T, *dpopEnv) request {
		return func(t *testing.T, e *dpopEnv) request {
			return request{auth: "DPoP " + e.bound, proofs: []string{mk(t, e)}}
		}
	}
	cases := []struct {
		name      string
		cfg       resource.DPoPConfig
		handler   func(v resource.TokenVerifier, next http.Handler) http.Handler // default RequireScope api.read
		request   func(t *testing.T, e *dpopEnv) request
		replay    bool // send the request once before, expecting 200
		wantCode  int
		wantAuthn []string // every WWW-Authenticate value, in order
		wantJKT   bool     // the claims in the context carry cnf.jkt
	}{
		{name: "bound token with a valid proof", request: dpopReq, wantCode: 200, wantJKT: true},
		{name: "authenticate only", handler: resource.Authenticate, request: dpopReq, wantCode: 200, wantJKT: true},
		{name: "scheme in lower case", wantCode: 200, wantJKT: true, request: func(t *testing.T, e *dpopEnv) request {
			r := dpopReq(t, e)
			r.auth = "dpop " + e.bound
			return r
		}},
		{name: "query of the request is not part of htu", wantCode: 200, wantJKT: true, request: func(t *testing.T, e *dpopEnv) request {
			r := dpopReq(t, e)
			r.target = apiURL + "?page=2"
			return r
		}},
		{name: "unbound token as Bearer", wantCode: 200, request: func(t *testing.T, e *dpopEnv) request {
			return request{auth: "Bearer " + e.unbound}
		}},
		{name: "unbound token as Bearer with a stray DPoP header", wantCode: 200, request: func(t *testing.T, e *dpopEnv) request {
			return request{auth: "Bearer " + e.unbound, proofs: []string{"whatever"}}
		}},

		{name: "bound token as Bearer", wantCode: 401, request: func(t *testing.T, e *dpopEnv) request {
			return request{auth: "Bearer " + e.bound}
		}, wantAuthn: []string{bearerChallenge("invalid_token", "the access token is bound to a DPoP key; send it as Authorization: DPoP <token> with a DPoP proof"), bareDPoP}},
		{name: "bound token as Bearer, even with a valid proof", wantCode: 401, request: func(t *testing.T, e *dpopEnv) request {
			r := dpopReq(t, e)
			r.auth = "Bearer " + e.bound
			return r
		}, wantAuthn: []string{bearerChallenge("invalid_token", "the access token is bound to a DPoP key; send it as Authorization: DPoP <token> with a DPoP proof"), bareDPoP}},
		{name: "unbound token as DPoP", wantCode: 401, request: func(t *testing.T, e *dpopEnv) request {
			return request{auth: "DPoP " + e.unbound, proofs: []string{e.proof(t, e.client, "GET", apiURL, e.unbound, dpop.ProofOptions{})}}
		}, wantAuthn: []string{dpopChallenge("invalid_token", "the access token is not DPoP-bound; send it as Authorization: Bearer <token>"), bareBearer}},
		{name: "no proof", wantCode: 401, request: func(t *testing.T, e *dpopEnv) request {
			return request{auth: "DPoP " + e.bound}
		}, wantAuthn: []string{dpopChallenge("invalid_dpop_proof", "the request has no DPoP proof (DPoP header)"), bareBearer}},
		{name: "two DPoP headers", wantCode: 401, request: func(t *testing.T, e *dpopEnv) request {
			r := dpopReq(t, e)
			r.proofs = append(r.proofs, e.proof(t, e.client, "GET", apiURL, e.bound, dpop.ProofOptions{}))
			return r
		}, wantAuthn: []string{dpopChallenge("invalid_dpop_proof", "the request has more than one DPoP header"), bareBearer}},
		{name: "wrong htm", wantCode: 401, request: withProof(func(t *testing.T, e *dpopEnv) string {
			return e.proof(t, e.client, "POST", apiURL, e.bound, dpop.ProofOptions{})
		}), wantAuthn: []string{dpopChallenge("invalid_dpop_proof", "the DPoP proof's htm is not the request method GET"), bareBearer}},
		{name: "wrong htu", wantCode: 401, request: withProof(func(t *testing.T, e *dpopEnv) string {
			return e.proof(t, e.client, "GET", "https://api.example.test/api/notes", e.bound, dpop.ProofOptions{})
		}), wantAuthn: []string{dpopChallenge("invalid_dpop_proof", "the DPoP proof's htu is not the request URL "+apiURL), bareBearer}},
		{name: "htu of another host", wantCode: 401, request: withProof(func(t *testing.T, e *dpopEnv) string {
			return e.proof(t, e.client, "GET", "https://other.example.test/api/profile", e.bound, dpop.ProofOptions{})
		}), wantAuthn: []string{dpopChallenge("invalid_dpop_proof", "the DPoP proof's htu is not the request URL "+apiURL), bareBearer}},
		{name: "ath of another token", wantCode: 401, request: withProof(func(t *testing.T, e *dpopEnv) string {
			return e.proof(t, e.client, "GET", apiURL, e.unbound, dpop.ProofOptions{})
		}), wantAuthn: []string{dpopChallenge("invalid_dpop_proof", "the DPoP proof's ath is not the hash of the access token it came with"), bareBearer}},
		{name: "no ath", wantCode: 401, request: withProof(func(t *testing.T, e *dpopEnv) string {
			return e.proof(t, e.client, "GET", apiURL, "", dpop.ProofOptions{})
		}), wantAuthn: []string{dpopChallenge("invalid_dpop_proof", "the DPoP proof has no ath claim (the hash of the access token)"), bareBearer}},
		{name: "stale iat", wantCode: 401, request: withProof(func(t *testing.T, e *dpopEnv) string {
			return e.proof(t, e.client, "GET", apiURL, e.bound, dpop.ProofOptions{IssuedAt: e.clock.Now().Add(-2 * time.Minute)})
		}), wantAuthn: []string{dpopChallenge("invalid_dpop_proof", "the DPoP proof is too old (iat more than 1m0s ago); make a new proof for every request"), bareBearer}},
		{name: "iat in the future", wantCode: 401, request: withProof(func(t *testing.T, e *dpopEnv) string {
			return e.proof(t, e.client, "GET", apiURL, e.bound, dpop.ProofOptions{IssuedAt: e.clock.Now().Add(time.Minute)})
		}), wantAuthn: []string{dpopChallenge("invalid_dpop_proof", "the DPoP proof's iat is in the future; check the client's clock"), bareBearer}},
		{name: "replayed jti", request: dpopReq, replay: true, wantCode: 401,
			wantAuthn: []string{dpopChallenge("invalid_dpop_proof", "the DPoP proof was used before; make a new proof for every request"), bareBearer}},
		{name: "proof by another key", wantCode: 401, request: withProof(func(t *testing.T, e *dpopEnv) string {
			return e.proof(t, clientSigner(t, "other", e.clock), "GET", apiURL, e.bound, dpop.ProofOptions{})
		}), wantAuthn: []string{dpopChallenge("invalid_token", "the DPoP proof is signed with another key than the one the access token is bound to"), bareBearer}},
		{name: "proof not a JWS", wantCode: 401, request: withProof(func(*testing.T, *dpopEnv) string { return "not-a-proof" }),
			wantAuthn: []string{dpopChallenge("invalid_dpop_proof", "the DPoP proof is not a compact JWS (a single value, three base64url parts)"), bareBearer}},
		{name: "DPoP without a token", wantCode: 400, request: func(*testing.T, *dpopEnv) request { return request{auth: "DPoP"} },
			wantAuthn: []string{dpopChallenge("invalid_request", "malformed Authorization header; expected: DPoP <token>"), bareBearer}},
		{name: "DPoP token the verifier refuses", wantCode: 401, request: func(t *testing.T, e *dpopEnv) request {
			return request{auth: "DPoP not-a-token", proofs: []string{e.proof(t, e.client, "GET", apiURL, "not-a-token", dpop.ProofOptions{})}}
		}},
		{name: "bound token without the scope", wantCode: 403,
			handler: func(v resource.TokenVerifier, next http.Handler) http.Handler {
				return resource.RequireScope(v, "api.write", next)
			},
			request: dpopReq,
			wantAuthn: []string{
				`DPoP realm="` + testAudience + `", error="insufficient_scope", error_description="the access token was not granted scope api.write", scope="api.write", algs="ES256 EdDSA PS256 RS256"`,
				bareBearer,
			}},
		{name: "bound by an unsupported method", wantCode: 401, request: func(t *testing.T, e *dpopEnv) request {
			tok := e.issue(map[string]any{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"})
			return request{auth: "Bearer " + tok}
		}, wantAuthn: []string{bearerChallenge("invalid_token", "token is bound by a confirmation method this API does not support (it supports DPoP's jkt only)"), bareDPoP}},
		{name: "malformed cnf.jkt", wantCode: 401, request: func(t *testing.T, e *dpopEnv) request {
			tok := e.issue(map[string]any{"jkt": "short"})
			return request{auth: "DPoP " + tok, proofs: []string{e.proof(t, e.client, "GET", apiURL, tok, dpop.ProofOptions{})}}
		}, wantAuthn: []string{dpopChallenge("invalid_token", "token cnf.jkt is not a base64url SHA-256 thumbprint"), bareBearer}},

		// Behind a proxy: the request arrives at an internal address.
		{name: "PublicURL names what the client used", cfg: resource.DPoPConfig{PublicURL: "https://api.example.test/api/"},
			wantCode: 200, wantJKT: true, request: func(t *testing.T, e *dpopEnv) request {
				r := dpopReq(t, e)
				r.target = "http://10.0.0.7:8080/profile"
				return r
			}},
		{name: "without PublicURL the internal URL is compared", wantCode: 401, request: func(t *testing.T, e *dpopEnv) request {
			r := dpopReq(t, e)
			r.target = "http://10.0.0.7:8080/profile"
			return r
		}, wantAuthn: []string{dpopChallenge("invalid_dpop_proof", "the DPoP proof's htu is not the request URL http://10.0.0.7:8080/profile"), bareBearer}},
		{name: "RequestURL func", wantCode: 200, wantJKT: true,
			cfg: resource.DPoPConfig{RequestURL: func(r *http.Request) string { return "https://api.example.test/api" + r.URL.Path }},
			request: func(t *testing.T, e *dpopEnv) request {
				r := dpopReq(t, e)
				r.target = "http://internal/profile"
				return r
			}},
		{name: "path as received, before StripPrefix", cfg: resource.DPoPConfig{PublicURL: "https://api.example.test"},
			handler: func(v resource.TokenVerifier, next http.Handler) http.Handler {
				return http.StripPrefix("/api", resource.RequireScope(v, "api.read", next))
			},
			request: dpopReq, wantCode: 200, wantJKT: true},

		// An API that requires DPoP.
		{name: "required: bound token with a valid proof", cfg: resource.DPoPConfig{Required: true}, request: dpopReq, wantCode: 200, wantJKT: true},
		{name: "required: unbound Bearer token", cfg: resource.DPoPConfig{Required: true}, wantCode: 401,
			request:   func(t *testing.T, e *dpopEnv) request { return request{auth: "Bearer " + e.unbound} },
			wantAuthn: []string{bareDPoP}},
		{name: "required: no credentials", cfg: resource.DPoPConfig{Required: true}, wantCode: 401,
			request:   func(t *testing.T, e *dpopEnv) request { return request{} },
			wantAuthn: []string{bareDPoP}},
		{name: "required: unbound token as DPoP", cfg: resource.DPoPConfig{Required: true}, wantCode: 401,
			request: func(t *testing.T, e *dpopEnv) request {
				return request{auth: "DPoP " + e.unbound, proofs: []string{e.proof(t, e.client, "GET", apiURL, e.unbound, dpop.ProofOptions{})}}
			},
			wantAuthn: []string{dpopChallenge("invalid_token", "the access token is not DPoP-bound; send it as Authorization: Bearer <token>")}},
		{name: "required: token in the query", cfg: resource.DPoPConfig{Required: true}, wantCode: 400,
			request:   func(t *testing.T, e *dpopEnv) request { return request{target: apiURL + "?access_token=x"} },
			wantAuthn: []string{dpopChallenge("invalid_request", "access tokens are not accepted in the URL query; send them in the Authorization header")}},
		{name: "required: two Authorization headers", cfg: resource.DPoPConfig{Required: true}, wantCode: 400,
			request: func(t *testing.T, e *dpopEnv) request {
				return request{auth: "DPoP " + e.bound, auth2: "DPoP " + e.bound}
			},
			wantAuthn: []string{dpopChallenge("invalid_request", "more than one Authorization header")}},
		{name: "algorithms configured", cfg: resource.DPoPConfig{Algorithms: []string{"EdDSA"}}, wantCode: 401,
			request:   func(t *testing.T, e *dpopEnv) request { return request{} },
			wantAuthn: []string{bareBearer, `DPoP realm="` + testAudience + `", algs="EdDSA"`}},
		{name: "no credentials", wantCode: 401, request: func(t *testing.T, e *dpopEnv) request { return request{} },
			wantAuthn: []string{bareBearer, bareDPoP}},
	}
	for _, mode := range dpopModes {
		t.Run(mode.name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					e := mode.start(t, c.cfg)
					var seen *resource.Claims
					next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						seen, _ = resource.ClaimsFromContext(r.Context())
					})
					handler := c.handler
					if handler == nil {
						handler = func(v resource.TokenVerifier, next http.Handler) http.Handler {
							return resource.RequireScope(v, "api.read", next)
						}
					}
					h := handler(e.v, next)
					rq := c.request(t, e)
					send := func() *httptest.ResponseRecorder {
						target, method := rq.target, rq.method
						if target == "" {
							target = apiURL
						}
						if method == "" {
							method = http.MethodGet
						}
						req := httptest.NewRequest(method, target, nil)
						for _, a := range []string{rq.auth, rq.auth2} {
							if a != "" {
								req.Header.Add("Authorization", a)
							}
						}
						for _, p := range rq.proofs {
							req.Header.Add("DPoP", p)
						}
						rec := httptest.NewRecorder()
						h.ServeHTTP(rec, req)
						return rec
					}
					if c.replay {
						if rec := send(); rec.Code != http.StatusOK {
							t.Fatalf("first use: status %d, %s", rec.Code, rec.Body)
						}
						seen = nil
					}
					rec := send()
					if rec.Code != c.wantCode {
						t.Fatalf("status = %d, want %d; WWW-Authenticate %q; body %s", rec.Code, c.wantCode, rec.Header().Values("WWW-Authenticate"), rec.Body)
					}
					if c.wantCode == http.StatusOK {
						if seen == nil || seen.Subject != "alice" {
							t.Fatalf("claims in context = %+v", seen)
						}
						if got := seen.Confirmation.JKT; (got == e.client.Thumbprint()) != c.wantJKT || (!c.wantJKT && got != "") {
							t.Errorf("Confirmation.JKT = %q, want bound %v (%q)", got, c.wantJKT, e.client.Thumbprint())
						}
						return
					}
					if seen != nil {
						t.Error("next handler ran")
					}
					if c.wantAuthn != nil {
						got := rec.Header().Values("WWW-Authenticate")
						if strings.Join(got, "\n") != strings.Join(c.wantAuthn, "\n") {
							t.Errorf("WWW-Authenticate =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(c.wantAuthn, "\n  "))
						}
					}
					var body struct {
						Error       string `json:"error"`
						Description string `json:"error_description"`
					}
					if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Description == "" {
						t.Errorf("body %s: %v", rec.Body, err)
					}
					if got := rec.Header().Get("Cache-Control"); got != "no-store" {
						t.Errorf("Cache-Control = %q", got)
					}
				})
			}
		})
	}
}

// TestDPoPOverHTTP runs the API on a real TLS server and sends it real
// requests, so that the URL the proof must name comes from what net/http
// sets (Host, TLS) and not from a test's hand.
func TestDPoPOverHTTP(t *testing.T) {
	for _, mode := range dpopModes {
		t.Run(mode.name, func(t *testing.T) {
			e := mode.start(t, resource.DPoPConfig{})
			api := httptest.NewTLSServer(resource.RequireScope(e.v, "api.read", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, _ := resource.ClaimsFromContext(r.Context())
				_, _ = w.Write([]byte(c.Confirmation.JKT))
			})))
			t.Cleanup(api.Close)
			target := api.URL + "/api/profile"
			call := func(auth string, proofs ...string) (int, string) {
				t.Helper()
				req, err := http.NewRequest(http.MethodGet, target+"?q=1", nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", auth)
				for _, p := range proofs {
					req.Header.Add("DPoP", p)
				}
				resp, err := api.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				return resp.StatusCode, string(body)
			}
			proof := e.proof(t, e.client, "GET", target, e.bound, dpop.ProofOptions{})
			if code, body := call("DPoP "+e.bound, proof); code != 200 || body != e.client.Thumbprint() {
				t.Fatalf("bound token with proof: %d %q", code, body)
			}
			if code, _ := call("DPoP "+e.bound, proof); code != 401 {
				t.Errorf("replayed proof: %d, want 401", code)
			}
			if code, _ := call("Bearer " + e.bound); code != 401 {
				t.Errorf("bound token as Bearer: %d, want 401", code)
			}
			if code, _ := call("Bearer " + e.unbound); code != 200 {
				t.Errorf("unbound Bearer token: %d, want 200", code)
			}
			plain := strings.Replace(target, "https:", "http:", 1)
			if code, _ := call("DPoP "+e.bound, e.proof(t, e.client, "GET", plain, e.bound, dpop.ProofOptions{})); code != 401 {
				t.Errorf("proof for http:// on an https API: %d, want 401", code)
			}
		})
	}
}

// TestDPoPReplayCacheIsPerVerifier: Authenticate and RequireScope made from
// one verifier share its replay cache, so a proof used on one route cannot
// be used again on another that answers the same URL.
func TestDPoPReplayCacheIsPerVerifier(t *testing.T) {
	e := dpopModes[0].start(t, resource.DPoPConfig{})
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	a, b := resource.Authenticate(e.v, ok), resource.RequireScope(e.v, "api.read", ok)
	proof := e.proof(t, e.client, "GET", apiURL, e.bound, dpop.ProofOptions{})
	for i, h := range []http.Handler{a, b} {
		req := httptest.NewRequest(http.MethodGet, apiURL, nil)
		req.Header.Set("Authorization", "DPoP "+e.bound)
		req.Header.Set("DPoP", proof)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if want := []int{200, 401}[i]; rec.Code != want {
			t.Fatalf("use %d: status %d, want %d", i+1, rec.Code, want)
		}
	}
}

// failingReplayCache is a shared replay cache whose backend is down.
type failingReplayCache struct{}

func (failingReplayCache) Seen(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("replay store down")
}

func TestDPoPReplayCacheOutageIs503(t *testing.T) {
	e := dpopModes[0].start(t, resource.DPoPConfig{ReplayCache: failingReplayCache{}})
	req := httptest.NewRequest(http.MethodGet, apiURL, nil)
	req.Header.Set("Authorization", "DPoP "+e.bound)
	req.Header.Set("DPoP", e.proof(t, e.client, "GET", apiURL, e.bound, dpop.ProofOptions{}))
	rec := httptest.NewRecorder()
	resource.RequireScope(e.v, "api.read", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("next handler ran with the replay cache down")
	})).ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("WWW-Authenticate") != "" {
		t.Fatalf("status %d, WWW-Authenticate %q; want 503 without a challenge", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
}

// TestDPoPWithAnyTokenVerifier: a TokenVerifier of another package that
// reports a binding gets the same checks, with a replay cache of its own.
func TestDPoPWithAnyTokenVerifier(t *testing.T) {
	clock := newFakeClock()
	clock.set(time.Now()) // the default DPoP checks use the real clock
	client := clientSigner(t, "EdDSA", clock)
	v := verifierFunc(func(_ context.Context, raw string) (*resource.Claims, error) {
		c := &resource.Claims{Subject: "alice", Scopes: []string{"api.read"}}
		if raw == "bound" {
			c.Confirmation.JKT = client.Thumbprint()
		}
		return c, nil
	})
	h := resource.RequireScope(v, "api.read", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	call := func(auth string, proofs ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, apiURL, nil)
		req.Header.Set("Authorization", auth)
		for _, p := range proofs {
			req.Header.Add("DPoP", p)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	proof, err := client.Proof("GET", apiURL, dpop.ProofOptions{AccessToken: "bound"})
	if err != nil {
		t.Fatal(err)
	}
	if rec := call("DPoP bound", proof); rec.Code != 200 {
		t.Fatalf("bound with proof: %d %s", rec.Code, rec.Body)
	}
	if rec := call("DPoP bound", proof); rec.Code != 401 {
		t.Errorf("replay: %d", rec.Code)
	}
	if rec := call("Bearer bound"); rec.Code != 401 {
		t.Errorf("bound as Bearer: %d", rec.Code)
	}
	rec := call("Bearer unbound")
	if rec.Code != 200 {
		t.Errorf("unbound Bearer: %d", rec.Code)
	}
	// No realm for a foreign verifier, as for Bearer.
	if got := call("").Header().Values("WWW-Authenticate"); strings.Join(got, "|") != `Bearer|DPoP algs="ES256 EdDSA PS256 RS256"` {
		t.Errorf("challenges = %q", got)
	}
}

func TestDPoPConfigErrors(t *testing.T) {
	f := newFakeIssuer(t)
	for _, c := range []struct {
		name string
		cfg  resource.DPoPConfig
		want string
	}{
		{"relative PublicURL", resource.DPoPConfig{PublicURL: "/api"}, `DPoP.PublicURL "/api" is not an absolute http(s) URL`},
		{"PublicURL with a query", resource.DPoPConfig{PublicURL: "https://api.example.test/?a=b"}, "without query and fragment"},
		{"HS256", resource.DPoPConfig{Algorithms: []string{"ES256", "HS256"}}, `DPoP: algorithm "HS256" is not allowed`},
		{"none", resource.DPoPConfig{Algorithms: []string{"none"}}, `DPoP: algorithm "none" is not allowed`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := resource.NewVerifier(context.Background(), resource.Config{Issuer: f.srv.URL, Audience: testAudience, HTTPClient: f.srv.Client(), DPoP: c.cfg})
			if !errors.Is(err, resource.ErrInvalidConfig) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("NewVerifier: %v, want ErrInvalidConfig containing %q", err, c.want)
			}
			_, err = resource.NewIntrospector(context.Background(), resource.IntrospectionConfig{
				Issuer: f.srv.URL, Audience: testAudience, ClientID: "a", ClientSecret: "b", HTTPClient: f.srv.Client(), DPoP: c.cfg})
			if !errors.Is(err, resource.ErrInvalidConfig) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("NewIntrospector: %v, want ErrInvalidConfig containing %q", err, c.want)
			}
		})
	}
}
