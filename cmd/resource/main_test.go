package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func noEnv(string) string { return "" }

func TestHelpAndVersionExitZero(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--help"}, "Usage:"},
		{[]string{"-h"}, "Usage:"},
		{[]string{"help"}, "Usage:"},
		{[]string{"serve", "--help"}, "Usage:"},
		{[]string{"--issuer", "http://x", "-h"}, "Usage:"},
		{[]string{"version"}, "resource "},
		{[]string{"--version"}, "resource "},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tc.args, noEnv, &stdout, &stderr)
		if code != 0 || !strings.HasPrefix(stdout.String(), tc.want) || stderr.Len() != 0 {
			t.Errorf("%q: exit %d, stdout %.50q, stderr %q", tc.args, code, stdout.String(), stderr.String())
		}
	}
	var stdout bytes.Buffer
	run(context.Background(), []string{"help"}, noEnv, &stdout, io.Discard)
	for _, want := range []string{"resource [serve]", "resource version", "resource help", "-client-secret-file", "RESOURCE_CLIENT_SECRET"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, stdout.String())
		}
	}
	var vout bytes.Buffer
	run(context.Background(), []string{"version"}, noEnv, &vout, io.Discard)
	if !strings.Contains(vout.String(), "\nrevision: ") || !strings.Contains(vout.String(), "\ngo: ") {
		t.Errorf("version output:\n%s", vout.String())
	}
}

func TestUsageMistakesExitTwo(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"frobnicate"}, {"--bogus"}, {"serve", "extra"}} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, noEnv, &stdout, &stderr)
		if code != 2 || stdout.Len() != 0 || !strings.Contains(stderr.String(), "Usage:") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, stdout.String(), stderr.String())
		}
	}
}

// The introspection secret reaches the API by file or environment as well
// as by flag (a flag shows in ps); a flag wins over the environment.
func TestClientSecretSources(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		if k == "RESOURCE_CLIENT_SECRET" {
			return "from-env"
		}
		return ""
	}
	for _, tc := range []struct {
		name    string
		args    []string
		getenv  func(string) string
		want    string
		wantErr string
	}{
		{"nothing", nil, noEnv, "", ""},
		{"environment", nil, env, "from-env", ""},
		{"flag wins over environment", []string{"--client-secret", "from-flag"}, env, "from-flag", ""},
		{"file wins over environment", []string{"--client-secret-file", file}, env, "from-file", ""},
		{"file alone", []string{"--client-secret-file", file}, noEnv, "from-file", ""},
		{"flag and file", []string{"--client-secret", "x", "--client-secret-file", file}, noEnv, "", "not both"},
		{"missing file", []string{"--client-secret-file", file + ".absent"}, noEnv, "", "no such file"},
		{"empty file", []string{"--client-secret-file", empty}, noEnv, "", "is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, _, err := parseFlags(tc.args, tc.getenv)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || o.clientSecret != tc.want {
				t.Fatalf("secret = %q, %v; want %q", o.clientSecret, err, tc.want)
			}
		})
	}
}

// Audit finding "Sample API and demo client without Read/Idle timeouts": the
// API's server had only ReadHeaderTimeout, so a client trickling a body or
// holding idle connections kept them open forever. It must have the
// provider's timeouts.
func TestSampleAPIAndDemoClientWithoutReadIdleTimeouts(t *testing.T) {
	t.Parallel()
	srv := newServer("127.0.0.1:0", http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	got := []time.Duration{srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout}
	want := []time.Duration{10 * time.Second, 30 * time.Second, 30 * time.Second, 120 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("ReadHeader, Read, Write, Idle timeouts = %v, want %v", got, want)
			break
		}
	}
}
