package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
)

// eventually polls cond until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %v after %v", what, err, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logSink records log lines for assertions.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (s *logSink) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.lines = append(s.lines, prefix+" "+args)
	}, funcr.Options{})
}

func (s *logSink) find(sub string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

func gauge(t *testing.T, reg *prometheus.Registry, cert string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != ExpiryMetric {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "cert" && l.GetValue() == cert {
					return m.GetGauge().GetValue(), true
				}
			}
		}
	}
	return 0, false
}

func newDirKeeper(t *testing.T, dir string, log logr.Logger) (*Keeper, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	k, err := NewKeeper(nil, KeeperOptions{DNSNames: DNSNames("svc", "ns"), Dir: dir, CheckInterval: 50 * time.Millisecond, Registerer: reg, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return k, reg
}

// runKeeper starts k and stops it when the test ends.
func runKeeper(t *testing.T, k *Keeper) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- k.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Keeper.Start returned %v, want nil", err)
		}
	})
}

func leafOf(t *testing.T, k *Keeper) *x509.Certificate {
	t.Helper()
	c, err := k.GetCertificate(nil)
	if err != nil {
		t.Fatalf("GetCertificate: %v", err)
	}
	return c.Leaf
}

// TestKeeperDir is cert-manager mode: the Keeper serves a mounted directory,
// reloads it when it changes and keeps the last good certificate.
func TestKeeperDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var sink logSink
	k, reg := newDirKeeper(t, dir, sink.logger())
	if err := k.Ready(nil); !errors.Is(err, ErrNotLoaded) {
		t.Fatalf("Ready before any certificate: got %v, want ErrNotLoaded", err)
	}
	if _, err := k.GetCertificate(nil); !errors.Is(err, ErrNotLoaded) {
		t.Fatalf("GetCertificate before any certificate: got %v, want ErrNotLoaded", err)
	}
	runKeeper(t, k)

	// The mount appears after the start.
	if err := WriteFiles(dir, "svc", "ns", time.Hour); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "Ready", func() error { return k.Ready(nil) })
	first := leafOf(t, k)
	handshake(t, k, dir)
	eventually(t, 5*time.Second, "expiry gauge", func() error {
		if v, ok := gauge(t, reg, "serving"); !ok || v != float64(first.NotAfter.Unix()) {
			return fmt.Errorf("serving gauge %v (present %v), want %d", v, ok, first.NotAfter.Unix())
		}
		if _, ok := gauge(t, reg, "ca"); !ok {
			return errors.New("no ca gauge")
		}
		return nil
	})

	// A renewed pair (new CA too) is served without a restart.
	if err := WriteFiles(dir, "svc", "ns", 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "hot reload", func() error {
		if leafOf(t, k).Equal(first) {
			return errors.New("still the first certificate")
		}
		return k.Ready(nil)
	})
	second := leafOf(t, k)
	handshake(t, k, dir)

	// A pair for other names is refused while the loaded one is good.
	otherCA := mustCA(t, time.Now(), time.Hour)
	wrong := mustServing(t, otherCA, DNSNames("other", "ns"), time.Now(), time.Hour)
	if err := writePair(dir, wrong.CertPEM, wrong.KeyPEM); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "refusal logged", func() error {
		if sink.find("still serving the previous one") == "" {
			return errors.New("not yet")
		}
		return nil
	})
	if !leafOf(t, k).Equal(second) {
		t.Fatal("loaded a certificate for the wrong names over a good one")
	}
	if err := k.Ready(nil); err != nil {
		t.Fatalf("Ready: got %v, want nil", err)
	}
}

// handshake dials a TLS server configured by k.ConfigureTLS, trusting the
// ca.crt in dir, as the kube-apiserver would.
func handshake(t *testing.T, k *Keeper, dir string) {
	t.Helper()
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	k.ConfigureTLS(cfg)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	caPEM, err := os.ReadFile(filepath.Join(dir, KeyCACert))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "svc.ns.svc", MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	conn.Close()
}

// TestKeeperOffer checks which certificate wins when a new one is offered.
func TestKeeperOffer(t *testing.T) {
	t.Parallel()
	names := DNSNames("svc", "ns")
	now := time.Now()
	ca := mustCA(t, now, time.Hour)
	pair := func(s *KeyPair) *tls.Certificate {
		c, err := tls.X509KeyPair(s.CertPEM, s.KeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return &c
	}
	trusted := []*x509.Certificate{ca.Cert}
	var sink logSink
	k, _ := newDirKeeper(t, t.TempDir(), sink.logger())

	wrong := mustServing(t, ca, []string{"elsewhere"}, now, time.Hour)
	k.offer(pair(wrong), trusted, nil, nil)
	if err := k.Ready(nil); !errors.Is(err, ErrWrongDNSName) {
		t.Fatalf("only a wrong-name certificate: Ready %v, want ErrWrongDNSName (loaded: nothing better)", err)
	}
	k.report()
	if l := sink.find("SERVING AN UNUSABLE CERTIFICATE"); l == "" || !strings.Contains(l, "cert-manager") || !strings.Contains(l, "dnsNames") {
		t.Errorf("no loud log saying what to do; got %q", l)
	}

	good := mustServing(t, ca, names, now, time.Hour)
	k.offer(pair(good), trusted, nil, nil)
	if err := k.Ready(nil); err != nil || !leafOf(t, k).Equal(good.Cert) {
		t.Fatalf("good certificate offered: Ready %v, want it loaded", err)
	}

	expired := mustServing(t, ca, names, now.Add(-2*time.Hour), time.Hour)
	k.offer(pair(expired), trusted, nil, nil)
	if !leafOf(t, k).Equal(good.Cert) {
		t.Error("expired certificate replaced a good one")
	}
	if sink.find("still serving the previous one") == "" {
		t.Error("refusing a certificate was not logged")
	}

	other := mustCA(t, now, time.Hour)
	foreign := mustServing(t, other, names, now, time.Hour)
	k.offer(pair(foreign), trusted, nil, nil)
	if !leafOf(t, k).Equal(good.Cert) {
		t.Error("certificate from an untrusted CA replaced a good one")
	}
	// The same certificate with a new trust bundle takes the bundle.
	k.offer(pair(good), []*x509.Certificate{other.Cert}, nil, nil)
	if err := k.Ready(nil); !errors.Is(err, ErrWrongCA) {
		t.Errorf("after the bundle lost the issuer: Ready %v, want ErrWrongCA", err)
	}
}

func TestNewKeeperOptions(t *testing.T) {
	t.Parallel()
	names := []string{"a"}
	reg := prometheus.NewRegistry()
	for name, o := range map[string]KeeperOptions{
		"no names":             {Dir: "/x", Registerer: reg},
		"no source":            {DNSNames: names, Registerer: reg},
		"two sources":          {DNSNames: names, Dir: "/x", Secret: nsName("ns", "s"), Registerer: reg},
		"secret without rest":  {DNSNames: names, Secret: nsName("ns", "s"), Registerer: reg},
		"write dir with a dir": {DNSNames: names, Dir: "/x", WriteDir: "/y", Registerer: reg},
	} {
		if _, err := NewKeeper(nil, o); err == nil {
			t.Errorf("%s: got nil error", name)
		}
	}
	// Two keepers in one process share the gauge.
	for range 2 {
		if _, err := NewKeeper(nil, KeeperOptions{DNSNames: names, Dir: "/x", Registerer: reg}); err != nil {
			t.Fatalf("second keeper on one registry: %v", err)
		}
	}
}
