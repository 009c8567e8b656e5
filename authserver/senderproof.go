package authserver

import (
	"context"
	"net/http"
	"time"

	"github.com/authserver-dev/authserver/authserver/dpop"
	"github.com/authserver-dev/authserver/authserver/storage"
)

// storeReplay is the replay cache of DPoP proofs and client assertions in
// the store, so that a proof or assertion accepted by one replica is
// refused by every other (RFC 9449 §11.1, RFC 7523 §3 item 7).
type storeReplay struct {
	store storage.ReplayStore
	now   func() time.Time
}

// Seen implements dpop.ReplayCache (and clientkeys.ReplayCache).
func (r storeReplay) Seen(ctx context.Context, id string, exp time.Time) (bool, error) {
	return r.store.SeenOnce(ctx, storage.Hash("replay:"+id), exp, r.now())
}

// setupDPoP builds the server's proof verifier from its Config and, when
// DPoPRequireNonce is set, its server nonces (dpopnonce.go), under
// DPoPNonceKey or, without one, a random key (one process only).
func (s *Server) setupDPoP() error {
	v, err := dpop.NewVerifier(dpop.Config{
		Algorithms:  s.cfg.DPoPAlgorithms,
		MaxAge:      s.cfg.DPoPProofMaxAge,
		Now:         s.now,
		ReplayCache: storeReplay{store: s.store, now: s.now},
	})
	if err != nil {
		return err
	}
	s.dpop = v
	if s.cfg.DPoPRequireNonce {
		key := s.cfg.DPoPNonceKey
		if len(key) == 0 {
			key = []byte(randomToken())
		}
		s.dpopNonces = &dpopNonces{key: key, now: s.now}
		s.checkDPoPNonce = s.dpopNonces.valid
	}
	return nil
}

// dpopProof checks the request's DPoP proof, if it sent one, for a request
// to the endpoint at endpointURL (htu), presenting accessToken ("" at the
// token and PAR endpoints) bound to jkt ("" for none). It returns nil, nil
// when the request has no DPoP header. A refused proof is a *dpop.Error
// (invalid_dpop_proof or use_dpop_nonce); any other error means the replay
// cache could not decide.
func (s *Server) dpopProof(r *http.Request, endpointURL, accessToken, jkt string) (*dpop.Proof, error) {
	proofs := r.Header.Values("DPoP")
	if len(proofs) == 0 {
		return nil, nil
	}
	return s.dpop.Verify(r.Context(), dpop.Request{
		Proofs: proofs, Method: r.Method, URL: endpointURL, AccessToken: accessToken, JKT: jkt,
		CheckNonce: s.checkDPoPNonce,
	})
}
