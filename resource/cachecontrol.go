package resource

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxDeltaSeconds is the value RFC 9111 §1.2.2 tells a cache to use for a
// delta-seconds too large to represent: rather than refuse such a response,
// treat it as "fresh for a very long time" (KeyMaxAge caps it anyway).
const maxDeltaSeconds = 1 << 31

// cacheControlLifetime returns the freshness lifetime a response's
// Cache-Control grants (RFC 9111 §4.2.1), and false when it grants none
// either way, so that the caller can apply its own default.
//
// It errs towards refreshing sooner, since the worst a short lifetime does
// is cost a (conditional, rate-limited) fetch while a long one keeps a key
// the provider withdrew: no-store and no-cache (with or without field names)
// mean 0 whatever else is present, several max-age directives yield the
// smallest, and a max-age that is not delta-seconds means 0 (RFC 9111 §4.2.1
// encourages treating invalid freshness information as stale). s-maxage is
// ignored: it is for shared caches, and this one is private to the process.
func cacheControlLifetime(h http.Header) (time.Duration, bool) {
	var (
		life  time.Duration
		found bool
	)
	for _, d := range cacheDirectives(h.Values("Cache-Control")) {
		switch d.name {
		case "no-store", "no-cache":
			return 0, true
		case "max-age":
			secs, ok := parseDeltaSeconds(d.arg, d.valid)
			if !ok {
				secs = 0
			}
			if v := time.Duration(secs) * time.Second; !found || v < life {
				life = v
			}
			found = true
		}
	}
	return life, found
}

// responseAge returns the Age a cache between us and the provider (a CDN,
// say) reports for a response (RFC 9111 §5.1): that much of its freshness
// lifetime is already used up. A missing or invalid Age counts as 0.
func responseAge(h http.Header) time.Duration {
	v := h.Values("Age")
	if len(v) == 0 {
		return 0
	}
	secs, ok := parseDeltaSeconds(strings.TrimSpace(v[0]), true)
	if !ok {
		return 0
	}
	return time.Duration(secs) * time.Second
}

// parseDeltaSeconds parses RFC 9111 delta-seconds: ASCII digits only, no
// sign, saturating at maxDeltaSeconds.
func parseDeltaSeconds(s string, valid bool) (int64, bool) {
	if !valid || s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > maxDeltaSeconds { // only ErrRange is possible here
		n = maxDeltaSeconds
	}
	return n, true
}

// cacheDirective is one Cache-Control directive.
type cacheDirective struct {
	name  string // lower-cased: directive names are case-insensitive
	arg   string // unquoted argument, empty when there is none
	valid bool   // false when the argument is a malformed quoted-string
}

// cacheDirectives splits Cache-Control field values into directives
// (RFC 9111 §5.2). A comma inside a quoted argument, as in
// no-cache="Set-Cookie, Vary", does not end the directive, and an argument
// may be quoted: recipients are asked to accept max-age="60" too.
func cacheDirectives(values []string) []cacheDirective {
	var out []cacheDirective
	for _, v := range values {
		for v != "" {
			var item string
			item, v = nextListItem(v)
			name, arg, hasArg := strings.Cut(item, "=")
			name = strings.ToLower(strings.Trim(name, " \t"))
			if name == "" {
				continue
			}
			d := cacheDirective{name: name, valid: true}
			if hasArg {
				d.arg, d.valid = unquote(strings.Trim(arg, " \t"))
			}
			out = append(out, d)
		}
	}
	return out
}

// nextListItem returns the text up to the first comma of s that is not
// inside a quoted-string, and the rest after that comma.
func nextListItem(s string) (item, rest string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++ // quoted-pair: the next byte is literal
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// unquote returns a token argument as is and a quoted-string argument
// without its quotes and escapes; ok is false for an unterminated or
// otherwise malformed quoted-string.
func unquote(s string) (string, bool) {
	if !strings.HasPrefix(s, `"`) {
		return s, !strings.Contains(s, `"`)
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 == len(s) {
				return "", false
			}
			i++
			b.WriteByte(s[i])
		case '"':
			return b.String(), i == len(s)-1
		default:
			b.WriteByte(c)
		}
	}
	return "", false
}
