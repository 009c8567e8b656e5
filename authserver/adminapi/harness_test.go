package adminapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authserver-dev/authserver/authserver/adminapi"
	"github.com/authserver-dev/authserver/authserver/authtest"
	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/observe/observetest"
	"github.com/authserver-dev/authserver/config"
)

// The clients of the test configuration. admin is the administration
// client as the README tells operators to declare it; the others are each
// one way of not being it.
var (
	adminClient = config.Client{ID: "admin-cli", Name: "Admin CLI", Secret: "admin-cli-secret-0123456789abcdefghij",
		GrantTypes: []string{"client_credentials"}, Scopes: []string{config.AdminScope}, Audience: []string{config.DefaultAdminAudience}}
	// noAdminClient has the admin audience but not the scope.
	noAdminClient = config.Client{ID: "reporting", Name: "Reporting", Secret: "reporting-secret-0123456789abcdefghij",
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"api.read"}, Audience: []string{config.DefaultAdminAudience}}
	// otherAudienceClient has the scope, but its tokens are for another API.
	otherAudienceClient = config.Client{ID: "misdirected", Name: "Misdirected", Secret: "misdirected-secret-0123456789abcdefgh",
		GrantTypes: []string{"client_credentials"}, Scopes: []string{config.AdminScope}, Audience: []string{"https://api.example.com"}}
	// passwordClient gets admin tokens for a user, not for itself.
	passwordClient = config.Client{ID: "console", Name: "Console", Secret: "console-secret-0123456789abcdefghijkl",
		GrantTypes: []string{"password"}, Scopes: []string{config.AdminScope}, Audience: []string{config.DefaultAdminAudience}}
)

// env is a real provider with its admin API on a server of its own, and a
// validator that holds every exchange of the test against openapi.json.
type env struct {
	t        *testing.T
	p        *authtest.Provider
	adminURL string
	logs     *observetest.Logs
	val      *validator
	// admin calls the API with a token of adminClient, fetched at the real
	// token endpoint with x/oauth2's client-credentials flow.
	admin *http.Client
}

// newEnv starts a provider with admin.listen set (so setup builds the
// API) and serves the API on an httptest server.
func newEnv(t *testing.T, mutate func(*config.Config)) *env {
	t.Helper()
	logs := &observetest.Logs{}
	p := authtest.StartLogged(t, observe.NewLogger(io.MultiWriter(logs, testLog{t}), "json", "info"), func(c *config.Config) {
		c.Admin.Listen = "127.0.0.1:0" // only read by setup: non-empty builds the API
		c.Clients = append(c.Clients, adminClient, noAdminClient, otherAudienceClient, passwordClient)
		if mutate != nil {
			mutate(c)
		}
	})
	if p.App.AdminAPI == nil {
		t.Fatal("setup built no admin API although admin.listen is set")
	}
	ts := httptest.NewServer(p.App.AdminAPI)
	t.Cleanup(ts.Close)
	e := &env{t: t, p: p, adminURL: ts.URL, logs: logs, val: newValidator(t, http.DefaultTransport)}
	e.admin = e.clientFor(adminClient.ID, adminClient.Secret)
	return e
}

// testLog sends the provider's log to the test's, shown on failure.
type testLog struct{ t *testing.T }

func (w testLog) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// clientFor is an API client authenticated as the client id: x/oauth2
// fetches (and refetches) its token at the provider's token endpoint.
func (e *env) clientFor(id, secret string) *http.Client {
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: e.p.URL + "/token", Scopes: []string{config.AdminScope}}
	return &http.Client{Transport: &oauth2.Transport{Source: cc.TokenSource(context.Background()), Base: e.val}}
}

// token fetches an access token for the client.
func (e *env) token(id, secret string, scopes ...string) string {
	e.t.Helper()
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: e.p.URL + "/token", Scopes: scopes}
	tok, err := cc.Token(e.t.Context())
	if err != nil {
		e.t.Fatalf("token for %s: %v", id, err)
	}
	return tok.AccessToken
}

// withToken is an API client that sends this token, whatever it is.
func (e *env) withToken(tok string) *http.Client {
	return &http.Client{Transport: &oauth2.Transport{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok}), Base: e.val}}
}

// anonymous is an API client without credentials.
func (e *env) anonymous() *http.Client { return &http.Client{Transport: e.val} }

// answer is one response, read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) String() string { return a.header.Get("Content-Type") + " " + string(a.body) }

// decode parses the body into v, failing the test if it is not JSON.
func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, a.body)
	}
}

// problem parses an error response, failing the test unless it is an RFC
// 9457 problem+json of this status and type.
func (a answer) problem(t *testing.T, status int, typ string) adminapi.Problem {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	var p adminapi.Problem
	dec := json.NewDecoder(bytes.NewReader(a.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("not a problem object: %v\n%s", err, a.body)
	}
	if p.Type != typ || p.Status != status || p.Title == "" || p.Detail == "" {
		t.Fatalf("problem %+v, want type %s, status %d, a title and a detail", p, typ, status)
	}
	return p
}

// callOption changes one call.
type callOption func(*http.Request)

// invalidRequest marks a request that the test sends on purpose although
// the document does not allow it: the validator then requires the document
// to refuse it too (so that the document is as strict as the API).
func invalidRequest(r *http.Request) {
	*r = *r.WithContext(context.WithValue(r.Context(), invalidKey{}, true))
}

type invalidKey struct{}

// header sets a request header.
func header(k, v string) callOption { return func(r *http.Request) { r.Header.Set(k, v) } }

// call sends method path with body (nil: none; string or []byte: as is;
// anything else: as JSON) and returns the answer.
func (e *env) call(c *http.Client, method, path string, body any, opts ...callOption) answer {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.adminURL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

// must calls as the admin client and fails the test unless the status is
// want; it decodes a JSON body into out when out is not nil.
func (e *env) must(want int, method, path string, body, out any) answer {
	e.t.Helper()
	a := e.call(e.admin, method, path, body)
	if a.status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, a.status, want, a)
	}
	if out != nil {
		a.decode(e.t, out)
	}
	return a
}

// audits are the admin.denied events logged so far.
func (e *env) denials() []observetest.Line {
	return observetest.Where(e.logs.Lines(e.t), "event", observe.EventAdminDenied)
}

// The document, loaded once and checked as OpenAPI 3.1.
var (
	docOnce   sync.Once
	doc       *openapi3.T
	docRouter routers.Router
	docErr    error
)

func loadDocument(t *testing.T) (*openapi3.T, routers.Router) {
	t.Helper()
	docOnce.Do(func() {
		loader := openapi3.NewLoader()
		doc, docErr = loader.LoadFromData(adminapi.OpenAPIDocument())
		if docErr != nil {
			return
		}
		if docErr = doc.Validate(loader.Context); docErr != nil {
			return
		}
		docRouter, docErr = legacy.NewRouter(doc)
	})
	if docErr != nil {
		t.Fatalf("openapi.json: %v", docErr)
	}
	return doc, docRouter
}

// validator is an http.RoundTripper that holds every request it sends and
// every response it gets against openapi.json, and fails the test on any
// mismatch: a status, a header, a body, a parameter the document does not
// describe.
type validator struct {
	t      *testing.T
	router routers.Router
	next   http.RoundTripper
}

func newValidator(t *testing.T, next http.RoundTripper) *validator {
	_, r := loadDocument(t)
	return &validator{t: t, router: r, next: next}
}

// bearerPresent is the document's bearerAuth, as far as a document can
// say: a Bearer token is sent. Whether it is a good one is the API's to
// decide.
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	scheme, tok, _ := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return in.NewError(errNoBearer)
	}
	return nil
}

var errNoBearer = errors.New("no Authorization: Bearer header")

func (v *validator) RoundTrip(req *http.Request) (*http.Response, error) {
	t := v.t
	ctx := req.Context()
	wantInvalid, _ := ctx.Value(invalidKey{}).(bool)
	what := req.Method + " " + req.URL.Path

	var reqBody []byte
	if req.Body != nil {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	route, params, routeErr := v.router.FindRoute(req)
	var in *openapi3filter.RequestValidationInput
	if routeErr == nil {
		vreq := req.Clone(ctx)
		vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
		in = &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: bearerPresent, MultiError: true}}
		err := openapi3filter.ValidateRequest(ctx, in)
		switch {
		case wantInvalid && err == nil:
			t.Errorf("openapi.json allows %s %s, which the test sends as a request the API refuses", what, reqBody)
		case !wantInvalid && err != nil:
			t.Errorf("openapi.json refuses the request %s %s: %v", what, reqBody, err)
		}
	} else if !wantInvalid {
		t.Errorf("openapi.json has no operation %s: %v", what, routeErr)
	}

	resp, err := v.next.RoundTrip(req)
	if err != nil || in == nil {
		// A path the document does not have has no response to check it
		// against; the test checks the problem itself.
		return resp, err
	}
	respBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	out.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		t.Errorf("the response to %s (%d) does not match openapi.json: %v\n%s", what, resp.StatusCode, err, respBody)
	}
	return resp, nil
}

// postJSON sends req to the provider and decodes its 200 JSON answer.
func postJSON(t *testing.T, req *http.Request, out any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", req.Method, req.URL, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s: %v", req.URL, err)
	}
}
