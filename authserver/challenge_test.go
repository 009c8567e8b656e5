package authserver_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authserver-dev/authserver/authserver/authtest"
)

// A failed client authentication answers 401 invalid_client with a Basic
// challenge only to a client that used Basic (RFC 6749 §5.2); one that
// authenticated in the body gets no challenge naming a scheme it may not
// use.
func TestInvalidClientChallengeMatchesTheScheme(t *testing.T) {
	t.Parallel()
	p := authtest.Start(t, nil)
	form := url.Values{"grant_type": {"client_credentials"}}
	for _, tc := range []struct {
		name      string
		basic     bool
		challenge bool
	}{{"basic", true, true}, {"client_secret_post", false, false}} {
		t.Run(tc.name, func(t *testing.T) {
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			if !tc.basic {
				f.Set("client_id", "service")
				f.Set("client_secret", "wrong-secret-wrong-secret-wrong-secret")
			}
			req, _ := http.NewRequest(http.MethodPost, p.URL+"/token", strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.basic {
				req.SetBasicAuth("service", "wrong-secret-wrong-secret-wrong-secret")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := resp.Header.Get("WWW-Authenticate")
			if resp.StatusCode != http.StatusUnauthorized || strings.HasPrefix(got, "Basic") != tc.challenge {
				t.Errorf("status %d, WWW-Authenticate %q; want 401 with a Basic challenge: %v", resp.StatusCode, got, tc.challenge)
			}
		})
	}
}
