package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/net/netutil"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// Limits bound what one client can hold of the webhook's HTTPS server. The
// API server is the only legitimate client; the limits are for everything
// else that can reach the port (a slow or hostile client, a flood of
// connections) and for the API server's own bursts.
type Limits struct {
	// ReadHeaderTimeout bounds the TLS handshake and the request headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout time.Duration
	// WriteTimeout bounds a request from the end of its headers to the
	// end of the response (the review runs inside it).
	WriteTimeout time.Duration
	// IdleTimeout closes keep-alive connections left idle this long.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request headers.
	MaxHeaderBytes int
	// MaxConns bounds open connections; more wait in the listen backlog.
	MaxConns int
	// MaxInFlight bounds requests being reviewed at once; more wait, within
	// their deadlines. Bodies (up to MaxBodyBytes each) are read before a
	// request waits, so memory for bodies is bounded by MaxConns.
	MaxInFlight int
}

// DefaultLimits fit an API server that gives each call 3 s (timeoutSeconds
// in deploy/).
func DefaultLimits() Limits {
	return Limits{
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
		MaxConns:          512,
		MaxInFlight:       64,
	}
}

// httpsServer is the webhook's HTTPS server: controller-runtime's
// webhook.Server with the timeouts and bounds of Limits, TLS 1.2 or newer,
// and HTTP/1.1 only (HTTP/2 brings stream-level attacks and nothing the API
// server needs).
type httpsServer struct {
	host    string
	port    int
	tlsOpts []func(*tls.Config)
	limits  Limits
	log     logr.Logger
	mux     *http.ServeMux
	slots   chan struct{}

	mu      sync.Mutex
	started bool
	addr    string
}

var _ webhook.Server = (*httpsServer)(nil)

// NewHTTPSServer returns the webhook server modeguard runs, listening on
// host:port with limits (zero fields take DefaultLimits' values); tlsOpts
// must provide the serving certificate. make bench's null webhook runs the
// same server.
func NewHTTPSServer(host string, port int, limits Limits, log logr.Logger, tlsOpts ...func(*tls.Config)) webhook.Server {
	return newHTTPSServer(host, port, limits, log, tlsOpts...)
}

func newHTTPSServer(host string, port int, limits Limits, log logr.Logger, tlsOpts ...func(*tls.Config)) *httpsServer {
	d := DefaultLimits()
	orDefault(&limits.ReadHeaderTimeout, d.ReadHeaderTimeout)
	orDefault(&limits.ReadTimeout, d.ReadTimeout)
	orDefault(&limits.WriteTimeout, d.WriteTimeout)
	orDefault(&limits.IdleTimeout, d.IdleTimeout)
	orDefault(&limits.MaxHeaderBytes, d.MaxHeaderBytes)
	orDefault(&limits.MaxConns, d.MaxConns)
	orDefault(&limits.MaxInFlight, d.MaxInFlight)
	return &httpsServer{
		host: host, port: port, tlsOpts: tlsOpts, limits: limits, log: log,
		mux: http.NewServeMux(), slots: make(chan struct{}, limits.MaxInFlight),
	}
}

// orDefault sets *v to d unless it is positive.
func orDefault[T int | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// NeedLeaderElection: every replica serves.
func (s *httpsServer) NeedLeaderElection() bool { return false }

// WebhookMux is the mux the handlers are registered on.
func (s *httpsServer) WebhookMux() *http.ServeMux { return s.mux }

// Register serves hook at path, one of MaxInFlight at a time.
func (s *httpsServer) Register(path string, hook http.Handler) {
	s.mux.Handle(path, s.bounded(hook))
	s.log.V(1).Info("Registered webhook", "path", path)
}

// MaxBodyBytes is the largest request body read (controller-runtime's
// admission handler reads at most as much).
const MaxBodyBytes = 7 << 20

// bounded reads a request's body (within ReadTimeout), then makes it wait
// for a free review slot; one still waiting after ReadHeaderTimeout gets
// 503 (the API server then applies its failurePolicy). Reading first keeps
// a client that trickles its body from holding a slot.
func (s *httpsServer) bounded(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
			if err != nil {
				http.Error(w, "reading the request body: "+err.Error(), http.StatusBadRequest)
				return
			}
			if len(body) > MaxBodyBytes {
				http.Error(w, fmt.Sprintf("request body larger than %d bytes", MaxBodyBytes), http.StatusRequestEntityTooLarge)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		wait := time.NewTimer(s.limits.ReadHeaderTimeout)
		defer wait.Stop()
		select {
		case s.slots <- struct{}{}:
		case <-wait.C:
			http.Error(w, "modeguard is busy: too many requests in flight", http.StatusServiceUnavailable)
			return
		case <-r.Context().Done():
			return
		}
		defer func() { <-s.slots }()
		h.ServeHTTP(w, r)
	})
}

// baseTLSConfig is the server's TLS configuration before its options: TLS 1.2
// or newer, AEAD ciphers with forward secrecy for TLS 1.2 (TLS 1.3's are
// all modern), HTTP/1.1.
func baseTLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		NextProtos: []string{"http/1.1"},
	}
}

// Start serves until ctx ends, then drains in-flight requests for up to a
// minute.
func (s *httpsServer) Start(ctx context.Context) error {
	cfg := baseTLSConfig()
	for _, o := range s.tlsOpts {
		o(cfg)
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		return errors.New("webhook server: TLS options lowered the minimum version below 1.2")
	}
	if cfg.GetCertificate == nil && cfg.GetConfigForClient == nil && len(cfg.Certificates) == 0 {
		return errors.New("webhook server: no serving certificate configured")
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(s.host, strconv.Itoa(s.port)))
	if err != nil {
		return fmt.Errorf("webhook server: %w", err)
	}
	ln = tls.NewListener(netutil.LimitListener(ln, s.limits.MaxConns), cfg)
	srv := &http.Server{
		Handler:           s.mux,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ReadHeaderTimeout: s.limits.ReadHeaderTimeout,
		ReadTimeout:       s.limits.ReadTimeout,
		WriteTimeout:      s.limits.WriteTimeout,
		IdleTimeout:       s.limits.IdleTimeout,
		MaxHeaderBytes:    s.limits.MaxHeaderBytes,
		// TLS handshake errors, timeouts and the like are a client's
		// problem: logged at debug level, so a scanner cannot flood the log.
		ErrorLog: log.New(debugWriter{s.log.V(1)}, "", 0),
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			s.log.Error(err, "Shutting down the webhook server")
		}
	}()
	s.mu.Lock()
	s.started, s.addr = true, ln.Addr().String()
	s.mu.Unlock()
	s.log.Info("Serving webhooks", "address", ln.Addr().String(), "maxConns", s.limits.MaxConns, "maxInFlight", s.limits.MaxInFlight,
		"readHeaderTimeout", s.limits.ReadHeaderTimeout, "readTimeout", s.limits.ReadTimeout)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	<-drained
	return nil
}

// StartedChecker is healthy once the server accepts TLS connections.
func (s *httpsServer) StartedChecker() healthz.Checker {
	return func(*http.Request) error {
		s.mu.Lock()
		started, addr := s.started, s.addr
		s.mu.Unlock()
		if !started {
			return errors.New("webhook server has not started yet")
		}
		d := &net.Dialer{Timeout: 2 * time.Second}
		conn, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // a liveness dial: only reachability counts
		if err != nil {
			return fmt.Errorf("webhook server is not reachable: %w", err)
		}
		return conn.Close()
	}
}

// debugWriter turns the http.Server's error log into debug log lines.
type debugWriter struct{ log logr.Logger }

func (w debugWriter) Write(p []byte) (int, error) {
	w.log.Info("HTTPS server", "error", strings.TrimSpace(string(p)))
	return len(p), nil
}
