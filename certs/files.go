package certs

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// WriteFiles writes a new CA (ca.crt) and a serving certificate for the
// Service (tls.crt, tls.key) into dir, both valid for validity from now: for
// local runs and the demo, where nothing rotates. The CA's key is not kept.
// Put ca.crt into the webhook configurations' caBundle.
func WriteFiles(dir, service, namespace string, validity time.Duration) error {
	now := time.Now()
	ca, err := GenerateCA(now, validity)
	if err != nil {
		return err
	}
	serving, err := GenerateServing(ca, DNSNames(service, namespace), now, validity)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("writing certificates: %w", err)
	}
	if err := writeFileAtomic(dir, KeyCACert, ca.CertPEM, 0o644); err != nil {
		return err
	}
	return writePair(dir, serving.CertPEM, serving.KeyPEM)
}

// writePair writes tls.key, then tls.crt, each atomically. A reader between
// the two renames sees a mismatched pair and fails to load it; certwatcher
// then keeps its previous certificate and the next event brings the pair.
func writePair(dir string, certPEM, keyPEM []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("writing certificates: %w", err)
	}
	if err := writeFileAtomic(dir, KeyTLSKey, keyPEM, 0o600); err != nil {
		return err
	}
	return writeFileAtomic(dir, KeyTLSCert, certPEM, 0o644)
}

// writeFileAtomic replaces dir/name with data through a rename, so that a
// reader never sees a half-written file.
func writeFileAtomic(dir, name string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}
