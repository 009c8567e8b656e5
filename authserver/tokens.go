package authserver

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"hash"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver-dev/authserver/authserver/mfa"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/keys"
)

// randomToken returns 256 random bits, base64url: codes, refresh tokens,
// session ids and CSRF cookies are all made here.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// randomID is a shorter random identifier for records that are not secrets
// (jti, refresh-token family).
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// audience marshals as a string when it has one member (the common case that
// every JWT library reads) and as an array otherwise (RFC 7519 §4.1.3).
type audience []string

func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = audience{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(a))
}

// minter signs the JWTs the server issues.
type minter struct {
	issuer     string
	keys       *keys.Manager
	accessAlg  string
	idAlg      string
	defaultAud []string
	idTokenTTL time.Duration
	now        func() time.Time
}

// accessClaims are the RFC 9068 §2.2 claims of an access token.
type accessClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience audience `json:"aud"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope,omitempty"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	ID       string   `json:"jti"`
	AuthTime int64    `json:"auth_time,omitempty"`
	// ACR and AMR are what the sign-in proved (RFC 9068 §2.2.1), for the
	// userinfo endpoint, which sees only the token, and for APIs that
	// demand a strong sign-in. Absent for client credentials.
	ACR string   `json:"acr,omitempty"`
	AMR []string `json:"amr,omitempty"`
	// UserinfoClaims names the user claims that the authorization request's
	// claims parameter asked userinfo to release beyond the scopes (OIDC
	// Core §5.5): the token is all that the userinfo endpoint sees.
	UserinfoClaims []string `json:"userinfo_claims,omitempty"`
	// Confirmation binds the token to a DPoP key (RFC 9449 §6.1); nil for
	// a bearer token.
	Confirmation *confirmation `json:"cnf,omitempty"`
}

type accessClaimsInput struct {
	client   storage.Client
	subject  string
	scope    string
	authTime time.Time
	// familyID, when set, prefixes the jti, so that introspection can tell
	// the token's grant (and whether it was revoked) without a lookup table.
	familyID string
	ttl      time.Duration
	// claims is the grant's claims request, or nil.
	claims *claimsRequest
	// jkt, when set, is the thumbprint of the DPoP key the token is bound
	// to (cnf.jkt).
	jkt string
	// audience, when set, is the aud (RFC 8707 resources, tokenAudience);
	// else the client's audience, else the server's default.
	audience []string
	// amr is what the sign-in proved; nil for a token without a user.
	amr []string
}

// jtiFamily returns the family a jti names, or "".
func jtiFamily(jti string) string {
	family, _, ok := strings.Cut(jti, ".")
	if !ok {
		return ""
	}
	return family
}

var accessTokenHeader = map[jose.HeaderKey]interface{}{jose.HeaderType: "at+jwt"}

func (m *minter) accessToken(in accessClaimsInput) (string, error) {
	now := m.now()
	aud := in.audience
	if len(aud) == 0 {
		aud = in.client.Audience
	}
	if len(aud) == 0 {
		aud = m.defaultAud
	}
	c := accessClaims{
		Issuer:   m.issuer,
		Subject:  in.subject,
		Audience: aud,
		ClientID: in.client.ID,
		Scope:    in.scope,
		Expiry:   now.Add(in.ttl).Unix(),
		IssuedAt: now.Unix(),
		ID:       randomID(),

		UserinfoClaims: in.claims.userinfoNames(),
		Confirmation:   confirmationOf(in.jkt),
	}
	if in.familyID != "" {
		c.ID = in.familyID + "." + c.ID
	}
	if !in.authTime.IsZero() {
		c.AuthTime = in.authTime.Unix()
	}
	if len(in.amr) > 0 {
		c.ACR, c.AMR = mfa.ACRFor(in.amr), in.amr
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	return m.keys.Sign(m.accessAlg, accessTokenHeader, payload)
}

// idClaims are the OpenID Connect Core §2 claims of an ID token; the user's
// claims are added by withClaims.
type idClaims struct {
	Issuer          string `json:"iss"`
	Subject         string `json:"sub"`
	Audience        string `json:"aud"`
	AuthorizedParty string `json:"azp"`
	Expiry          int64  `json:"exp"`
	IssuedAt        int64  `json:"iat"`
	AuthTime        int64  `json:"auth_time,omitempty"`
	Nonce           string `json:"nonce,omitempty"`
	AccessTokenHash string `json:"at_hash,omitempty"`
	SessionID       string `json:"sid,omitempty"`
	// ACR is the level the sign-in met (mfa.ACRFor of AMR), AMR its
	// methods (RFC 8176).
	ACR string   `json:"acr,omitempty"`
	AMR []string `json:"amr,omitempty"`
}

type idTokenInput struct {
	client      storage.Client
	user        storage.User
	scope       string
	nonce       string
	sessionID   string
	authTime    time.Time
	accessToken string
	// claims is the grant's claims request, or nil.
	claims *claimsRequest
	// amr is what the sign-in proved (a stored empty one: a password).
	amr []string
}

func (m *minter) idToken(in idTokenInput) (string, error) {
	alg := in.client.IDTokenAlg
	if alg == "" {
		alg = m.idAlg
	}
	now := m.now()
	c := idClaims{
		Issuer:          m.issuer,
		Subject:         in.user.ID,
		Audience:        in.client.ID,
		AuthorizedParty: in.client.ID,
		Expiry:          now.Add(m.idTokenTTL).Unix(),
		IssuedAt:        now.Unix(),
		Nonce:           in.nonce,
		SessionID:       in.sessionID,
		AccessTokenHash: tokenHash(alg, in.accessToken),
	}
	if !in.authTime.IsZero() {
		c.AuthTime = in.authTime.Unix()
	}
	// Every ID token says how the user signed in, asked for or not: the
	// relying party that asked for a level checks it here (OIDC Core
	// §3.1.2.1: acr_values are voluntary).
	c.AMR = amrOrPassword(in.amr)
	c.ACR = mfa.ACRFor(c.AMR)
	// The scopes' claims as well as the requested ones: OIDC Core §5.4 puts
	// the scopes' claims in userinfo when an access token is issued, but
	// many relying parties (ASP.NET Core by default) read only the ID token.
	payload, err := withClaims(c, releasedClaims(in.user, in.scope, in.claims.idTokenNames()))
	if err != nil {
		return "", err
	}
	return m.keys.Sign(alg, nil, payload)
}

// tokenHash is at_hash (OIDC Core §3.1.3.6): the left half of the hash that
// the signing algorithm uses, base64url. Ed25519 signs with SHA-512.
func tokenHash(alg, token string) string {
	if token == "" {
		return ""
	}
	var h hash.Hash
	if alg == "EdDSA" {
		h = sha512.New()
	} else {
		h = sha256.New()
	}
	h.Write([]byte(token))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}
