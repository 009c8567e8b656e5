// Package observetest reads what package observe produces, for tests: it
// captures a JSON process log and parses its lines, and scrapes a metrics
// handler and parses the exposition with prometheus/common/expfmt, exactly as
// Prometheus would. It is a test helper, like net/http/httptest: nothing in
// the product imports it.
package observetest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Logs is an io.Writer that keeps everything a logger writes. It is safe for
// concurrent use, as a server's logger must be.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *Logs) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

// String is everything written so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Lines parses every line written so far as one JSON object (log.format
// json); a line that is not JSON fails the test.
func (l *Logs) Lines(t testing.TB) []Line {
	t.Helper()
	var lines []Line
	for _, raw := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if raw == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			t.Fatalf("log line is not JSON: %v\n%s", err, raw)
		}
		lines = append(lines, Line{Raw: raw, Fields: m})
	}
	return lines
}

// Line is one parsed log line.
type Line struct {
	Raw    string
	Fields map[string]any
}

// Str is the field as a string ("" when absent or not a string).
func (l Line) Str(key string) string {
	s, _ := l.Fields[key].(string)
	return s
}

// Where returns the lines whose key field equals value.
func Where(lines []Line, key, value string) []Line {
	var out []Line
	for _, l := range lines {
		if l.Str(key) == value {
			out = append(out, l)
		}
	}
	return out
}

// Scrape fetches h (a /metrics handler) and parses the text exposition.
func Scrape(t testing.TB, h http.Handler) Families {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", "text/plain") // the classic text format, which TextParser reads
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: status %d: %s", rec.Code, rec.Body)
	}
	return Parse(t, rec.Body)
}

// Parse reads a text exposition.
func Parse(t testing.TB, r io.Reader) Families {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("parsing the metrics: %v", err)
	}
	return fams
}

// Families are parsed metric families by name.
type Families map[string]*dto.MetricFamily

// Value is the value of the counter, gauge or untyped sample of family name
// whose labels include every labels pair (name, value, name, value, ...),
// summed over the samples that match; for a histogram it is the sample
// count. It is 0 when nothing matches.
func (f Families) Value(name string, labels ...string) float64 {
	mf := f[name]
	if mf == nil {
		return 0
	}
	sum := 0.0
	for _, m := range mf.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum
}

// LabelValues lists the values of label across the samples of family name.
func (f Families) LabelValues(name, label string) []string {
	var out []string
	for _, m := range f[name].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == label {
				out = append(out, lp.GetValue())
			}
		}
	}
	return out
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
