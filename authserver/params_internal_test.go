package authserver

import "testing"

// The claims parameter is JSON, which clients may pretty-print; JSON's
// whitespace is allowed there and nowhere else.
func TestClaimsParameterMayBePrettyPrinted(t *testing.T) {
	pretty := "{\r\n\t\"userinfo\": {\n\t\t\"email\": null\n\t}\n}"
	if err := checkParam("claims", pretty); err != nil {
		t.Fatalf("pretty-printed claims refused: %v", err)
	}
	for _, name := range []string{"state", "scope", "nonce"} {
		if err := checkParam(name, "a\nb"); err == nil {
			t.Errorf("a newline in %s was accepted", name)
		}
	}
	if err := checkParam("claims", "{\x00}"); err == nil {
		t.Error("a NUL byte in claims was accepted")
	}
}
