package clientkeys

import (
	"time"

	"github.com/authserver-dev/authserver/authserver/replay"
)

// ReplayCache remembers the client assertions a server has accepted, so
// that each is accepted once (RFC 7523 §3: the server may ensure that a jti
// is not reused; OpenID Connect Core §9 and FAPI 2.0 require it). The id a
// Verifier passes is a digest of the client and jti, and exp is the
// assertion's exp. It is package dpop's contract too (replay.Cache), so one
// store-backed implementation serves both.
type ReplayCache = replay.Cache

// MemoryReplayCache is the in-memory ReplayCache (replay.Memory).
type MemoryReplayCache = replay.Memory

// DefaultReplayCacheSize bounds the MemoryReplayCache a Verifier makes
// when Config.ReplayCache is nil: about 10 MB at most, and room for some
// 160 assertions a second within the default maximum lifetime before any
// live entry is dropped.
const DefaultReplayCacheSize = 50_000

// NewMemoryReplayCache is replay.NewMemory.
func NewMemoryReplayCache(max int, now func() time.Time) *MemoryReplayCache {
	return replay.NewMemory(max, now)
}
