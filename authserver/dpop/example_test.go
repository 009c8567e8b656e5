package dpop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"log"

	"github.com/authserver-dev/authserver/authserver/dpop"
)

// A client makes a proof for each request; the server verifies it against
// the request and the token's cnf.jkt.
func Example() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	signer, err := dpop.NewSigner(key, "") // ES256
	if err != nil {
		log.Fatal(err)
	}
	const token = "the-access-token"
	proof, err := signer.Proof("GET", "https://api.example.com/profile", dpop.ProofOptions{AccessToken: token})
	if err != nil {
		log.Fatal(err)
	}

	verifier, err := dpop.NewVerifier(dpop.Config{})
	if err != nil {
		log.Fatal(err)
	}
	req := dpop.Request{
		Proofs:      []string{proof}, // r.Header.Values("DPoP")
		Method:      "GET",
		URL:         "https://api.example.com/profile",
		AccessToken: token,
		JKT:         signer.Thumbprint(), // the token's cnf.jkt
	}
	if _, err := verifier.Verify(context.Background(), req); err != nil {
		log.Fatal(err)
	}
	fmt.Println("accepted")

	// The same proof again is a replay.
	_, err = verifier.Verify(context.Background(), req)
	var e *dpop.Error
	fmt.Println(errors.As(err, &e), e.Code, errors.Is(err, dpop.ErrReplayed))
	// Output:
	// accepted
	// true invalid_dpop_proof true
}
