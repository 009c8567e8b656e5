package resource_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

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

// An API that must stop accepting a token as soon as it is revoked asks the
// provider about each token instead; answers are cached for CacheTTL, the
// longest a revoked token keeps working here.
func ExampleNewIntrospector() {
	in, err := resource.NewIntrospector(context.Background(), resource.IntrospectionConfig{
		Issuer:       "http://127.0.0.1:9096",
		Audience:     "http://127.0.0.1:9095",
		ClientID:     "sample-api", // a client the provider allows to introspect
		ClientSecret: os.Getenv("RESOURCE_CLIENT_SECRET"),
		CacheTTL:     5 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	// Same routes as with a Verifier: both are TokenVerifiers.
	mux.Handle("POST /api/payments", resource.RequireScope(in, "api.write", http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			claims, _ := resource.ClaimsFromContext(r.Context())
			fmt.Fprintf(w, "payment accepted for %s\n", claims.Subject)
		})))
	log.Fatal(http.ListenAndServe("127.0.0.1:9095", mux))
}

// Behind a reverse proxy that terminates TLS and forwards
// https://example.com/api/... to this process without the /api prefix, the
// API tells the middleware the URL its clients use: their DPoP proofs name
// it. DPoP-bound tokens are then accepted on every route with the DPoP
// scheme and a proof, and refused as Bearer tokens; plain bearer tokens
// keep working unless Required is set.
func ExampleDPoPConfig() {
	v, err := resource.NewVerifier(context.Background(), resource.Config{
		Issuer:   "https://login.example.com",
		Audience: "https://example.com/api",
		DPoP:     resource.DPoPConfig{PublicURL: "https://example.com/api"},
	})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /profile", v.RequireScope("api.read", http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			claims, _ := resource.ClaimsFromContext(r.Context())
			fmt.Fprintf(w, "hello %s (key %s)\n", claims.Subject, claims.Confirmation.JKT)
		})))
	log.Fatal(http.ListenAndServe("127.0.0.1:9095", mux))
}
