package adminapi

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// inProcess is an http.RoundTripper that answers requests for the issuer's
// origin from the provider's http.Handler directly, without a socket, so
// that verifying an admin token never depends on the public URL being
// reachable (or resolvable) from the provider's own host. Any other URL is
// refused: the verifier has no business elsewhere.
type inProcess struct {
	origin  string // scheme://host of the issuer
	handler http.Handler
}

func newInProcess(issuer string, h http.Handler) (*inProcess, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("issuer %q is not an absolute URL", issuer)
	}
	return &inProcess{origin: u.Scheme + "://" + u.Host, handler: h}, nil
}

func (t *inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		defer req.Body.Close()
	}
	if req.URL.Scheme+"://"+req.URL.Host != t.origin {
		return nil, fmt.Errorf("adminapi: in-process transport serves only %s, not %s://%s", t.origin, req.URL.Scheme, req.URL.Host)
	}
	in := req.Clone(req.Context())
	in.RequestURI = req.URL.RequestURI()
	in.Host = req.URL.Host
	in.RemoteAddr = "" // no peer: the provider's access log shows no client IP
	if in.Body == nil {
		in.Body = http.NoBody
	}
	rec := &recorder{header: http.Header{}}
	t.handler.ServeHTTP(rec, in)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	body := rec.body.Bytes()
	return &http.Response{
		Status:        strconv.Itoa(rec.status) + " " + http.StatusText(rec.status),
		StatusCode:    rec.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rec.header,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}, nil
}

// recorder is the http.ResponseWriter of an in-process request. The
// provider's answers to discovery and JWKS requests are small.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
