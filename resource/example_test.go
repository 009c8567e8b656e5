package resource_test

import (
	"context"
	"fmt"
	"log"
	"net/http"

	"github.com/authserver-dev/authserver/resource"
)

// A third-party API protects its handlers with tokens from the provider at
// http://127.0.0.1:9096: discovery and keys are fetched once, then each
// request is verified locally.
func Example() {
	v, err := resource.NewVerifier(context.Background(), resource.Config{
		Issuer:   "http://127.0.0.1:9096",
		Audience: "http://127.0.0.1:9095", // this API, as named in the tokens' aud
	})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /api/profile", v.RequireScope("api.read", http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			claims, _ := resource.ClaimsFromContext(r.Context())
			fmt.Fprintf(w, "hello %s\n", claims.Subject)
		})))
	log.Fatal(http.ListenAndServe("127.0.0.1:9095", mux))
}
