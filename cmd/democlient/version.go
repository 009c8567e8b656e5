package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

// printVersion prints the module version and the VCS stamp of `go build`
// ("unknown" for `go run` and test binaries).
func printVersion(w io.Writer) {
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
	fmt.Fprintf(w, "democlient %s\nrevision: %s\ntime:     %s\nmodified: %s\ngo:       %s\n",
		version, get("vcs.revision"), get("vcs.time"), get("vcs.modified"), goVersion)
}
