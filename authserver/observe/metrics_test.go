package observe_test

import (
	"slices"
	"testing"

	"github.com/authserver-dev/authserver/authserver/observe"
	"github.com/authserver-dev/authserver/authserver/observe/observetest"
)

// TestMetricsAreTheServersOwn: two sets in one process (two servers in one
// test) register without a collision and count separately, and neither
// touches the global default registry.
func TestMetricsAreTheServersOwn(t *testing.T) {
	t.Parallel()
	a, b := observe.NewMetrics(), observe.NewMetrics()
	a.TokenIssued("password")
	a.Login(observe.OutcomeFailed)
	a.RefreshReuseDetected()
	a.Revocation()
	a.KeyRotation()
	a.StoreError()
	a.Throttled(observe.ThrottleLogin)
	a.BackchannelLogout(observe.OutcomeFailed)

	fa, fb := observetest.Scrape(t, a.Handler()), observetest.Scrape(t, b.Handler())
	for _, c := range []struct {
		name   string
		labels []string
	}{
		{"authserver_tokens_issued_total", []string{"grant_type", "password"}},
		{"authserver_logins_total", []string{"outcome", "failed"}},
		{"authserver_refresh_reuse_detected_total", nil},
		{"authserver_revocations_total", nil},
		{"authserver_key_rotations_total", nil},
		{"authserver_store_errors_total", nil},
		{"authserver_throttled_requests_total", []string{"kind", "login"}},
		{"authserver_backchannel_logouts_total", []string{"outcome", "failed"}},
	} {
		if got := fa.Value(c.name, c.labels...); got != 1 {
			t.Errorf("%s%v = %v in the set that counted, want 1", c.name, c.labels, got)
		}
		if _, ok := fb[c.name]; !ok {
			t.Errorf("%s is missing from a fresh set (want it at 0)", c.name)
		}
		if got := fb.Value(c.name, c.labels...); got != 0 {
			t.Errorf("%s%v = %v in the other set, want 0", c.name, c.labels, got)
		}
	}
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_start_time_seconds"} {
		if _, ok := fa[name]; !ok {
			t.Errorf("runtime/process metric %s missing", name)
		}
	}
}

// TestMetricsKnownLabelsStartAtZero: alerting on a rate needs the series
// before the first event.
func TestMetricsKnownLabelsStartAtZero(t *testing.T) {
	t.Parallel()
	f := observetest.Scrape(t, observe.NewMetrics().Handler())
	for name, want := range map[string][]string{
		"authserver_tokens_issued_total":       {"authorization_code", "client_credentials", "password", "refresh_token"},
		"authserver_logins_total":              {"failed", "succeeded"},
		"authserver_throttled_requests_total":  {"client_auth", "login"},
		"authserver_backchannel_logouts_total": {"failed", "succeeded"},
	} {
		var got []string
		for _, l := range []string{"grant_type", "outcome", "kind"} {
			got = append(got, f.LabelValues(name, l)...)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s label values = %q, want %q", name, got, want)
		}
	}
}

// TestNilMetricsCountNothing: code that counts need not check for wiring.
func TestNilMetricsCountNothing(t *testing.T) {
	t.Parallel()
	var m *observe.Metrics
	m.TokenIssued("password")
	m.Login(observe.OutcomeSucceeded)
	m.StoreError()
}
