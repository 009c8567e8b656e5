package dpop_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports enforces the package contract: dpop is a leaf that package
// resource (copied into third-party APIs) can import, so it depends on the
// standard library and go-jose only.
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
		if pkg != "github.com/authserver-dev/authserver/authserver/dpop" && pkg != "github.com/authserver-dev/authserver/authserver/replay" && !strings.HasPrefix(pkg, "github.com/go-jose/go-jose/v4") {
			t.Errorf("dpop depends on %s", pkg)
		}
	}
}
