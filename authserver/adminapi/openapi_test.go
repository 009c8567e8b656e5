package adminapi_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/authserver-dev/authserver/authserver/adminapi"
)

// Every route the handler registers is an operation of openapi.json, and
// every operation of openapi.json is a route: the document is the whole
// API, no more and no less.
func TestRoutesMatchDocument(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	d, _ := loadDocument(t)
	var inDoc []string
	for path, item := range d.Paths.Map() {
		for method := range item.Operations() {
			inDoc = append(inDoc, method+" "+path)
		}
	}
	h, ok := e.p.App.AdminAPI.(*adminapi.Handler)
	if !ok {
		t.Fatalf("App.AdminAPI is a %T", e.p.App.AdminAPI)
	}
	routes := h.Patterns()
	slices.Sort(inDoc)
	slices.Sort(routes)
	for _, r := range routes {
		if !slices.Contains(inDoc, r) {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for _, op := range inDoc {
		if !slices.Contains(routes, op) {
			t.Errorf("openapi.json has %s, which is no route", op)
		}
	}
}

// The document is served without a token, is OpenAPI 3.1, and is the
// embedded file byte for byte; every operation but it needs bearerAuth.
func TestDocumentIsServedWithoutToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	a := e.call(e.anonymous(), "GET", "/admin/v1/openapi.json", nil)
	if a.status != http.StatusOK || a.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET openapi.json: %d %s", a.status, a.header.Get("Content-Type"))
	}
	if string(a.body) != string(adminapi.OpenAPIDocument()) {
		t.Error("the served document is not the embedded openapi.json")
	}
	var d struct {
		OpenAPI  string `json:"openapi"`
		Security []map[string][]string
		Paths    map[string]map[string]json.RawMessage
	}
	a.decode(t, &d)
	if !strings.HasPrefix(d.OpenAPI, "3.1.") {
		t.Errorf("openapi %q, want 3.1.x", d.OpenAPI)
	}
	if len(d.Security) != 1 || d.Security[0]["bearerAuth"] == nil {
		t.Errorf("top-level security %v, want bearerAuth", d.Security)
	}
	doc, _ := loadDocument(t)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			public := op.Security != nil && len(*op.Security) == 0
			if public != (path == "/admin/v1/openapi.json") {
				t.Errorf("%s %s: security %v", method, path, op.Security)
			}
		}
	}
}
