package authserver

import (
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/storage"
)

// TestDPoPNonceWindows: a nonce is good in its window and the windows
// either side (a replica whose clock is a little off), not two windows
// later, and only under the key that made it.
func TestDPoPNonceWindows(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_700_000_000, 0).Truncate(dpopNonceWindow)
	now := start
	n := &dpopNonces{key: []byte("key-one-0123456789abcdef01234567"), now: func() time.Time { return now }}
	issued := n.current()
	for _, tc := range []struct {
		at   time.Duration
		want bool
	}{
		{-dpopNonceWindow, true}, // the checker's clock is behind
		{0, true},
		{dpopNonceWindow - time.Second, true},
		{dpopNonceWindow, true},
		{2*dpopNonceWindow - time.Second, true},
		{2 * dpopNonceWindow, false},
		{-2 * dpopNonceWindow, false},
	} {
		now = start.Add(tc.at)
		if got := n.valid(issued); got != tc.want {
			t.Errorf("nonce of %s checked at %+v: valid = %v, want %v", start.Format(time.TimeOnly), tc.at, got, tc.want)
		}
	}
	now = start
	other := &dpopNonces{key: []byte("key-two-0123456789abcdef01234567"), now: n.now}
	if other.valid(issued) || n.valid("") || n.valid(issued[1:]) {
		t.Errorf("a nonce of another key, an empty or a cut nonce is valid")
	}
	if n.current() != issued {
		t.Errorf("the nonce changed within its window")
	}
}

func TestRequiresDPoP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		c    storage.Client
		want bool
	}{
		{storage.Client{}, false},
		{storage.Client{DPoPBound: true}, true},
		{storage.Client{Profile: storage.ProfileFAPI2}, true},
		{storage.Client{Profile: "other"}, false},
	} {
		if got := requiresDPoP(tc.c); got != tc.want {
			t.Errorf("requiresDPoP(DPoPBound %v, Profile %q) = %v, want %v", tc.c.DPoPBound, tc.c.Profile, got, tc.want)
		}
	}
}

func TestDPoPCheckBinding(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, bound, proof, want string
	}{
		{"unbound, no proof", "", "", ""},
		{"unbound, a proof", "", "a", ""},
		{"bound, its key", "a", "a", ""},
		{"bound, no proof", "a", "", "invalid_dpop_proof"},
		{"bound, another key", "a", "b", "invalid_grant"},
	} {
		err := checkBinding("the thing", tc.bound, tc.proof)
		got := ""
		if pe, ok := err.(*protocolError); ok {
			got = pe.Code
		} else if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestDPoPSuccessorBinding: rotation keeps a binding, and binds an unbound
// public client's token to the proof that refreshes it (RFC 9449 §5), but
// never a confidential client's.
func TestDPoPSuccessorBinding(t *testing.T) {
	t.Parallel()
	public, confidential := storage.Client{}, storage.Client{SecretHash: "h"}
	for _, tc := range []struct {
		name       string
		old        string
		c          storage.Client
		proof, out string
	}{
		{"bound public", "a", public, "a", "a"},
		{"unbound public with a proof", "", public, "b", "b"},
		{"unbound public without", "", public, "", ""},
		{"confidential with a proof", "", confidential, "b", ""},
		{"bound, now confidential", "a", confidential, "a", "a"},
	} {
		if got := successorJKT(storage.RefreshToken{DPoPJKT: tc.old}, tc.c, tc.proof); got != tc.out {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.out)
		}
	}
}
