package dryrun

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modeguard/modeguard/workload"
)

// PeerPath is where a replica answers its peers' questions, on the
// webhook's HTTPS port.
const PeerPath = "/dryrun/peer"

// PeerTimeout bounds one question to the peers (all of them at once): well
// within an admission request's time.
const PeerTimeout = 300 * time.Millisecond

// maxPeerAnswer bounds the body a peer may send back.
const maxPeerAnswer = DefaultMaxBytes

// Entry is a remembered object as a peer sends it.
type Entry struct {
	Kind   string          `json:"kind"`
	Name   string          `json:"name"`
	Base   string          `json:"base,omitempty"`
	Object json.RawMessage `json:"object"`
}

type peerQuestion struct {
	User      string `json:"user"`
	Namespace string `json:"namespace"`
}

// Entries returns the live entries of user in namespace.
func (o *Overlay) Entries(user, namespace string) []Entry {
	var out []Entry
	for _, e := range o.namespace(user, namespace, rememberedKinds()...) {
		raw, err := json.Marshal(e.obj)
		if err != nil {
			continue
		}
		out = append(out, Entry{Kind: e.key.Kind, Name: e.key.Name, Base: e.base, Object: raw})
	}
	return out
}

func rememberedKinds() []*workload.Kind {
	var out []*workload.Kind
	for _, k := range workload.Kinds {
		if Remembers(k) {
			out = append(out, k)
		}
	}
	return out
}

// PeerHandler answers a peer's question (POST {user, namespace}) with the
// user's entries of the namespace. Only a caller holding the serving
// certificate's key (every replica mounts the same one) gets an answer:
// authorized checks the client certificate of the connection.
func (o *Overlay) PeerHandler(authorized func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		if !authorized(r) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		var q peerQuestion
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&q); err != nil || q.Namespace == "" {
			http.Error(w, "bad question", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(o.Entries(q.User, q.Namespace))
	})
}

// SameKey returns a check of a connection's client certificate: it must
// carry the public key of the certificate current returns (the serving
// certificate, which every replica shares).
func SameKey(current func() (*tls.Certificate, error)) func(*http.Request) bool {
	return func(r *http.Request) bool {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			return false
		}
		return sameKey(current, r.TLS.PeerCertificates[0])
	}
}

func sameKey(current func() (*tls.Certificate, error), got *x509.Certificate) bool {
	c, err := current()
	if err != nil || c == nil || len(c.Certificate) == 0 {
		return false
	}
	own, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return false
	}
	return bytes.Equal(own.RawSubjectPublicKeyInfo, got.RawSubjectPublicKeyInfo)
}

// Peers asks the other replicas for a user's remembered objects.
type Peers struct {
	// Addrs returns the peers' host:port (not this replica's).
	Addrs func(ctx context.Context) ([]string, error)
	// Certificate is the serving certificate: presented to the peers, and
	// the key they must present back.
	Certificate func() (*tls.Certificate, error)

	once   sync.Once
	client *http.Client
}

// StaticPeers returns an Addrs of a fixed list.
func StaticPeers(addrs []string) func(context.Context) ([]string, error) {
	return func(context.Context) ([]string, error) { return addrs, nil }
}

// ServicePeers returns an Addrs resolving a headless Service's name (its
// endpoints' addresses) at port, less the addresses in self (this pod's).
func ServicePeers(name string, port int, self []string) func(context.Context) ([]string, error) {
	return func(ctx context.Context) ([]string, error) {
		ips, err := net.DefaultResolver.LookupHost(ctx, name)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, ip := range ips {
			if !contains(self, ip) {
				out = append(out, net.JoinHostPort(ip, strconv.Itoa(port)))
			}
		}
		return out, nil
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (p *Peers) httpClient() *http.Client {
	p.once.Do(func() {
		cfg := &tls.Config{
			MinVersion: tls.VersionTLS12,
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				return p.Certificate()
			},
			// A peer is checked by its key, the shared serving key, not by
			// a name: replicas are reached by pod address.
			InsecureSkipVerify: true, //nolint:gosec // VerifyPeerCertificate checks the key
			VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
				if len(raw) == 0 {
					return errors.New("peer sent no certificate")
				}
				c, err := x509.ParseCertificate(raw[0])
				if err != nil {
					return err
				}
				if !sameKey(p.Certificate, c) {
					return errors.New("peer does not hold the serving key")
				}
				return nil
			},
		}
		p.client = &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute}}
	})
	return p.client
}

// fetch asks every peer at once, within PeerTimeout, for user's entries in
// namespace. Peers that fail or are late are left out.
func (p *Peers) fetch(ctx context.Context, user, namespace string) []Entry {
	if p == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, PeerTimeout)
	defer cancel()
	addrs, err := p.Addrs(ctx)
	if err != nil || len(addrs) == 0 {
		return nil
	}
	body, err := json.Marshal(peerQuestion{User: user, Namespace: namespace})
	if err != nil {
		return nil
	}
	var (
		mu  sync.Mutex
		out []Entry
		wg  sync.WaitGroup
	)
	for _, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			es, err := p.ask(ctx, a, body)
			if err != nil {
				return
			}
			mu.Lock()
			out = append(out, es...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func (p *Peers) ask(ctx context.Context, addr string, body []byte) ([]Entry, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addr+PeerPath, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.httpClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("peer %s: %s", addr, resp.Status)
	}
	var es []Entry
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxPeerAnswer)).Decode(&es); err != nil {
		return nil, err
	}
	return es, nil
}

// decode turns a peer's entries into entries of user in namespace (those
// of kinds this replica does not remember, or that do not decode, are
// dropped).
func decode(user, namespace string, es []Entry) []*entry {
	var out []*entry
	for _, e := range es {
		k := workload.KindNamed(e.Kind)
		if !Remembers(k) || strings.TrimSpace(e.Name) == "" {
			continue
		}
		obj := k.New()
		if err := json.Unmarshal(e.Object, obj); err != nil || obj.GetNamespace() != namespace || obj.GetName() != e.Name {
			continue
		}
		out = append(out, &entry{key: Key{User: user, Namespace: namespace, Kind: k.Name, Name: e.Name}, obj: obj, base: e.Base})
	}
	return out
}
