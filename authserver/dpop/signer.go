package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// ProofType is the typ header of every DPoP proof (RFC 9449 §4.2).
const ProofType = "dpop+jwt"

// Signer makes DPoP proofs with one private key. It is what a client holds
// for the lifetime of its tokens: every proof it makes carries the same
// public key, and so the same Thumbprint. It is safe for concurrent use once
// Now is set.
type Signer struct {
	alg    string
	jwk    jose.JSONWebKey // public
	jkt    string
	signer jose.Signer

	// Now is the clock of the proofs' iat, default time.Now. Set it, if at
	// all, before the first Proof.
	Now func() time.Time
}

// NewSigner returns a Signer for key, an *ecdsa.PrivateKey (P-256, P-384,
// P-521), an ed25519.PrivateKey or an *rsa.PrivateKey of at least 2048 bits.
// alg is the JWS algorithm; empty means ES256 (or ES384, ES512 by curve),
// EdDSA or PS256, by key type.
func NewSigner(key crypto.Signer, alg string) (*Signer, error) {
	switch key.(type) {
	case *ecdsa.PrivateKey, ed25519.PrivateKey, *rsa.PrivateKey:
	default:
		return nil, fmt.Errorf("dpop: unsupported key type %T (want ECDSA, Ed25519 or RSA)", key)
	}
	pub := key.Public()
	if alg == "" {
		alg = defaultAlgorithm(pub)
	}
	if !asymmetric[alg] {
		return nil, fmt.Errorf("dpop: algorithm %q is not an asymmetric JWS algorithm", alg)
	}
	if err := keyFits(alg, pub); err != nil {
		return nil, fmt.Errorf("dpop: %w", err)
	}
	jwk := jose.JSONWebKey{Key: pub}
	jkt, err := Thumbprint(&jwk)
	if err != nil {
		return nil, err
	}
	opts := (&jose.SignerOptions{}).WithType(ProofType).WithHeader("jwk", jwk)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: key}, opts)
	if err != nil {
		return nil, fmt.Errorf("dpop: %w", err)
	}
	return &Signer{alg: alg, jwk: jwk, jkt: jkt, signer: signer, Now: time.Now}, nil
}

// Algorithm is the JWS algorithm of the proofs.
func (s *Signer) Algorithm() string { return s.alg }

// PublicKey is the public JWK every proof carries.
func (s *Signer) PublicKey() jose.JSONWebKey { return s.jwk }

// Thumbprint is the RFC 7638 thumbprint of the key: what the provider puts
// in cnf.jkt of the tokens bound to it, and the client's dpop_jkt.
func (s *Signer) Thumbprint() string { return s.jkt }

// ProofOptions are the optional parts of a proof.
type ProofOptions struct {
	// AccessToken, when set, is the token the proof goes with (at a
	// resource server, or userinfo): the proof then carries its hash, ath.
	AccessToken string
	// Nonce is the server-provided nonce of the last DPoP-Nonce header, if
	// the server asked for one (RFC 9449 §8, §9).
	Nonce string
	// IssuedAt overrides iat; zero means Now().
	IssuedAt time.Time
	// ID overrides jti; empty means 128 random bits. A proof must never
	// reuse one: this is for tests.
	ID string
}

// Proof returns a compact DPoP proof for one request: method and targetURL
// are the request's (the query and fragment of targetURL are left out of
// htu, RFC 9449 §4.2).
func (s *Signer) Proof(method, targetURL string, opts ProofOptions) (string, error) {
	u, err := url.Parse(targetURL)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return "", fmt.Errorf("dpop: target URL %q is not absolute", targetURL)
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	iat := opts.IssuedAt
	if iat.IsZero() {
		iat = s.Now()
	}
	jti := opts.ID
	if jti == "" {
		jti = rand.Text()
	}
	claims := map[string]any{"jti": jti, "htm": method, "htu": u.String(), "iat": iat.Unix()}
	if opts.AccessToken != "" {
		claims["ath"] = AccessTokenHash(opts.AccessToken)
	}
	if opts.Nonce != "" {
		claims["nonce"] = opts.Nonce
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("dpop: %w", err)
	}
	jws, err := s.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("dpop: signing a proof: %w", err)
	}
	return jws.CompactSerialize()
}
