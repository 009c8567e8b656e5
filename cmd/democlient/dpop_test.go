package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/dpop"
	"github.com/authserver-dev/authserver/config"
)

// signInThroughDemo clicks through the demo's sign-in as a person would and
// returns the browser and the result page.
func signInThroughDemo(t *testing.T, s *demoStack) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar}
	resp, loginPage := browse(t, b, "GET", s.demo.URL+"/login", nil)
	if !strings.Contains(loginPage, `name="password"`) {
		t.Fatalf("Sign in did not reach the provider's login page: %s\n%s", resp.Request.URL, loginPage)
	}
	pg := &authtest.Page{Status: resp.StatusCode, URL: resp.Request.URL, Body: loginPage}
	consent := pg.Submit(t, b, url.Values{"username": {"alice"}, "password": {"alice-password"}})
	action, vals := consent.FormFields(t)
	vals.Set("decision", "allow")
	resp, me := browse(t, b, "POST", s.provider.URL+action, vals)
	if resp.Request.URL.Path != "/me" {
		t.Fatalf("after consent the browser is at %s:\n%s", resp.Request.URL, me)
	}
	return b, me
}

// sessionToken is the token the demo holds for the browser's session.
func (s *demoStack) sessionToken(t *testing.T, b *http.Client) *oauth2.Token {
	t.Helper()
	u, _ := url.Parse(s.demo.URL)
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == sessionCookie {
			sess, ok := s.app.sessions.get(c.Value)
			if !ok {
				t.Fatal("the session cookie names no session")
			}
			sess.mu.Lock()
			defer sess.mu.Unlock()
			return sess.token
		}
	}
	t.Fatal("no session cookie")
	return nil
}

// callDirectly calls the sample API as a thief with the token would: with
// a chosen Authorization header, and no proof.
func callDirectly(t *testing.T, apiURL, authorization string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, apiURL, nil)
	req.Header.Set("Authorization", authorization)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, strings.Join(resp.Header.Values("WWW-Authenticate"), ", ")
}

// TestDemoClientDPoPAgainstRealProvider runs democlient --dpop against the
// real provider and the sample API's middleware (package resource): the
// tokens are bound to the demo's key, the page says so, the API accepts the
// proofs, and the same token without the key is refused.
func TestDemoClientDPoPAgainstRealProvider(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		provider func(*config.Config)
	}{
		{"proofs", nil},
		// RFC 9449 §8: the first token request is refused with
		// use_dpop_nonce; the demo retries with the nonce.
		{"provider demands nonces", func(c *config.Config) { c.DPoP.RequireNonce = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startDemoStackWith(t, stackOptions{dpop: true, provider: tc.provider})
			b, me := signInThroughDemo(t, s)
			jkt := s.app.dpop.jkt
			for _, want := range []string{
				"Sender-constrained token (DPoP)",
				"<code>token_type</code> <code>DPoP</code>",
				"The access token is bound to this key: its <code>cnf.jkt</code> is <code>" + jkt + "</code>",
				"The sample API accepted the DPoP proof.",
				"hello from the test API",
			} {
				if !strings.Contains(me, want) {
					t.Errorf("result page lacks %q:\n%s", want, me)
				}
			}
			tok := s.sessionToken(t, b)
			if got := accessTokenJKT(tok.AccessToken); got != jkt || tok.Type() != "DPoP" {
				t.Fatalf("token_type %q, cnf.jkt %q; want DPoP bound to the demo's key %q", tok.Type(), got, jkt)
			}

			apiURL := s.api.URL + "/api/profile"
			t.Run("the bound token as Bearer is refused", func(t *testing.T) {
				status, www := callDirectly(t, apiURL, "Bearer "+tok.AccessToken)
				if status != http.StatusUnauthorized || !strings.Contains(www, `error="invalid_token"`) {
					t.Errorf("status %d, WWW-Authenticate %q; want 401 invalid_token", status, www)
				}
			})
			t.Run("the bound token without a proof is refused", func(t *testing.T) {
				status, www := callDirectly(t, apiURL, "DPoP "+tok.AccessToken)
				if status != http.StatusUnauthorized || !strings.Contains(www, `error="invalid_dpop_proof"`) {
					t.Errorf("status %d, WWW-Authenticate %q; want 401 invalid_dpop_proof", status, www)
				}
			})

			csrf := csrfRE.FindStringSubmatch(me)
			if csrf == nil {
				t.Fatal("no CSRF token on /me")
			}
			t.Run("refresh with a proof binds the new token", func(t *testing.T) {
				_, me := browse(t, b, "POST", s.demo.URL+"/refresh", url.Values{"csrf_token": {csrf[1]}})
				if !strings.Contains(me, "New tokens issued.") {
					t.Errorf("no refresh message:\n%s", me)
				}
				_, me = browse(t, b, "POST", s.demo.URL+"/call", url.Values{"csrf_token": {csrf[1]}})
				fresh := s.sessionToken(t, b)
				if fresh.AccessToken == tok.AccessToken || accessTokenJKT(fresh.AccessToken) != jkt {
					t.Errorf("after the refresh: new token %t, cnf.jkt %q; want a new token bound to %q",
						fresh.AccessToken != tok.AccessToken, accessTokenJKT(fresh.AccessToken), jkt)
				}
				if !strings.Contains(me, "The sample API accepted the DPoP proof.") {
					t.Errorf("the API call with the refreshed token failed:\n%s", me)
				}
			})
		})
	}
}

// TestPasswordModeDPoPAgainstRealProvider runs `democlient password --dpop`.
func TestPasswordModeDPoPAgainstRealProvider(t *testing.T) {
	t.Parallel()
	s := startDemoStack(t)
	var out strings.Builder
	err := runPassword(context.Background(), appConfig{
		Issuer: s.provider.URL, ClientID: "demo-web", ClientSecret: "demo-web-secret-not-for-production",
		APIURL: s.api.URL + "/api/profile", Scopes: []string{"openid", "api.read"}, DPoP: true,
	}, credentials{Username: "alice", Password: "alice-password"}, &out)
	if err != nil {
		t.Fatalf("password mode: %v\n%s", err, out.String())
	}
	m := regexp.MustCompile(`key thumbprint (\S+), token_type DPoP\n`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("output names no key and no token_type DPoP:\n%s", out.String())
	}
	for _, want := range []string{"Authorization: DPoP", "bound to this key (cnf.jkt " + m[1] + ")", "the API accepted the proof", "hello from the test API"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// proofServer is a token endpoint and an API that both demand a server
// nonce in every proof (RFC 9449 §8, §9), and check the proofs with the
// verifier of package dpop.
type proofServer struct {
	t        *testing.T
	srv      *httptest.Server
	verifier *dpop.Verifier
	jkt      string // the key the proofs must be made with

	mu       sync.Mutex
	requests map[string]int // per path
	noProof  map[string]int // requests that came without a DPoP header
}

const serverNonce = "nonce-from-the-server"

func newProofServer(t *testing.T, jkt string) *proofServer {
	v, err := dpop.NewVerifier(dpop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	p := &proofServer{t: t, verifier: v, jkt: jkt, requests: map[string]int{}, noProof: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /api", p.api)
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		p.count(r)
		writeJSON(w, http.StatusOK, map[string]string{})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *proofServer) count(r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests[r.URL.Path]++
	if r.Header.Get("DPoP") == "" {
		p.noProof[r.URL.Path]++
	}
}

// seen is how many requests came to path, and how many of them without a proof.
func (p *proofServer) seen(path string) (all, noProof int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests[path], p.noProof[path]
}

func (p *proofServer) check(r *http.Request, token string) error {
	_, err := p.verifier.Verify(r.Context(), dpop.Request{
		Proofs: r.Header.Values("DPoP"), Method: r.Method, URL: p.srv.URL + r.URL.Path,
		AccessToken: token, JKT: p.jkt,
		CheckNonce: func(n string) bool { return n == serverNonce },
	})
	return err
}

func (p *proofServer) token(w http.ResponseWriter, r *http.Request) {
	p.count(r)
	w.Header().Set("DPoP-Nonce", serverNonce)
	err := p.check(r, "")
	if pe, ok := err.(*dpop.Error); ok {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": pe.Code, "error_description": pe.Reason})
		return
	}
	// The retried request must carry the whole form again.
	if err != nil || r.PostFormValue("code") != "the-code" || r.PostFormValue("grant_type") != "authorization_code" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "form lost on the retry?"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"access_token": "the-access-token", "token_type": "DPoP", "expires_in": 60})
}

func (p *proofServer) api(w http.ResponseWriter, r *http.Request) {
	p.count(r)
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "DPoP ")
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if err := p.check(r, token); err != nil {
		code := "invalid_dpop_proof"
		if pe, ok := err.(*dpop.Error); ok {
			code = pe.Code
		}
		w.Header().Set("DPoP-Nonce", serverNonce)
		w.Header().Set("WWW-Authenticate", `DPoP error="`+code+`", algs="ES256"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"message": "proof accepted"})
}

// TestDPoPTransport checks the proofs the demo's HTTP client adds: on POSTs
// to the token endpoint (through x/oauth2, which takes no headers) and on
// DPoP-scheme API calls (with ath), never on other requests, and the retry
// with the server's nonce.
func TestDPoPTransport(t *testing.T) {
	t.Parallel()
	key, err := newDPoPKey(time.Now)
	if err != nil {
		t.Fatal(err)
	}
	// Two servers, as the provider and the API are: each has its own nonce.
	p, api := newProofServer(t, key.jkt), newProofServer(t, key.jkt)
	client, err := dpopClient(&http.Client{}, key, p.srv.URL+"/token")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, client)

	t.Run("code exchange retries once with the nonce", func(t *testing.T) {
		oc := &oauth2.Config{ClientID: "c", Endpoint: oauth2.Endpoint{TokenURL: p.srv.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}}
		tok, err := oc.Exchange(ctx, "the-code")
		if err != nil {
			t.Fatal(err)
		}
		if n, bare := p.seen("/token"); tok.Type() != "DPoP" || n != 2 || bare != 0 {
			t.Errorf("token_type %q after %d token requests (%d without a proof); want DPoP after 2, all with proofs", tok.Type(), n, bare)
		}
	})
	t.Run("API call with ath retries once with the API's nonce", func(t *testing.T) {
		res := callAPI(ctx, client, api.srv.URL+"/api", "the-access-token", "DPoP")
		if n, _ := api.seen("/api"); res.StatusCode != http.StatusOK || !strings.Contains(res.Body, "proof accepted") || n != 2 {
			t.Errorf("API: %s %s %s after %d requests; want 200 after 2", res.Status, res.WWWAuthenticate, res.Body, n)
		}
		// The nonce is remembered: the next call needs no retry.
		res = callAPI(ctx, client, api.srv.URL+"/api?x=1", "the-access-token", "DPoP")
		if n, _ := api.seen("/api"); res.StatusCode != http.StatusOK || n != 3 {
			t.Errorf("second API call: %s after %d requests in all; want 200 at the first try", res.Status, n)
		}
	})
	t.Run("a bearer call and discovery carry no proof", func(t *testing.T) {
		res := callAPI(ctx, client, api.srv.URL+"/api", "the-access-token", "Bearer")
		resp, err := client.Get(p.srv.URL + "/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		_, apiBare := api.seen("/api")
		_, discoveryBare := p.seen("/.well-known/openid-configuration")
		if res.StatusCode != http.StatusUnauthorized || apiBare != 1 || discoveryBare != 1 {
			t.Errorf("bearer call: %s; requests without a proof: API %d, discovery %d; want 401, 1 and 1", res.Status, apiBare, discoveryBare)
		}
	})
}

func TestDPoPProofShape(t *testing.T) {
	t.Parallel()
	key, err := newDPoPKey(time.Now)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("https://user:pw@api.example.com/api/profile?x=1#f")
	raw, err := key.proof(http.MethodGet, u, "tok", "n")
	if err != nil {
		t.Fatal(err)
	}
	v, err := dpop.NewVerifier(dpop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Verify(context.Background(), dpop.Request{Proofs: []string{raw}, Method: "GET",
		URL: "https://api.example.com/api/profile", AccessToken: "tok", JKT: key.jkt,
		CheckNonce: func(n string) bool { return n == "n" }})
	if err != nil {
		t.Fatalf("package dpop refuses the demo's proof: %v", err)
	}
	if got.Algorithm != "ES256" || got.JKT != key.jkt {
		t.Errorf("proof alg %s, jkt %s; want ES256 and %s", got.Algorithm, got.JKT, key.jkt)
	}
	var header struct {
		Typ string         `json:"typ"`
		JWK map[string]any `json:"jwk"`
	}
	h, _ := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
	if err := json.Unmarshal(h, &header); err != nil || header.Typ != "dpop+jwt" || header.JWK["d"] != nil {
		t.Errorf("header %s: want typ dpop+jwt and a public jwk", h)
	}
}

func TestCheckDPoPSupport(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		discovered bool
		algs       []string
		wantErr    string
	}{
		{"hand-made provider", false, nil, ""},
		{"ES256 advertised", true, []string{"EdDSA", "ES256"}, ""},
		{"no DPoP", true, nil, "does not support DPoP"},
		{"other algorithms only", true, []string{"PS256"}, "PS256 only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkDPoPSupport(tc.discovered, tc.algs)
			if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
	// A provider without DPoP stops --dpop at start, with the reason.
	f := newFakeProvider(t)
	_, err := newApp(context.Background(), appConfig{Issuer: f.srv.URL, ClientID: "demo-web", Listen: "127.0.0.1:9094", DPoP: true})
	if err == nil || !strings.Contains(err.Error(), "does not support DPoP") {
		t.Errorf("newApp with --dpop at a provider without DPoP: err = %v", err)
	}
}

func TestAuthScheme(t *testing.T) {
	t.Parallel()
	for typ, want := range map[string]string{"DPoP": "DPoP", "dpop": "DPoP", "Bearer": "Bearer", "": "Bearer", "N_A": "Bearer"} {
		if got := authScheme(&oauth2.Token{TokenType: typ}); got != want {
			t.Errorf("authScheme(token_type %q) = %q, want %q", typ, got, want)
		}
	}
}
