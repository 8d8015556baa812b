package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"slices"
	"testing"
	"time"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func mustCA(t *testing.T, now time.Time, validity time.Duration) *KeyPair {
	t.Helper()
	ca, err := GenerateCA(now, validity)
	if err != nil {
		t.Fatalf("GenerateCA: %v", err)
	}
	return ca
}

func mustServing(t *testing.T, ca *KeyPair, names []string, now time.Time, validity time.Duration) *KeyPair {
	t.Helper()
	s, err := GenerateServing(ca, names, now, validity)
	if err != nil {
		t.Fatalf("GenerateServing: %v", err)
	}
	return s
}

func TestDNSNames(t *testing.T) {
	t.Parallel()
	got := DNSNames("modeguard", "mg-system")
	want := []string{"modeguard", "modeguard.mg-system", "modeguard.mg-system.svc", "modeguard.mg-system.svc.cluster.local"}
	if !slices.Equal(got, want) {
		t.Errorf("DNSNames = %q, want %q", got, want)
	}
}

func TestGenerateCA(t *testing.T) {
	t.Parallel()
	ca := mustCA(t, testNow, 48*time.Hour)
	c := ca.Cert
	if !c.IsCA || !c.BasicConstraintsValid || !c.MaxPathLenZero || c.MaxPathLen != 0 {
		t.Errorf("basic constraints: IsCA=%v valid=%v maxPathLenZero=%v, want a CA limited to leaves", c.IsCA, c.BasicConstraintsValid, c.MaxPathLenZero)
	}
	if want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature; c.KeyUsage != want {
		t.Errorf("KeyUsage = %v, want %v", c.KeyUsage, want)
	}
	if len(c.ExtKeyUsage) != 0 {
		t.Errorf("ExtKeyUsage = %v, want none", c.ExtKeyUsage)
	}
	if pub, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key %T, want ECDSA P-256", c.PublicKey)
	}
	if c.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		t.Errorf("signature algorithm %v, want ECDSAWithSHA256", c.SignatureAlgorithm)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
	if !c.NotBefore.Equal(testNow.Add(-Backdate)) || !c.NotAfter.Equal(testNow.Add(48*time.Hour)) {
		t.Errorf("validity %v..%v, want %v..%v", c.NotBefore, c.NotAfter, testNow.Add(-Backdate), testNow.Add(48*time.Hour))
	}
	if len(c.SubjectKeyId) == 0 {
		t.Error("no SubjectKeyId")
	}
	if _, err := ParseKeyPair(ca.CertPEM, ca.KeyPEM); err != nil {
		t.Errorf("PEM does not round-trip: %v", err)
	}
	if _, err := GenerateCA(testNow, 0); err == nil {
		t.Error("GenerateCA with zero validity: got nil error")
	}
}

func TestSerialsAreRandom128Bit(t *testing.T) {
	t.Parallel()
	ca := mustCA(t, testNow, time.Hour)
	seen := map[string]bool{}
	for range 20 {
		s := mustServing(t, ca, []string{"a"}, testNow, time.Minute)
		n := s.Cert.SerialNumber
		if n.Sign() <= 0 || n.BitLen() > 128 {
			t.Fatalf("serial %s: want positive and at most 128 bits", n)
		}
		if seen[n.String()] {
			t.Fatalf("serial %s repeated", n)
		}
		seen[n.String()] = true
	}
	// 20 random 128-bit numbers all shorter than 100 bits: odds 2^-560.
	long := false
	for s := range seen {
		if len(s) > 30 {
			long = true
		}
	}
	if !long {
		t.Error("no serial above 100 bits in 20: not 128-bit random")
	}
}

func TestGenerateServing(t *testing.T) {
	t.Parallel()
	names := DNSNames("svc", "ns")
	ca := mustCA(t, testNow, 10*time.Hour)
	s := mustServing(t, ca, names, testNow, time.Hour)
	c := s.Cert
	if c.IsCA || !c.BasicConstraintsValid {
		t.Errorf("IsCA=%v BasicConstraintsValid=%v, want a leaf with explicit constraints", c.IsCA, c.BasicConstraintsValid)
	}
	if c.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("KeyUsage = %v, want DigitalSignature only", c.KeyUsage)
	}
	if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("ExtKeyUsage = %v, want ServerAuth", c.ExtKeyUsage)
	}
	if !slices.Equal(c.DNSNames, names) || c.Subject.CommonName != names[0] {
		t.Errorf("names CN=%q SAN=%q, want %q", c.Subject.CommonName, c.DNSNames, names)
	}
	if !bytes.Equal(c.AuthorityKeyId, ca.Cert.SubjectKeyId) {
		t.Error("AuthorityKeyId does not name the CA")
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	for _, n := range names {
		if _, err := c.Verify(x509.VerifyOptions{DNSName: n, Roots: pool, CurrentTime: testNow}); err != nil {
			t.Errorf("verify for %q: %v", n, err)
		}
	}
	if !c.NotAfter.Equal(testNow.Add(time.Hour)) {
		t.Errorf("NotAfter %v, want %v", c.NotAfter, testNow.Add(time.Hour))
	}

	// Cut at the CA's expiry.
	short := mustServing(t, ca, names, testNow.Add(9*time.Hour+30*time.Minute), time.Hour)
	if !short.Cert.NotAfter.Equal(ca.Cert.NotAfter) {
		t.Errorf("NotAfter %v, want the CA's %v", short.Cert.NotAfter, ca.Cert.NotAfter)
	}

	for name, tc := range map[string]struct {
		ca       *KeyPair
		names    []string
		validity time.Duration
	}{
		"no CA":           {nil, names, time.Hour},
		"issuer not a CA": {s, names, time.Hour},
		"no names":        {ca, nil, time.Hour},
		"no validity":     {ca, names, 0},
	} {
		if _, err := GenerateServing(tc.ca, tc.names, testNow, tc.validity); err == nil {
			t.Errorf("%s: got nil error", name)
		}
	}
}

func TestPEM(t *testing.T) {
	t.Parallel()
	ca1, ca2 := mustCA(t, testNow, time.Hour), mustCA(t, testNow, time.Hour)
	certs, err := DecodeCerts(EncodeCerts(ca1.Cert, ca2.Cert))
	if err != nil || len(certs) != 2 || !certs[0].Equal(ca1.Cert) || !certs[1].Equal(ca2.Cert) {
		t.Fatalf("DecodeCerts(two) = %d certs, %v; want both back", len(certs), err)
	}

	ecKey := ca1.Key.(*ecdsa.PrivateKey)
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseKeyPair(ca1.CertPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})); err != nil {
		t.Errorf("SEC 1 key: %v", err)
	}

	corrupt := []struct {
		name      string
		cert, key []byte
	}{
		{"empty", nil, nil},
		{"not PEM", []byte("hello"), ca1.KeyPEM},
		{"garbage DER", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}}), ca1.KeyPEM},
		{"key as cert", ca1.KeyPEM, ca1.KeyPEM},
		{"trailing junk", append(bytes.Clone(ca1.CertPEM), "junk"...), ca1.KeyPEM},
		{"no key", ca1.CertPEM, nil},
		{"garbage key", ca1.CertPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2}})},
		{"wrong key type", ca1.CertPEM, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte{1}})},
		{"mismatched key", ca1.CertPEM, ca2.KeyPEM},
	}
	for _, tc := range corrupt {
		if _, err := ParseKeyPair(tc.cert, tc.key); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: ParseKeyPair error %v, want ErrCorrupt", tc.name, err)
		}
	}
}
