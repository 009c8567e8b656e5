package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/password"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/config"
)

// Password and username bounds. A password is hashed with argon2id, whose
// cost does not depend on its length, but an unbounded one is a cheap way
// to make the server read and hash megabytes.
const (
	MinPasswordLen = 8    // characters
	MaxPasswordLen = 1024 // bytes
	maxUsername    = 255  // bytes
)

// CreateUser validates u (the rules of a users entry; a password of at
// least 8 characters) and stores it as database-owned, hashing the
// password with the configured parameters. An existing username is
// KindConflict, one the configuration declares KindFileOwned. Its id (sub)
// is random and never a client's id. Audit: user.created.
func (s *Service) CreateUser(ctx context.Context, u NewUser) (User, error) {
	if s.declaresUser(u.Username) {
		return User{}, s.fileOwned("user", u.Username, true)
	}
	ps := s.checkUser(u.User)
	if msg := passwordProblem(u.Password); msg != "" {
		ps = append(ps, config.Problem{Field: "password", Message: msg})
	}
	if len(ps) > 0 {
		return User{}, invalid("the user", ps)
	}
	switch st, err := s.o.Store.GetUserByUsername(ctx, u.Username); {
	case err == nil && st.Owner == storage.OwnerFile:
		return User{}, s.fileOwned("user", u.Username, false)
	case err == nil:
		return User{}, errorf(KindConflict, "user %s exists already; update it, or remove it first to create it anew", u.Username)
	case !errors.Is(err, storage.ErrNotFound):
		return User{}, err
	}
	id, err := s.newUserID(ctx)
	if err != nil {
		return User{}, err
	}
	hash, err := password.Hash(u.Password, s.passwordParams())
	if err != nil {
		return User{}, err
	}
	now := s.o.Now()
	// Create, not upsert: of two creates of one username at once, the
	// second is refused rather than updating the first.
	saved, err := s.o.Store.CreateUser(ctx, storage.User{
		ID: id, Username: u.Username, Owner: storage.OwnerDatabase, PasswordHash: hash,
		Email: u.Email, EmailVerified: u.EmailVerified, Name: u.Name, Claims: standardClaims(u.Claims),
		RequireMFA: u.RequireMFA, CreatedAt: now, UpdatedAt: now,
	})
	if errors.Is(err, storage.ErrConflict) {
		return User{}, errorf(KindConflict, "user %s exists", u.Username)
	}
	if err != nil {
		return User{}, err
	}
	s.audit(ctx, observe.EventUserCreated, slog.String("username", saved.Username), slog.String("user_id", saved.ID))
	return toUser(saved), nil
}

// GetUser returns the user with this id (sub); KindNotFound when none.
func (s *Service) GetUser(ctx context.Context, id string) (User, error) {
	u, err := s.o.Store.GetUser(ctx, id)
	if err != nil {
		return User{}, notFound(err, fmt.Sprintf("no user with id %q", id))
	}
	return toUser(u), nil
}

// UserByUsername returns the user with this username; KindNotFound when none.
func (s *Service) UserByUsername(ctx context.Context, username string) (User, error) {
	u, err := s.o.Store.GetUserByUsername(ctx, username)
	if err != nil {
		return User{}, notFound(err, fmt.Sprintf("no user %q", username))
	}
	return toUser(u), nil
}

// ListUsers returns every user, by username.
func (s *Service) ListUsers(ctx context.Context) ([]User, error) {
	stored, err := s.o.Store.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]User, len(stored))
	for i, u := range stored {
		out[i] = toUser(u)
	}
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.Username, b.Username) })
	return out, nil
}

// UpdateUser applies p to a database-owned user, validated as CreateUser
// does. Audit: user.updated (with the changed field names). A patch that
// changes nothing writes nothing and records no event. RequireMFA ends no
// session: the next authorization of a password-only session asks for
// the second step (package authserver), and a user with no second factor
// yet can still reach /account to enrol one. A file-owned user's
// require_mfa is the file's, like every other field (KindFileOwned).
func (s *Service) UpdateUser(ctx context.Context, id string, p UserPatch) (User, error) {
	st, err := s.changeableUser(ctx, id)
	if err != nil {
		return User{}, err
	}
	before := toUser(st)
	next := before
	p.apply(&next)
	if ps := s.checkUser(next); len(ps) > 0 {
		return User{}, invalid("the user", ps)
	}
	fields := userChanges(before, next)
	if len(fields) == 0 {
		return before, nil
	}
	st.Email, st.EmailVerified, st.Name, st.Claims = next.Email, next.EmailVerified, next.Name, standardClaims(next.Claims)
	st.RequireMFA = next.RequireMFA
	st.Owner = storage.OwnerDatabase
	st.UpdatedAt = s.o.Now()
	saved, err := s.o.Store.UpsertUser(ctx, st)
	if errors.Is(err, storage.ErrConflict) {
		return User{}, s.fileOwned("user", st.Username, false)
	}
	if err != nil {
		return User{}, err
	}
	s.audit(ctx, observe.EventUserUpdated, slog.String("username", saved.Username), slog.String("user_id", saved.ID), slog.Any("fields", fields))
	return toUser(saved), nil
}

// SetPassword sets a database-owned user's password (the rules of
// CreateUser), ending their sessions and revoking their refresh tokens
// (storage SetUserPassword). Audit: user.password_changed.
func (s *Service) SetPassword(ctx context.Context, id, pw string) error {
	st, err := s.changeableUser(ctx, id)
	if err != nil {
		return err
	}
	if msg := passwordProblem(pw); msg != "" {
		return invalid("the password", []config.Problem{{Field: "password", Message: msg}})
	}
	hash, err := password.Hash(pw, s.passwordParams())
	if err != nil {
		return err
	}
	// One transaction with the end of everything the old password gave.
	if err := s.o.Store.SetUserPassword(ctx, id, hash, s.o.Now()); err != nil {
		return notFound(err, fmt.Sprintf("no user with id %q", id))
	}
	s.audit(ctx, observe.EventUserPasswordChanged, slog.String("username", st.Username), slog.String("user_id", id))
	return nil
}

// SetDisabled disables (ending every session and grant the user holds) or
// enables a database-owned user (storage SetUserDisabled). Setting the state
// the user is in already changes nothing. Audit: user.disabled,
// user.enabled.
func (s *Service) SetDisabled(ctx context.Context, id string, disabled bool) error {
	st, err := s.changeableUser(ctx, id)
	if err != nil {
		return err
	}
	if st.Disabled == disabled {
		return nil
	}
	if err := s.o.Store.SetUserDisabled(ctx, id, disabled, s.o.Now()); err != nil {
		return notFound(err, fmt.Sprintf("no user with id %q", id))
	}
	event := observe.EventUserEnabled
	if disabled {
		event = observe.EventUserDisabled
	}
	s.audit(ctx, event, slog.String("username", st.Username), slog.String("user_id", id))
	return nil
}

// DeleteUser removes a database-owned user with their sessions, codes,
// refresh tokens and grants. Audit: user.removed.
func (s *Service) DeleteUser(ctx context.Context, id string) error {
	st, err := s.changeableUser(ctx, id)
	if err != nil {
		return err
	}
	if err := s.o.Store.DeleteUser(ctx, id, s.o.Now()); err != nil {
		return notFound(err, fmt.Sprintf("no user with id %q", id))
	}
	s.audit(ctx, observe.EventUserRemoved, slog.String("username", st.Username), slog.String("user_id", id))
	return nil
}

// changeableUser returns the stored user id if this service may change it:
// KindNotFound when there is none, KindFileOwned when the configuration
// owns it (declares its username, or stored it).
func (s *Service) changeableUser(ctx context.Context, id string) (storage.User, error) {
	st, err := s.o.Store.GetUser(ctx, id)
	switch {
	case err != nil:
		return storage.User{}, notFound(err, fmt.Sprintf("no user with id %q", id))
	case s.declaresUser(st.Username):
		return storage.User{}, s.fileOwned("user", st.Username, true)
	case st.Owner == storage.OwnerFile:
		return storage.User{}, s.fileOwned("user", st.Username, false)
	}
	return st, nil
}

func (s *Service) declaresUser(username string) bool {
	return slices.ContainsFunc(s.o.Config.Users, func(u config.User) bool { return u.Username == username })
}

// newUserID is a random id that no client has: a client's own tokens carry
// its id as sub, the claim that names users (see setup.Seed).
func (s *Service) newUserID(ctx context.Context) (string, error) {
	for range 3 {
		id := s.userID()
		_, err := s.o.Store.GetClient(ctx, id)
		if errors.Is(err, storage.ErrNotFound) {
			return id, nil
		}
		if err != nil {
			return "", err
		}
	}
	return "", errors.New("admin: every user id drawn is a client's id")
}

// checkUser validates u exactly as the configuration file's only user would
// be, and by the database's own rules for a username. The password is
// checked apart (passwordProblem): the file's rule, password or
// password_hash, has no sense here.
func (s *Service) checkUser(u User) []config.Problem {
	check := s.o.Config
	check.Clients = nil
	check.Users = []config.User{{
		Username: u.Username, PasswordHash: "(checked apart)",
		Email: u.Email, EmailVerified: u.EmailVerified, Name: u.Name, Claims: u.Claims,
	}}
	check.ApplyDefaults()
	ps := entryProblems(check.Validate(), "users[0]")
	if msg := usernameProblem(u.Username); msg != "" && !hasProblem(ps, "username") {
		ps = append([]config.Problem{{Field: "username", Message: msg}}, ps...)
	}
	return ps
}

// usernameProblem is what the database asks of a username beyond the
// file's rules ("" when nothing): it is typed on the login page and shown
// in listings and logs.
func usernameProblem(name string) string {
	switch {
	case name == "":
		return "" // the file's rules report it
	case len(name) > maxUsername:
		return fmt.Sprintf("is %d bytes long; a username has at most %d", len(name), maxUsername)
	case !utf8.ValidString(name):
		return "is not valid UTF-8"
	case strings.ContainsFunc(name, unicode.IsControl):
		return fmt.Sprintf("%q contains a control character", name)
	}
	return ""
}

// passwordProblem applies the length rules ("" when they hold).
func passwordProblem(pw string) string {
	switch n := utf8.RuneCountInString(pw); {
	case pw == "":
		return "is empty"
	case n < MinPasswordLen:
		return fmt.Sprintf("has %d characters; a password needs at least %d", n, MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return fmt.Sprintf("is %d bytes long; a password has at most %d", len(pw), MaxPasswordLen)
	}
	return ""
}

func (s *Service) passwordParams() password.Params {
	p := s.o.Config.Passwords
	if p.MemoryKiB == 0 || p.Iterations == 0 || p.Parallelism == 0 {
		return password.DefaultParams
	}
	return password.Params{MemoryKiB: p.MemoryKiB, Iterations: p.Iterations, Parallelism: p.Parallelism}
}

// apply sets the fields of p on u.
func (p UserPatch) apply(u *User) {
	if p.Email != nil {
		u.Email = *p.Email
	}
	if p.EmailVerified != nil {
		u.EmailVerified = *p.EmailVerified
	}
	if p.Name != nil {
		u.Name = *p.Name
	}
	if p.Claims != nil {
		u.Claims = *p.Claims
	}
	if p.RequireMFA != nil {
		u.RequireMFA = *p.RequireMFA
	}
}

// userChanges names, as in the JSON, the fields that differ between a and b.
func userChanges(a, b User) []string {
	var out []string
	if a.Email != b.Email {
		out = append(out, "email")
	}
	if a.EmailVerified != b.EmailVerified {
		out = append(out, "email_verified")
	}
	if a.Name != b.Name {
		out = append(out, "name")
	}
	if !reflect.DeepEqual(a.Claims, b.Claims) {
		out = append(out, "claims")
	}
	if a.RequireMFA != b.RequireMFA {
		out = append(out, "require_mfa")
	}
	return out
}

func toUser(u storage.User) User {
	return User{
		ID: u.ID, Username: u.Username, Email: u.Email, EmailVerified: u.EmailVerified, Name: u.Name,
		Claims: userClaims(u.Claims), Disabled: u.Disabled, RequireMFA: u.RequireMFA, Owner: ownerName(u.Owner),
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
}

// standardClaims is the stored form of a user's claims (as setup stores
// the file's).
func standardClaims(c config.UserClaims) storage.StandardClaims {
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

// userClaims is standardClaims the other way.
func userClaims(c storage.StandardClaims) config.UserClaims {
	out := config.UserClaims{
		GivenName: c.GivenName, FamilyName: c.FamilyName, MiddleName: c.MiddleName, Nickname: c.Nickname,
		Profile: c.Profile, Picture: c.Picture, Website: c.Website, Gender: c.Gender, Birthdate: c.Birthdate,
		Zoneinfo: c.Zoneinfo, Locale: c.Locale, PhoneNumber: c.PhoneNumber, PhoneNumberVerified: c.PhoneNumberVerified,
	}
	if c.Address != nil {
		out.Address = config.Address(*c.Address)
	}
	return out
}
