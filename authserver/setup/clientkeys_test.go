package setup_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authserver-dev/authserver/authserver/setup"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/authserver/storage/sqlstore"
	"github.com/authserver-dev/authserver/config"
)

// seedConfig is the demo configuration on a fresh SQLite file, with one
// private_key_jwt client svc whose key is key.
func seedConfig(t *testing.T, key map[string]any) (config.Config, *sqlstore.Store) {
	t.Helper()
	cfg := config.Default()
	cfg.Storage.DSN = filepath.Join(t.TempDir(), "authserver.db")
	cfg.Passwords = config.Passwords{MemoryKiB: 64, Iterations: 1, Parallelism: 1}
	cfg.Clients = append(cfg.Clients, config.Client{
		ID: "svc", TokenEndpointAuthMethod: config.AuthPrivateKeyJWT, GrantTypes: []string{"client_credentials"},
		Scopes: []string{"api.read"}, JWKS: map[string]any{"keys": []any{key}},
		RequirePushedAuthorizationRequests: true, DPoPBoundAccessTokens: true,
	})
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test configuration: %v", err)
	}
	store, err := sqlstore.Open(context.Background(), "sqlite", cfg.Storage.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return cfg, store
}

// The P-256 key of RFC 7517 §A.2: the public members, and d.
func p256Key(private bool) map[string]any {
	k := map[string]any{"kty": "EC", "crv": "P-256", "kid": "k1",
		"x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4", "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}
	if private {
		k["d"] = "870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE"
	}
	return k
}

// Seed stores a file client's new metadata, its jwks as the JSON of the
// file's mapping.
func TestSeedStoresClientKeys(t *testing.T) {
	t.Parallel()
	cfg, store := seedConfig(t, p256Key(false))
	if err := setup.Seed(context.Background(), store, cfg, setup.Options{Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	st, err := store.GetClient(context.Background(), "svc")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"keys":[{"crv":"P-256","kid":"k1","kty":"EC","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}]}`
	if st.JWKS != want || st.TokenEndpointAuthMethod != storage.AuthPrivateKeyJWT || st.SecretHash != "" || !st.RequirePAR || !st.DPoPBound ||
		st.Owner != storage.OwnerFile || st.Public() {
		t.Errorf("stored %+v\nwant jwks %s", st, want)
	}
	if demo, _ := store.GetClient(context.Background(), "demo-web"); demo.JWKS != "" || demo.TokenEndpointAuthMethod != "" {
		t.Errorf("demo-web got keys or a method: %+v", demo)
	}
}

// A file client's jwks that the configuration's rules pass but that holds
// a private key stops the start, naming the key, before anything is
// written.
func TestSeedRefusesPrivateClientKeys(t *testing.T) {
	t.Parallel()
	cfg, store := seedConfig(t, p256Key(true))
	err := setup.Seed(context.Background(), store, cfg, setup.Options{Logger: slog.New(slog.DiscardHandler)})
	var ve *config.ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Field != "clients[1].jwks.keys[0]" ||
		!strings.Contains(ve.Problems[0].Message, "private key") {
		t.Fatalf("Seed = %v, want one problem on clients[1].jwks.keys[0] about the private key", err)
	}
	if !strings.HasPrefix(err.Error(), "clients[1].jwks.keys[0]: holds a private key") {
		t.Errorf("message %q", err)
	}
	clients, err := store.ListClients(context.Background())
	if err != nil || len(clients) != 0 {
		t.Errorf("Seed wrote %d clients (%v) before refusing", len(clients), err)
	}
}
