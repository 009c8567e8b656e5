package dpop

import (
	"net/url"
	"strings"
)

// normalizeURL returns the form in which htu and the request's URL are
// compared (RFC 9449 §4.3 check 9): an absolute http or https URL without
// query and fragment, after the syntax-based (RFC 3986 §6.2.2: case of
// scheme and host, percent-encoding, dot segments) and scheme-based
// (§6.2.3: default port, empty path) normalisations. It reports false for
// anything else, which then matches nothing.
//
// Without it, a client whose library writes "HTTPS://API.example.com:443/x"
// would be refused for a request to https://api.example.com/x, although
// both name the same resource.
func normalizeURL(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.Hostname() == "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	var defaultPort string
	switch scheme {
	case "http":
		defaultPort = "80"
	case "https":
		defaultPort = "443"
	default:
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // an IPv6 literal
	}
	if port := u.Port(); port != "" && port != defaultPort {
		host += ":" + port
	}
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString("://")
	if u.User != nil {
		// Kept, so that it can only ever match a request URL with the same
		// userinfo, which ours never have.
		b.WriteString(u.User.String())
		b.WriteByte('@')
	}
	b.WriteString(host)
	path := removeDotSegments(normalizePercentEncoding(u.EscapedPath()))
	if path == "" {
		path = "/"
	}
	b.WriteString(path)
	return b.String(), true
}

// normalizePercentEncoding writes the hex digits of every percent-encoded
// octet in upper case and decodes those that encode an unreserved character
// (RFC 3986 §6.2.2.1, §6.2.2.2).
func normalizePercentEncoding(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			b.WriteByte(s[i])
			continue
		}
		c := unhex(s[i+1])<<4 | unhex(s[i+2])
		if isUnreserved(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(upper(s[i+1]))
			b.WriteByte(upper(s[i+2]))
		}
		i += 2
	}
	return b.String()
}

// removeDotSegments is RFC 3986 §5.2.4, used by §6.2.2.3.
func removeDotSegments(in string) string {
	if !strings.Contains(in, ".") {
		return in
	}
	out := make([]byte, 0, len(in))
	dropLastSegment := func() {
		if i := strings.LastIndexByte(string(out), '/'); i >= 0 {
			out = out[:i]
		} else {
			out = out[:0]
		}
	}
	for in != "" {
		switch {
		case strings.HasPrefix(in, "../"):
			in = in[3:]
		case strings.HasPrefix(in, "./"):
			in = in[2:]
		case strings.HasPrefix(in, "/./"):
			in = in[2:]
		case in == "/.":
			in = "/"
		case strings.HasPrefix(in, "/../"):
			in = in[3:]
			dropLastSegment()
		case in == "/..":
			in = "/"
			dropLastSegment()
		case in == "." || in == "..":
			in = ""
		default:
			// Move the first segment, with its leading "/", to out.
			end := strings.IndexByte(in[1:], '/') + 1
			if end == 0 {
				end = len(in)
			}
			out = append(out, in[:end]...)
			in = in[end:]
		}
	}
	return string(out)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

// isUnreserved is RFC 3986 §2.3.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
