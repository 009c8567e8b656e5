package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authserver-dev/authserver/authserver/observe/observetest"
	"github.com/authserver-dev/authserver/cmd/authserver/internal/proctest"
)

// The real binary with admin.listen serves the admin API on that address
// only: its OpenAPI document without a token, its operations with a token
// of the admin client from the public token endpoint. The issuer is a
// public URL that does not resolve, as behind a proxy: the API verifies
// its tokens in-process, so it works all the same.
func TestServeAdminAPI(t *testing.T) {
	t.Parallel()
	bin := proctest.Build(t)
	dir := t.TempDir()
	addr, adminAddr := proctest.FreeAddr(t), proctest.FreeAddr(t)
	yaml := fmt.Sprintf(`listen: %s
issuer: https://auth.invalid
storage: {dsn: %s}
observability: {metrics_listen: "off"}
passwords: {memory_kib: 64, iterations: 1, parallelism: 1}
admin: {listen: %s}
clients:
  - id: admin-cli
    secret: admin-cli-secret-0123456789abcdefghij
    grant_types: [client_credentials]
    scopes: [admin]
    audience: [urn:authserver:admin]
`, addr, filepath.Join(dir, "data", "auth.db"), adminAddr)
	path := filepath.Join(dir, "authserver.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	p := proctest.Start(t, bin, []string{"serve", "--config", path}, nil, &observetest.Logs{})
	plain := &http.Client{Timeout: 5 * time.Second}
	p.AwaitOK(t, plain, "http://"+adminAddr+"/admin/v1/openapi.json")
	p.AwaitLog(t, "admin API listening")
	p.AwaitLog(t, adminAddr)

	resp, err := plain.Get("http://" + addr + "/admin/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("the public listener answers the admin path with %d, want 404", resp.StatusCode)
	}

	cc := clientcredentials.Config{ClientID: "admin-cli", ClientSecret: "admin-cli-secret-0123456789abcdefghij",
		TokenURL: "http://" + addr + "/token", Scopes: []string{"admin"}}
	api := &http.Client{Timeout: 5 * time.Second, Transport: &oauth2.Transport{Source: cc.TokenSource(t.Context())}}
	resp, err = api.Get("http://" + adminAddr + "/admin/v1/clients")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var list struct {
		Clients []struct {
			ID    string `json:"id"`
			Owner string `json:"owner"`
		} `json:"clients"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &list) != nil || len(list.Clients) != 1 || list.Clients[0].ID != "admin-cli" {
		t.Fatalf("GET /admin/v1/clients: %d %s", resp.StatusCode, b)
	}

	resp, err = plain.Get("http://" + adminAddr + "/admin/v1/clients")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("without a token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}
