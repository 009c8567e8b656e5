package dpop

import "testing"

func TestNormalizeURL(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"https://server.example.com/token", "https://server.example.com/token"},
		{"HTTPS://SERVER.example.COM/token", "https://server.example.com/token"},
		{"https://server.example.com:443/token", "https://server.example.com/token"},
		{"http://server.example.com:80/token", "http://server.example.com/token"},
		{"http://server.example.com:443/token", "http://server.example.com:443/token"},
		{"https://server.example.com:/token", "https://server.example.com/token"},
		{"https://server.example.com", "https://server.example.com/"},
		{"https://server.example.com?x", "https://server.example.com/"},
		{"https://server.example.com/a?b=c#d", "https://server.example.com/a"},
		{"https://server.example.com/%7euser/%2f", "https://server.example.com/~user/%2F"},
		{"https://server.example.com/a%2Db", "https://server.example.com/a-b"},
		{"https://server.example.com/a/b/c/./../../g", "https://server.example.com/a/g"},
		{"https://server.example.com/mid/content=5/../6", "https://server.example.com/mid/6"},
		{"https://server.example.com/..", "https://server.example.com/"},
		{"https://server.example.com/a/%2E%2E/b", "https://server.example.com/b"},
		{"https://server.example.com//a", "https://server.example.com//a"},
		{"https://[::1]:443/x", "https://[::1]/x"},
		{"https://[::1]:8443/x", "https://[::1]:8443/x"},
		{"https://u:p@server.example.com/x", "https://u:p@server.example.com/x"},
	} {
		got, ok := normalizeURL(c.in)
		if !ok || got != c.want {
			t.Errorf("normalizeURL(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
	for _, in := range []string{"", "/token", "server.example.com/token", "ftp://server.example.com/", "mailto:a@b", "https://", "https://h:x/", "https://h/%zz", "http://:80/", "http://:#"} {
		if got, ok := normalizeURL(in); ok {
			t.Errorf("normalizeURL(%q) = %q, want refusal", in, got)
		}
	}
}

// FuzzNormalizeURL: never panics, and a normal form is its own normal form.
func FuzzNormalizeURL(f *testing.F) {
	for _, s := range []string{"https://a/b/../c", "HTTP://A:80", "https://[::1]/%7e", "https://a/./.././", "https://a/%2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		n, ok := normalizeURL(in)
		if !ok {
			return
		}
		if again, ok := normalizeURL(n); !ok || again != n {
			t.Fatalf("normalizeURL(%q) = %q, but normalizeURL(%q) = %q, %v", in, n, n, again, ok)
		}
	})
}
