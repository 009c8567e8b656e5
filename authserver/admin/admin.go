// Package admin is the one administration service of the provider: every
// operation an operator (or the registration endpoint) performs on clients,
// users, sessions, consent grants, signing keys and registration tokens is
// written here once, with its validation (the rules of the configuration
// file, from package config), the file-owned rule, its audit event and the
// revocations it implies. The CLI (cmd/authserver), the admin HTTP API
// (authserver/adminapi) and dynamic registration (authserver/registration)
// are thin layers over Service.
//
// Configuration is declarative: an entry the configuration file declares
// (storage.OwnerFile) is the file's, and every change to it here is refused
// with KindFileOwned, since the next start would undo it. Entries made here
// are the database's (storage.OwnerDatabase), and the file never touches
// them.
//
// It imports storage, keys, password, observe, config and clientkeys (the
// deep check of a client's jwks, JWKSProblems); nothing imports it but
// setup, the CLI, adminapi and registration. Package authserver must not
// import it (authserver never imports config).
package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/config"
	"github.com/authserver-dev/authserver/keys"
)

// Options are what a Service works with.
type Options struct {
	// Store is the provider's database.
	Store storage.Store
	// Config is the validated configuration (defaults applied): its rules
	// validate new entries, and the entries it declares are file-owned.
	Config config.Config
	// Keys are the signing keys; nil makes ListKeys and RotateKeys fail.
	Keys *keys.Manager
	// Logger receives the audit events (observe.Audit).
	Logger *slog.Logger
	Now    func() time.Time
	// ConfigSource names the configuration in refusals: its path, or
	// "the embedded demo configuration". Empty: "the configuration file".
	ConfigSource string
	// Demo is set when the embedded demo configuration runs, so that a
	// refusal says to write a file of one's own.
	Demo bool
}

// Service is the administration service. It is safe for concurrent use.
type Service struct {
	o Options
	// userID makes the id (sub) of a new user; a test replaces it to
	// force a collision with a client id.
	userID func() string
}

// New returns the service.
func New(o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ConfigSource == "" {
		o.ConfigSource = "the configuration file"
	}
	return &Service{o: o, userID: randomHex}
}

// Kind classifies an *Error; callers map it to an exit status or an HTTP
// status.
type Kind int

const (
	// KindInvalid: the input breaks a rule (Problems say which).
	KindInvalid Kind = iota + 1
	// KindNotFound: no such client, user, session, grant or token.
	KindNotFound
	// KindConflict: the id exists already, or the change would be unsafe
	// without being forced (keys rotate before the publish lead).
	KindConflict
	// KindFileOwned: the entry belongs to the configuration file.
	KindFileOwned
)

// Error is every error of the service that is the caller's to fix. Any
// other error (the database is down) is returned as it is.
type Error struct {
	Kind    Kind
	Message string
	// Problems are the broken rules of KindInvalid, each with the field's
	// name as in the configuration file and the JSON of the API
	// ("redirect_uris[0]").
	Problems []config.Problem
}

func (e *Error) Error() string {
	if len(e.Problems) == 0 {
		return e.Message
	}
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Field + ": " + p.Message
	}
	return e.Message + ":\n" + strings.Join(msgs, "\n")
}

// KindOf returns the Kind of err, or 0 when it is not an *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

func errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// actorKey carries who asks, for the "by" attribute of audit events.
type actorKey struct{}

// WithActor names who performs the operations done with ctx: "cli",
// "admin_api:<client id>", "registration", "account". Every audit event
// of the service carries it as by.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// Actor is the actor WithActor set, or "unknown".
func Actor(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return "unknown"
}
