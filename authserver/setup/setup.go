// Package setup turns a validated config.Config into a running provider:
// it opens the storage backend, the key-encryption key and the signing keys,
// upserts the clients and users of the file, and builds the authserver.Server.
// cmd/authserver and the end-to-end tests share it, so both start the server
// the same way. It must not import cmd; it reaches package resource only
// through adminapi, whose tokens resource verifies.
package setup

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"time"

	"github.com/authserver-dev/authserver/authserver"
	"github.com/authserver-dev/authserver/authserver/admin"
	"github.com/authserver-dev/authserver/authserver/adminapi"
	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/password"
	"github.com/authserver-dev/authserver/authserver/registration"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/authserver/storage/sqlstore"
	"github.com/authserver-dev/authserver/authserver/throttle"
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
	// Metrics serves this provider's Prometheus metrics (its own registry),
	// for the observability.metrics_listen listener.
	Metrics http.Handler
	// Admin is the administration service on this provider's store, keys
	// and configuration.
	Admin *admin.Service
	// AdminAPI serves /admin/v1/ for the admin.listen listener; nil when
	// admin.listen is empty (the API is off).
	AdminAPI http.Handler
}

// Options are what the environment, not the file, decides.
type Options struct {
	Logger *slog.Logger
	// Getenv reads AUTHSERVER_KEY_ENCRYPTION_KEY; nil means os.Getenv is not
	// consulted (tests).
	Getenv func(string) string
	Now    func() time.Time
	// ConfigSource names the configuration in messages about the entries
	// it owns: its file's path, or "the embedded demo configuration". Empty
	// means "the configuration file".
	ConfigSource string
}

func (o Options) source() string {
	if o.ConfigSource == "" {
		return "the configuration file"
	}
	return o.ConfigSource
}

// Open builds the provider described by cfg, which must be validated.
func Open(ctx context.Context, cfg config.Config, opts Options) (*App, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	store, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// The store comes first: whether a missing key-encryption key may be
	// created depends on what it holds.
	kek, err := keyEncryptionKey(ctx, cfg, opts, store)
	if err != nil {
		_ = store.Close()
		return nil, err
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
	kek, err := keyEncryptionKey(ctx, cfg, opts, store)
	if err != nil {
		return nil, err
	}
	return loadKeys(ctx, cfg, opts, store, kek)
}

func loadKeys(ctx context.Context, cfg config.Config, opts Options, store keys.Store, kek kekFrom) (*keys.Manager, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	t := cfg.Tokens
	km := keys.NewManager(store, kek.key, cfg.Signing.Algorithms, keys.Options{
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
		if errors.Is(err, keys.ErrWrongKEK) {
			return nil, fmt.Errorf("the signing keys in the database do not open with the key-encryption key from %s: it is not the key they were sealed with "+
				"(every process on this database must use the same one). Use the key that was in use when they were created: restore it from the backup "+
				"taken with the database, or set the source that held it. %s (%w)", kek.source, lostKEK(cfg), err)
		}
		return nil, fmt.Errorf("loading signing keys: %w", err)
	}
	return km, nil
}

// retireLeeway covers relying parties whose clocks run behind ours.
const retireLeeway = 5 * time.Minute

func build(ctx context.Context, cfg config.Config, opts Options, store storage.Store, kek kekFrom) (*App, error) {
	km, err := loadKeys(ctx, cfg, opts, store, kek)
	if err != nil {
		return nil, err
	}
	if err := Seed(ctx, store, cfg, opts); err != nil {
		return nil, err
	}
	pages, err := templates.Load(cfg.UI.TemplatesDir)
	if err != nil {
		return nil, err
	}
	proxies := make([]netip.Prefix, 0, len(cfg.Server.TrustedProxies))
	for _, p := range cfg.Server.TrustedProxies {
		prefix, err := config.ParseTrustedProxy(p)
		if err != nil { // Validate has refused it already
			return nil, fmt.Errorf("server.trusted_proxies: %w", err)
		}
		proxies = append(proxies, prefix)
	}
	metrics := observe.NewMetrics()
	svc := admin.New(admin.Options{Store: store, Config: cfg, Keys: km, Logger: opts.Logger, Now: opts.Now, ConfigSource: opts.source()})
	reg, err := registrationHandler(cfg, svc, store, opts)
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
		CSRFKey:           derive(kek.key, "csrf-v1"),
		RefreshKey:        derive(kek.key, "refresh-successor-v1"),
		TrustedProxies:    proxies,
		Throttle:          throttlePolicies(cfg.Security.Throttle),
		IPHashSlots:       cfg.Security.Throttle.IPHashSlots,
		PasswordParams:    passwordParams(cfg.Passwords),
		ScopeDescriptions: scopeDescriptions(cfg.Scopes),
		DPoPAlgorithms:    cfg.DPoP.Algorithms,
		DPoPProofMaxAge:   cfg.DPoP.ProofMaxAge.Std(),
		DPoPRequireNonce:  cfg.DPoP.RequireNonce,
		DPoPNonceKey:      derive(kek.key, "dpop-nonce-v1"),
		PARRequired:       cfg.PAR.Required,
		PARTTL:            cfg.PAR.RequestURITTL.Std(),
		WebAuthnRPID:      cfg.WebAuthnRPID(),
		WebAuthnRPName:    cfg.WebAuthn.RPName,
		WebAuthnOrigins:   cfg.WebAuthnOrigins(),
		MFAKey:            derive(kek.key, "mfa-v1"),
		Registration:      reg,
		Metrics:           metrics,
		Logger:            opts.Logger,
		Now:               opts.Now,
	})
	if err != nil {
		return nil, err
	}
	app := &App{Config: cfg, Server: srv, Store: store, Keys: km, Metrics: metrics.Handler()}
	app.Admin = svc
	if cfg.Admin.Listen != "" {
		// The API verifies its tokens against this very provider, served
		// in-process: it never depends on reaching the public URL.
		app.AdminAPI, err = adminapi.New(ctx, adminapi.Config{
			Service: app.Admin, Store: store, Issuer: cfg.Issuer, Audience: cfg.Admin.Audience,
			Provider: srv, Logger: opts.Logger, Metrics: metrics, Now: opts.Now,
		})
		if err != nil {
			return nil, fmt.Errorf("admin API: %w", err)
		}
	}
	return app, nil
}

// registrationHandler is the dynamic registration endpoint
// (registration.mode), nil when it is off. It fails when registration is on
// but tokens.default_audience is empty, the audience of registered clients.
func registrationHandler(cfg config.Config, svc *admin.Service, store storage.Store, opts Options) (http.Handler, error) {
	if cfg.Registration.Mode == config.RegistrationOff {
		return nil, nil
	}
	h, err := registration.New(registration.Options{Service: svc, Clients: store, Config: cfg, Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// throttlePolicies maps security.throttle to the back-off of each counter;
// nil (off) when throttling is disabled.
func throttlePolicies(th config.Throttle) map[throttle.Kind]throttle.Policy {
	if !th.On() {
		return nil
	}
	policy := func(free int) throttle.Policy {
		return throttle.Policy{Free: free, Base: th.BaseDelay.Std(), Max: th.MaxDelay.Std(), ResetAfter: th.ResetAfter.Std()}
	}
	return map[throttle.Kind]throttle.Policy{
		throttle.KindUsername: policy(th.FreeFailures),
		throttle.KindIP:       policy(th.IPFreeFailures),
		throttle.KindClient:   policy(th.ClientFreeFailures),
	}
}

// scopeDescriptions maps scopes[] to the words the pages show.
func scopeDescriptions(scopes []config.Scope) map[string]string {
	m := make(map[string]string, len(scopes))
	for _, sc := range scopes {
		m[sc.Name] = sc.Description
	}
	return m
}

func passwordParams(p config.Passwords) password.Params {
	return password.Params{MemoryKiB: p.MemoryKiB, Iterations: p.Iterations, Parallelism: p.Parallelism}
}

// Close releases the storage.
func (a *App) Close() error { return a.Store.Close() }

// OpenStore opens (and migrates) the storage backend the configuration
// names, with its durability settings. The admin commands use it too, so
// that they write as durably as the server.
func OpenStore(ctx context.Context, cfg config.Config) (*sqlstore.Store, error) {
	store, err := sqlstore.OpenWith(ctx, cfg.Storage.Driver, cfg.Storage.DSN, sqlstore.Options{SQLiteSynchronous: cfg.Storage.SQLiteSynchronous})
	if err != nil {
		return nil, fmt.Errorf("opening %s storage: %w", cfg.Storage.Driver, err)
	}
	return store, nil
}

// kekFrom is the key-encryption key and where it came from, which every
// error about it names.
type kekFrom struct {
	key    []byte
	source string
}

// lostKEK is the way out when the key-encryption key is lost for good. A
// PostgreSQL DSN is not repeated: it may hold a password.
func lostKEK(cfg config.Config) string {
	del := `psql "$DSN" -c 'DELETE FROM signing_keys;'`
	if cfg.Storage.Driver == "sqlite" {
		del = "sqlite3 " + cfg.Storage.DSN + " 'DELETE FROM signing_keys;'"
	}
	return "If it is lost for good, stop every server on this database, delete the signing keys (" + del + ") and start again: " +
		"new keys are created, and every access and ID token issued so far stops verifying (refresh tokens and sessions stay valid)."
}

// keyEncryptionKey finds the key that seals the signing keys:
// AUTHSERVER_KEY_ENCRYPTION_KEY if set (replicas can share it without a
// file), else the file config.KEKFile names. A missing file is created only
// when the store holds no sealed key: a new key could open none of them, and
// the only way on would be to replace them, invalidating every token they
// signed; that is the operator's decision, never a side effect of a lost
// file. PostgreSQL has no default file: its replicas run on several machines,
// which must each be given the same key.
func keyEncryptionKey(ctx context.Context, cfg config.Config, opts Options, store keys.Store) (kekFrom, error) {
	if opts.Getenv != nil {
		if v := opts.Getenv(keys.KEKEnv); v != "" {
			kek, err := keys.ParseKEK(v)
			return kekFrom{kek, "the environment variable " + keys.KEKEnv}, err
		}
	}
	if cfg.Storage.Driver == "postgres" && cfg.Signing.KeyEncryptionKeyFile == "" {
		return kekFrom{}, errors.New("the postgres driver needs a key-encryption key shared by every replica: set " + keys.KEKEnv +
			" (base64 of 32 bytes, e.g. `openssl rand -base64 32`) or signing.key_encryption_key_file (a file holding it)")
	}
	path := cfg.KEKFile()
	from := kekFrom{source: "the file " + path + " (signing.key_encryption_key_file)"}
	kek, err := keys.ReadKEKFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		from.key = kek
		return from, err
	}
	recs, err := store.ListSigningKeys(ctx)
	if err != nil {
		return kekFrom{}, fmt.Errorf("checking for sealed signing keys: %w", err)
	}
	if len(recs) > 0 {
		return kekFrom{}, fmt.Errorf("the database holds %d sealed signing keys, but the key-encryption key file %s does not exist and %s is not set; "+
			"refusing to create a new key-encryption key, which could not open them. Restore %s from the backup taken with the database "+
			"(or set %s to the key they were sealed with). %s", len(recs), path, keys.KEKEnv, path, keys.KEKEnv, lostKEK(cfg))
	}
	if from.key, err = keys.CreateKEKFile(path); err != nil {
		return kekFrom{}, err
	}
	if opts.Logger != nil {
		opts.Logger.Info("created a new key-encryption key: back it up with the database, whose signing keys open only with it (replicas must all have the same file)", "file", path)
	}
	return from, nil
}

// derive makes an independent key for one purpose from the KEK.
func derive(kek []byte, purpose string) []byte {
	m := hmac.New(sha256.New, kek)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// StandardClaims is the stored form of a user's configured claims; the CLI
// maps its --claims the same way.
func StandardClaims(c config.UserClaims) storage.StandardClaims {
	out := storage.StandardClaims{
		GivenName: c.GivenName, FamilyName: c.FamilyName, MiddleName: c.MiddleName, Nickname: c.Nickname,
		Profile: c.Profile, Picture: c.Picture, Website: c.Website, Gender: c.Gender, Birthdate: c.Birthdate,
		Zoneinfo: c.Zoneinfo, Locale: c.Locale, PhoneNumber: c.PhoneNumber, PhoneNumberVerified: c.PhoneNumberVerified,
	}
	if a := storage.Address(c.Address); a != (storage.Address{}) {
		out.Address = &a
	}
	return out
}

// sameClient reports whether next changes none of what the file declares
// for the stored client a (lists compared by content: the store gives an
// empty list where the file has none).
func sameClient(a, next storage.Client) bool {
	a.CreatedAt, a.UpdatedAt, next.CreatedAt, next.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	for _, l := range []*[]string{&a.RedirectURIs, &a.PostLogoutRedirectURIs, &a.GrantTypes, &a.Scopes, &a.Audience, &a.DefaultACRValues,
		&next.RedirectURIs, &next.PostLogoutRedirectURIs, &next.GrantTypes, &next.Scopes, &next.Audience, &next.DefaultACRValues} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	return reflect.DeepEqual(a, next)
}

// sameUser reports whether next changes none of what the file declares for
// the stored user a.
func sameUser(a, next storage.User) bool {
	return a.PasswordHash == next.PasswordHash && a.Email == next.Email && a.EmailVerified == next.EmailVerified &&
		a.Name == next.Name && a.Owner == next.Owner && a.Disabled == next.Disabled && a.RequireMFA == next.RequireMFA &&
		reflect.DeepEqual(a.Claims, next.Claims)
}

// Seed makes the clients and users that the configuration file owns exactly
// what cfg declares: configuration is declarative. Each declared entry is
// upserted as storage.OwnerFile; each file-owned entry no longer declared is
// deleted, and with it everything it was issued (storage DeleteClient and
// DeleteUser cascade), so that removing an entry from the file and
// restarting ends it. Entries made with the CLI (storage.OwnerDatabase) are
// never changed or deleted; a declared entry whose id the database already
// owns is an error that names both, before anything is written. Entries from
// before ownership was recorded (storage.OwnerUnknown) are taken over when
// declared and otherwise handed to the database, with a warning.
//
// A user whose stored hash already matches the configured password keeps
// it, so a restart does not rewrite every hash (it is re-hashed when the
// passwords.* parameters changed, which is no password change); a different
// password is a password change (storage SetUserPassword), which ends the
// user's sessions and revokes their refresh tokens; so is a user the file
// now disables (storage SetUserDisabled).
func Seed(ctx context.Context, store storage.Store, cfg config.Config, opts Options) error {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log, src, now := opts.Logger, opts.source(), opts.Now()
	jwks, err := fileClientKeys(cfg.Clients)
	if err != nil {
		return err
	}
	clients, err := store.ListClients(ctx)
	if err != nil {
		return fmt.Errorf("seeding clients: %w", err)
	}
	users, err := store.ListUsers(ctx)
	if err != nil {
		return fmt.Errorf("seeding users: %w", err)
	}
	storedClients := make(map[string]storage.Client, len(clients))
	for _, c := range clients {
		storedClients[c.ID] = c
	}
	storedUsers := make(map[string]storage.User, len(users))
	for _, u := range users {
		storedUsers[u.Username] = u
	}

	// A client's own tokens carry its id as sub (client credentials), the
	// claim that names users everywhere else: no client may take a user's id.
	userIDs := make(map[string]string, len(users))
	for _, u := range users {
		userIDs[u.ID] = u.Username
	}
	for _, c := range cfg.Clients {
		if name, ok := userIDs[c.ID]; ok {
			return fmt.Errorf("clients: id %s is also the id (sub) of user %s; client ids and user ids share the sub claim of tokens: give the client another id", c.ID, name)
		}
	}

	// Collisions first: a start that cannot apply the whole file applies
	// none of it.
	var clash []string
	for _, c := range cfg.Clients {
		if st, ok := storedClients[c.ID]; ok && st.Owner == storage.OwnerDatabase {
			clash = append(clash, "client "+c.ID)
		}
	}
	for _, u := range cfg.Users {
		if st, ok := storedUsers[u.Username]; ok && st.Owner == storage.OwnerDatabase {
			clash = append(clash, "user "+u.Username)
		}
	}
	if len(clash) > 0 {
		return collision(src, clash)
	}

	declaredClients := make(map[string]bool, len(cfg.Clients))
	for i, c := range cfg.Clients {
		declaredClients[c.ID] = true
		secretHash := c.SecretHash
		if c.Secret != "" {
			secretHash = storage.Hash(c.Secret)
		}
		next := storage.Client{
			ID:                     c.ID,
			Owner:                  storage.OwnerFile,
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

			BackchannelLogoutURI:             c.BackchannelLogoutURI,
			BackchannelLogoutSessionRequired: c.BackchannelLogoutSessionRequired,

			TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
			JWKS:                    jwks[i],
			JWKSURI:                 c.JWKSURI,
			RequirePAR:              c.RequirePushedAuthorizationRequests,
			DPoPBound:               c.DPoPBoundAccessTokens,
			Profile:                 c.Profile,
			RequireMFA:              c.RequireMFA,
			DefaultACRValues:        c.DefaultACRValues,
			CreatedAt:               now, // kept by the store for an existing client
			UpdatedAt:               now,
		}
		if st, ok := storedClients[c.ID]; ok && sameClient(st, next) && !st.UpdatedAt.IsZero() {
			next.UpdatedAt = st.UpdatedAt // a restart is no change
		}
		err := store.UpsertClient(ctx, next)
		if errors.Is(err, storage.ErrConflict) { // created with the CLI since the list above
			return collision(src, []string{"client " + c.ID})
		}
		if err != nil {
			return fmt.Errorf("seeding client %s: %w", c.ID, err)
		}
		if _, ok := storedClients[c.ID]; !ok {
			observe.Audit(ctx, log, observe.EventClientCreated, slog.String("client_id", c.ID), slog.String("by", "configuration"))
		}
	}

	params := password.Params{MemoryKiB: cfg.Passwords.MemoryKiB, Iterations: cfg.Passwords.Iterations, Parallelism: cfg.Passwords.Parallelism}
	declaredUsers := make(map[string]bool, len(cfg.Users))
	for _, u := range cfg.Users {
		declaredUsers[u.Username] = true
		existing, found := storedUsers[u.Username]
		hash := u.PasswordHash
		samePassword := false // the file's password verifies against the stored hash
		if hash != "" && !password.Valid(hash) {
			return fmt.Errorf("users: password_hash of %s is not an argon2id or bcrypt hash", u.Username)
		}
		if hash == "" {
			if found {
				if ok, _ := password.Verify(existing.PasswordHash, u.Password); ok {
					samePassword = true
					if !password.NeedsRehash(existing.PasswordHash, params) {
						hash = existing.PasswordHash
					}
				}
			}
			if hash == "" {
				if hash, err = password.Hash(u.Password, params); err != nil {
					return err
				}
			}
		}
		if found && existing.PasswordHash != hash && !samePassword {
			// The file's password changed: whoever knew the old one keeps
			// no session or token. Before the upsert, so that a crash in
			// between never leaves the new hash with the old sessions.
			if err := store.SetUserPassword(ctx, existing.ID, hash, now); err != nil && !errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("seeding user %s: %w", u.Username, err)
			}
			observe.Audit(ctx, log, observe.EventUserPasswordChanged, slog.String("username", u.Username),
				slog.String("user_id", existing.ID), slog.String("by", "configuration"))
		}
		if found && existing.Disabled != u.Disabled {
			// Disabling ends what the user holds, in one transaction
			// (storage SetUserDisabled), which an upsert would not.
			if err := store.SetUserDisabled(ctx, existing.ID, u.Disabled, now); err != nil && !errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("seeding user %s: %w", u.Username, err)
			}
			event := observe.EventUserEnabled
			if u.Disabled {
				event = observe.EventUserDisabled
			}
			observe.Audit(ctx, log, event, slog.String("username", u.Username),
				slog.String("user_id", existing.ID), slog.String("by", "configuration"))
		}
		next := storage.User{
			Username:      u.Username,
			Owner:         storage.OwnerFile,
			PasswordHash:  hash,
			Email:         u.Email,
			EmailVerified: u.EmailVerified,
			Name:          u.Name,
			Claims:        StandardClaims(u.Claims),
			Disabled:      u.Disabled,
			RequireMFA:    u.RequireMFA,
			CreatedAt:     now, // kept by the store for an existing user
			UpdatedAt:     now,
		}
		if found && sameUser(existing, next) {
			// updated_at (OIDC Core §5.1) is when the user last changed, not
			// when the server last started.
			next.UpdatedAt = existing.UpdatedAt
		}
		saved, err := store.UpsertUser(ctx, next)
		if errors.Is(err, storage.ErrConflict) && !found {
			return collision(src, []string{"user " + u.Username})
		}
		if err != nil {
			return fmt.Errorf("seeding user %s: %w", u.Username, err)
		}
		if !found {
			observe.Audit(ctx, log, observe.EventUserCreated, slog.String("username", u.Username),
				slog.String("user_id", saved.ID), slog.String("by", "configuration"))
		}
	}

	// What the file no longer declares: its own entries go, with their
	// grants; entries of unknown origin go to the database, which keeps them.
	for _, c := range clients {
		switch {
		case declaredClients[c.ID]:
		case c.Owner == storage.OwnerFile:
			if err := store.DeleteClient(ctx, c.ID, now); err != nil && !errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("removing client %s, no longer in %s: %w", c.ID, src, err)
			}
			observe.Audit(ctx, log, observe.EventClientRemoved, slog.String("client_id", c.ID), slog.String("by", "configuration"))
		case c.Owner == storage.OwnerUnknown:
			c.Owner = storage.OwnerDatabase
			if err := store.UpsertClient(ctx, c); err != nil && !errors.Is(err, storage.ErrConflict) {
				return fmt.Errorf("client %s: %w", c.ID, err)
			}
			log.Warn("a client stored before ownership was recorded is not in the configuration; it is kept as created with the CLI. "+
				"If it was deleted from the file, remove it with `authserver client remove`", "client_id", c.ID, "config", src)
		}
	}
	for _, u := range users {
		switch {
		case declaredUsers[u.Username]:
		case u.Owner == storage.OwnerFile:
			if err := store.DeleteUser(ctx, u.ID, now); err != nil && !errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("removing user %s, no longer in %s: %w", u.Username, src, err)
			}
			observe.Audit(ctx, log, observe.EventUserRemoved, slog.String("username", u.Username),
				slog.String("user_id", u.ID), slog.String("by", "configuration"))
		case u.Owner == storage.OwnerUnknown:
			u.Owner = storage.OwnerDatabase
			if _, err := store.UpsertUser(ctx, u); err != nil && !errors.Is(err, storage.ErrConflict) {
				return fmt.Errorf("user %s: %w", u.Username, err)
			}
			log.Warn("a user stored before ownership was recorded is not in the configuration; it is kept as created with the CLI. "+
				"If it was deleted from the file, remove it with `authserver user remove`", "username", u.Username, "config", src)
		}
	}
	return nil
}

// CheckClientKeys is the deep check of every file client's jwks that the
// start makes (see fileClientKeys), for `authserver check-config`.
func CheckClientKeys(cfg config.Config) error {
	_, err := fileClientKeys(cfg.Clients)
	return err
}

// fileClientKeys returns the jwks of each file client as the JSON the store
// keeps ("" for none), after the deep check the configuration's rules
// cannot make (admin.JWKSProblems: public signing keys only, of usable
// sizes). A problem in any client stops the start before anything is
// written, as a *config.ValidationError naming clients[i].jwks.
func fileClientKeys(clients []config.Client) ([]string, error) {
	out := make([]string, len(clients))
	var ps []config.Problem
	for i, c := range clients {
		at := fmt.Sprintf("clients[%d].", i)
		b, err := c.JWKSJSON()
		if err != nil { // config.Validate refuses it first
			ps = append(ps, config.Problem{Field: at + "jwks", Message: err.Error()})
			continue
		}
		for _, p := range admin.JWKSProblems(b) {
			ps = append(ps, config.Problem{Field: at + p.Field, Message: p.Message})
		}
		out[i] = string(b)
	}
	if len(ps) > 0 {
		return nil, &config.ValidationError{Problems: ps}
	}
	return out, nil
}

// collision is the error for declared entries that the database owns.
func collision(src string, entries []string) error {
	return fmt.Errorf("%s declares %s, but the database already has %s created with the CLI (the database owns it, and the file never overwrites it): "+
		"delete the entry from %s, or remove the database's one (`authserver client remove ID`, `authserver user remove USERNAME`) so that the file's takes its place",
		src, strings.Join(entries, ", "), pronoun(len(entries)), src)
}

func pronoun(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}
