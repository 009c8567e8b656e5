package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/authserver-dev/authserver/resource"
)

// maxNoteBody bounds a note request body; notes are short texts.
const maxNoteBody = 64 << 10

// newAPI returns the sample API: every /api route checks its scope through
// v, which also authenticates the request. v is either verifier of package
// resource; the routes do not care which.
func newAPI(v resource.TokenVerifier) http.Handler {
	var lastNoteID atomic.Int64 // notes are only echoed: this is a demo, not a store
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET /api/profile", resource.RequireScope(v, "api.read", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := resource.ClaimsFromContext(r.Context())
		writeJSON(w, http.StatusOK, map[string]string{
			"sub":       c.Subject,
			"client_id": c.ClientID,
			"scope":     strings.Join(c.Scopes, " "),
			"message":   fmt.Sprintf("hello %s from the sample API", c.Subject),
		})
	})))
	mux.Handle("POST /api/notes", resource.RequireScope(v, "api.write", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := resource.ClaimsFromContext(r.Context())
		var in struct {
			Text string `json:"text"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxNoteBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil || strings.TrimSpace(in.Text) == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{
				"error":             "invalid_request",
				"error_description": `expected a JSON body {"text":"..."} with a non-empty text`,
			})
			return
		}
		writeJSON(w, http.StatusCreated, map[string]string{
			"id":   fmt.Sprintf("note-%d", lastNoteID.Add(1)),
			"sub":  c.Subject,
			"text": in.Text,
		})
	})))
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
