package certs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
)

func nsName(ns, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: ns, Name: name}
}

func TestWriteFiles(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "certs")
	if err := WriteFiles(dir, "svc", "ns", time.Hour); err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := Bundle{CACert: read(KeyCACert), TLSCert: read(KeyTLSCert), TLSKey: read(KeyTLSKey)}
	if err := Validate(b, DNSNames("svc", "ns"), time.Now(), 50*time.Minute); err != nil {
		t.Errorf("written files: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, KeyTLSKey)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("tls.key mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	if _, err := os.Stat(filepath.Join(dir, KeyCAKey)); !os.IsNotExist(err) {
		t.Errorf("ca.key written (%v), want the CA key discarded", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("%d files in dir, want 3 (no temporaries left)", len(entries))
	}
}

func TestInject(t *testing.T) {
	t.Parallel()
	bundle := []byte("bundle")
	m := &admissionregistrationv1.MutatingWebhookConfiguration{Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: "a"}, {Name: "b", ClientConfig: admissionregistrationv1.WebhookClientConfig{CABundle: bundle}}}}
	if !InjectMutating(m, bundle) {
		t.Error("first injection: got unchanged")
	}
	if InjectMutating(m, bundle) {
		t.Error("second injection: got changed, want idempotent")
	}
	for _, w := range m.Webhooks {
		if string(w.ClientConfig.CABundle) != "bundle" {
			t.Errorf("webhook %s caBundle %q", w.Name, w.ClientConfig.CABundle)
		}
	}
	v := &admissionregistrationv1.ValidatingWebhookConfiguration{Webhooks: []admissionregistrationv1.ValidatingWebhook{{Name: "a"}}}
	if !InjectValidating(v, bundle) || InjectValidating(v, bundle) {
		t.Error("validating: want changed once, then unchanged")
	}
	bundle[0] = 'X' // the configuration must not alias the caller's slice
	if string(v.Webhooks[0].ClientConfig.CABundle) != "bundle" {
		t.Error("injected caBundle aliases the input")
	}
	if InjectValidating(&admissionregistrationv1.ValidatingWebhookConfiguration{}, bundle) {
		t.Error("no webhooks: got changed")
	}
}

func TestMode(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"self-managed", "cert-manager"} {
		var m Mode
		if err := m.Set(s); err != nil || m.String() != s {
			t.Errorf("Set(%q): %v, %q", s, err, m)
		}
	}
	if _, err := ParseMode("manual"); err == nil {
		t.Error("ParseMode(manual): got nil error")
	}
	s, err := NewStack(nil, Options{Mode: ModeCertManager, Service: "svc", Namespace: "ns", CertDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if s.Rotator != nil || s.Keeper == nil || s.Keeper.o.Dir == "" {
		t.Errorf("cert-manager stack: rotator %v, keeper dir %q; want no rotator and a directory keeper", s.Rotator, s.Keeper.o.Dir)
	}
	for name, o := range map[string]Options{
		"cert-manager without dir": {Mode: ModeCertManager, Service: "svc", Namespace: "ns"},
		"no service":               {Namespace: "ns"},
		"unknown mode":             {Mode: "manual", Service: "svc", Namespace: "ns"},
	} {
		if _, err := NewStack(nil, o); err == nil {
			t.Errorf("%s: got nil error", name)
		}
	}

	cfg := &rest.Config{Host: "https://127.0.0.1:1"} // never dialled here
	s, err = NewStack(cfg, Options{Service: "svc", Namespace: "ns", Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatalf("self-managed stack: %v", err)
	}
	if s.Mode != ModeSelfManaged || s.Rotator == nil || s.Keeper.o.Secret != nsName("ns", "svc-certs") || s.Rotator.o.Secret != s.Keeper.o.Secret {
		t.Errorf("self-managed stack: mode %q, rotator %v, keeper secret %v", s.Mode, s.Rotator != nil, s.Keeper.o.Secret)
	}
	if !s.Rotator.NeedLeaderElection() || s.Keeper.NeedLeaderElection() {
		t.Error("want the rotator on the leader only and the keeper everywhere")
	}
	_, err = NewStack(cfg, Options{Service: "svc", Namespace: "ns", CheckInterval: time.Hour})
	if err == nil || !strings.Contains(err.Error(), "overlap") {
		t.Errorf("check interval beyond the overlap: got %v, want an error about the overlap", err)
	}
}
