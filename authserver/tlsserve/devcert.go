package tlsserve

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// File names of the development certificate in the data directory.
const (
	DevCertFile = "dev-tls-cert.pem"
	DevKeyFile  = "dev-tls-key.pem"
)

// devCertLifetime stays within the 825 days some platforms accept for a
// server certificate, even one that a user trusted by hand.
const devCertLifetime = 825 * 24 * time.Hour

// devHosts are the names the development certificate is valid for: the
// loopback host of the demo issuer, in each spelling a browser or curl may
// use.
var (
	devDNSNames = []string{"localhost"}
	devIPs      = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
)

// DevCert is the development certificate of `serve --dev-tls`.
type DevCert struct {
	CertFile, KeyFile string
	// SHA256 is the certificate's fingerprint as openssl prints it.
	SHA256 string
	// Created is true when this call made the certificate (first start, or
	// the previous one was unusable or expired).
	Created bool
}

// DevCertificate returns the self-signed development certificate kept in
// dir, creating it the first time (and again only when it no longer loads
// or has expired), so that a browser exception or a curl --cacert made once
// keeps working across restarts. The key is ECDSA P-256 in a 0600 file;
// missing directories are made 0700. The certificate is not a CA
// (basicConstraints CA:FALSE), so trusting it lets its key vouch for
// nothing but these loopback names.
func DevCertificate(dir string, now time.Time) (DevCert, error) {
	d := DevCert{CertFile: filepath.Join(dir, DevCertFile), KeyFile: filepath.Join(dir, DevKeyFile)}
	if pair, err := tls.LoadX509KeyPair(d.CertFile, d.KeyFile); err == nil && usableDevCert(pair.Leaf, now) {
		d.SHA256 = Fingerprint(pair.Leaf.Raw)
		return d, nil
	}
	der, err := writeDevCert(d, now)
	if err != nil {
		return DevCert{}, fmt.Errorf("development TLS certificate in %s: %w", dir, err)
	}
	d.SHA256, d.Created = Fingerprint(der), true
	return d, nil
}

func usableDevCert(c *x509.Certificate, now time.Time) bool {
	if c == nil || now.After(c.NotAfter) {
		return false
	}
	for _, ip := range devIPs {
		if !slices.ContainsFunc(c.IPAddresses, ip.Equal) {
			return false
		}
	}
	for _, n := range devDNSNames {
		if !slices.Contains(c.DNSNames, n) {
			return false
		}
	}
	return true
}

func writeDevCert(d DevCert, now time.Time) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "authserver development certificate (loopback only)"},
		NotBefore:             now.Add(-time.Hour), // a client clock a little behind
		NotAfter:              now.Add(devCertLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              devDNSNames,
		IPAddresses:           devIPs,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	defer clear(pkcs8)
	if err := os.MkdirAll(filepath.Dir(d.KeyFile), 0o700); err != nil {
		return nil, err
	}
	// The key first: a crash between the two renames leaves a pair that does
	// not match, which the next start replaces.
	if err := writeFileAtomic(d.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(d.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	return der, nil
}

// writeFileAtomic writes a temporary file in the same directory (created
// 0600 whatever the umask), sets mode and renames it into place, so a reader
// sees the old content or the new, never a part.
func writeFileAtomic(path string, content []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(content)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// DevIssuer is the issuer to use with the development certificate: an http
// issuer on a loopback host becomes https on the same host and port (the
// certificate covers exactly those hosts). ok is false when the issuer's
// host is not one the certificate names.
func DevIssuer(issuer string) (string, bool) {
	u, err := url.Parse(issuer)
	if err != nil {
		return issuer, false
	}
	host := u.Hostname()
	ok := slices.Contains(devDNSNames, strings.ToLower(host)) ||
		slices.ContainsFunc(devIPs, func(ip net.IP) bool { return ip.Equal(net.ParseIP(host)) })
	if ok && u.Scheme == "http" {
		u.Scheme = "https"
	}
	return u.String(), ok
}
