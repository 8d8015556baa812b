package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Backdate is how far before "now" a generated certificate's NotBefore lies,
// so that a peer whose clock runs a little behind still accepts it.
const Backdate = 5 * time.Minute

// PEM block types written by this package.
const (
	pemCertificate = "CERTIFICATE"
	pemPrivateKey  = "PRIVATE KEY" // PKCS #8
	pemECKey       = "EC PRIVATE KEY"
)

// KeyPair is a parsed certificate with its private key and their PEM forms.
type KeyPair struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
}

// DNSNames returns the names a Service is reached by from inside the cluster:
// svc, svc.ns, svc.ns.svc and svc.ns.svc.cluster.local. The kube-apiserver
// calls a webhook service by svc.ns.svc.
func DNSNames(service, namespace string) []string {
	return []string{
		service,
		service + "." + namespace,
		service + "." + namespace + ".svc",
		service + "." + namespace + ".svc.cluster.local",
	}
}

// GenerateCA returns a new self-signed ECDSA P-256 certificate authority valid
// from now-Backdate until now+validity. It may sign leaf certificates only
// (path length zero).
func GenerateCA(now time.Time, validity time.Duration) (*KeyPair, error) {
	if validity <= 0 {
		return nil, fmt.Errorf("generating CA: validity %v is not positive", validity)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, fmt.Errorf("generating CA: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		// The serial in the name tells CAs apart while two overlap in a bundle.
		Subject:               pkix.Name{CommonName: "modeguard-ca-" + serial.Text(16)[:8]},
		NotBefore:             now.Add(-Backdate),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	return sign(tmpl, nil)
}

// GenerateServing returns a new ECDSA P-256 serving certificate for dnsNames,
// signed by ca and valid from now-Backdate until now+validity, cut short at the
// CA's own expiry (a certificate cannot outlive its issuer).
func GenerateServing(ca *KeyPair, dnsNames []string, now time.Time, validity time.Duration) (*KeyPair, error) {
	switch {
	case ca == nil || ca.Cert == nil || ca.Key == nil:
		return nil, errors.New("generating serving certificate: no CA")
	case !ca.Cert.IsCA:
		return nil, errors.New("generating serving certificate: issuer is not a CA")
	case len(dnsNames) == 0:
		return nil, errors.New("generating serving certificate: no DNS names")
	case validity <= 0:
		return nil, fmt.Errorf("generating serving certificate: validity %v is not positive", validity)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, fmt.Errorf("generating serving certificate: %w", err)
	}
	notAfter := now.Add(validity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: dnsNames[0]},
		DNSNames:              append([]string(nil), dnsNames...),
		NotBefore:             now.Add(-Backdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
	}
	return sign(tmpl, ca)
}

// sign creates a key and a certificate from tmpl, signed by parent or, when
// parent is nil, by itself.
func sign(tmpl *x509.Certificate, parent *KeyPair) (*KeyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating key: %w", err)
	}
	issuer, signer := tmpl, crypto.Signer(key)
	if parent != nil {
		issuer, signer = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("signing certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing new certificate: %w", err)
	}
	keyPEM, err := EncodeKey(key)
	if err != nil {
		return nil, err
	}
	return &KeyPair{Cert: cert, Key: key, CertPEM: EncodeCerts(cert), KeyPEM: keyPEM}, nil
}

// randomSerial returns a random positive 128-bit serial number.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("generating serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// EncodeCerts returns the PEM encoding of certs, one CERTIFICATE block each.
func EncodeCerts(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: pemCertificate, Bytes: c.Raw})...)
	}
	return out
}

// EncodeKey returns the PKCS #8 PEM encoding of key.
func EncodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivateKey, Bytes: der}), nil
}

// DecodeCerts parses every CERTIFICATE block in data. It fails with ErrCorrupt
// when data holds no certificate, anything other than certificates, or a
// certificate that does not parse.
func DecodeCerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != pemCertificate {
			return nil, fmt.Errorf("%w: unexpected PEM block %q", ErrCorrupt, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: no PEM certificate", ErrCorrupt)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: trailing data after PEM certificates", ErrCorrupt)
	}
	return certs, nil
}

// DecodeKey parses a PKCS #8 or SEC 1 (EC) PEM private key.
func DecodeKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM private key", ErrCorrupt)
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case pemPrivateKey:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case pemECKey:
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%w: unexpected PEM block %q for a private key", ErrCorrupt, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: unsupported private key type %T", ErrCorrupt, key)
	}
	return signer, nil
}

// ParseKeyPair decodes a PEM certificate (the first one in certPEM) and its
// private key, and checks that they belong together.
func ParseKeyPair(certPEM, keyPEM []byte) (*KeyPair, error) {
	certs, err := DecodeCerts(certPEM)
	if err != nil {
		return nil, err
	}
	key, err := DecodeKey(keyPEM)
	if err != nil {
		return nil, err
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(certs[0].PublicKey) {
		return nil, fmt.Errorf("%w: private key does not match certificate", ErrCorrupt)
	}
	return &KeyPair{Cert: certs[0], Key: key, CertPEM: certPEM, KeyPEM: keyPEM}, nil
}
