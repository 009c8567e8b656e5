package config

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written in YAML as a Go duration string ("15m",
// "60s", "720h") or as whole seconds (30). yaml.v3 alone would read a bare
// integer as nanoseconds, which no operator means.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d like time.Duration ("15m0s").
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalYAML writes d as a duration string, which UnmarshalYAML reads back.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML reads a duration string or whole seconds. Errors are returned
// as *yaml.TypeError with the line, so decoding goes on and the file's other
// problems are reported too.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*d = Duration(v)
	return nil
}

func parseDuration(n *yaml.Node) (time.Duration, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, fmt.Errorf("a duration must be a single value such as \"15m\" or 30 (seconds)")
	}
	if n.ShortTag() == "!!int" {
		secs, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil || secs > math.MaxInt64/int64(time.Second) || secs < math.MinInt64/int64(time.Second) {
			return 0, fmt.Errorf("duration %q is out of range", n.Value)
		}
		return time.Duration(secs) * time.Second, nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: use a number with a unit such as \"60s\", \"15m\" or \"720h\", or whole seconds", n.Value)
	}
	return v, nil
}
