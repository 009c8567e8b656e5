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
		{[]string{"--help"}, "Flags of democlient:"},
		{[]string{"-h"}, "Flags of democlient:"},
		{[]string{"help"}, "Flags of democlient:"},
		{[]string{"serve", "--help"}, "Flags of democlient:"},
		{[]string{"password", "--help"}, "Flags of democlient password:"},
		{[]string{"password", "-h"}, "Flags of democlient password:"},
		{[]string{"help", "password"}, "Flags of democlient password:"},
		{[]string{"version"}, "democlient "},
		{[]string{"--version"}, "democlient "},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tc.args, noEnv, &stdout, &stderr)
		if code != 0 || !strings.Contains(stdout.String(), tc.want) || stderr.Len() != 0 {
			t.Errorf("%q: exit %d, stdout %.60q, stderr %q; want exit 0 and %q", tc.args, code, stdout.String(), stderr.String(), tc.want)
		}
	}
	var stdout bytes.Buffer
	run(context.Background(), []string{"--help"}, noEnv, &stdout, io.Discard)
	for _, want := range []string{"democlient [serve]", "democlient password", "democlient version", "democlient help",
		"-client-secret-file", "DEMOCLIENT_CLIENT_SECRET", "DEMOCLIENT_PASSWORD"} {
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
	for _, args := range [][]string{{"frobnicate"}, {"--bogus"}, {"password", "extra"}, {"--password", "pw"}} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, noEnv, &stdout, &stderr)
		if code != 2 || stdout.Len() != 0 || !strings.Contains(stderr.String(), "Usage:") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, stdout.String(), stderr.String())
		}
	}
}

// The client secret and the password reach the demo client by file or
// environment as well as by flag (a flag shows in ps); a flag wins over the
// environment, which wins over the demo's value.
func TestSecretSources(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	secretFile, passwordFile, empty := write("secret", "file-secret\r\n"), write("password", "file-password\n"), write("empty", "")
	env := func(k string) string {
		return map[string]string{envClientSecret: "env-secret", envPassword: "env-password"}[k]
	}
	for _, tc := range []struct {
		name                 string
		mode                 string
		args                 []string
		getenv               func(string) string
		wantSecret, wantPass string
		wantErr              string
	}{
		{"demo values", "password", nil, noEnv, "demo-web-secret-not-for-production", "alice-password", ""},
		{"environment", "password", nil, env, "env-secret", "env-password", ""},
		{"flags win over environment", "password", []string{"--client-secret", "flag-secret", "--password", "flag-password"}, env, "flag-secret", "flag-password", ""},
		{"files win over environment", "password", []string{"--client-secret-file", secretFile, "--password-file", passwordFile}, env, "file-secret", "file-password", ""},
		{"empty flag makes a public client", "serve", []string{"--client-secret", ""}, env, "", "", ""},
		{"environment in serve mode", "serve", nil, env, "env-secret", "", ""},
		{"flag and file", "serve", []string{"--client-secret", "x", "--client-secret-file", secretFile}, noEnv, "", "", "not both"},
		{"missing file", "serve", []string{"--client-secret-file", secretFile + ".absent"}, noEnv, "", "", "no such file"},
		{"empty file", "password", []string{"--password-file", empty}, noEnv, "", "", "is empty"},
		{"password file only in password mode", "serve", []string{"--password-file", passwordFile}, noEnv, "", "", "not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, cr, err := parseFlags(tc.mode, tc.args, tc.getenv)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || c.ClientSecret != tc.wantSecret || cr.Password != tc.wantPass {
				t.Fatalf("secret, password = %q, %q (%v); want %q, %q", c.ClientSecret, cr.Password, err, tc.wantSecret, tc.wantPass)
			}
		})
	}
}

// Audit finding "Sample API and demo client without Read/Idle timeouts": the
// demo client's server had only ReadHeaderTimeout, so a client trickling a
// body or holding idle connections kept them open forever. It must have the
// provider's timeouts.
func TestSampleAPIAndDemoClientWithoutReadIdleTimeouts(t *testing.T) {
	t.Parallel()
	srv := newHTTPServer(http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	got := []time.Duration{srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout}
	want := []time.Duration{10 * time.Second, 30 * time.Second, 30 * time.Second, 120 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("ReadHeader, Read, Write, Idle timeouts = %v, want %v", got, want)
			break
		}
	}
}
