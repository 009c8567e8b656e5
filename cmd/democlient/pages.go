package main

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"
)

//go:embed web/*.html web/style.css
var webFS embed.FS

// pages are the app's parsed templates and its stylesheet, which is served
// under a content-hash name so browsers may cache it for good.
type pages struct {
	byName  map[string]*template.Template
	css     []byte
	cssPath string
}

// Data of each page.
type (
	homeView struct {
		Issuer, ClientID, SignedInAs string
		SignedOutByProvider          bool
		MFA                          string // the acr_values of "Sign in with MFA"
	}
	errorView struct {
		Title, Message, Code, Description string
	}
	claim  struct{ Name, Value string }
	meView struct {
		Name, CSRF                      string
		Flash                           string
		FlashIsError                    bool
		Checks                          []string
		IDClaims, AccessClaims          []claim
		SignIn                          signInView
		AccessNote, AccessExpiry, Scope string
		RefreshIssued                   bool
		API                             apiResult
		DPoP                            *dpopView // nil without --dpop
	}
	// dpopView says whether the access token is bound to the app's key
	// and whether the API accepted the proof of possession.
	dpopView struct {
		KeyJKT     string // the thumbprint of the app's key
		TokenType  string // as the token response said
		TokenJKT   string // the access token's cnf.jkt, decoded without verification
		Bound      bool   // TokenJKT is KeyJKT
		APIUsed    bool   // the API was called with the DPoP scheme and a proof
		APIAccepts bool   // and answered 2xx
	}
)

func loadPages() (*pages, error) {
	css, err := webFS.ReadFile("web/style.css")
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(css)
	p := &pages{
		byName:  map[string]*template.Template{},
		css:     css,
		cssPath: "/static/style." + hex.EncodeToString(sum[:8]) + ".css",
	}
	funcs := template.FuncMap{
		"stylesheet": func() string { return p.cssPath },
		"wide":       func(data any) bool { _, ok := data.(meView); return ok },
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(webFS, "web/layout.html")
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"home.html", "error.html", "me.html"} {
		t, err := base.Clone()
		if err == nil {
			t, err = t.ParseFS(webFS, "web/"+name)
		}
		if err != nil {
			return nil, fmt.Errorf("web/%s: %w", name, err)
		}
		p.byName[name] = t.Lookup(name)
	}
	return p, nil
}

// stylesheet serves the CSS; only its current hashed path is routed to it.
func (p *pages) stylesheet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(p.css))
	})
}

// render buffers the page so a template error never sends half a page, then
// writes it with headers that keep tokens and claims out of caches, frames
// and Referer headers.
func (a *app) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := a.pages.byName[name].Execute(&buf, data); err != nil {
		a.log.Error("rendering page", "page", name, "err", err)
		http.Error(w, "internal error while rendering the page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action "+
		strings.Join(append([]string{"'self'"}, a.formActionOrigins()...), " ")+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// renderError shows an error page with a link home.
func (a *app) renderError(w http.ResponseWriter, status int, v errorView) {
	a.render(w, status, "error.html", v)
}
