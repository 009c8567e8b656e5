package adminapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// maxBody bounds a request body. The largest legitimate one, a client with
// many redirect URIs, is a few KiB.
const maxBody = 64 << 10

// decode reads r's body, a single JSON object, into dst (a pointer to a
// struct). Decoding is strict, as the configuration file's is: a field the
// type does not have is refused by name, not ignored, so that a typo
// ("redirect_uri") is not silently a client without the setting.
func decode(w http.ResponseWriter, r *http.Request, dst any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return newProblem(http.StatusUnsupportedMediaType, TypeUnsupportedMediaType, "send the body as Content-Type: application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return newProblem(http.StatusRequestEntityTooLarge, TypeTooLarge, fmt.Sprintf("the request body is larger than %d bytes", maxBody))
		}
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return newProblem(http.StatusBadRequest, TypeInvalid, "the request body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeProblem(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return newProblem(http.StatusBadRequest, TypeInvalid, "the request body holds more than one JSON value; send one object")
	}
	return nil
}

// decodeProblem says what is wrong with a body, by field where it can.
func decodeProblem(err error) *Problem {
	p := newProblem(http.StatusBadRequest, TypeInvalid, "the request body is not a valid JSON object of this operation")
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		if te.Field == "" {
			p.Detail = "the request body must be a JSON object"
			return p
		}
		p.Errors = []FieldError{{Field: te.Field, Message: "must be " + jsonKind(te.Type.Kind().String())}}
		return p
	}
	// encoding/json names an unknown field only in its message.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		p.Detail = "the request body has a field this operation does not know"
		p.Errors = []FieldError{{Field: strings.Trim(name, `"`), Message: "unknown field"}}
		return p
	}
	return p
}

// jsonKind names a Go kind in JSON words.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "int", "int64", "int32":
		return "an integer"
	}
	return "a " + kind
}
