package registration_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/observe/observetest"
	"github.com/authserver-dev/authserver/config"
)

// startOpen runs a provider with registration.mode open (its issuer is
// loopback), changed further by mutate.
func startOpen(t *testing.T, mutate func(*config.Config)) *authtest.Provider {
	t.Helper()
	return authtest.Start(t, func(c *config.Config) {
		c.Registration.Mode = config.RegistrationOpen
		if mutate != nil {
			mutate(c)
		}
	})
}

// startLogged is startOpen with the provider's log captured (audit events).
func startLogged(t *testing.T, mode string) (*authtest.Provider, *observetest.Logs) {
	t.Helper()
	logs := &observetest.Logs{}
	p := authtest.StartLogged(t, observe.NewLogger(logs, "json", "warn"), func(c *config.Config) {
		c.Registration.Mode = mode
	})
	return p, logs
}

// reply is an answer of the registration endpoints.
type reply struct {
	Status int
	Header http.Header
	Raw    []byte
	// Body is the JSON object answered (nil for none).
	Body map[string]any
}

func (r reply) str(key string) string {
	s, _ := r.Body[key].(string)
	return s
}

func (r reply) list(key string) []string {
	raw, _ := r.Body[key].([]any)
	out := make([]string, 0, len(raw))
	for _, v := range raw {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

// send makes one request: body is raw JSON (sent as application/json), or
// "" for none; token, when set, is sent as a bearer token.
func send(t *testing.T, method, url, token, body string) reply {
	t.Helper()
	return sendAs(t, method, url, token, "application/json", body)
}

func sendAs(t *testing.T, method, url, token, contentType, body string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			t.Fatalf("%s %s: %d, not a JSON object: %q", method, url, resp.StatusCode, raw)
		}
	}
	return r
}

// jsonOf marshals v for a request body.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// register posts metadata in open mode and requires 201.
func register(t *testing.T, p *authtest.Provider, metadata map[string]any) reply {
	t.Helper()
	r := send(t, http.MethodPost, p.URL+"/register", "", jsonOf(t, metadata))
	if r.Status != http.StatusCreated {
		t.Fatalf("registration: %d %s", r.Status, r.Raw)
	}
	return r
}

// wantError checks an error answer.
func wantError(t *testing.T, r reply, status int, code, inDescription string) {
	t.Helper()
	if r.Status != status || r.str("error") != code {
		t.Fatalf("got %d %s, want %d %s", r.Status, r.Raw, status, code)
	}
	if !strings.Contains(r.str("error_description"), inDescription) {
		t.Errorf("error_description %q does not mention %q", r.str("error_description"), inDescription)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", r.Header.Get("Cache-Control"))
	}
}

// audits returns the audit events named event in logs.
func audits(t *testing.T, logs *observetest.Logs, event string) []observetest.Line {
	t.Helper()
	return observetest.Where(logs.Lines(t), "event", event)
}
