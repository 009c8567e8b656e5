package resource_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports enforces the package contract: a resource server depends on
// the standard library, go-jose and authserver/dpop (itself a leaf of the
// standard library and go-jose) only, never on the provider's code.
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
		switch {
		case pkg == "github.com/authserver-dev/authserver/resource", pkg == "github.com/authserver-dev/authserver/authserver/dpop",
			pkg == "github.com/authserver-dev/authserver/authserver/replay":
		case strings.HasPrefix(pkg, "github.com/go-jose/go-jose/v4"):
		default:
			t.Errorf("resource depends on %s", pkg)
		}
	}
}
