package adminapi

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/admin"
	"github.com/authserver-dev/authserver/config"
)

// schemaTypes are the Go types each schema of openapi.json describes.
// Responses must also list as required exactly the fields that are always
// sent (no omitempty or omitzero).
var schemaTypes = []struct {
	schema   string
	value    any
	response bool
}{
	{"Client", admin.Client{}, true},
	{"ClientCreate", clientInput{}, false},
	{"ClientCreated", clientCreated{}, true},
	{"ClientPatch", admin.ClientPatch{}, false},
	{"ClientSecret", clientSecret{}, true},
	{"ClientList", clientList{}, true},
	{"User", admin.User{}, true},
	{"UserCreate", userInput{}, false},
	{"UserPatch", admin.UserPatch{}, false},
	{"UserList", userList{}, true},
	// Claims are input (UserCreate, UserPatch) and output (User): a request
	// may leave out any of them.
	{"UserClaims", config.UserClaims{}, false},
	{"Address", config.Address{}, false},
	{"PasswordChange", passwordInput{}, false},
	{"Factors", admin.Factors{}, true},
	{"Passkey", admin.Passkey{}, true},
	{"TOTPInfo", admin.TOTPInfo{}, true},
	{"Session", admin.Session{}, true},
	{"SessionList", sessionList{}, true},
	{"SessionsEnded", sessionsEnded{}, true},
	{"Grant", admin.Grant{}, true},
	{"GrantList", grantList{}, true},
	{"Key", admin.Key{}, true},
	{"KeyList", keyList{}, true},
	{"Rotation", admin.Rotation{}, true},
	{"RegistrationToken", admin.RegistrationToken{}, true},
	{"RegistrationTokenCreate", registrationTokenInput{}, false},
	{"RegistrationTokenCreated", registrationTokenCreated{}, true},
	{"RegistrationTokenList", registrationTokenList{}, true},
	{"Problem", Problem{}, true},
	{"FieldError", FieldError{}, true},
}

type jsonSchema struct {
	Type                 string                `json:"type"`
	Ref                  string                `json:"$ref"`
	Format               string                `json:"format"`
	Items                *jsonSchema           `json:"items"`
	Properties           map[string]jsonSchema `json:"properties"`
	Required             []string              `json:"required"`
	AdditionalProperties *bool                 `json:"additionalProperties"`
}

// The schemas of openapi.json are the Go types the API decodes and
// encodes, field for field: the same JSON names, the same JSON types, and
// additionalProperties false, since the API refuses unknown fields and
// sends none it does not describe. Every schema is one of them.
func TestSchemasMatchTypes(t *testing.T) {
	var d struct {
		Components struct {
			Schemas map[string]jsonSchema `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPIDocument, &d); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, st := range schemaTypes {
		seen[st.schema] = true
		s, ok := d.Components.Schemas[st.schema]
		if !ok {
			t.Errorf("openapi.json has no schema %s", st.schema)
			continue
		}
		if s.Type != "object" || s.AdditionalProperties == nil || *s.AdditionalProperties {
			t.Errorf("%s: want type object with additionalProperties false", st.schema)
		}
		fields := jsonFields(reflect.TypeOf(st.value))
		var names, always []string
		for _, f := range fields {
			names = append(names, f.name)
			if !f.optional {
				always = append(always, f.name)
			}
			p, ok := s.Properties[f.name]
			if !ok {
				continue
			}
			if want, got := jsonType(f.typ), schemaType(p); want != got {
				t.Errorf("%s.%s: openapi.json says %s, the Go type is %s", st.schema, f.name, got, want)
			}
		}
		var props []string
		for name := range s.Properties {
			props = append(props, name)
		}
		slices.Sort(names)
		slices.Sort(props)
		if !slices.Equal(names, props) {
			t.Errorf("%s: openapi.json has properties %v, the Go type %T has %v", st.schema, props, st.value, names)
		}
		if st.response {
			slices.Sort(always)
			req := slices.Sorted(slices.Values(s.Required))
			if !slices.Equal(always, req) {
				t.Errorf("%s: openapi.json requires %v, the Go type always sends %v", st.schema, req, always)
			}
		}
	}
	for name := range d.Components.Schemas {
		if !seen[name] {
			t.Errorf("schema %s of openapi.json is not checked against a Go type: add it to schemaTypes", name)
		}
	}
}

type jsonField struct {
	name     string
	typ      reflect.Type
	optional bool
}

// jsonFields are the fields encoding/json reads and writes for t, embedded
// structs flattened.
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		optional := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
		if optional && f.Type.Kind() == reflect.Struct && !strings.Contains(opts, "omitzero") && f.Type != reflect.TypeFor[time.Time]() {
			optional = false // omitempty never omits a struct
		}
		out = append(out, jsonField{name: name, typ: f.Type, optional: optional})
	}
	return out
}

// jsonType is the JSON Schema type encoding/json gives values of t.
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeFor[time.Time]():
		return "string(date-time)"
	case t == reflect.TypeFor[json.RawMessage]():
		return "object" // a JSON document of its own: the jwks JWK Set
	case t.Kind() == reflect.String:
		return "string"
	case t.Kind() == reflect.Bool:
		return "boolean"
	case t.Kind() == reflect.Int:
		return "integer"
	case t.Kind() == reflect.Slice:
		return "array of " + jsonType(t.Elem())
	case t.Kind() == reflect.Struct:
		return "object " + t.Name()
	}
	return t.Kind().String()
}

// schemaNames maps Go type names to the schemas that describe them.
var schemaNames = map[string]string{
	"Client": "Client", "User": "User", "UserClaims": "UserClaims", "Address": "Address", "Session": "Session",
	"Grant": "Grant", "Key": "Key", "RegistrationToken": "RegistrationToken", "FieldError": "FieldError",
	"Passkey": "Passkey", "TOTPInfo": "TOTPInfo",
}

func schemaType(s jsonSchema) string {
	switch {
	case s.Ref != "":
		name := strings.TrimPrefix(s.Ref, "#/components/schemas/")
		for goName, schema := range schemaNames {
			if schema == name {
				return "object " + goName
			}
		}
		return "object ?" + name
	case s.Type == "array" && s.Items != nil:
		return "array of " + schemaType(*s.Items)
	case s.Type == "string" && s.Format == "date-time":
		return "string(date-time)"
	}
	return s.Type
}

// An error the API does not expect says nothing of itself: the caller
// learns only the request id to quote, the log has the rest.
func TestInternalErrorsLeakNothing(t *testing.T) {
	r := httptest.NewRequest("GET", "/admin/v1/clients", nil)
	p := problemOf(r, errors.New("sqlstore: list clients: disk I/O error at /var/lib/authserver/auth.db"))
	if p.Status != 500 || p.Type != TypeInternal {
		t.Fatalf("problem %+v, want 500 %s", p, TypeInternal)
	}
	if strings.Contains(p.Detail, "sqlstore") || strings.Contains(p.Detail, "/var/lib") {
		t.Errorf("detail leaks the error: %q", p.Detail)
	}
}
