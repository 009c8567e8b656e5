// Package setup turns a validated config.Config into a running provider:
// it opens the storage backend, the key-encryption key and the signing keys,
// upserts the clients and users of the file, and builds the authserver.Server.
// cmd/authserver and the end-to-end tests share it, so both start the server
// the same way. It must not import cmd or resource.
package setup

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/authserver-dev/authserver/authserver"
	"github.com/authserver-dev/authserver/authserver/password"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/authserver/storage/sqlstore"
	"github.com/authserver-dev/authserver/config"
	"github.com/authserver-dev/authserver/keys"
	"github.com/authserver-dev/authserver/templates"
)

// App is an opened provider and what it owns.
type App struct {
	Config config.Config
	Server *authserver.Server
	Store  storage.Store
	Keys   *keys.Manager
	// Metrics serves this provider's Prometheus metrics (nil until wired).
	Metrics http.Handler
}

// Options are what the environment, not the file, decides.
type Options struct {
	Logger *slog.Logger
	// Getenv reads AUTHSERVER_KEY_ENCRYPTION_KEY; nil means os.Getenv is not
	// consulted (tests).
	Getenv func(string) string
	Now    func() time.Time
}

// Open builds the provider described by cfg, which must be validated.
func Open(ctx context.Context, cfg config.Config, opts Options) (*App, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	kek, err := keyEncryptionKey(cfg, opts.Getenv)
	if err != nil {
		return nil, err
	}
	store, err := sqlstore.Open(ctx, cfg.Storage.Driver, cfg.Storage.DSN)
	if err != nil {
		return nil, fmt.Errorf("opening %s storage: %w", cfg.Storage.Driver, err)
	}
	app, err := build(ctx, cfg, opts, store, kek)
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	return app, nil
}

// KeyManager loads the signing keys the configuration describes, creating
// what is missing. `authserver keys` uses it too, against a running server's
// database.
func KeyManager(ctx context.Context, cfg config.Config, store keys.Store, opts Options) (*keys.Manager, error) {
	kek, err := keyEncryptionKey(cfg, opts.Getenv)
	if err != nil {
		return nil, err
	}
	return loadKeys(ctx, cfg, opts, store, kek)
}

func loadKeys(ctx context.Context, cfg config.Config, opts Options, store keys.Store, kek []byte) (*keys.Manager, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	t := cfg.Tokens
	km := keys.NewManager(store, kek, cfg.Signing.Algorithms, keys.Options{
		Now:     opts.Now,
		RSABits: cfg.Signing.RSABits,
		Schedule: keys.Schedule{
			RotationPeriod: cfg.Signing.RotationPeriod.Std(),
			PublishLead:    cfg.Signing.PublishLead.Std(),
			// A retired key stays published until every token it signed has
			// expired, with room for relying parties' clock skew.
			RetireAfter: max(t.AccessTokenTTL.Std(), t.IDTokenTTL.Std()) + retireLeeway,
		},
	})
	if err := km.Load(ctx); err != nil {
		return nil, fmt.Errorf("loading signing keys: %w", err)
	}
	return km, nil
}

// retireLeeway covers relying parties whose clocks run behind ours.
const retireLeeway = 5 * time.Minute

func build(ctx context.Context, cfg config.Config, opts Options, store storage.Store, kek []byte) (*App, error) {
	km, err := loadKeys(ctx, cfg, opts, store, kek)
	if err != nil {
		return nil, err
	}
	if err := Seed(ctx, store, cfg); err != nil {
		return nil, err
	}
	pages, err := templates.Load(cfg.UI.TemplatesDir)
	if err != nil {
		return nil, err
	}
	t := cfg.Tokens
	srv, err := authserver.New(authserver.Config{
		Issuer:            cfg.Issuer,
		Store:             store,
		Keys:              km,
		Pages:             pages,
		AccessTokenAlg:    cfg.Signing.AccessAlgorithm(),
		JWKSMaxAge:        cfg.Signing.JWKSMaxAge.Std(),
		IDTokenAlg:        cfg.Signing.IDTokenAlgorithm,
		AccessTokenTTL:    time.Duration(t.AccessTokenTTL),
		IDTokenTTL:        time.Duration(t.IDTokenTTL),
		CodeTTL:           time.Duration(t.AuthCodeTTL),
		SessionTTL:        time.Duration(cfg.Sessions.TTL),
		RefreshTTL:        time.Duration(t.RefreshTokenTTL),
		RefreshIdleTTL:    time.Duration(t.RefreshIdleTTL),
		RefreshReuseGrace: time.Duration(t.RefreshReuseGrace),
		DefaultAudience:   t.DefaultAudience,
		CSRFKey:           derive(kek, "csrf-v1"),
		Logger:            opts.Logger,
		Now:               opts.Now,
	})
	if err != nil {
		return nil, err
	}
	return &App{Config: cfg, Server: srv, Store: store, Keys: km}, nil
}

// Close releases the storage.
func (a *App) Close() error { return a.Store.Close() }

// keyEncryptionKey comes from AUTHSERVER_KEY_ENCRYPTION_KEY, which replicas
// must share; a single process on SQLite keeps one in a file beside its data.
func keyEncryptionKey(cfg config.Config, getenv func(string) string) ([]byte, error) {
	if getenv != nil {
		if v := getenv(keys.KEKEnv); v != "" {
			return keys.ParseKEK(v)
		}
	}
	if cfg.Storage.Driver == "postgres" {
		return nil, errors.New(keys.KEKEnv + " must be set with the postgres driver: every replica must share the key that seals the signing keys")
	}
	return keys.LoadOrCreateKEKFile(cfg.KEKFile())
}

// derive makes an independent key for one purpose from the KEK.
func derive(kek []byte, purpose string) []byte {
	m := hmac.New(sha256.New, kek)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// Seed upserts the clients and users of the configuration file. A user whose
// stored hash already matches the configured password keeps it, so a restart
// does not rewrite every hash.
func Seed(ctx context.Context, store storage.Store, cfg config.Config) error {
	for _, c := range cfg.Clients {
		secretHash := c.SecretHash
		if c.Secret != "" {
			secretHash = storage.Hash(c.Secret)
		}
		err := store.UpsertClient(ctx, storage.Client{
			ID:                     c.ID,
			SecretHash:             secretHash,
			Name:                   c.Name,
			RedirectURIs:           c.RedirectURIs,
			PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
			GrantTypes:             c.GrantTypes,
			Scopes:                 c.Scopes,
			Audience:               c.Audience,
			SkipConsent:            c.SkipConsent,
			CanIntrospect:          c.AllowIntrospection,
			IDTokenAlg:             c.IDTokenSignedResponseAlg,
		})
		if err != nil {
			return fmt.Errorf("seeding client %s: %w", c.ID, err)
		}
	}
	params := password.Params{MemoryKiB: cfg.Passwords.MemoryKiB, Iterations: cfg.Passwords.Iterations, Parallelism: cfg.Passwords.Parallelism}
	for _, u := range cfg.Users {
		hash := u.PasswordHash
		if hash != "" && !password.Valid(hash) {
			return fmt.Errorf("users: password_hash of %s is not an argon2id or bcrypt hash", u.Username)
		}
		if hash == "" {
			existing, err := store.GetUserByUsername(ctx, u.Username)
			if err == nil {
				if ok, _ := password.Verify(existing.PasswordHash, u.Password); ok {
					hash = existing.PasswordHash
				}
			}
			if hash == "" {
				if hash, err = password.Hash(u.Password, params); err != nil {
					return err
				}
			}
		}
		_, err := store.UpsertUser(ctx, storage.User{
			Username:      u.Username,
			PasswordHash:  hash,
			Email:         u.Email,
			EmailVerified: u.EmailVerified,
			Name:          u.Name,
		})
		if err != nil {
			return fmt.Errorf("seeding user %s: %w", u.Username, err)
		}
	}
	return nil
}
