package sqlstore

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/keys"
)

// Times are stored as BIGINT unix microseconds: exact, sortable, the same on
// both databases and free of any driver's time-zone handling. The zero time
// is NULL, so that "not used yet" is IS NULL and a missing expiry never
// compares as later than now.

func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// timeCol scans a BIGINT microsecond column into a UTC time.Time.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMicro(v).UTC()
	default:
		return fmt.Errorf("sqlstore: time column holds %T, want int64", src)
	}
	return nil
}

// String lists are JSON arrays in TEXT; an empty list reads back as nil.

func listArg(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l) // a []string always marshals
	return string(b)
}

type listCol struct{ l *[]string }

func (c listCol) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*c.l = nil
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("sqlstore: list column holds %T, want text", src)
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return failed("list column", err)
	}
	if len(l) == 0 {
		l = nil
	}
	*c.l = l
	return nil
}

// Owners are stored by name, so that a row reads the same in either database's
// shell: storage.OwnerDatabase, the zero value, is 'database'.

func ownerArg(o storage.Owner) string {
	if o == storage.OwnerDatabase {
		return "database"
	}
	return string(o)
}

type ownerCol struct{ o *storage.Owner }

func (c ownerCol) Scan(src any) error {
	var v string
	switch s := src.(type) {
	case string:
		v = s
	case []byte:
		v = string(s)
	default:
		return fmt.Errorf("sqlstore: owner column holds %T, want text", src)
	}
	switch o := storage.Owner(v); o {
	case "database":
		*c.o = storage.OwnerDatabase
	case storage.OwnerFile, storage.OwnerUnknown:
		*c.o = o
	default:
		return fmt.Errorf("sqlstore: unknown owner %q", v)
	}
	return nil
}

// A user's standard claims are one JSON object in TEXT ('{}' for none):
// the claim names of OIDC Core §5.1 are the keys.

func claimsArg(c storage.StandardClaims) string {
	b, _ := json.Marshal(c) // strings, a bool and a pointer to strings always marshal
	return string(b)
}

type claimsCol struct{ c *storage.StandardClaims }

func (c claimsCol) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("sqlstore: claims column holds %T, want text", src)
	}
	var out storage.StandardClaims
	if err := json.Unmarshal(b, &out); err != nil {
		return failed("claims column", err)
	}
	*c.c = out
	return nil
}

// row is what *sql.Row and *sql.Rows have in common.
type row interface{ Scan(dest ...any) error }

func scanClient(r row) (storage.Client, error) {
	var c storage.Client
	err := r.Scan(&c.ID, &c.SecretHash, &c.Name, listCol{&c.RedirectURIs}, listCol{&c.PostLogoutRedirectURIs},
		listCol{&c.GrantTypes}, listCol{&c.Scopes}, listCol{&c.Audience}, &c.SkipConsent, &c.CanIntrospect, &c.IDTokenAlg,
		timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt}, ownerCol{&c.Owner},
		&c.BackchannelLogoutURI, &c.BackchannelLogoutSessionRequired, &c.RegistrationTokenHash,
		&c.TokenEndpointAuthMethod, &c.JWKS, &c.JWKSURI, &c.RequirePAR, &c.DPoPBound, &c.Profile,
		&c.RequireMFA, listCol{&c.DefaultACRValues})
	return c, err
}

func clientArgs(c storage.Client) []any {
	return []any{c.ID, c.SecretHash, c.Name, listArg(c.RedirectURIs), listArg(c.PostLogoutRedirectURIs),
		listArg(c.GrantTypes), listArg(c.Scopes), listArg(c.Audience), c.SkipConsent, c.CanIntrospect, c.IDTokenAlg,
		timeArg(c.CreatedAt), timeArg(c.UpdatedAt), ownerArg(c.Owner),
		c.BackchannelLogoutURI, c.BackchannelLogoutSessionRequired, c.RegistrationTokenHash,
		c.TokenEndpointAuthMethod, c.JWKS, c.JWKSURI, c.RequirePAR, c.DPoPBound, c.Profile,
		c.RequireMFA, listArg(c.DefaultACRValues)}
}

func scanUser(r row) (storage.User, error) {
	var u storage.User
	err := r.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.Email, &u.EmailVerified, &u.Name,
		timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt}, ownerCol{&u.Owner}, claimsCol{&u.Claims}, &u.Disabled, &u.RequireMFA)
	return u, err
}

func userArgs(u storage.User) []any {
	return []any{u.ID, u.Username, u.PasswordHash, u.Email, u.EmailVerified, u.Name,
		timeArg(u.CreatedAt), timeArg(u.UpdatedAt), ownerArg(u.Owner), claimsArg(u.Claims), u.Disabled, u.RequireMFA}
}

func scanAuthCode(r row) (storage.AuthCode, error) {
	var c storage.AuthCode
	err := r.Scan(&c.CodeHash, &c.ClientID, &c.UserID, &c.RedirectURI, &c.Scope, &c.CodeChallenge,
		&c.CodeChallengeMethod, &c.Nonce, &c.SessionID, timeCol{&c.AuthTime}, timeCol{&c.CreatedAt},
		timeCol{&c.ExpiresAt}, timeCol{&c.UsedAt}, &c.FamilyID, &c.ClaimsRequest, &c.DPoPJKT, &c.Resource, listCol{&c.AMR})
	return c, err
}

func authCodeArgs(c storage.AuthCode) []any {
	return []any{c.CodeHash, c.ClientID, c.UserID, c.RedirectURI, c.Scope, c.CodeChallenge,
		c.CodeChallengeMethod, c.Nonce, c.SessionID, timeArg(c.AuthTime), timeArg(c.CreatedAt),
		timeArg(c.ExpiresAt), timeArg(c.UsedAt), c.FamilyID, c.ClaimsRequest, c.DPoPJKT, c.Resource, listArg(c.AMR)}
}

func scanSession(r row) (storage.Session, error) {
	var s storage.Session
	err := r.Scan(&s.IDHash, &s.UserID, timeCol{&s.AuthTime}, timeCol{&s.CreatedAt}, timeCol{&s.ExpiresAt},
		&s.UserAgent, &s.IP, listCol{&s.AMR})
	return s, err
}

func sessionArgs(s storage.Session) []any {
	return []any{s.IDHash, s.UserID, timeArg(s.AuthTime), timeArg(s.CreatedAt), timeArg(s.ExpiresAt),
		userAgentArg(s.UserAgent), s.IP, listArg(s.AMR)}
}

// userAgentArg bounds a User-Agent to storage.MaxUserAgent bytes of valid
// UTF-8. The header is whatever the browser (or anyone) sent: invalid bytes
// and NUL become U+FFFD, since PostgreSQL refuses both in a TEXT column and
// a sign-in must not fail over a header, and the cut never splits a
// character.
func userAgentArg(ua string) string {
	ua = strings.ReplaceAll(strings.ToValidUTF8(ua, "\uFFFD"), "\x00", "\uFFFD")
	if len(ua) <= storage.MaxUserAgent {
		return ua
	}
	cut := storage.MaxUserAgent
	for cut > 0 && !utf8.RuneStart(ua[cut]) {
		cut-- // ua[cut] continues a character that starts before the limit
	}
	return ua[:cut]
}

// refreshTokenDest lists the scan destinations of refreshTokenCols, so that
// a query may append columns of its own.
func refreshTokenDest(t *storage.RefreshToken) []any {
	return []any{&t.TokenHash, &t.FamilyID, &t.ClientID, &t.UserID, &t.Scope, &t.SessionID, &t.Nonce,
		timeCol{&t.AuthTime}, timeCol{&t.CreatedAt}, timeCol{&t.ExpiresAt}, timeCol{&t.SpentAt},
		timeCol{&t.FamilyExpiresAt}, &t.ClaimsRequest, &t.DPoPJKT, &t.Resource, listCol{&t.AMR}}
}

func scanRefreshToken(r row) (storage.RefreshToken, error) {
	var t storage.RefreshToken
	err := r.Scan(refreshTokenDest(&t)...)
	return t, err
}

func refreshTokenArgs(t storage.RefreshToken) []any {
	return []any{t.TokenHash, t.FamilyID, t.ClientID, t.UserID, t.Scope, t.SessionID, t.Nonce,
		timeArg(t.AuthTime), timeArg(t.CreatedAt), timeArg(t.ExpiresAt), timeArg(t.SpentAt),
		timeArg(t.FamilyExpiresAt), t.ClaimsRequest, t.DPoPJKT, t.Resource, listArg(t.AMR)}
}

func scanSigningKey(r row) (keys.Record, error) {
	var k keys.Record
	var state string
	err := r.Scan(&k.ID, &k.Algorithm, &state, &k.PrivateKey, timeCol{&k.CreatedAt},
		timeCol{&k.ActivatesAt}, timeCol{&k.RetiredAt}, timeCol{&k.ExpiresAt})
	k.State = keys.State(state)
	return k, err
}

func signingKeyArgs(k keys.Record) []any {
	return []any{k.ID, k.Algorithm, string(k.State), k.PrivateKey, timeArg(k.CreatedAt),
		timeArg(k.ActivatesAt), timeArg(k.RetiredAt), timeArg(k.ExpiresAt)}
}

// notFound maps sql.ErrNoRows to storage.ErrNotFound and wraps anything else
// with the operation's name.
func notFound(op string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return storage.ErrNotFound
	}
	return failed(op, err)
}
