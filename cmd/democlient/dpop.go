package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// With --dpop the app holds a key pair and proves possession of it on every
// token request and API call (RFC 9449), so the provider binds the access
// token to the key (cnf.jkt) and a copy of the token is useless without it.

// dpopAlgorithm is the only proof algorithm the demo uses: ES256 is the one
// every DPoP server must accept in practice (FAPI 2.0 names it).
const dpopAlgorithm = "ES256"

// dpopKey is the app's proof-of-possession key. It is made at start and
// lives only in memory: a restart binds new tokens to a new key, and no
// file holds a private key for a thief to copy.
type dpopKey struct {
	signer jose.Signer
	jkt    string // RFC 7638 thumbprint of the public key, base64url
	now    func() time.Time

	mu sync.Mutex
	// nonces holds the last DPoP-Nonce each server (by origin) sent (§8):
	// the provider's and the API's nonces are their own.
	nonces map[string]string
}

func newDPoPKey(now func() time.Time) (*dpopKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	jwk := jose.JSONWebKey{Key: &priv.PublicKey}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	// EmbedJWK puts the public key in the jwk header, as §4.2 requires.
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: priv},
		(&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		return nil, err
	}
	return &dpopKey{signer: signer, jkt: base64.RawURLEncoding.EncodeToString(sum), now: now, nonces: map[string]string{}}, nil
}

// proofClaims are the claims of a proof (RFC 9449 §4.2).
type proofClaims struct {
	JTI   string `json:"jti"`
	HTM   string `json:"htm"`
	HTU   string `json:"htu"`
	IAT   int64  `json:"iat"`
	ATH   string `json:"ath,omitempty"`
	Nonce string `json:"nonce,omitempty"`
}

// proof signs a fresh proof for one request. accessToken, when set, is the
// token sent with it, whose hash goes into ath.
func (k *dpopKey) proof(method string, target *url.URL, accessToken, nonce string) (string, error) {
	c := proofClaims{JTI: randomString(), HTM: method, HTU: htu(target), IAT: k.now().Unix(), Nonce: nonce}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		c.ATH = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	jws, err := k.signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// htu is the URL a proof names: the request's, without query and fragment
// (RFC 9449 §4.2).
func htu(u *url.URL) string {
	v := *u
	v.User, v.RawQuery, v.ForceQuery, v.Fragment, v.RawFragment = nil, "", false, "", ""
	return v.String()
}

func origin(u *url.URL) string { return u.Scheme + "://" + u.Host }

func (k *dpopKey) nonce(u *url.URL) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.nonces[origin(u)]
}

func (k *dpopKey) setNonce(u *url.URL, n string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.nonces[origin(u)] = n
}

// dpopTransport adds a proof to the two kinds of requests that need one: a
// POST to the token endpoint (code exchange and refresh: x/oauth2 takes no
// extra headers, but it uses the HTTP client of the context), and a request
// whose Authorization header uses the DPoP scheme (the API call, with ath).
// Every other request (discovery, JWKS) passes untouched.
type dpopTransport struct {
	key      *dpopKey
	tokenURL string // as a proof's htu names it
	base     http.RoundTripper
}

func (t *dpopTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	accessToken, ok := t.needsProof(req)
	if !ok {
		return t.base.RoundTrip(req)
	}
	resp, err := t.send(req, accessToken)
	if err != nil || !demandsNonce(resp) {
		return resp, err
	}
	// §8: the server wants its nonce in the proof. The answer carried one,
	// which send remembered; retry once with it. A second refusal is the
	// caller's to see.
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return resp, nil // the body is spent and cannot be sent again
		}
		body, err := req.GetBody()
		if err != nil {
			return resp, nil
		}
		req = req.Clone(req.Context())
		req.Body = body
	}
	resp.Body.Close()
	return t.send(req, accessToken)
}

// needsProof says whether req gets a proof, and with which access token.
func (t *dpopTransport) needsProof(req *http.Request) (string, bool) {
	if token, ok := strings.CutPrefix(req.Header.Get("Authorization"), "DPoP "); ok {
		return token, true
	}
	return "", req.Method == http.MethodPost && htu(req.URL) == t.tokenURL
}

// send signs a proof for req, sends it, and remembers the server's nonce.
func (t *dpopTransport) send(req *http.Request, accessToken string) (*http.Response, error) {
	p, err := t.key.proof(req.Method, req.URL, accessToken, t.key.nonce(req.URL))
	if err != nil {
		if req.Body != nil {
			req.Body.Close() // RoundTrip must close the body, even on errors
		}
		return nil, fmt.Errorf("signing the DPoP proof: %w", err)
	}
	out := req.Clone(req.Context())
	out.Header.Set("DPoP", p)
	resp, err := t.base.RoundTrip(out)
	if err == nil {
		if n := resp.Header.Get("DPoP-Nonce"); n != "" {
			t.key.setNonce(req.URL, n)
		}
	}
	return resp, err
}

// maxErrorPeek bounds how much of a 400 answer is read to find its error
// code; a token endpoint's error is a few hundred bytes.
const maxErrorPeek = 64 << 10

// demandsNonce reports whether resp asks for a proof with a server nonce:
// 400 with error use_dpop_nonce from an authorization server, 401 with a DPoP
// challenge error="use_dpop_nonce" from a resource server (RFC 9449 §8, §9),
// each with the DPoP-Nonce to use. It leaves resp's body readable.
func demandsNonce(resp *http.Response) bool {
	if resp.Header.Get("DPoP-Nonce") == "" {
		return false
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		for _, c := range resp.Header.Values("WWW-Authenticate") {
			if strings.Contains(c, `error="use_dpop_nonce"`) {
				return true
			}
		}
	case http.StatusBadRequest:
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorPeek))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		var e struct {
			Error string `json:"error"`
		}
		return err == nil && json.Unmarshal(body, &e) == nil && e.Error == "use_dpop_nonce"
	}
	return false
}

// dpopClient is base with a transport that adds proofs for tokenURL.
func dpopClient(base *http.Client, key *dpopKey, tokenURL string) (*http.Client, error) {
	u, err := url.Parse(tokenURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("the provider's token endpoint %q is not an absolute URL", tokenURL)
	}
	c := *base
	rt := base.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	c.Transport = &dpopTransport{key: key, tokenURL: htu(u), base: rt}
	return &c, nil
}

// accessTokenJKT is the cnf.jkt of a JWT access token, decoded WITHOUT
// verification, only to show which key the provider bound the token to;
// "" when the token is not a JWT or is not bound.
func accessTokenJKT(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Cnf struct {
			JKT string `json:"jkt"`
		} `json:"cnf"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return ""
	}
	return c.Cnf.JKT
}

// checkDPoPSupport refuses a provider whose discovery document does not
// list ES256 in dpop_signing_alg_values_supported: it would issue bearer
// tokens, or refuse the proofs, and the demo would show nothing bound.
func checkDPoPSupport(discovered bool, algs []string) error {
	if !discovered {
		return nil // a hand-made provider (tests) has no discovery document
	}
	for _, a := range algs {
		if a == dpopAlgorithm {
			return nil
		}
	}
	if len(algs) == 0 {
		return errors.New("--dpop: the provider does not support DPoP (its discovery document has no dpop_signing_alg_values_supported)")
	}
	return fmt.Errorf("--dpop: the provider accepts DPoP proofs signed with %s only; this app signs with %s", strings.Join(algs, ", "), dpopAlgorithm)
}

// dpopStatus is what the result page shows with --dpop.
func (k *dpopKey) status(tok *oauth2.Token, api apiResult) *dpopView {
	jkt := accessTokenJKT(tok.AccessToken)
	v := &dpopView{KeyJKT: k.jkt, TokenType: tok.Type(), TokenJKT: jkt, Bound: jkt != "" && jkt == k.jkt}
	v.APIUsed = api.Scheme == "DPoP" && api.Err == ""
	v.APIAccepts = v.APIUsed && api.StatusCode >= 200 && api.StatusCode <= 299
	return v
}
