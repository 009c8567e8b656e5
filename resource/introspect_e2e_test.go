package resource_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/resource"
)

// TestIntrospectionWithRealProvider gets a client-credentials token from a
// real provider, calls an API in introspection mode, revokes the token, and
// checks when the API stops accepting it: at once without a cache, after
// CacheTTL with one.
func TestIntrospectionWithRealProvider(t *testing.T) {
	const audience = "https://api.example.com" // the service client's audience in authtest
	p := authtest.Start(t, nil)
	ctx := context.Background()
	cc := &clientcredentials.Config{ClientID: "service", ClientSecret: "service-secret-0123456789abcdefghij",
		TokenURL: p.URL + "/token", Scopes: []string{"api.read"}}

	cases := []struct {
		name     string
		cacheTTL time.Duration
		// afterRevoke is the status of the first call after the revocation;
		// with a cache the token keeps working until CacheTTL has passed.
		afterRevoke int
	}{
		{name: "no cache: revocation is seen at once", cacheTTL: -1, afterRevoke: http.StatusUnauthorized},
		{name: "cache: revocation is seen after CacheTTL", cacheTTL: 10 * time.Second, afterRevoke: http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := newFakeClock()
			clock.set(time.Now()) // the provider's tokens are judged against real time
			in, err := resource.NewIntrospector(ctx, resource.IntrospectionConfig{
				Issuer: p.URL, Audience: audience, ClientID: "service", ClientSecret: "service-secret-0123456789abcdefghij",
				CacheTTL: c.cacheTTL, Now: clock.Now, Logger: discardLogger(),
			})
			if err != nil {
				t.Fatal(err)
			}
			api := httptest.NewServer(resource.RequireScope(in, "api.read", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				claims, _ := resource.ClaimsFromContext(r.Context())
				if claims.ClientID != "service" || claims.Subject != "service" {
					t.Errorf("claims = %+v", claims)
				}
			})))
			defer api.Close()

			tok, err := cc.Token(ctx)
			if err != nil {
				t.Fatalf("client credentials grant: %v", err)
			}
			call := func(wantStatus int, when string) {
				t.Helper()
				req, _ := http.NewRequest(http.MethodGet, api.URL, nil)
				req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != wantStatus {
					t.Fatalf("%s: status %d (%s), want %d", when, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), wantStatus)
				}
			}

			call(http.StatusOK, "before revocation")
			revoke(t, p.URL, tok.AccessToken)
			call(c.afterRevoke, "right after revocation")
			clock.advance(c.cacheTTL)
			call(http.StatusUnauthorized, "CacheTTL after revocation")
		})
	}
}

// revoke revokes token as the service client (RFC 7009).
func revoke(t *testing.T, providerURL, token string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, providerURL+"/revoke", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("service", "service-secret-0123456789abcdefghij")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revocation: status %d", resp.StatusCode)
	}
}
