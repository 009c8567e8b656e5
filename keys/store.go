package keys

import (
	"context"
	"time"
)

// State is where a signing key is in its lifecycle.
type State string

// The lifecycle of a key: published before it signs, signing, then published
// until every token it signed has expired.
const (
	StateNext    State = "next"
	StateActive  State = "active"
	StateRetired State = "retired"
)

// Record is a signing key as persisted. The private key never leaves this
// package unencrypted: PrivateKey holds the AES-256-GCM sealed PKCS#8 DER.
type Record struct {
	ID         string // kid
	Algorithm  string // ES256, RS256, EdDSA
	State      State
	PrivateKey []byte
	CreatedAt  time.Time
	// ActivatesAt is when a next key starts signing.
	ActivatesAt time.Time
	// RetiredAt is when an active key stopped signing.
	RetiredAt time.Time
	// ExpiresAt is when a retired key leaves the JWKS (zero: not scheduled).
	ExpiresAt time.Time
}

// Store persists signing keys. It is implemented by the server's storage
// backends; keys declares it so that this package stays a leaf.
type Store interface {
	// ListSigningKeys returns every stored key, oldest first.
	ListSigningKeys(ctx context.Context) ([]Record, error)
	// InsertSigningKey stores a new key; an existing ID is an error.
	InsertSigningKey(ctx context.Context, r Record) error
	// UpdateSigningKey replaces State and the dates of the key with r.ID.
	UpdateSigningKey(ctx context.Context, r Record) error
	// DeleteSigningKey removes the key with the given ID. Deleting a key
	// that is not there is not an error: replicas running Tick at the same
	// time delete the same expired or surplus keys.
	DeleteSigningKey(ctx context.Context, id string) error
}

// Locker is implemented by stores that several processes share (PostgreSQL
// behind replicas). The Manager runs each read-decide-write step on the key
// set — creating the first keys, one rotation step — inside
// LockSigningKeys, so that replicas starting or rotating at the same moment
// make one decision instead of racing: without it, two replicas starting on
// an empty database would each create and sign with a key of their own until
// their next reload. fn must use ctx; the lock is held until fn returns.
type Locker interface {
	LockSigningKeys(ctx context.Context, fn func(ctx context.Context) error) error
}
