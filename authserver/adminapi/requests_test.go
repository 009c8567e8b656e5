package adminapi_test

import (
	"database/sql"
	"net/http"
	"strconv"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/authserver-dev/authserver/authserver/adminapi"
)

// What the API does with a request body before any operation sees it: one
// JSON object of at most 64 KiB, of Content-Type application/json, decoded
// strictly.
func TestRequestBodies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	big := `{"id": "big", "name": "` + strings.Repeat("x", 65<<10) + `"}`
	tests := []struct {
		name    string
		body    string
		opts    []callOption
		invalid bool
		status  int
		typ     string
		fields  []string
	}{
		{"unknown field", `{"id": "x", "colour": "red"}`, nil, true, 400, adminapi.TypeInvalid, []string{"colour"}},
		{"malformed JSON", `{"id": "x",`, nil, true, 400, adminapi.TypeInvalid, nil},
		{"an array", `[{"id": "x"}]`, nil, true, 400, adminapi.TypeInvalid, nil},
		// The document's validator reads the first value only; the API
		// refuses what it would silently drop.
		{"two objects", `{"id": "x"} {"id": "y"}`, nil, false, 400, adminapi.TypeInvalid, nil},
		{"empty", ``, []callOption{header("Content-Type", "application/json")}, true, 400, adminapi.TypeInvalid, nil},
		{"too large", big, nil, false, 413, adminapi.TypeTooLarge, nil},
		{"not JSON", `id=x`, []callOption{header("Content-Type", "application/x-www-form-urlencoded")}, true, 415, adminapi.TypeUnsupportedMediaType, nil},
		{"no content type", `{"id": "x"}`, []callOption{header("Content-Type", "")}, true, 415, adminapi.TypeUnsupportedMediaType, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			if tc.invalid {
				opts = append(opts, invalidRequest)
			}
			var body any
			if tc.body != "" {
				body = tc.body
			}
			p := e.call(e.admin, "POST", "/admin/v1/clients", body, opts...).problem(t, tc.status, tc.typ)
			checkFields(t, p, tc.fields)
		})
	}
	if a := e.call(e.admin, "GET", "/admin/v1/clients/x", nil); a.status != http.StatusNotFound {
		t.Errorf("a refused body created a client: %d %s", a.status, a)
	}
}

// A path that is no route is 404, one that is a route for other methods
// 405 with Allow, both problems, and both only for an authenticated
// caller: the API's shape is told to no one else.
func TestUnroutedRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.call(e.admin, "GET", "/admin/v1/nothing-here", nil, invalidRequest).problem(t, http.StatusNotFound, adminapi.TypeNotFound)
	e.call(e.admin, "GET", "/elsewhere", nil, invalidRequest).problem(t, http.StatusNotFound, adminapi.TypeNotFound)
	a := e.call(e.admin, "PUT", "/admin/v1/clients", nil, invalidRequest)
	a.problem(t, http.StatusMethodNotAllowed, adminapi.TypeMethodNotAllowed)
	if got := strings.Join(a.header.Values("Allow"), ","); got != "GET,POST" {
		t.Errorf("Allow %q, want GET,POST", got)
	}
	a = e.call(e.admin, "GET", "/admin/v1/users/u1/password", nil, invalidRequest)
	a.problem(t, http.StatusMethodNotAllowed, adminapi.TypeMethodNotAllowed)
	if got := strings.Join(a.header.Values("Allow"), ","); got != "PUT" {
		t.Errorf("Allow %q, want PUT", got)
	}
	e.call(e.anonymous(), "GET", "/admin/v1/nothing-here", nil, invalidRequest).problem(t, http.StatusUnauthorized, adminapi.TypeUnauthorized)
	e.call(e.anonymous(), "PUT", "/admin/v1/clients", nil, invalidRequest).problem(t, http.StatusUnauthorized, adminapi.TypeUnauthorized)
}

// A token in the URL is refused even when it is good: URLs end up in logs
// (RFC 6750 §2.3, RFC 9700 §2.5).
func TestTokenInURLRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.token(adminClient.ID, adminClient.Secret, "admin")
	a := e.call(e.anonymous(), "GET", "/admin/v1/clients?access_token="+tok, nil, invalidRequest)
	a.problem(t, http.StatusUnauthorized, adminapi.TypeUnauthorized)
	checkChallenge(t, a.header.Get("WWW-Authenticate"), "invalid_request", false)
	if strings.Contains(e.logs.String(), tok) {
		t.Error("the log holds the token")
	}
}

// When the database cannot take a write (here: another connection holds
// SQLite's write lock past busy_timeout), the answer is 503 with
// Retry-After, never a 500: the caller should try again.
func TestDatabaseUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.must(http.StatusOK, "GET", "/admin/v1/clients", nil, nil) // the token is fetched before the lock

	db, err := sql.Open("sqlite", e.p.Config.Storage.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	a := e.call(e.admin, "POST", "/admin/v1/registration-tokens", map[string]any{"description": "during the outage"})
	_, _ = conn.ExecContext(t.Context(), "ROLLBACK")
	a.problem(t, http.StatusServiceUnavailable, adminapi.TypeUnavailable)
	if n, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || n <= 0 {
		t.Errorf("Retry-After %q", a.header.Get("Retry-After"))
	}
	e.must(http.StatusCreated, "POST", "/admin/v1/registration-tokens", map[string]any{"description": "after the outage"}, nil)
}
