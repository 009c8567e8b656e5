package authserver

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/authserver-dev/authserver/templates"
)

// responseModeFormPost is OAuth 2.0 Form Post Response Mode: the
// authorization response is an HTML form that the browser posts to the
// redirect URI, so that the code never appears in a URL (and so in no
// history, log or Referer). ASP.NET Core and OWIN ask for it by default.
const responseModeFormPost = "form_post"

// formPostOrder is the order of the response fields in the form; any other
// field follows, sorted. The order means nothing to the client, but a fixed
// one keeps the page the same for the same response.
var formPostOrder = []string{"code", "error", "error_description", "state", "iss"}

// postToClient answers with the page that posts params to the validated
// redirect URI. The page submits itself with a small script of ours (the
// Content-Security-Policy allows no inline script) and shows a button for a
// browser without JavaScript. Its form may go only to the redirect URI's
// origin (form-action), and it is never cached: it carries the code.
func (s *Server) postToClient(w http.ResponseWriter, req *authzRequest, params url.Values) {
	var fields []templates.Field
	names := make([]string, 0, len(params))
	for name := range params {
		if !slices.Contains(formPostOrder, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range append(slices.Clone(formPostOrder), names...) {
		for _, v := range params[name] {
			fields = append(fields, templates.Field{Name: name, Value: v})
		}
	}
	s.render(w, http.StatusOK, templates.FormPost{ClientName: clientName(req.client), Action: req.redirectURI, Fields: fields})
}

// httpURL reports whether raw is an absolute http or https URL, the only
// kind a browser form can post to.
func httpURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
