package authserver_test

import (
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/clientkeys"
	"github.com/authserver-dev/authserver/authserver/dpop"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/config"
)

// A private_key_jwt client gets tokens with an assertion signed by any key
// of its inline jwks, in every algorithm of the default allow-list, with
// or without client_id, aimed at the issuer or at the token endpoint.
func TestPrivateKeyJWTClientCredentials(t *testing.T) {
	t.Parallel()
	env := startPK(t, nil)
	p := env.p
	tokenURL := p.Config.Issuer + "/token"
	cases := []struct {
		name, key string
		edit      func(c map[string]any)
		noID      bool
	}{
		{name: "ES256", key: "ec"},
		{name: "RS256", key: "rsa"},
		{name: "PS256", key: "rsa-ps"},
		{name: "EdDSA", key: "ed"},
		{name: "no client_id: sub names the client", key: "ec", noID: true},
		{name: "aud the token endpoint", key: "ec", edit: func(c map[string]any) { c["aud"] = tokenURL }},
		{name: "aud an array with the issuer", key: "ed", edit: func(c map[string]any) { c["aud"] = []string{"https://other.example", p.Config.Issuer} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			claims := pkClaims(p, pkInline)
			if tc.edit != nil {
				tc.edit(claims)
			}
			form := withAssertion(clientCredentialsForm(), pkKeys()[tc.key].sign(t, claims))
			if !tc.noID {
				form.Set("client_id", pkInline)
			}
			r := pkPost(t, p, "/token", form, "", "")
			wantToken(t, tc.name, r)
			if r.body["token_type"] == "" || r.body["scope"] != "api.read" {
				t.Errorf("%s: %v", tc.name, r.body)
			}
		})
	}
}

// The code flow of a private_key_jwt client: the code and then the refresh
// token are redeemed with assertions, through the go-oauth2 engine (which
// must neither treat the client as public nor ask it for a secret).
func TestPrivateKeyJWTCodeExchange(t *testing.T) {
	t.Parallel()
	env := startPK(t, nil)
	p := env.p
	verifier := oauth2.GenerateVerifier()
	q := url.Values{"client_id": {pkInline}, "redirect_uri": {pkRedirect}, "response_type": {"code"}, "scope": {"openid offline_access api.read"},
		"state": {"st"}, "nonce": {"n"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}, "prompt": {"consent"}}
	back := p.SignIn(t, p.Browser(t), p.URL+"/authorize?"+q.Encode(), "alice", "alice-password", "allow")
	code := back.Query().Get("code")
	if code == "" {
		t.Fatalf("no code in %s", back)
	}
	redeem := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {pkRedirect}, "code_verifier": {verifier}, "client_id": {pkInline}}
	r := pkPost(t, p, "/token", withAssertion(redeem, pkAssertion(t, p, pkInline, "ec")), "", "")
	wantToken(t, "code exchange", r)
	refresh, _ := r.body["refresh_token"].(string)
	if r.body["id_token"] == nil || refresh == "" {
		t.Fatalf("code exchange: no ID token or refresh token: %v", r.body)
	}
	again := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}
	wantToken(t, "refresh", pkPost(t, p, "/token", withAssertion(again, pkAssertion(t, p, pkInline, "ed")), "", ""))
	// The refresh token is bound to its client: without the client's
	// assertion it is worthless.
	wantRefused(t, "refresh without authentication", pkPost(t, p, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {pkInline}}, "", ""),
		"must authenticate: use private_key_jwt")
}

// Every way an assertion can be wrong is refused as invalid_client, with a
// description that says what is wrong.
func TestPrivateKeyJWTAssertionRefused(t *testing.T) {
	t.Parallel()
	env := startPK(t, nil)
	p := env.p
	rsaPub := pkKeys()["rsa"].priv.Public()
	der, err := x509.MarshalPKIXPublicKey(rsaPub)
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	ec := pkKeys()["ec"]
	cases := []struct {
		name     string
		clientID string // the client_id parameter; "" sends none
		make     func(c map[string]any) string
		want     string
	}{
		{name: "wrong iss", clientID: pkInline, make: func(c map[string]any) string { c["iss"] = pkRemote; return ec.sign(t, c) },
			want: "iss claim other than the client_id"},
		{name: "wrong sub", clientID: pkInline, make: func(c map[string]any) string { c["sub"] = pkRemote; return ec.sign(t, c) },
			want: "sub claim other than the client_id"},
		{name: "client_id parameter of another client", clientID: pkRemote, make: func(c map[string]any) string { return ec.sign(t, c) },
			want: `iss claim other than the client_id "pk-remote"`},
		{name: "no client_id and iss differs from sub", make: func(c map[string]any) string { c["iss"] = pkRemote; return ec.sign(t, c) },
			want: "does not name a client"},
		{name: "wrong aud", clientID: pkInline, make: func(c map[string]any) string { c["aud"] = "https://other.example"; return ec.sign(t, c) },
			want: "aud claim that does not name this server"},
		{name: "aud another endpoint of ours", clientID: pkInline, make: func(c map[string]any) string { c["aud"] = p.Config.Issuer + "/userinfo"; return ec.sign(t, c) },
			want: "aud claim that does not name this server"},
		{name: "expired", clientID: pkInline, make: func(c map[string]any) string {
			now := p.Clock.Now().Unix()
			c["iat"], c["exp"] = now-120, now-1
			return ec.sign(t, c)
		}, want: "has expired"},
		{name: "lifetime too long", clientID: pkInline, make: func(c map[string]any) string {
			now := p.Clock.Now().Unix()
			c["iat"], c["exp"] = now, now+3600
			return ec.sign(t, c)
		}, want: "expires too late"},
		{name: "no exp", clientID: pkInline, make: func(c map[string]any) string { delete(c, "exp"); return ec.sign(t, c) },
			want: "has no exp claim"},
		{name: "missing jti", clientID: pkInline, make: func(c map[string]any) string { delete(c, "jti"); return ec.sign(t, c) },
			want: "has no jti claim"},
		{name: "alg none", clientID: pkInline, make: func(c map[string]any) string {
			return unsignedJWT(t, map[string]any{"alg": "none", "kid": "ec"}, c)
		}, want: "is unsigned (alg none)"},
		{name: "HS256 keyed with the RSA public key (key confusion)", clientID: pkInline, make: func(c map[string]any) string {
			return hmacJWT(t, rsaPEM, "rsa", c)
		}, want: "symmetric algorithm HS256"},
		{name: "HS256 keyed with the client's JWKS", clientID: pkInline, make: func(c map[string]any) string {
			return hmacJWT(t, pkJWKS(t, "ec", "rsa", "ed"), "ec", c)
		}, want: "symmetric algorithm HS256"},
		{name: "unknown kid", clientID: pkInline, make: func(c map[string]any) string { return pkKeys()["ec-remote"].sign(t, c) },
			want: `names kid "ec-remote", but the client's JWKS has no ES256 key with that kid`},
		{name: "registered kid, other key", clientID: pkInline, make: func(c map[string]any) string { return pkKeys()["ec-other"].sign(t, c) },
			want: "signature does not verify"},
		{name: "not a JWT", clientID: pkInline, make: func(map[string]any) string { return "not-a-jwt" },
			want: "is not a compact JWS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			form := withAssertion(clientCredentialsForm(), tc.make(pkClaims(p, pkInline)))
			if tc.clientID != "" {
				form.Set("client_id", tc.clientID)
			}
			r := pkPost(t, p, "/token", form, "", "")
			wantRefused(t, tc.name, r, tc.want)
			if strings.Contains(r.description(), form.Get("client_assertion")) {
				t.Errorf("%s: the description quotes the assertion", tc.name)
			}
		})
	}
}

// An assertion is accepted once: its jti is remembered until it expires.
func TestPrivateKeyJWTAssertionReplayed(t *testing.T) {
	t.Parallel()
	env := startPK(t, nil)
	p := env.p
	a := pkAssertion(t, p, pkInline, "ec")
	wantToken(t, "first use", pkPost(t, p, "/token", withAssertion(clientCredentialsForm(), a), "", ""))
	wantRefused(t, "second use", pkPost(t, p, "/token", withAssertion(clientCredentialsForm(), a), "", ""), "was used before (same jti)")
	// A jti is the client's own: another client may use the same one.
	claims := pkClaims(p, pkInline)
	other := pkClaims(p, pkRemote)
	other["jti"] = claims["jti"]
	wantToken(t, "first use of a jti", pkPost(t, p, "/token", withAssertion(clientCredentialsForm(), pkKeys()["ec"].sign(t, claims)), "", ""))
	wantToken(t, "the same jti of another client", pkPost(t, p, "/token", withAssertion(clientCredentialsForm(), pkKeys()["ec-remote"].sign(t, other)), "", ""))
}

// The replay cache is the store: an assertion accepted by one replica is
// refused by the other.
func TestPrivateKeyJWTAssertionReplayedAcrossReplicas(t *testing.T) {
	t.Parallel()
	p := authtest.StartReplicas(t, 2, func(c *config.Config) {
		c.Clients = append(c.Clients, pkClients(t, "http://127.0.0.1:1/unused")...)
	})
	a := pkAssertion(t, p, pkInline, "ed")
	first, second := p.Replicas[0].Server, p.Replicas[1].Server
	if r := serveForm(first, withAssertion(clientCredentialsForm(), a)); r.status != http.StatusOK {
		t.Fatalf("replica 1: %d %v", r.status, r.body)
	}
	wantRefused(t, "the same assertion at replica 2", serveForm(second, withAssertion(clientCredentialsForm(), a)), "was used before (same jti)")
	if r := serveForm(second, withAssertion(clientCredentialsForm(), pkAssertion(t, p, pkInline, "ed"))); r.status != http.StatusOK {
		t.Fatalf("a fresh assertion at replica 2: %d %v", r.status, r.body)
	}
}

// Under profile fapi2 a client's assertions must use PS256, ES256 or EdDSA
// and name the issuer alone as audience.
func TestPrivateKeyJWTFAPI2(t *testing.T) {
	t.Parallel()
	env := startPK(t, nil)
	p := env.p
	signer := dpopSigner(t)
	post := func(assertion string) pkReply {
		req, _ := http.NewRequest(http.MethodPost, p.URL+"/token", strings.NewReader(withAssertion(clientCredentialsForm(), assertion).Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		proof, err := signer.Proof(http.MethodPost, p.Config.Issuer+"/token", dpop.ProofOptions{})
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("DPoP", proof)
		return pkDo(t, req)
	}
	wantRefused(t, "RS256", post(pkAssertion(t, p, pkFAPI2, "rsa")), "signed with RS256, which is not allowed for this client: use one of PS256, ES256, EdDSA")
	claims := pkClaims(p, pkFAPI2)
	claims["aud"] = p.Config.Issuer + "/token"
	wantRefused(t, "aud the token endpoint", post(pkKeys()["ec"].sign(t, claims)), `aud claim that does not name this server: use "`+p.Config.Issuer+`"`)
	for _, key := range []string{"rsa-ps", "ec", "ed"} {
		wantToken(t, pkKeys()[key].alg, post(pkAssertion(t, p, pkFAPI2, key)))
	}
}

// A fapi2 client stored with a secret method (not through validation) is
// refused whatever it sends: FAPI 2.0 allows private_key_jwt only.
func TestClientAuthFAPI2RegisteredWithSecret(t *testing.T) {
	t.Parallel()
	env := startPK(t, nil)
	p := env.p
	ctx := t.Context()
	c := storage.Client{ID: "fapi-secret", Owner: storage.OwnerDatabase, SecretHash: storage.Hash("fapi-secret-0123456789abcdefghijklmn"),
		TokenEndpointAuthMethod: storage.AuthSecretBasic, Profile: storage.ProfileFAPI2, GrantTypes: []string{"client_credentials"}, Scopes: []string{"api.read"}}
	if err := p.App.Store.UpsertClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, "the right secret", pkPost(t, p, "/token", clientCredentialsForm(), c.ID, "fapi-secret-0123456789abcdefghijklmn"),
		"has profile fapi2, which allows private_key_jwt only")
}

// A jwks_uri client's keys are fetched once and cached; an unknown kid
// causes one refetch, rate-limited, and a rotated key is found after it.
func TestPrivateKeyJWTRemoteJWKS(t *testing.T) {
	t.Parallel()
	env := startPK(t, nil)
	p, js := env.p, env.jwks
	wantToken(t, "first assertion", pkPost(t, p, "/token", withAssertion(clientCredentialsForm(), pkAssertion(t, p, pkRemote, "ec-remote")), "", ""))
	wantToken(t, "second assertion", pkPost(t, p, "/token", withAssertion(clientCredentialsForm(), pkAssertion(t, p, pkRemote, "ec-remote")), "", ""))
	if n := js.fetches.Load(); n != 1 {
		t.Fatalf("jwks_uri fetched %d times for two assertions; want 1 (cached)", n)
	}
	wantRefused(t, "unknown kid", pkPost(t, p, "/token", withAssertion(clientCredentialsForm(), pkAssertion(t, p, pkRemote, "ec-rotated")), "", ""),
		`names kid "ec-rotated"`)
	if n := js.fetches.Load(); n != 2 {
		t.Fatalf("jwks_uri fetched %d times after an unknown kid; want 2 (one refetch)", n)
	}
	// The client rotates; within the refetch interval the new key is not
	// looked for again, so a flood of forged kids costs its server nothing.
	rotated := pkJWKS(t, "ec-remote", "ec-rotated")
	js.doc.Store(&rotated)
	for range 3 {
		wantRefused(t, "unknown kid again", pkPost(t, p, "/token", withAssertion(clientCredentialsForm(), pkAssertion(t, p, pkRemote, "ec-rotated")), "", ""),
			`names kid "ec-rotated"`)
	}
	if n := js.fetches.Load(); n != 2 {
		t.Fatalf("jwks_uri fetched %d times; want still 2 (rate-limited)", n)
	}
	p.Clock.Advance(clientkeys.DefaultRefetchInterval + time.Second)
	wantToken(t, "the rotated key after the interval", pkPost(t, p, "/token", withAssertion(clientCredentialsForm(), pkAssertion(t, p, pkRemote, "ec-rotated")), "", ""))
	if n := js.fetches.Load(); n != 3 {
		t.Fatalf("jwks_uri fetched %d times; want 3", n)
	}
}

// A client uses the method it is registered for and no other; a client
// from before token_endpoint_auth_method keeps both secret methods.
func TestClientAuthMethodEnforced(t *testing.T) {
	t.Parallel()
	env := startPK(t, nil)
	p := env.p
	cc := clientCredentialsForm()
	with := func(extra ...string) url.Values {
		f := clientCredentialsForm()
		for i := 0; i < len(extra); i += 2 {
			f.Set(extra[i], extra[i+1])
		}
		return f
	}
	type tc struct {
		name         string
		form         url.Values
		user, secret string // Basic
		status       int
		want         string // in the description; "" with 200
	}
	cases := []tc{
		{name: "basic client with Basic", form: cc, user: basicOnly, secret: basicSecret, status: 200},
		{name: "basic client with client_secret_post", form: with("client_id", basicOnly, "client_secret", basicSecret), status: 401,
			want: "client basic-only is registered for client_secret_basic, not client_secret_post: use client_secret_basic (client_id and client_secret in an Authorization: Basic header)"},
		{name: "post client with client_secret_post", form: with("client_id", postOnly, "client_secret", postSecret), status: 200},
		{name: "post client with Basic", form: cc, user: postOnly, secret: postSecret, status: 401,
			want: "is registered for client_secret_post, not client_secret_basic: use client_secret_post"},
		{name: "legacy client with Basic", form: cc, user: legacyID, secret: legacySecret, status: 200},
		{name: "legacy client with client_secret_post", form: with("client_id", legacyID, "client_secret", legacySecret), status: 200},
		{name: "legacy client with an assertion", form: withAssertion(with("client_id", legacyID), pkAssertion(t, p, legacyID, "ec")), status: 401,
			want: "is registered for client_secret_basic or client_secret_post, not private_key_jwt"},
		{name: "private_key_jwt client with client_secret_post", form: with("client_id", pkInline, "client_secret", "some-secret-0123456789abcdefghijklmno"), status: 401,
			want: "client pk-inline is registered for private_key_jwt, not client_secret_post: use private_key_jwt (client_assertion_type " + clientkeys.AssertionType},
		{name: "private_key_jwt client with Basic", form: cc, user: pkInline, secret: "some-secret-0123456789abcdefghijklmno", status: 401,
			want: "is registered for private_key_jwt, not client_secret_basic"},
		{name: "private_key_jwt client with client_id alone", form: with("client_id", pkInline), status: 401,
			want: "client pk-inline is confidential and must authenticate: use private_key_jwt"},
		{name: "secret client with client_id alone", form: with("client_id", basicOnly), status: 401,
			want: "is confidential and must authenticate: use client_secret_basic"},
		{name: "public client with an assertion", form: withAssertion(with("grant_type", "refresh_token", "refresh_token", "x", "client_id", "native-app"), pkAssertion(t, p, "native-app", "ec")), status: 401,
			want: "is public (token_endpoint_auth_method none) and must not send a client_secret or client_assertion"},
		{name: "public client with a secret", form: with("grant_type", "refresh_token", "refresh_token", "x", "client_id", "native-app", "client_secret", "x"), status: 401,
			want: "is public"},
		{name: "secret and assertion together", form: withAssertion(with("client_id", pkInline, "client_secret", "x"), pkAssertion(t, p, pkInline, "ec")), status: 400,
			want: "use one client authentication method"},
		{name: "Basic and assertion together", form: withAssertion(cc, pkAssertion(t, p, pkInline, "ec")), user: basicOnly, secret: basicSecret, status: 400,
			want: "use one client authentication method"},
		{name: "unknown client_assertion_type", form: with("client_id", pkInline, "client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer", "client_assertion", "x.y.z"), status: 401,
			want: "client_assertion_type is not supported: the only one is " + clientkeys.AssertionType},
		{name: "client_assertion_type without client_assertion", form: with("client_id", pkInline, "client_assertion_type", clientkeys.AssertionType), status: 400,
			want: "client_assertion is required"},
		{name: "client_assertion without client_assertion_type", form: with("client_id", pkInline, "client_assertion", pkAssertion(t, p, pkInline, "ec")), status: 400,
			want: "client_assertion_type is required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := pkPost(t, p, "/token", c.form, c.user, c.secret)
			if r.status != c.status || !strings.Contains(r.description(), c.want) {
				t.Fatalf("%d %v; want %d with a description containing %q", r.status, r.body, c.status, c.want)
			}
			if c.status == http.StatusUnauthorized && r.body["error"] != "invalid_client" {
				t.Errorf("error %v; want invalid_client", r.body["error"])
			}
		})
	}
}

// Revocation and introspection accept private_key_jwt, with the issuer or
// the endpoint's own URL as audience.
func TestPrivateKeyJWTRevocationAndIntrospection(t *testing.T) {
	t.Parallel()
	env := startPK(t, nil)
	p := env.p
	access := wantToken(t, "token", pkPost(t, p, "/token", withAssertion(clientCredentialsForm(), pkAssertion(t, p, pkInline, "ec")), "", ""))
	assertionFor := func(endpoint string) string {
		c := pkClaims(p, pkInline)
		c["aud"] = p.Config.Issuer + endpoint
		return pkKeys()["ec"].sign(t, c)
	}
	tok := url.Values{"token": {access}}
	for _, a := range []string{pkAssertion(t, p, pkInline, "rsa"), assertionFor("/introspect")} {
		r := pkPost(t, p, "/introspect", withAssertion(tok, a), "", "")
		if r.status != http.StatusOK || r.body["active"] != true || r.body["client_id"] != pkInline {
			t.Fatalf("introspection: %d %v", r.status, r.body)
		}
	}
	wantRefused(t, "introspection with an assertion for the revocation endpoint", pkPost(t, p, "/introspect", withAssertion(tok, assertionFor("/revoke")), "", ""),
		"aud claim that does not name this server")
	if r := pkPost(t, p, "/revoke", withAssertion(tok, assertionFor("/revoke")), "", ""); r.status != http.StatusOK {
		t.Fatalf("revocation: %d %v", r.status, r.body)
	}
	if r := pkPost(t, p, "/introspect", withAssertion(tok, pkAssertion(t, p, pkInline, "ed")), "", ""); r.status != http.StatusOK || r.body["active"] != false {
		t.Fatalf("introspection after revocation: %d %v", r.status, r.body)
	}
	wantRefused(t, "revocation with a replayed assertion", pkPost(t, p, "/revoke", withAssertion(tok, pkPostedOnce(t, p)), "", ""), "was used before")
}

// pkPostedOnce returns an assertion of pkInline already accepted once.
func pkPostedOnce(t *testing.T, p *authtest.Provider) string {
	t.Helper()
	a := pkAssertion(t, p, pkInline, "ec")
	wantToken(t, "first use", pkPost(t, p, "/token", withAssertion(clientCredentialsForm(), a), "", ""))
	return a
}

// A refused assertion counts against the client like a wrong secret: once
// blocked, even a valid assertion is refused until the back-off ends.
func TestPrivateKeyJWTAssertionThrottled(t *testing.T) {
	t.Parallel()
	env := startPK(t, func(c *config.Config) {
		c.Security.Throttle.ClientFreeFailures = 2
		c.Security.Throttle.BaseDelay = config.Duration(time.Hour)
		c.Security.Throttle.MaxDelay = config.Duration(2 * time.Hour)
	})
	p := env.p
	forged := pkKeys()["ec-other"]
	for range 3 {
		wantRefused(t, "forged assertion", pkPost(t, p, "/token", withAssertion(clientCredentialsForm(), forged.sign(t, pkClaims(p, pkInline))), "", ""),
			"signature does not verify")
	}
	r := pkPost(t, p, "/token", withAssertion(clientCredentialsForm(), pkAssertion(t, p, pkInline, "ec")), "", "")
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("a valid assertion during back-off: %d %v; want 429 with Retry-After", r.status, r.body)
	}
	// Other clients are not affected.
	wantToken(t, "another private_key_jwt client", pkPost(t, p, "/token", withAssertion(clientCredentialsForm(), pkAssertion(t, p, pkRemote, "ec-remote")), "", ""))
	p.Clock.Advance(time.Hour + time.Second)
	wantToken(t, "after the back-off", pkPost(t, p, "/token", withAssertion(clientCredentialsForm(), pkAssertion(t, p, pkInline, "ec")), "", ""))
}

// Discovery lists private_key_jwt and its algorithms for every endpoint
// that accepts client authentication.
func TestDiscoveryClientAuthMethods(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, nil)
	resp, err := http.Get(p.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	if err := decodeJSON(resp, &doc); err != nil {
		t.Fatal(err)
	}
	strs := func(name string) []string {
		var out []string
		for _, v := range doc[name].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	for _, endpoint := range []string{"token", "revocation", "introspection"} {
		methods := strs(endpoint + "_endpoint_auth_methods_supported")
		if !slices.Contains(methods, "private_key_jwt") || !slices.Contains(methods, "client_secret_basic") || !slices.Contains(methods, "client_secret_post") {
			t.Errorf("%s_endpoint_auth_methods_supported = %v", endpoint, methods)
		}
		if algs := strs(endpoint + "_endpoint_auth_signing_alg_values_supported"); !slices.Equal(algs, []string{"RS256", "PS256", "ES256", "EdDSA"}) {
			t.Errorf("%s_endpoint_auth_signing_alg_values_supported = %v; want RS256 PS256 ES256 EdDSA", endpoint, algs)
		}
	}
}

// serveForm posts a client_credentials form to a replica in-process.
func serveForm(h http.Handler, form url.Values) pkReply {
	rec := newRecorder()
	req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	h.ServeHTTP(rec, req)
	return recorded(rec)
}

// A client assertion, accepted or refused, never reaches the log; the
// access log names the client and the status, as for a wrong secret.
func TestPrivateKeyJWTAssertionNotLogged(t *testing.T) {
	t.Parallel()
	js := newJWKSServer(t, pkJWKS(t, "ec-remote"))
	p, logs := startObserved(t, func(c *config.Config) {
		c.Clients = append(c.Clients, pkClients(t, js.uri())...)
	})
	good, forged := pkAssertion(t, p, pkInline, "ec"), pkKeys()["ec-other"].sign(t, pkClaims(p, pkInline))
	wantToken(t, "valid", pkPost(t, p, "/token", withAssertion(clientCredentialsForm(), good), "", ""))
	wantRefused(t, "forged", pkPost(t, p, "/token", withAssertion(clientCredentialsForm(), forged), "", ""), "signature does not verify")
	wantRefused(t, "replayed", pkPost(t, p, "/introspect", withAssertion(url.Values{"token": {"x"}}, good), "", ""), "was used before")
	var statuses []float64
	for _, l := range logs.Lines(t) {
		for _, a := range []string{good, forged} {
			sig := a[strings.LastIndex(a, ".")+1:]
			if strings.Contains(l.Raw, a) || strings.Contains(l.Raw, sig) {
				t.Errorf("the log holds an assertion: %s", l.Raw)
			}
		}
		if l.Str("msg") == "request" && l.Str("client_id") == pkInline {
			statuses = append(statuses, l.Fields["status"].(float64))
		}
	}
	if !slices.Equal(statuses, []float64{200, 401, 401}) {
		t.Errorf("access log statuses of %s: %v; want 200 401 401", pkInline, statuses)
	}
}

// The parsed inline jwks is reused only while the stored one is the same:
// keys changed through the admin API or on another replica count at once.
func TestPrivateKeyJWTInlineKeysChange(t *testing.T) {
	t.Parallel()
	env := startPK(t, nil)
	p := env.p
	wantToken(t, "ES256 before", pkPost(t, p, "/token", withAssertion(clientCredentialsForm(), pkAssertion(t, p, pkInline, "ec")), "", ""))
	c, err := p.App.Store.GetClient(t.Context(), pkInline)
	if err != nil {
		t.Fatal(err)
	}
	c.JWKS = string(pkJWKS(t, "ed"))
	if err := p.App.Store.UpsertClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, "the removed key", pkPost(t, p, "/token", withAssertion(clientCredentialsForm(), pkAssertion(t, p, pkInline, "ec")), "", ""),
		`names kid "ec"`)
	wantToken(t, "the remaining key", pkPost(t, p, "/token", withAssertion(clientCredentialsForm(), pkAssertion(t, p, pkInline, "ed")), "", ""))
}
