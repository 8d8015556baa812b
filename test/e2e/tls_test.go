package e2e

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"
)

// The webhook serves TLS 1.2 or newer only: a TLS 1.1 client is refused.
func TestTLSMinimumVersion(t *testing.T) {
	c := cluster(t)
	dial := func(max uint16) error {
		d := &net.Dialer{Timeout: 5 * time.Second}
		conn, err := tls.DialWithDialer(d, "tcp", c.WebhookAddr, &tls.Config{
			MinVersion: tls.VersionTLS10, MaxVersion: max,
			InsecureSkipVerify: true, // only the protocol version is under test
		})
		if err == nil {
			conn.Close()
		}
		return err
	}
	err := dial(tls.VersionTLS11)
	if err == nil {
		t.Fatal("a TLS 1.1 handshake succeeded; want it refused")
	}
	if !strings.Contains(err.Error(), "protocol version") {
		t.Fatalf("TLS 1.1 refused for another reason: %v", err)
	}
	if err := dial(tls.VersionTLS12); err != nil {
		t.Fatalf("a TLS 1.2 handshake failed: %v", err)
	}
}
