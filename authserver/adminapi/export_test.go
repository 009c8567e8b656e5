package adminapi

// Patterns are the ServeMux patterns of every route, for the test that
// holds them against openapi.json.
func (h *Handler) Patterns() []string {
	var out []string
	for _, rt := range h.routes() {
		out = append(out, rt.pattern())
	}
	return out
}
