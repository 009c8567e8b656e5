package mfa_test

import (
	"context"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/authserver-dev/authserver/authserver/mfa"
	"github.com/authserver-dev/authserver/authserver/storage"
	"github.com/authserver-dev/authserver/templates"
)

// The contract of templates/static/webauthn.js with this package, in a real
// Chromium with a virtual authenticator (CTAP2, internal, resident keys,
// user verification), under a policy that allows our scripts only: the
// options the service makes go through the script to the browser, and the
// browser's answer through the script to the service. The pages themselves
// (login, account) have their own browser tests.

// scriptPage is a minimal page with one passkey form, as the real pages
// write it.
var scriptPage = template.Must(template.New("p").Parse(`<!doctype html>
<html><head><title>{{.Kind}}</title></head><body>
<input id="username" autocomplete="username webauthn">
<form method="post" action="/finish/{{.Kind}}" data-webauthn="{{.Kind}}" data-webauthn-options="{{.Options}}"{{if .Conditional}} data-webauthn-conditional{{end}}>
<input type="hidden" name="state" value="{{.State}}">
<input type="hidden" name="webauthn_response">
<p id="status" data-webauthn-status hidden></p>
<button id="go" type="submit">Go</button>
</form>
<script src="{{.Script}}" defer></script>
</body></html>`))

// scriptServer serves the pages and finishes the ceremonies, keeping the
// passkey records it was given back, as a store would.
type scriptServer struct {
	t     *testing.T
	svc   *mfa.Service
	pages *templates.Pages
	mu    sync.Mutex
	recs  []storage.WebAuthnCredential
	// signedIn receives the user of each passkey sign-in.
	signedIn chan string
}

func (s *scriptServer) creds() []storage.WebAuthnCredential {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]storage.WebAuthnCredential(nil), s.recs...)
}

func (s *scriptServer) put(rec storage.WebAuthnCredential) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range s.recs {
		if r.ID == rec.ID {
			s.recs[i] = rec
			return
		}
	}
	s.recs = append(s.recs, rec)
}

func (s *scriptServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, templates.StaticPrefix) {
		s.pages.AssetHandler().ServeHTTP(w, r)
		return
	}
	kind, finish := strings.CutPrefix(r.URL.Path, "/finish/")
	if !finish {
		kind = strings.TrimPrefix(r.URL.Path, "/")
	}
	if finish {
		s.finish(w, r, kind)
		return
	}
	var opts []byte
	var state string
	var err error
	switch kind {
	case "register":
		opts, state, err = s.svc.BeginRegistration(alice, s.creds())
	case "login":
		opts, state, err = s.svc.BeginLogin(alice, s.creds())
	case "discoverable", "conditional":
		opts, state, err = s.svc.BeginDiscoverableLogin()
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; form-action 'self'; base-uri 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	dataKind := kind
	if kind == "conditional" {
		dataKind = "discoverable"
	}
	scriptPage.Execute(w, map[string]any{"Kind": dataKind, "Options": string(opts), "State": state,
		"Conditional": kind == "conditional", "Script": s.pages.WebAuthnScriptURL()})
}

func (s *scriptServer) finish(w http.ResponseWriter, r *http.Request, kind string) {
	state, resp := r.PostFormValue("state"), []byte(r.PostFormValue("webauthn_response"))
	var got mfa.Assertion
	var err error
	switch kind {
	case "register":
		var rec storage.WebAuthnCredential
		if rec, err = s.svc.FinishRegistration(r.Context(), alice, state, resp); err == nil {
			s.put(rec)
			fmt.Fprintf(w, "registered %s", rec.UserID)
			return
		}
	case "login":
		got, err = s.svc.FinishLogin(r.Context(), alice, s.creds(), state, resp)
	case "discoverable":
		got, err = s.svc.FinishDiscoverableLogin(r.Context(), state, resp, lookupIn(s.creds()...))
	}
	if err != nil {
		s.t.Logf("finish %s: %v (response %s)", kind, err, resp)
		http.Error(w, "refused: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.put(got.Credential)
	select {
	case s.signedIn <- got.Credential.UserID:
	default:
	}
	fmt.Fprintf(w, "signed in %s %v", got.Credential.UserID, mfa.AMRFor(false, got.Factor()))
}

func TestWebAuthnScriptInChromium(t *testing.T) {
	t.Parallel()
	path, err := exec.LookPath(chromiumPath())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium not found (%v); CI must install it or set CHROMIUM", err)
		}
		t.Skipf("Chromium not found (%v); install it or set CHROMIUM", err)
	}
	pages, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	// http://localhost is a secure context, and "localhost" a valid RP id
	// (an IP address is not).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := "http://localhost:" + fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	svc, err := mfa.New(mfa.Config{RPID: "localhost", RPName: "Test", Origins: []string{origin}, Key: testKey, Replay: replayStoreOf(t)})
	if err != nil {
		t.Fatal(err)
	}
	srv := &scriptServer{t: t, svc: svc, pages: pages, signedIn: make(chan string, 1)}
	hs := httptest.NewUnstartedServer(srv)
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	t.Cleanup(hs.Close)

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(path),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true), chromedp.Flag("disable-sync", true))
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	ctx := tab
	if _, err := chromedp.Call(ctx, cdpwebauthn.Enable, cdpwebauthn.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{
		Options: &cdpwebauthn.VirtualAuthenticatorOptions{
			Protocol: cdpwebauthn.AuthenticatorProtocolCtap2, Ctap2version: cdpwebauthn.Ctap2versionCtap21,
			Transport: cdpwebauthn.AuthenticatorTransportInternal, HasResidentKey: true,
			HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
		}}); err != nil {
		t.Fatal(err)
	}

	run := func(kind, want string) {
		t.Helper()
		// A ceiling for a hung page, not a performance assertion.
		ctx, cancel := context.WithTimeout(tab, 30*time.Second)
		defer cancel()
		err := chromedp.Do(ctx,
			chromedp.Navigate(origin+"/"+kind),
			chromedp.WaitVisible(chromedp.CSS("#go")),
			chromedp.Click(chromedp.CSS("#go")),
			chromedp.WaitNotPresent(chromedp.CSS("#go")),
		)
		body, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		if err != nil {
			t.Fatalf("%s: %v; page: %s", kind, err, body)
		}
		if !strings.Contains(body, want) {
			t.Fatalf("%s: the server said %q, want %q", kind, body, want)
		}
	}
	run("register", "registered "+alice.ID)
	if n := len(srv.creds()); n != 1 {
		t.Fatalf("%d passkeys after enrolment", n)
	}
	run("discoverable", "signed in "+alice.ID+" [hwk user mfa]")
	<-srv.signedIn
	run("login", "signed in "+alice.ID)
	<-srv.signedIn

	// Conditional mediation: the virtual authenticator (presence
	// simulated) answers the autofill request as the page loads, with no
	// click, and the script submits the form.
	ctx, cancel := context.WithTimeout(tab, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(origin+"/conditional")); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-srv.signedIn:
		if got != alice.ID {
			t.Errorf("conditional: signed in %q", got)
		}
	case <-ctx.Done():
		body, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		t.Fatalf("conditional: no sign-in; page: %s", body)
	}
}

// chromiumPath is $CHROMIUM, else Debian's package.
func chromiumPath() string {
	if c := os.Getenv("CHROMIUM"); c != "" {
		return c
	}
	return "/usr/bin/chromium"
}
