package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/oauth2"
)

// openPTY opens a pseudo-terminal pair: what is written to master arrives
// on slave as typed input, and what the terminal would show (the echo of
// that input) comes out of master.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	var unlock int32
	if err := ioctl(m.Fd(), syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		t.Fatal(err)
	}
	var n uint32
	if err := ioctl(m.Fd(), syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

func ioctl(fd uintptr, req uint, arg unsafe.Pointer) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, uintptr(req), uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}

func echoes(t *testing.T, tty *os.File) bool {
	var tio syscall.Termios
	if err := ioctl(tty.Fd(), syscall.TCGETS, unsafe.Pointer(&tio)); err != nil {
		t.Fatal(err)
	}
	return tio.Lflag&syscall.ECHO != 0
}

// typePassword runs `user add USERNAME` with a terminal as standard input,
// types lines once the prompt has turned echo off, and returns the
// command's result, its standard error and what the terminal showed.
func typePassword(t *testing.T, path, username string, lines ...string) (stderr, screen string, err error) {
	t.Helper()
	master, slave := openPTY(t)
	shown := make(chan string)
	go func() {
		var b bytes.Buffer
		_, _ = io.Copy(&b, master) // until the slave side is closed (EIO)
		shown <- b.String()
	}()
	var errOut strings.Builder
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"user", "add", "--config", path, username}, slave, io.Discard, &errOut)
	}()
	// Wait for the prompt to turn echo off; bounded, so that a prompt that
	// never comes fails instead of hanging.
	for i := 0; echoes(t, slave); i++ {
		select {
		case err := <-done:
			t.Fatalf("user add ended without prompting: %v\n%s", err, errOut.String())
		case <-time.After(5 * time.Millisecond):
		}
		if i > 4000 {
			t.Fatal("echo never turned off")
		}
	}
	// Typed while echo is off, both lines stay unseen; the second prompt
	// reads what is left of them.
	if _, err := master.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		t.Fatal(err)
	}
	err = <-done
	slave.Close()
	return errOut.String(), <-shown, err
}

// On a terminal the password is asked for twice, without echo.
func TestPasswordPromptOnATerminalDoesNotEcho(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "")
	tokenURL := c.provider()
	stderr, screen, err := typePassword(t, c.path, "dave", "typed-password-1", "typed-password-1")
	if err != nil {
		t.Fatalf("user add on a terminal: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "New password for dave: ") || !strings.Contains(stderr, "Again: ") {
		t.Errorf("prompts on stderr: %q", stderr)
	}
	if strings.Contains(screen, "typed-password") || strings.Contains(stderr, "typed-password") {
		t.Errorf("the password was echoed: terminal %q, stderr %q", screen, stderr)
	}
	oc := &oauth2.Config{ClientID: "cli", ClientSecret: "cli-secret-cli-secret-cli-secret",
		Endpoint: oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInHeader}, Scopes: []string{"openid"}}
	if _, err := oc.PasswordCredentialsToken(context.Background(), "dave", "typed-password-1"); err != nil {
		t.Errorf("the typed password: %v", err)
	}

	// Two different answers change nothing.
	_, _, err = typePassword(t, c.path, "erin", "typed-password-2", "typed-password-3")
	if err == nil || !strings.Contains(err.Error(), "differ") {
		t.Fatalf("two different passwords: %v", err)
	}
	c.want(exitNotFound, "", "user", "show", "erin")
}
