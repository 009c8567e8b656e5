package clientkeys_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports enforces the package contract: clientkeys is a leaf that any
// layer of the provider can import, so it depends on the standard library
// and go-jose only.
func TestImports(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg != "github.com/authserver-dev/authserver/authserver/clientkeys" && pkg != "github.com/authserver-dev/authserver/authserver/replay" && !strings.HasPrefix(pkg, "github.com/go-jose/go-jose/v4") {
			t.Errorf("clientkeys depends on %s", pkg)
		}
	}
}
