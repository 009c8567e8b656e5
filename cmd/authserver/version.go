package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

// printVersion prints the module version and the VCS stamp that `go build`
// records, so an operator can tell exactly which source a binary came from.
// `go run` and test binaries carry no stamp: those fields say "unknown".
func printVersion(w io.Writer) error {
	version, settings, goVersion := "(devel)", map[string]string{}, "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		goVersion = bi.GoVersion
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
	}
	get := func(k string) string {
		if v := settings[k]; v != "" {
			return v
		}
		return "unknown"
	}
	_, err := fmt.Fprintf(w, "authserver %s\nrevision: %s\ntime:     %s\nmodified: %s\ngo:       %s\n",
		version, get("vcs.revision"), get("vcs.time"), get("vcs.modified"), goVersion)
	return err
}
