package main

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportsOnlyClientLibraries keeps the demo honest: it must work with the
// provider over HTTP alone, so the program may import nothing of this module.
// Its tests may: they start the real provider to sign in against.
func TestImportsOnlyClientLibraries(t *testing.T) {
	// go-jose signs the DPoP proofs of --dpop; go-oidc depends on it anyway.
	allowed := map[string]bool{"golang.org/x/oauth2": true, "github.com/coreos/go-oidc/v3/oidc": true, "github.com/go-jose/go-jose/v4": true}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			std := !strings.Contains(strings.Split(path, "/")[0], ".")
			if !std && !allowed[path] {
				t.Errorf("%s imports %s; only the standard library, x/oauth2, go-oidc and go-jose are allowed", name, path)
			}
		}
	}
}
