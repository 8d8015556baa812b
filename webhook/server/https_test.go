package server

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

// selfSigned returns an RSA serving pair for 127.0.0.1 (RSA, so that RSA
// key exchange and ECDHE_RSA suites are possible at all) and a pool
// trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// startHTTPS runs an httpsServer with limits and h at /h; it returns its
// address and a client config trusting it.
func startHTTPS(t *testing.T, limits Limits, h http.Handler) (string, *tls.Config) {
	t.Helper()
	pair, pool := selfSigned(t)
	s := newHTTPSServer("127.0.0.1", 0, limits, logr.Discard(), func(c *tls.Config) { c.Certificates = []tls.Certificate{pair} })
	s.Register("/h", h)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start: %v", err)
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for s.StartedChecker()(nil) != nil {
		if time.Now().After(deadline) {
			t.Fatal("server did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

func ok() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	})
}

func TestHTTPSRefusesOldTLSAndWeakCiphers(t *testing.T) {
	addr, client := startHTTPS(t, Limits{}, ok())
	for name, cfg := range map[string]*tls.Config{
		"TLS 1.1":        {MaxVersion: tls.VersionTLS11, MinVersion: tls.VersionTLS10},
		"TLS 1.2 CBC":    {MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}},
		"TLS 1.2 no PFS": {MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}},
	} {
		c := cfg.Clone()
		c.RootCAs = client.RootCAs
		conn, err := tls.Dial("tcp", addr, c)
		if err == nil {
			conn.Close()
			t.Errorf("%s: handshake succeeded, want it refused", name)
		}
	}
	for name, max := range map[string]uint16{"TLS 1.2": tls.VersionTLS12, "TLS 1.3": tls.VersionTLS13} {
		c := client.Clone()
		c.MaxVersion = max
		conn, err := tls.Dial("tcp", addr, c)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if p := conn.ConnectionState().NegotiatedProtocol; p == "h2" {
			t.Errorf("%s: negotiated %q, want HTTP/1.1 only", name, p)
		}
		conn.Close()
	}
}

// closedWithin reports whether the server closes conn within d (a read
// returns EOF or an error other than our own deadline).
func closedWithin(conn net.Conn, d time.Duration) (bool, string) {
	_ = conn.SetReadDeadline(time.Now().Add(d))
	b, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false, string(b)
	}
	return true, string(b)
}

func TestHTTPSSlowClientsAreCutOff(t *testing.T) {
	limits := Limits{ReadHeaderTimeout: 300 * time.Millisecond, ReadTimeout: 600 * time.Millisecond}
	addr, client := startHTTPS(t, limits, ok())

	t.Run("no handshake", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if closed, _ := closedWithin(conn, 3*time.Second); !closed {
			t.Error("a connection that never starts TLS is still open after 3s (ReadHeaderTimeout 300ms)")
		}
	})
	t.Run("headers trickle", func(t *testing.T) {
		conn, err := tls.Dial("tcp", addr, client)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, "POST /h HTTP/1.1\r\nHost: x\r\n"); err != nil {
			t.Fatal(err)
		}
		if closed, _ := closedWithin(conn, 3*time.Second); !closed {
			t.Error("a client that never ends its headers is still connected after 3s")
		}
	})
	t.Run("body trickle", func(t *testing.T) {
		conn, err := tls.Dial("tcp", addr, client)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, "POST /h HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"); err != nil {
			t.Fatal(err)
		}
		if closed, _ := closedWithin(conn, 3*time.Second); !closed {
			t.Error("a client that never sends its body is still connected after 3s (ReadTimeout 600ms)")
		}
	})
	t.Run("prompt client still served", func(t *testing.T) {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: client}, Timeout: 5 * time.Second}
		resp, err := hc.Post("https://"+addr+"/h", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
}

func TestHTTPSConnectionLimit(t *testing.T) {
	addr, client := startHTTPS(t, Limits{MaxConns: 3, ReadHeaderTimeout: 10 * time.Second}, ok())
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := 0; i < 3; i++ {
		c, err := tls.Dial("tcp", addr, client)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	// A fourth connection is not accepted (no handshake) while three are
	// held, and is once one closes.
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	cc := client.Clone()
	cc.ServerName = "127.0.0.1"
	fourth := tls.Client(raw, cc)
	defer fourth.Close()
	hs := make(chan error, 1)
	go func() { hs <- fourth.Handshake() }()
	select {
	case err := <-hs:
		t.Fatalf("fourth handshake finished (%v) while the limit of 3 was held", err)
	case <-time.After(300 * time.Millisecond):
	}
	held[0].Close()
	held = held[1:]
	select {
	case err := <-hs:
		if err != nil {
			t.Fatalf("fourth handshake after a slot freed: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("fourth connection still not accepted after a slot freed")
	}
}

func TestHTTPSInFlightLimit(t *testing.T) {
	release := make(chan struct{})
	var entered sync.WaitGroup
	entered.Add(1)
	var once sync.Once
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(entered.Done)
		<-release
		_, _ = io.WriteString(w, "ok")
	})
	addr, client := startHTTPS(t, Limits{MaxInFlight: 1, ReadHeaderTimeout: 300 * time.Millisecond}, h)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: client}, Timeout: 10 * time.Second}
	first := make(chan int, 1)
	go func() {
		resp, err := hc.Post("https://"+addr+"/h", "application/json", strings.NewReader("{}"))
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	entered.Wait()
	began := time.Now()
	resp, err := hc.Post("https://"+addr+"/h", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(bufio.NewReader(resp.Body))
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "too many requests in flight") {
		t.Errorf("second request while the only slot is held: %d %q, want 503 busy", resp.StatusCode, body)
	}
	if d := time.Since(began); d > 3*time.Second {
		t.Errorf("the busy answer took %s", d)
	}
	close(release)
	if code := <-first; code != http.StatusOK {
		t.Errorf("first request: %d", code)
	}
}

// A client trickling its body does not hold a review slot: a prompt
// request is served while MaxInFlight such clients are connected.
func TestHTTPSTricklingBodiesHoldNoSlot(t *testing.T) {
	addr, client := startHTTPS(t, Limits{MaxInFlight: 2, ReadHeaderTimeout: 2 * time.Second, ReadTimeout: 20 * time.Second}, ok())
	for range 4 {
		c, err := tls.Dial("tcp", addr, client)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, "POST /h HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{"); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: client}, Timeout: 10 * time.Second}
	resp, err := hc.Post("https://"+addr+"/h", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("prompt request while 4 clients trickle their bodies (MaxInFlight 2): %d, want 200", resp.StatusCode)
	}
}
