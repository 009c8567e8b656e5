package authserver_test

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authserver-dev/authserver/authserver"
	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/keys"
	"github.com/authserver-dev/authserver/templates"
)

// probe GETs a URL and returns its status, headers and body.
func probe(t *testing.T, u string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

// readyBody decodes a /readyz answer, which must be JSON whatever its status.
func readyBody(t *testing.T, h http.Header, body string) map[string]string {
	t.Helper()
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("/readyz Content-Type %q, want application/json", ct)
	}
	var v map[string]string
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("/readyz body %q: %v", body, err)
	}
	return v
}

// TestReadyzWhenReadyAndWhenTheStoreIsGone checks both probes on a working
// provider, at the root and under an issuer path, then closes the store
// under it: /healthz stays 200 (the process is fine, a restart would not
// help) while /readyz turns 503 with a reason that names the store and
// nothing of its location.
func TestReadyzWhenReadyAndWhenTheStoreIsGone(t *testing.T) {
	t.Parallel()
	for _, base := range []string{"", "/auth"} {
		t.Run("base="+base, func(t *testing.T) {
			t.Parallel()
			p := startAt(t, base)
			root := p.Server.URL
			for _, u := range []string{root + "/readyz", p.URL + "/readyz"} {
				status, h, body := probe(t, u)
				if status != http.StatusOK {
					t.Fatalf("GET %s: %d %s", u, status, body)
				}
				if got := readyBody(t, h, body); got["status"] != "ready" || len(got) != 1 {
					t.Fatalf("GET %s: %v, want {status: ready}", u, got)
				}
				if h.Get("Cache-Control") != "no-store" {
					t.Errorf("GET %s: Cache-Control %q, a probe must not be cached", u, h.Get("Cache-Control"))
				}
			}

			if err := p.App.Store.Close(); err != nil {
				t.Fatal(err)
			}
			for _, u := range []string{root + "/readyz", p.URL + "/readyz"} {
				status, h, body := probe(t, u)
				if status != http.StatusServiceUnavailable {
					t.Fatalf("GET %s with the store closed: %d %s, want 503", u, status, body)
				}
				got := readyBody(t, h, body)
				if got["status"] != "unavailable" || !strings.HasPrefix(got["reason"], "store: ") {
					t.Fatalf("GET %s: %v, want status unavailable and a store reason", u, got)
				}
				if strings.Contains(body, p.Config.Storage.DSN) || strings.Contains(body, "sql:") {
					t.Errorf("the reason leaks the store's details: %s", body)
				}
				if h.Get("Retry-After") == "" {
					t.Errorf("GET %s: 503 without Retry-After", u)
				}
			}
			for _, u := range []string{root + "/healthz", p.URL + "/healthz"} {
				if status, _, body := probe(t, u); status != http.StatusOK || body != "ok\n" {
					t.Errorf("GET %s with the store closed: %d %q, want 200 ok: the process is up", u, status, body)
				}
			}
		})
	}
}

// TestReadyzWithoutSigningKeys builds a server whose key manager was never
// loaded: it cannot sign a token, so it is not ready, and says why.
func TestReadyzWithoutSigningKeys(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, nil)
	pages, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	csrf := make([]byte, 32)
	_, _ = rand.Read(csrf)
	unloaded := keys.NewManager(p.App.Store, kek, []string{"ES256", "RS256"}, keys.Options{})
	srv, err := authserver.New(authserver.Config{
		Issuer: "http://127.0.0.1:1", Store: p.App.Store, Keys: unloaded, Pages: pages,
		AccessTokenAlg: "ES256", IDTokenAlg: "RS256", CSRFKey: csrf,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	status, h, body := probe(t, ts.URL+"/readyz")
	got := readyBody(t, h, body)
	if status != http.StatusServiceUnavailable || got["status"] != "unavailable" ||
		got["reason"] != "signing keys: no active key loaded for ES256, RS256" {
		t.Fatalf("readyz without keys: %d %v", status, got)
	}
}
