package authserver

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"time"
)

// dpopNonceWindow is how long one server nonce (RFC 9449 §8) is handed out.
// A nonce is accepted in its window and the windows either side of it, so
// it lives one to two windows, and a replica whose clock is a little ahead
// of the one that issued it still accepts it.
const dpopNonceWindow = time.Minute

// dpopNonces makes and checks stateless server nonces: the HMAC of the
// window's number under a key every replica shares (Config.DPoPNonceKey,
// derived from the key-encryption key), so that any replica accepts what
// any other issued, nothing is stored, and a client cannot compute the next
// nonce in advance, which is what nonces are for (§11.2: proofs made ahead
// of time).
type dpopNonces struct {
	key []byte
	now func() time.Time
}

// at is the nonce of window w: 128 bits of the HMAC, base64url, which is
// within the NQCHAR syntax of §8.1.
func (n *dpopNonces) at(w int64) string {
	m := hmac.New(sha256.New, n.key)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(w))
	m.Write(b[:])
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

func (n *dpopNonces) window() int64 {
	return n.now().Unix() / int64(dpopNonceWindow/time.Second)
}

// current is the nonce to hand out now.
func (n *dpopNonces) current() string { return n.at(n.window()) }

// valid reports whether nonce is the nonce of the current window or of one
// next to it. It is the dpop.Request.CheckNonce of every proof the server
// verifies.
func (n *dpopNonces) valid(nonce string) bool {
	if nonce == "" {
		return false
	}
	w := n.window()
	match := 0
	for _, c := range [...]int64{w - 1, w, w + 1} {
		match |= subtle.ConstantTimeCompare([]byte(nonce), []byte(n.at(c)))
	}
	return match == 1
}

// setDPoPNonce adds the current server nonce to a response, when nonces
// are required: to use_dpop_nonce errors, which need it (§8), and to every
// other answer of an endpoint that checks proofs, so that a client always
// has a fresh one for its next request (§8.2).
func (s *Server) setDPoPNonce(w http.ResponseWriter) {
	if s.dpopNonces != nil {
		w.Header().Set("DPoP-Nonce", s.dpopNonces.current())
	}
}
