package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modeguard/modeguard/certs"
	"github.com/modeguard/modeguard/internal/version"
)

func TestHelpDocumentsEveryFlag(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if code := runArgs(context.Background(), []string{"--help"}, &out, &errOut); code != 0 {
		t.Fatalf("--help: exit %d, want 0; stderr %s", code, errOut.String())
	}
	for _, f := range []string{
		"policy-dir", "settings", "cert-mode", "cert-dir", "service-name", "namespace", "webhook-port",
		"metrics-bind-address", "health-probe-bind-address", "leader-elect", "failure-policy", "shutdown-delay",
		"self-managed", "cert-manager", "certs --dir", "request-timeout", "max-connections", "max-in-flight", "profiling",
		"memory-target",
	} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("--help does not mention %q", f)
		}
	}
}

func TestBadUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--cert-mode=vault"},
		{"--cert-mode=dir"}, // no --cert-dir
		{"--failure-policy=maybe"},
		{"--webhook-port=0"},
		{"--no-such-flag"},
		{"--memory-target=lots"},
		{"--memory-target=-1Mi"},
		{"extra"},
		{"certs"}, // no --dir
	} {
		var out, errOut bytes.Buffer
		if code := runArgs(context.Background(), args, &out, &errOut); code != 2 {
			t.Errorf("%q: exit %d, want 2 (stderr %q)", args, code, errOut.String())
		}
		if errOut.Len() == 0 {
			t.Errorf("%q: nothing on stderr", args)
		}
	}
}

func TestCertsSubcommand(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "certs")
	var out, errOut bytes.Buffer
	code := runArgs(context.Background(), []string{"certs", "--dir", dir, "--service", "mg", "--namespace", "ns", "--validity", "24h"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ca, err := certs.DecodeCerts(read("ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	b := certs.Bundle{CACert: read("ca.crt"), TLSCert: read("tls.crt"), TLSKey: read("tls.key")}
	if err := certs.Validate(b, certs.DNSNames("mg", "ns"), time.Now(), 0); err != nil {
		t.Errorf("written certificates do not validate for mg.ns: %v", err)
	}
	if got := time.Until(ca[0].NotAfter); got > 25*time.Hour {
		t.Errorf("CA valid for %v, want about 24h", got)
	}
	if !strings.Contains(out.String(), "mg.ns.svc") {
		t.Errorf("output %q does not name the certificate's DNS names", out.String())
	}
}

func TestVersionFlag(t *testing.T) {
	defer func(v, c string) { version.Version, version.Commit = v, c }(version.Version, version.Commit)
	version.Version, version.Commit = "v9.8.7", "0123abc"
	var out, errOut bytes.Buffer
	if code := runArgs(context.Background(), []string{"--version"}, &out, &errOut); code != 0 {
		t.Fatalf("--version: exit %d, want 0; stderr %s", code, errOut.String())
	}
	if got, want := out.String(), "modeguard-webhook v9.8.7 (commit 0123abc)\n"; got != want {
		t.Errorf("--version printed %q, want %q", got, want)
	}
}

func TestMemoryTargetFlag(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{
		"128Mi":     128 << 20,
		"134217728": 128 << 20, // the downward API's resourceFieldRef, divisor 1
		"1G":        1e9,
		"0":         0,
	} {
		fs, _, po := flags(io.Discard)
		if err := fs.Parse([]string{"--memory-target=" + in}); err != nil {
			t.Errorf("--memory-target=%s: %v", in, err)
			continue
		}
		if po.memoryTarget != want {
			t.Errorf("--memory-target=%s: %d bytes, want %d", in, po.memoryTarget, want)
		}
	}
}
