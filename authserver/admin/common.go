package admin

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"

	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/config"
)

// audit records one event with who asked for it. Callers pass ids and
// names only: never a secret, password, token or hash.
func (s *Service) audit(ctx context.Context, event string, attrs ...slog.Attr) {
	observe.Audit(ctx, s.o.Logger, event, append(attrs, slog.String("by", Actor(ctx)))...)
}

// fileOwned is the refusal to change an entry the configuration owns:
// declared in it, or stored as file-owned by the configuration the server
// last started with (which no longer declares it, so its next start
// removes it). The next start would undo any change made here.
func (s *Service) fileOwned(kind, name string, declared bool) *Error {
	src := s.o.ConfigSource
	switch {
	case !declared:
		return errorf(KindFileOwned, "%s %s belongs to the configuration file the server last started with (it is not in %s, whose next start removes it); edit that file instead",
			kind, name, src)
	case s.o.Demo:
		return errorf(KindFileOwned, "%s %s is declared in %s; write a configuration file of your own and run with --config FILE to change it", kind, name, src)
	}
	return errorf(KindFileOwned, "%s %s is declared in %s; edit the file instead", kind, name, src)
}

// invalid is KindInvalid with the broken rules.
func invalid(what string, ps []config.Problem) *Error {
	return &Error{Kind: KindInvalid, Message: what + " is not valid", Problems: ps}
}

// notFound maps the store's ErrNotFound to KindNotFound with msg and
// returns any other error as it is.
func notFound(err error, msg string) error {
	if errors.Is(err, storage.ErrNotFound) {
		return &Error{Kind: KindNotFound, Message: msg}
	}
	return err
}

// entryProblems keeps the problems that Validate found in the one entry at
// prefix ("clients[0]") and names their fields as the entry's own
// ("redirect_uris[0]"), the names of the API's JSON and of the entry in the
// file. The rest is about the configuration, which was valid already.
func entryProblems(err error, prefix string) []config.Problem {
	var ve *config.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var out []config.Problem
	for _, p := range ve.Problems {
		rest, ok := strings.CutPrefix(p.Field, prefix)
		if !ok || (rest != "" && rest[0] != '.' && rest[0] != '[') {
			continue
		}
		p.Field = strings.TrimPrefix(rest, ".")
		p.Message = strings.ReplaceAll(p.Message, prefix+".", "")
		out = append(out, p)
	}
	return out
}

// hasProblem reports whether ps has one about field.
func hasProblem(ps []config.Problem, field string) bool {
	for _, p := range ps {
		if p.Field == field {
			return true
		}
	}
	return false
}

// ownerName is Owner as the API and the CLI show it.
func ownerName(o storage.Owner) string {
	switch o {
	case storage.OwnerDatabase:
		return "database"
	case storage.OwnerFile:
		return "file"
	}
	return string(o)
}

// randomToken is a secret of 256 random bits (a client secret, a
// registration or initial access token): long enough that storing only its
// unsalted storage.Hash is safe.
func randomToken() string { return randomBase64(32) }

func randomBase64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// randomHex is 128 random bits in hex, the form of user ids.
func randomHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// nonNil makes an absent list an empty one, so that JSON shows [] rather
// than null.
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
