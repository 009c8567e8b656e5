package mfa_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math/big"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// The authenticator data flags (WebAuthn §6.1).
const (
	flagUP = 0x01 // user present
	flagUV = 0x04 // user verified
	flagBE = 0x08 // backup eligible
	flagBS = 0x10 // backed up
	flagAT = 0x40 // attested credential data included
)

// authenticator is a software passkey: an ES256 key, a credential id and
// a signature counter, answering options the way a browser and an
// authenticator would together. Its fields are what a test changes to
// play a misbehaving or hostile party.
type authenticator struct {
	t      *testing.T
	key    *ecdsa.PrivateKey
	id     []byte
	handle []byte // the user handle, from the registration options

	origin string // the origin the "browser" reports
	rpID   string // the RP id whose hash the authenticator signs ("" = the options')
	flags  byte   // UP|UV by default
	count  uint32 // the signature counter; incremented before each use unless fixed
	fixed  bool   // keep count as it is (e.g. always 0, as synced passkeys do)
	format string // attestation statement: "none" (default), "packed" (self), "fido-u2f"
}

func newAuthenticator(t *testing.T) *authenticator {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	rand.Read(id)
	return &authenticator{t: t, key: key, id: id, origin: testOrigin, flags: flagUP | flagUV, format: "none"}
}

// options is the part of the WebAuthn options the authenticator reads.
type options struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		RPID string `json:"rpId"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		AuthenticatorSelection struct {
			ResidentKey        string `json:"residentKey"`
			RequireResidentKey bool   `json:"requireResidentKey"`
			UserVerification   string `json:"userVerification"`
		} `json:"authenticatorSelection"`
		Attestation        string `json:"attestation"`
		UserVerification   string `json:"userVerification"`
		ExcludeCredentials []struct {
			ID string `json:"id"`
		} `json:"excludeCredentials"`
		AllowCredentials []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
	} `json:"publicKey"`
}

func parseOptions(t *testing.T, raw []byte) options {
	t.Helper()
	var o options
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatalf("options %s: %v", raw, err)
	}
	return o
}

var b64 = base64.RawURLEncoding

// create answers registration options: the JSON a browser posts.
func (a *authenticator) create(optionsJSON []byte) []byte {
	a.t.Helper()
	o := parseOptions(a.t, optionsJSON)
	handle, err := b64.DecodeString(o.PublicKey.User.ID)
	if err != nil {
		a.t.Fatalf("user.id %q: %v", o.PublicKey.User.ID, err)
	}
	a.handle = handle
	clientData := a.clientData("webauthn.create", o.PublicKey.Challenge)
	authData := a.authData(o.PublicKey.RP.ID, true)
	cdHash := sha256.Sum256(clientData)
	stmt := map[string]any{}
	switch a.format {
	case "packed": // self attestation: signed by the credential key
		stmt = map[string]any{"alg": -7, "sig": a.sign(append(append([]byte(nil), authData...), cdHash[:]...))}
	case "fido-u2f": // signed by an attestation key, certified by x5c
		attKey, cert := attestationCert(a.t)
		pub := a.pubBytes()
		data := append([]byte{0}, a.rpIDHash(o.PublicKey.RP.ID)...)
		data = append(data, cdHash[:]...)
		data = append(data, a.id...)
		data = append(data, pub...)
		stmt = map[string]any{"sig": signWith(a.t, attKey, data), "x5c": [][]byte{cert}}
	}
	attObj, err := cbor.Marshal(map[string]any{"fmt": a.format, "attStmt": stmt, "authData": authData})
	if err != nil {
		a.t.Fatal(err)
	}
	return a.marshal(map[string]any{
		"clientDataJSON":    b64.EncodeToString(clientData),
		"attestationObject": b64.EncodeToString(attObj),
		"transports":        []string{"internal"},
	}, map[string]any{"credProps": map[string]any{"rk": true}})
}

// get answers login options with an assertion.
func (a *authenticator) get(optionsJSON []byte) []byte {
	a.t.Helper()
	o := parseOptions(a.t, optionsJSON)
	clientData := a.clientData("webauthn.get", o.PublicKey.Challenge)
	authData := a.authData(o.PublicKey.RPID, false)
	cdHash := sha256.Sum256(clientData)
	return a.marshal(map[string]any{
		"clientDataJSON":    b64.EncodeToString(clientData),
		"authenticatorData": b64.EncodeToString(authData),
		"signature":         b64.EncodeToString(a.sign(append(append([]byte(nil), authData...), cdHash[:]...))),
		"userHandle":        b64.EncodeToString(a.handle),
	}, map[string]any{})
}

func (a *authenticator) marshal(response, extensions map[string]any) []byte {
	b, err := json.Marshal(map[string]any{
		"id":                      b64.EncodeToString(a.id),
		"rawId":                   b64.EncodeToString(a.id),
		"type":                    "public-key",
		"authenticatorAttachment": "platform",
		"response":                response,
		"clientExtensionResults":  extensions,
	})
	if err != nil {
		a.t.Fatal(err)
	}
	return b
}

func (a *authenticator) clientData(typ, challenge string) []byte {
	b, err := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.origin, "crossOrigin": false})
	if err != nil {
		a.t.Fatal(err)
	}
	return b
}

func (a *authenticator) rpIDHash(fromOptions string) []byte {
	id := fromOptions
	if a.rpID != "" {
		id = a.rpID
	}
	h := sha256.Sum256([]byte(id))
	return h[:]
}

// authData is rpIdHash | flags | signCount [| aaguid | idLen | id | COSE key].
func (a *authenticator) authData(rpID string, attested bool) []byte {
	if !a.fixed {
		a.count++
	}
	flags := a.flags
	if attested {
		flags |= flagAT
	}
	d := append(a.rpIDHash(rpID), flags)
	d = binary.BigEndian.AppendUint32(d, a.count)
	if attested {
		d = append(d, make([]byte, 16)...) // AAGUID: zero (no attestation)
		d = binary.BigEndian.AppendUint16(d, uint16(len(a.id)))
		d = append(d, a.id...)
		pub := a.pubBytes()
		cose, err := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: pub[1:33], -3: pub[33:]})
		if err != nil {
			a.t.Fatal(err)
		}
		d = append(d, cose...)
	}
	return d
}

// pubBytes is the uncompressed P-256 point 0x04 | X | Y.
func (a *authenticator) pubBytes() []byte {
	pk, err := a.key.PublicKey.ECDH()
	if err != nil {
		a.t.Fatal(err)
	}
	return pk.Bytes()
}

func (a *authenticator) sign(data []byte) []byte { return signWith(a.t, a.key, data) }

func signWith(t *testing.T, key *ecdsa.PrivateKey, data []byte) []byte {
	t.Helper()
	h := sha256.Sum256(data)
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// attestationCert is a self-signed P-256 certificate, as a U2F key has.
func attestationCert(t *testing.T) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "Test U2F Attestation"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return key, der
}
