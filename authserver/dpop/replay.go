package dpop

import (
	"time"

	"github.com/authserver-dev/authserver/authserver/replay"
)

// ReplayCache remembers the proofs a server has accepted, so that each is
// accepted once (RFC 9449 §11.1). The id a Verifier passes is a digest of
// the proof's key and jti (43 characters), and exp is when the proof would
// be refused as too old anyway. See replay.Cache.
type ReplayCache = replay.Cache

// MemoryReplayCache is the in-memory ReplayCache (replay.Memory). Replicas
// of a server do not share it: the provider uses its store instead.
type MemoryReplayCache = replay.Memory

// DefaultReplayCacheSize bounds the MemoryReplayCache a Verifier makes when
// Config.ReplayCache is nil: about 10 MB at most, and room for some 800
// proofs a second within the default window before any live entry is
// dropped.
const DefaultReplayCacheSize = 50_000

// NewMemoryReplayCache is replay.NewMemory.
func NewMemoryReplayCache(max int, now func() time.Time) *MemoryReplayCache {
	return replay.NewMemory(max, now)
}
