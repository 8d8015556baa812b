package certs

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// Reasons a certificate bundle is not usable. Validate and Keeper.Ready wrap
// one of them (test with errors.Is); the message around it says which
// certificate failed and how.
var (
	ErrExpired      = errors.New("certificate expired")
	ErrNotYetValid  = errors.New("certificate not yet valid")
	ErrWrongDNSName = errors.New("certificate not valid for the service's DNS names")
	ErrWrongCA      = errors.New("certificate not signed by a trusted CA")
	ErrRenewSoon    = errors.New("certificate expires within the look-ahead")
	ErrCorrupt      = errors.New("certificate data corrupt")
)

// Keys of the certificate Secret (and file names in a certificate directory).
const (
	KeyCACert   = "ca.crt"        // the CA that signs serving certificates
	KeyCAKey    = "ca.key"        // its private key (self-managed mode only)
	KeyTLSCert  = "tls.crt"       // the serving certificate
	KeyTLSKey   = "tls.key"       // its private key
	KeyCABundle = "ca-bundle.crt" // every trusted CA: what goes into caBundle
)

// Bundle is the PEM content of the certificate Secret. During a CA rotation
// CABundle holds the new CA and the previous one, so that clients trust both
// while the serving certificate changes issuer.
type Bundle struct {
	CACert   []byte
	CAKey    []byte
	TLSCert  []byte
	TLSKey   []byte
	CABundle []byte
}

// BundleFromData reads a Bundle from a Secret's data.
func BundleFromData(data map[string][]byte) Bundle {
	return Bundle{
		CACert:   data[KeyCACert],
		CAKey:    data[KeyCAKey],
		TLSCert:  data[KeyTLSCert],
		TLSKey:   data[KeyTLSKey],
		CABundle: data[KeyCABundle],
	}
}

// SetData writes b into a Secret's data, leaving other keys alone.
func (b Bundle) SetData(data map[string][]byte) {
	data[KeyCACert] = b.CACert
	data[KeyCAKey] = b.CAKey
	data[KeyTLSCert] = b.TLSCert
	data[KeyTLSKey] = b.TLSKey
	data[KeyCABundle] = b.CABundle
}

// Trusted returns the PEM CAs a client should trust: CABundle, or CACert when
// there is no bundle (as in a Secret written by cert-manager).
func (b Bundle) Trusted() []byte {
	if len(b.CABundle) > 0 {
		return b.CABundle
	}
	return b.CACert
}

// Equal reports whether a and b hold the same bytes.
func (b Bundle) Equal(o Bundle) bool {
	return bytes.Equal(b.CACert, o.CACert) && bytes.Equal(b.CAKey, o.CAKey) &&
		bytes.Equal(b.TLSCert, o.TLSCert) && bytes.Equal(b.TLSKey, o.TLSKey) &&
		bytes.Equal(b.CABundle, o.CABundle)
}

// Validate checks that b can serve the names dnsNames at now and for
// lookAhead longer:
//   - every part present parses and each key matches its certificate
//     (ErrCorrupt);
//   - the CA, when present, is a CA in the trusted bundle (ErrWrongCA) and
//     within its validity (ErrExpired, ErrNotYetValid);
//   - the serving certificate is within its validity (ErrExpired,
//     ErrNotYetValid), covers every name (ErrWrongDNSName), chains to a
//     trusted CA for server authentication (ErrWrongCA; skipped when b has
//     no CA at all) and is still valid at now+lookAhead (ErrRenewSoon).
//
// The first failure in that order is returned.
func Validate(b Bundle, dnsNames []string, now time.Time, lookAhead time.Duration) error {
	serving, err := ParseKeyPair(b.TLSCert, b.TLSKey)
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	var trusted []*x509.Certificate
	if t := b.Trusted(); len(t) > 0 {
		if trusted, err = DecodeCerts(t); err != nil {
			return fmt.Errorf("CA bundle: %w", err)
		}
	}
	if len(b.CACert) > 0 || len(b.CAKey) > 0 {
		if err := validateCA(b, trusted, now); err != nil {
			return err
		}
	}
	return validateServing(serving.Cert, trusted, dnsNames, now, lookAhead)
}

// validateCA checks the signing CA of b against the trusted bundle.
func validateCA(b Bundle, trusted []*x509.Certificate, now time.Time) error {
	var ca *x509.Certificate
	if len(b.CAKey) > 0 {
		kp, err := ParseKeyPair(b.CACert, b.CAKey)
		if err != nil {
			return fmt.Errorf("CA certificate: %w", err)
		}
		ca = kp.Cert
	} else {
		certs, err := DecodeCerts(b.CACert)
		if err != nil {
			return fmt.Errorf("CA certificate: %w", err)
		}
		ca = certs[0]
	}
	if !ca.IsCA || !ca.BasicConstraintsValid {
		return fmt.Errorf("CA certificate %s: %w: it is not a CA", describe(ca), ErrWrongCA)
	}
	if err := validityAt(ca, now); err != nil {
		return fmt.Errorf("CA certificate %s: %w", describe(ca), err)
	}
	if !contains(trusted, ca) {
		return fmt.Errorf("CA certificate %s: %w: it is missing from the CA bundle", describe(ca), ErrWrongCA)
	}
	return nil
}

// validateServing checks a parsed serving certificate; trusted may be empty,
// then the chain is not checked.
func validateServing(leaf *x509.Certificate, trusted []*x509.Certificate, dnsNames []string, now time.Time, lookAhead time.Duration) error {
	if err := validityAt(leaf, now); err != nil {
		return fmt.Errorf("serving certificate %s: %w", describe(leaf), err)
	}
	for _, name := range dnsNames {
		if err := leaf.VerifyHostname(name); err != nil {
			return fmt.Errorf("serving certificate %s: %w: %q is not among %q", describe(leaf), ErrWrongDNSName, name, leaf.DNSNames)
		}
	}
	if len(trusted) > 0 && issuer(leaf, trusted, now) == nil {
		return fmt.Errorf("serving certificate %s: %w: no CA in the bundle verifies it", describe(leaf), ErrWrongCA)
	}
	if at := now.Add(lookAhead); lookAhead > 0 && !at.Before(leaf.NotAfter) {
		return fmt.Errorf("serving certificate %s: %w: expires %s, before %s", describe(leaf), ErrRenewSoon, leaf.NotAfter.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
	}
	return nil
}

// validityAt reports whether now lies in c's validity period.
func validityAt(c *x509.Certificate, now time.Time) error {
	switch {
	case now.Before(c.NotBefore):
		return fmt.Errorf("%w: valid from %s", ErrNotYetValid, c.NotBefore.UTC().Format(time.RFC3339))
	case !now.Before(c.NotAfter):
		return fmt.Errorf("%w: expired at %s", ErrExpired, c.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// issuer returns the trusted CA that verifies leaf for server authentication
// at now, or nil.
func issuer(leaf *x509.Certificate, trusted []*x509.Certificate, now time.Time) *x509.Certificate {
	for _, ca := range trusted {
		pool := x509.NewCertPool()
		pool.AddCert(ca)
		_, err := leaf.Verify(x509.VerifyOptions{
			Roots:       pool,
			CurrentTime: now,
			KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
		if err == nil {
			return ca
		}
	}
	return nil
}

func contains(certs []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range certs {
		if x.Equal(c) {
			return true
		}
	}
	return false
}

// describe names a certificate in messages and logs without its key material.
func describe(c *x509.Certificate) string {
	return fmt.Sprintf("%q (serial %s)", c.Subject.CommonName, shortSerial(c))
}

func shortSerial(c *x509.Certificate) string {
	s := c.SerialNumber.Text(16)
	if len(s) > 12 {
		s = s[:12]
	}
	return s
}
