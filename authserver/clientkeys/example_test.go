package clientkeys_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authserver-dev/authserver/authserver/clientkeys"
)

// A token endpoint authenticating a private_key_jwt client. The client's
// metadata gives its keys (jwks here; jwks_uri goes through the same
// Resolve); the endpoint's own URL and the issuer are the audiences.
func Example_tokenEndpoint() {
	verifier, _ := clientkeys.NewVerifier(clientkeys.Config{}) // one per server
	cache, _ := clientkeys.NewCache(clientkeys.CacheConfig{})  // one per server
	clientJWKS := exampleJWKS()                                // from the client's metadata

	token := func(w http.ResponseWriter, r *http.Request) {
		if r.PostFormValue("client_assertion_type") != clientkeys.AssertionType {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		assertion := r.PostFormValue("client_assertion")
		clientID := r.PostFormValue("client_id")
		if clientID == "" {
			clientID, _ = clientkeys.UnverifiedClientID(assertion) // only to find the client
		}
		keys, err := cache.Resolve(clientJWKS, "")
		if err != nil {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		a, err := verifier.VerifyAssertion(r.Context(), assertion, clientID, keys,
			[]string{"https://as.example.com", "https://as.example.com/token"}, clientkeys.AssertionPolicy{})
		var refused *clientkeys.Error
		switch {
		case errors.As(err, &refused):
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":%q,"error_description":%q}`, refused.Code, refused.Reason)
		case err != nil:
			http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
		default:
			fmt.Fprintf(w, "authenticated %s with key %s", a.ClientID, a.KeyID)
		}
	}

	form := url.Values{"client_assertion_type": {clientkeys.AssertionType}, "client_assertion": {exampleAssertion()}}
	r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	token(w, r.WithContext(context.Background()))
	fmt.Println(w.Body.String())
	// Output: authenticated client-1 with key ec
}

func exampleJWKS() []byte {
	b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: testKeys()["P-256"].Public(), KeyID: "ec"}}})
	return b
}

// exampleAssertion is what the client sends, signed with its private key.
func exampleAssertion() string {
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: testKeys()["P-256"]},
		(&jose.SignerOptions{}).WithHeader("kid", "ec"))
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{
		"iss": "client-1", "sub": "client-1", "aud": "https://as.example.com",
		"jti": "example-1", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	})
	jws, _ := signer.Sign(claims)
	out, _ := jws.CompactSerialize()
	return out
}
