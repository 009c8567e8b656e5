package keys

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func testKEK(seed byte) []byte {
	kek := make([]byte, KEKSize)
	for i := range kek {
		kek[i] = seed + byte(i)
	}
	return kek
}

type equaler interface {
	Equal(x crypto.PrivateKey) bool
}

func TestSealOpenRoundTrip(t *testing.T) {
	kek := testKEK(7)
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			k, err := Generate(alg)
			if err != nil {
				t.Fatal(err)
			}
			s1, err := Seal(kek, k)
			if err != nil {
				t.Fatal(err)
			}
			s2, err := Seal(kek, k)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(s1, s2) || bytes.Equal(s1[:12], s2[:12]) {
				t.Error("two seals of one key share a nonce")
			}
			for _, s := range [][]byte{s1, s2} {
				got, err := Open(kek, s)
				if err != nil {
					t.Fatal(err)
				}
				if !k.(equaler).Equal(got) {
					t.Error("opened key differs from sealed key")
				}
			}
		})
	}
}

func TestOpenWrongKEK(t *testing.T) {
	k, _ := Generate(EdDSA)
	sealed, err := Seal(testKEK(1), k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(testKEK(2), sealed); !errors.Is(err, ErrWrongKEK) {
		t.Fatalf("wrong kek: got %v, want ErrWrongKEK", err)
	}
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 0x01
		if _, err := Open(testKEK(1), bad); !errors.Is(err, ErrWrongKEK) {
			t.Fatalf("byte %d flipped: got %v, want ErrWrongKEK", i, err)
		}
	}
	if _, err := Open(testKEK(1), sealed[:20]); err == nil {
		t.Error("short sealed key: no error")
	}
	if _, err := Open(testKEK(1), nil); err == nil {
		t.Error("nil sealed key: no error")
	}
	if _, err := Open(testKEK(1)[:16], sealed); err == nil {
		t.Error("16-byte kek: no error")
	}
	if _, err := Seal(testKEK(1)[:31], k); err == nil {
		t.Error("Seal with 31-byte kek: no error")
	}
}

func TestParseKEK(t *testing.T) {
	raw := testKEK(3)
	enc := base64.StdEncoding.EncodeToString(raw)
	got, err := ParseKEK("  " + enc + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, raw) {
		t.Fatal("ParseKEK returned different bytes")
	}
	bad := map[string]string{
		"empty":         "",
		"blank":         "   \n",
		"not base64":    "this is not base64!!",
		"31 bytes":      base64.StdEncoding.EncodeToString(raw[:31]),
		"33 bytes":      base64.StdEncoding.EncodeToString(append(raw, 0)),
		"url alphabet":  base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)),
		"hex":           strings.Repeat("ab", 32),
		"unpadded std":  base64.RawStdEncoding.EncodeToString(raw),
		"inner newline": enc[:20] + "\n" + enc[20:] + "xx",
	}
	for name, in := range bad {
		_, err := ParseKEK(in)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if !strings.Contains(err.Error(), "AUTHSERVER_KEY_ENCRYPTION_KEY") {
			t.Errorf("%s: error %q does not name AUTHSERVER_KEY_ENCRYPTION_KEY", name, err)
		}
		if len(strings.TrimSpace(in)) > 8 && strings.Contains(err.Error(), strings.TrimSpace(in)) {
			t.Errorf("%s: error echoes the secret", name)
		}
	}
}

func TestLoadOrCreateKEKFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "secrets")
	path := filepath.Join(dir, "kek")
	kek, err := LoadOrCreateKEKFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(kek) != KEKSize || bytes.Equal(kek, make([]byte, KEKSize)) {
		t.Fatalf("bad kek %x", kek)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", fi.Mode().Perm())
	}
	for _, d := range []string{dir, filepath.Dir(dir)} {
		di, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if di.Mode().Perm() != 0o700 {
			t.Errorf("dir %s mode %v, want 0700", d, di.Mode().Perm())
		}
	}
	content, _ := os.ReadFile(path)
	if fromFile, err := ParseKEK(string(content)); err != nil || !bytes.Equal(fromFile, kek) {
		t.Fatalf("file does not hold the kek in base64: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	again, err := LoadOrCreateKEKFile(path)
	if err != nil || !bytes.Equal(again, kek) {
		t.Fatalf("second call: %x, %v; want the same kek", again, err)
	}

	// An existing file is read, not replaced.
	other := filepath.Join(t.TempDir(), "kek")
	want := testKEK(9)
	os.WriteFile(other, []byte(base64.StdEncoding.EncodeToString(want)+"\n"), 0o600)
	if got, err := LoadOrCreateKEKFile(other); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("existing file: %x, %v", got, err)
	}

	// A bad file is an error naming the file, and is left alone.
	garbage := filepath.Join(t.TempDir(), "kek")
	os.WriteFile(garbage, []byte("short"), 0o600)
	if _, err := LoadOrCreateKEKFile(garbage); err == nil || !strings.Contains(err.Error(), garbage) {
		t.Fatalf("garbage file: %v", err)
	}
	if b, _ := os.ReadFile(garbage); string(b) != "short" {
		t.Error("garbage file was overwritten")
	}
}

// ReadKEKFile never creates: a missing file is fs.ErrNotExist, so that the
// caller can decide whether a new key is safe. Errors about a bad file name
// the file, not the variable.
func TestReadKEKFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kek")
	if _, err := ReadKEKFile(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("ReadKEKFile created the file")
	}
	created, err := CreateKEKFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ReadKEKFile(path); err != nil || !bytes.Equal(got, created) {
		t.Fatalf("read back %x, %v", got, err)
	}
	// Creating again keeps the first key.
	if again, err := CreateKEKFile(path); err != nil || !bytes.Equal(again, created) {
		t.Fatalf("second CreateKEKFile: %x, %v; want the existing key", again, err)
	}
	os.WriteFile(path, []byte("c2hvcnQ=\n"), 0o600)
	_, err = ReadKEKFile(path)
	if err == nil || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), KEKEnv) {
		t.Errorf("short key in a file: %v; want an error naming the file only", err)
	}
}

func TestLoadOrCreateKEKFileConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kek")
	const n = 8
	keks := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keks[i], errs[i] = LoadOrCreateKEKFile(path) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !bytes.Equal(keks[i], keks[0]) {
			t.Fatal("racing creators got different keys")
		}
	}
}
