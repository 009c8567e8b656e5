package keys

import (
	"encoding/json"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// slowHeader is the header appendHeader must produce, built with
// encoding/json alone.
func slowHeader(t testing.TB, k *signingKey, extra map[jose.HeaderKey]interface{}) string {
	t.Helper()
	all := map[string]interface{}{}
	for name, v := range extra {
		all[string(name)] = v
	}
	rest, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	return string(k.headerPrefix) + "," + string(rest[1:])
}

func testSigningKey(t testing.TB) *signingKey {
	t.Helper()
	priv, _ := Generate(EdDSA)
	kid, _ := KeyID(priv)
	k, err := newSigningKey(EdDSA, kid, priv)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestHeaderMatchesEncodingJSON(t *testing.T) {
	k := testSigningKey(t)
	cases := []map[jose.HeaderKey]interface{}{
		{"typ": "at+jwt"},
		{"typ": "JWT", "cty": "JWT"},
		{"z": "1", "a": "2", "m": "3", "b": "4", "y": "5", "c": "6", "x": "7", "d": "8"},
		{"z": "1", "a": "2", "m": "3", "b": "4", "y": "5", "c": "6", "x": "7", "d": "8", "e": "9"},
		{"typ": "a<b"},
		{"typ": "quote\"d", "x": "back\\slash"},
		{"typ": "ünïcode"},
		{"typ": "line\nbreak"},
		{"n": 1, "typ": "x"},
		{"b": true, "list": []string{"a", "b"}},
		{"": ""},
	}
	for _, extra := range cases {
		got, err := k.appendHeader(nil, extra)
		if err != nil {
			t.Fatal(err)
		}
		if want := slowHeader(t, k, extra); string(got) != want {
			t.Errorf("header\n got %s\nwant %s", got, want)
		}
	}
}

func FuzzHeader(f *testing.F) {
	k := testSigningKey(f)
	f.Add("typ", "at+jwt", "cty", "JWT")
	f.Add("a", "\x00", "b", "\u2028")
	f.Add("typ", "x", "typ2", "<script>")
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2 string) {
		extra := map[jose.HeaderKey]interface{}{jose.HeaderKey(n1): v1, jose.HeaderKey(n2): v2}
		got, err := k.appendHeader(nil, extra)
		if err != nil {
			if !reservedHeaders[jose.HeaderKey(n1)] && !reservedHeaders[jose.HeaderKey(n2)] {
				t.Fatal(err)
			}
			return
		}
		if want := slowHeader(t, k, extra); string(got) != want {
			t.Fatalf("header\n got %q\nwant %q", got, want)
		}
		var decoded map[string]interface{}
		if err := json.Unmarshal(got, &decoded); err != nil {
			t.Fatalf("header is not JSON: %v", err)
		}
	})
}
