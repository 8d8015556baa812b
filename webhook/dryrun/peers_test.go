package dryrun

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/workload"
)

func selfSigned(t *testing.T) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "modeguard-webhook"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"127.0.0.1"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// A replica whose dry run misses the pair gets it from the peer that
// remembers it, only with the shared serving key, and only the same
// user's.
func TestPeers(t *testing.T) {
	ctx := context.Background()
	shared, other := selfSigned(t), selfSigned(t)
	of := func(c *tls.Certificate) func() (*tls.Certificate, error) {
		return func() (*tls.Certificate, error) { return c, nil }
	}
	b := New(Options{}, workload.Recognizer{})
	b.Remember(User("alice", "1"), configMap("ns", "alloy", ""), 10)
	b.Remember(User("alice", "1"), daemonSet("ns", "reader", "", "other"), 10)
	srv := httptest.NewUnstartedServer(b.PeerHandler(SameKey(of(shared))))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{*shared}, ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "https://")

	for _, tc := range []struct {
		name       string
		user       string
		key        *tls.Certificate
		wantCM     bool
		wantReader bool
	}{
		{"same key, same user", User("alice", "1"), shared, true, true},
		{"same key, other user", User("bob", "2"), shared, false, false},
		{"other key", User("alice", "1"), other, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := New(Options{}, workload.Recognizer{})
			a.Peers = &Peers{Addrs: StaticPeers([]string{addr}), Certificate: of(tc.key)}
			lk := a.Lookup(tc.user, review.NewSet(nil))
			cm, err := lk.ConfigMap(ctx, "ns", "alloy")
			if err != nil {
				t.Fatal(err)
			}
			if got := cm != nil; got != tc.wantCM {
				t.Errorf("ConfigMap from the peer: got %v, want %v", got, tc.wantCM)
			}
			cons, err := lk.Consumers(ctx, "ns", "other")
			if err != nil {
				t.Fatal(err)
			}
			if got := len(cons) == 1; got != tc.wantReader {
				t.Errorf("consumers from the peer: got %s, want %v", names(cons), tc.wantReader)
			}
		})
	}

	// Without the shared key's client certificate: no answer.
	plain := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // a test of the server's check
	resp, err := plain.Post(srv.URL+PeerPath, "application/json", strings.NewReader(`{"user":"alice\u00001","namespace":"ns"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a question without the serving key: got %s, want 403", resp.Status)
	}

	// What this replica has wins over the peer's, and the cluster's over both.
	a := New(Options{}, workload.Recognizer{})
	a.Peers = &Peers{Addrs: StaticPeers([]string{addr}), Certificate: of(shared)}
	mine := configMap("ns", "alloy", "")
	mine.Data["config.alloy"] = "mine"
	a.Remember(User("alice", "1"), mine, 10)
	cm, _ := a.Lookup(User("alice", "1"), review.NewSet(nil)).ConfigMap(ctx, "ns", "alloy")
	if cm == nil || cm.Data["config.alloy"] != "mine" {
		t.Errorf("got %v, want this replica's own", cm)
	}
	a = New(Options{}, workload.Recognizer{})
	a.Peers = &Peers{Addrs: StaticPeers([]string{addr}), Certificate: of(shared)}
	cluster := review.NewSet([]runtime.Object{configMap("ns", "alloy", "5")})
	cm, _ = a.Lookup(User("alice", "1"), cluster).ConfigMap(ctx, "ns", "alloy")
	if cm == nil || cm.ResourceVersion != "5" {
		t.Errorf("got %v, want the cluster's", cm)
	}

	// A peer that does not answer costs at most PeerTimeout.
	a = New(Options{}, workload.Recognizer{})
	a.Peers = &Peers{Addrs: StaticPeers([]string{"10.255.255.1:9443"}), Certificate: of(shared)}
	began := time.Now()
	if cm, _ := a.Lookup(User("alice", "1"), review.NewSet(nil)).ConfigMap(ctx, "ns", "alloy"); cm != nil {
		t.Errorf("got a ConfigMap from nowhere")
	}
	if d := time.Since(began); d > PeerTimeout+time.Second { // slack for a loaded machine
		t.Errorf("an unreachable peer took %v, want at most %v", d, PeerTimeout)
	}
}
