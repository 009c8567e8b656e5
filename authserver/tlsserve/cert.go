package tlsserve

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
)

// Certificate is a TLS certificate and key read from PEM files that can be
// read again while the server runs: handshakes use whichever pair loaded
// last, so a renewed certificate (certbot, cert-manager, an operator's
// copy) takes effect without dropping a connection.
type Certificate struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]

	mu sync.Mutex
	// seen is what the files looked like at the last load attempt, good or
	// bad, so that a pair that fails to load is tried again only once the
	// files change again.
	seen [2]os.FileInfo
}

// LoadCertificate reads the pair; an error here means the server must not
// start.
func LoadCertificate(certFile, keyFile string) (*Certificate, error) {
	c := &Certificate{certFile: certFile, keyFile: keyFile}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the files again. If they do not hold a matching certificate
// and key, it returns the error and the previous pair stays in use.
func (c *Certificate) Reload() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Stat before reading: a change that lands in between is seen by the
	// next check and loaded then.
	c.seen = c.stat()
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate %s with key %s: %w", c.certFile, c.keyFile, err)
	}
	c.cur.Store(&pair)
	return nil
}

// changed reports whether either file differs from what the last load
// attempt saw: replaced (a rename or a symlink switched to a new target, as
// certbot does), resized or touched.
func (c *Certificate) changed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.stat()
	for i := range now {
		a, b := c.seen[i], now[i]
		if a == nil || b == nil {
			if a != b {
				return true
			}
			continue
		}
		if !os.SameFile(a, b) || a.Size() != b.Size() || !a.ModTime().Equal(b.ModTime()) {
			return true
		}
	}
	return false
}

func (c *Certificate) stat() [2]os.FileInfo {
	var st [2]os.FileInfo
	for i, name := range []string{c.certFile, c.keyFile} {
		if fi, err := os.Stat(name); err == nil {
			st[i] = fi
		}
	}
	return st
}

// GetCertificate is the tls.Config hook that serves the current pair.
func (c *Certificate) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cur.Load(), nil
}

// Leaf is the current certificate.
func (c *Certificate) Leaf() *x509.Certificate { return c.cur.Load().Leaf }

// TLSConfig is Go's default server configuration with TLS 1.2 as the
// minimum (RFC 9325 §3.1.1) and the certificate taken from c at every
// handshake. http.Server adds HTTP/2 (h2) to it.
func (c *Certificate) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.GetCertificate}
}

// Fingerprint is the SHA-256 of a DER certificate as openssl prints it
// (`openssl x509 -noout -fingerprint -sha256`): colon-separated upper-case
// hex.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	var b strings.Builder
	for i, x := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", x)
	}
	return b.String()
}

// CertPool is a pool of the certificates in the PEM file certFile, for a
// client that trusts a server by its certificate alone (the development
// certificate, or any self-signed one) rather than by the system roots.
func CertPool(certFile string) (*x509.CertPool, error) {
	b, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", certFile)
	}
	return pool, nil
}
