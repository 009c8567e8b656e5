// Package proctest owns running the real authserver binary as a process in
// the tests of cmd/authserver and its test-only subpackages (interop, soak):
// building it, starting it with an environment that leaves the configuration
// file in charge, sending it signals, waiting (a bounded while) for it to
// log something or answer, and stopping it when the test ends. It also has
// a free loopback port, which those tests need for a server's listener. The
// process's output goes to an observetest.Logs, which tests read while it
// writes.
//
// It is a test helper, like net/http/httptest: nothing in the product imports
// it. Tests of a provider inside the test process use authserver/authtest.
package proctest

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/authserver-dev/authserver/authserver/observe/observetest"
)

// stopGrace is how long a process asked to stop (SIGTERM) at the end of a
// test has before it is killed.
const stopGrace = 15 * time.Second

// Build compiles cmd/authserver into a directory of t's and returns the
// binary's path, so that tests can run it and send it real signals.
func Build(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "authserver")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/authserver-dev/authserver/cmd/authserver").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// FreeAddr is a loopback host:port nothing listens on right now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// tail is the last n bytes of the log, for failure messages of long runs.
func tail(log *observetest.Logs, n int) string {
	s := log.String()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}

// Process is a running authserver binary.
type Process struct {
	cmd    *exec.Cmd
	log    *observetest.Logs
	exited chan struct{}
	err    error // Wait's result, set before exited is closed
}

// Start runs bin with args until the test ends (SIGTERM, then SIGKILL after a
// grace period), its output to log. Its environment is this process's
// without any AUTHSERVER_ variable, so that the configuration file alone
// configures it, plus env.
func Start(t testing.TB, bin string, args, env []string, log *observetest.Logs) *Process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AUTHSERVER_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Process{cmd: cmd, log: log, exited: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	t.Cleanup(p.stop)
	return p
}

// Log is where the process writes.
func (p *Process) Log() *observetest.Logs { return p.log }

// Tail is the last n bytes the process wrote, for failure messages of long
// runs.
func (p *Process) Tail(n int) string { return tail(p.log, n) }

// Signal sends sig to the process.
func (p *Process) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// Kill sends SIGKILL to the process (and nothing else) and waits for it to
// exit.
func (p *Process) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// stop ends the process as an operator would, unless it has exited.
func (p *Process) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(stopGrace):
		p.Kill()
	}
}

// Wait returns the process's exit status, a bounded while after it was
// asked to stop.
func (p *Process) Wait(t testing.TB) error {
	t.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(60 * time.Second):
		t.Fatalf("did not exit:\n%s", tail(p.log, 8000))
		return nil
	}
}

// Await checks cond every few milliseconds, a bounded number of times, until
// it holds; it fails t, with the log, if the process exits first or cond
// never holds. what names the awaited state in the failure.
func (p *Process) Await(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for range 3000 {
		if cond() {
			return
		}
		select {
		case <-p.exited:
			t.Fatalf("exited (%v) before %s:\n%s", p.err, what, tail(p.log, 8000))
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("never %s:\n%s", what, tail(p.log, 8000))
}

// AwaitLog waits until the process has logged want.
func (p *Process) AwaitLog(t testing.TB, want string) {
	t.Helper()
	p.Await(t, "logging "+want, func() bool { return strings.Contains(p.log.String(), want) })
}

// AwaitOK waits until a GET of url with client answers 200.
func (p *Process) AwaitOK(t testing.TB, client *http.Client, url string) {
	t.Helper()
	p.Await(t, url+" answered 200", func() bool {
		resp, err := client.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}
