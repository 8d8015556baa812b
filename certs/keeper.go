package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// ExpiryMetric is the name of the gauge holding, per certificate ("serving",
// and "ca" for the CA that issued it), its expiry as a Unix timestamp.
const ExpiryMetric = "modeguard_cert_expiry_timestamp_seconds"

// ErrNotLoaded is returned by Keeper.Ready and GetCertificate until a serving
// certificate has been loaded.
var ErrNotLoaded = errors.New("no serving certificate loaded yet")

// KeeperOptions configure a Keeper. Exactly one of Secret and Dir is the
// source of the serving certificate.
type KeeperOptions struct {
	// DNSNames the served certificate must cover. Required.
	DNSNames []string
	// Secret is read through the API (self-managed mode): tls.crt, tls.key
	// and ca-bundle.crt, on every watch event and every CheckInterval.
	Secret types.NamespacedName
	// Dir is read from disk (cert-manager mode, a mounted Secret): tls.crt,
	// tls.key and, when present, ca.crt; reloaded with controller-runtime's
	// certwatcher.
	Dir string
	// WriteDir, with Secret, is where the served tls.crt and tls.key are also
	// written, for a webhook server configured with a CertDir instead of
	// ConfigureTLS. Optional.
	WriteDir string
	// CheckInterval is how often to re-read and re-check (default
	// DefaultCheckInterval).
	CheckInterval time.Duration
	// Registerer gets the expiry gauge (default controller-runtime's
	// metrics.Registry).
	Registerer prometheus.Registerer
	// Logger (default: controller-runtime's logger named "certs").
	Logger logr.Logger
}

// Keeper serves the current certificate on every replica: GetCertificate
// hands the TLS stack whatever is loaded, so a rotated certificate is served
// without a restart. It keeps serving the last usable certificate when its
// source turns bad, reports readiness (Ready), exports the expiry gauge and
// logs loudly, saying what to do, when the served certificate is unusable.
type Keeper struct {
	o      KeeperOptions
	reader client.Reader   // Secret source only
	scheme *runtime.Scheme // Secret source only
	cfg    *rest.Config
	log    logr.Logger
	now    func() time.Time
	expiry *prometheus.GaugeVec

	mu      sync.Mutex // serialises offer
	cur     atomic.Pointer[served]
	written []byte // tls.crt last written to WriteDir
}

// served is one loaded serving certificate and the CAs trusted with it.
type served struct {
	cert    *tls.Certificate
	leaf    *x509.Certificate
	trusted []*x509.Certificate
	certPEM []byte
	keyPEM  []byte
}

var (
	_ manager.Runnable               = (*Keeper)(nil)
	_ manager.LeaderElectionRunnable = (*Keeper)(nil)
	_ healthz.Checker                = (*Keeper)(nil).Ready
)

// NewKeeper returns a Keeper. cfg is needed only with a Secret source. Add it
// to a manager (mgr.Add) to run it on every replica.
func NewKeeper(cfg *rest.Config, o KeeperOptions) (*Keeper, error) {
	switch {
	case len(o.DNSNames) == 0:
		return nil, errors.New("certificate keeper: no DNS names")
	case (o.Secret.Name == "") == (o.Dir == ""):
		return nil, errors.New("certificate keeper: set exactly one of Secret and Dir")
	case o.Secret.Name != "" && (o.Secret.Namespace == "" || cfg == nil):
		return nil, errors.New("certificate keeper: a Secret source needs a namespace and a REST config")
	case o.WriteDir != "" && o.Dir != "":
		return nil, errors.New("certificate keeper: WriteDir goes with a Secret source only")
	}
	if o.CheckInterval <= 0 {
		o.CheckInterval = DefaultCheckInterval
	}
	if o.Registerer == nil {
		o.Registerer = metrics.Registry
	}
	if o.Logger.GetSink() == nil {
		o.Logger = logf.Log.WithName("certs")
	}
	k := &Keeper{o: o, cfg: cfg, log: o.Logger.WithName("keeper"), now: time.Now}
	if o.Secret.Name != "" {
		scheme, err := newScheme()
		if err != nil {
			return nil, err
		}
		c, err := client.New(cfg, client.Options{Scheme: scheme})
		if err != nil {
			return nil, fmt.Errorf("certificate keeper: %w", err)
		}
		k.reader, k.scheme = c, scheme
		k.log = k.log.WithValues("secret", o.Secret.String())
	} else {
		k.log = k.log.WithValues("dir", o.Dir)
	}
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: ExpiryMetric,
		Help: "Expiry of the webhook's served certificate (cert=serving) and of the CA that issued it (cert=ca), as a Unix timestamp.",
	}, []string{"cert"})
	if err := o.Registerer.Register(g); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, fmt.Errorf("certificate keeper: registering %s: %w", ExpiryMetric, err)
		}
		existing, ok := are.ExistingCollector.(*prometheus.GaugeVec)
		if !ok {
			return nil, fmt.Errorf("certificate keeper: %s is registered as %T", ExpiryMetric, are.ExistingCollector)
		}
		g = existing
	}
	k.expiry = g
	return k, nil
}

// NeedLeaderElection is false: every replica serves.
func (k *Keeper) NeedLeaderElection() bool { return false }

// GetCertificate returns the loaded serving certificate; use it as
// tls.Config.GetCertificate.
func (k *Keeper) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s := k.cur.Load()
	if s == nil {
		return nil, fmt.Errorf("certs: %w", ErrNotLoaded)
	}
	return s.cert, nil
}

// ConfigureTLS makes c serve the Keeper's certificate. Pass it in
// controller-runtime's webhook.Options.TLSOpts.
func (k *Keeper) ConfigureTLS(c *tls.Config) {
	c.GetCertificate = k.GetCertificate
}

// Ready is a healthz.Checker: it fails until the loaded serving certificate
// is valid now, covers the DNS names and chains to the trusted CAs.
func (k *Keeper) Ready(*http.Request) error {
	s := k.cur.Load()
	if s == nil {
		return ErrNotLoaded
	}
	return validateServing(s.leaf, s.trusted, k.o.DNSNames, k.now(), 0)
}

// Start loads and reloads the certificate until ctx ends; it returns nil
// then. Problems are logged, never fatal.
func (k *Keeper) Start(ctx context.Context) error {
	k.log.Info("Starting certificate keeper", "interval", k.o.CheckInterval)
	defer k.log.Info("Stopped certificate keeper")
	if k.o.Dir != "" {
		return k.runDir(ctx)
	}
	return k.runSecret(ctx)
}

func (k *Keeper) runSecret(ctx context.Context) error {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: k.o.Secret.Name, Namespace: k.o.Secret.Namespace}}
	trigger, err := watchNamed(ctx, k.cfg, k.scheme, k.log, secret)
	if err != nil {
		k.log.Error(err, "Cannot watch the certificate Secret; checking every interval only")
	}
	ticker := time.NewTicker(k.o.CheckInterval)
	defer ticker.Stop()
	for {
		k.syncSecret(ctx)
		k.report()
		select {
		case <-ctx.Done():
			return nil
		case <-trigger:
		case <-ticker.C:
		}
	}
}

// syncSecret reads the Secret and offers its serving certificate.
func (k *Keeper) syncSecret(ctx context.Context) {
	var s corev1.Secret
	if err := k.reader.Get(ctx, k.o.Secret, &s); err != nil {
		if ctx.Err() != nil {
			return
		}
		if apierrors.IsNotFound(err) {
			k.log.Info("Certificate Secret not found yet; the leader's certificate rotator creates it")
			return
		}
		k.log.Error(err, "Cannot read the certificate Secret; still serving what is loaded")
		return
	}
	b := BundleFromData(s.Data)
	cert, err := tls.X509KeyPair(b.TLSCert, b.TLSKey)
	if err != nil {
		k.log.Error(err, "Certificate Secret holds a corrupt serving certificate; still serving what is loaded", "fix", k.hint(ErrCorrupt))
		return
	}
	trusted, err := DecodeCerts(b.Trusted())
	if err != nil {
		k.log.Error(err, "Certificate Secret holds a corrupt CA bundle; the chain is not checked", "fix", k.hint(ErrCorrupt))
	}
	k.offer(&cert, trusted, b.TLSCert, b.TLSKey)
	k.writeFiles()
}

func (k *Keeper) runDir(ctx context.Context) error {
	certPath, keyPath := filepath.Join(k.o.Dir, KeyTLSCert), filepath.Join(k.o.Dir, KeyTLSKey)
	var cw *certwatcher.CertWatcher
	wait := min(time.Second, k.o.CheckInterval)
	for cw == nil {
		var err error
		if cw, err = certwatcher.New(certPath, keyPath); err != nil {
			k.log.Info("Waiting for the mounted serving certificate", "reason", err.Error(), "fix", k.hint(ErrNotLoaded))
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
			wait = min(2*wait, k.o.CheckInterval)
		}
	}
	cw = cw.WithWatchInterval(k.o.CheckInterval)
	// The callback only signals: certwatcher calls it once under its own
	// lock, later in goroutines that may arrive out of order. The loop below
	// then takes the watcher's latest certificate.
	changed := make(chan struct{}, 1)
	cw.RegisterCallback(func(tls.Certificate) {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	go func() {
		if err := cw.Start(ctx); err != nil {
			k.log.Error(err, "Certificate file watch ended; reloading every interval only")
		}
	}()
	ticker := time.NewTicker(k.o.CheckInterval)
	defer ticker.Stop()
	for {
		if c, _ := cw.GetCertificate(nil); c != nil {
			k.offer(c, k.readTrusted(), nil, nil) // also picks up a changed ca.crt
		}
		k.report()
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-ticker.C:
			if err := cw.ReadCertificate(); err != nil {
				k.log.Error(err, "Cannot read the mounted serving certificate; still serving what is loaded", "fix", k.hint(ErrCorrupt))
			}
		}
	}
}

// readTrusted reads ca.crt from Dir; nil when absent or unreadable (the
// chain is then not checked).
func (k *Keeper) readTrusted() []*x509.Certificate {
	data, err := os.ReadFile(filepath.Join(k.o.Dir, KeyCACert))
	if err != nil {
		return nil
	}
	certs, err := DecodeCerts(data)
	if err != nil {
		k.log.Error(err, "Mounted ca.crt is corrupt; the chain is not checked")
		return nil
	}
	return certs
}

// offer loads cert unless it is unusable while the loaded one is fine.
func (k *Keeper) offer(cert *tls.Certificate, trusted []*x509.Certificate, certPEM, keyPEM []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	leaf := cert.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			k.log.Error(err, "Cannot parse the serving certificate")
			return
		}
	}
	cand := &served{cert: cert, leaf: leaf, trusted: trusted, certPEM: certPEM, keyPEM: keyPEM}
	now := k.now()
	cur := k.cur.Load()
	sameCert := cur != nil && cur.leaf.Equal(leaf)
	if sameCert && sameCerts(cur.trusted, trusted) {
		return
	}
	if !sameCert && cur != nil {
		if err := validateServing(leaf, trusted, k.o.DNSNames, now, 0); err != nil && validateServing(cur.leaf, cur.trusted, k.o.DNSNames, now, 0) == nil {
			k.log.Error(err, "New serving certificate is not usable; still serving the previous one", "fix", k.hint(err))
			return
		}
	}
	if sameCert {
		cand.cert, cand.certPEM, cand.keyPEM = cur.cert, cur.certPEM, cur.keyPEM
	}
	k.cur.Store(cand)
	if !sameCert {
		k.log.Info("Loaded serving certificate", "serving", describe(leaf), "notAfter", leaf.NotAfter.UTC(), "trustedCAs", len(trusted))
	}
}

func sameCerts(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

// report sets the expiry gauge and logs loudly when the served certificate
// is unusable.
func (k *Keeper) report() {
	s := k.cur.Load()
	if s == nil {
		k.log.Info("No serving certificate loaded yet; not ready", "fix", k.hint(ErrNotLoaded))
		return
	}
	k.expiry.WithLabelValues("serving").Set(float64(s.leaf.NotAfter.Unix()))
	for _, ca := range s.trusted {
		if s.leaf.CheckSignatureFrom(ca) == nil {
			k.expiry.WithLabelValues("ca").Set(float64(ca.NotAfter.Unix()))
			break
		}
	}
	if err := validateServing(s.leaf, s.trusted, k.o.DNSNames, k.now(), 0); err != nil {
		k.log.Error(err, "SERVING AN UNUSABLE CERTIFICATE: the kube-apiserver cannot call this webhook", "dnsNames", k.o.DNSNames, "fix", k.hint(err))
	}
}

// hint says what an operator can do about err.
func (k *Keeper) hint(err error) string {
	if k.o.Dir != "" {
		h := fmt.Sprintf("cert-manager mode: the certificate comes from %s. Check that the cert-manager Certificate writing it is Ready, that its Secret is mounted there, and that its dnsNames include %q", k.o.Dir, k.o.DNSNames)
		if errors.Is(err, ErrWrongCA) {
			h += "; the webhook configurations' caBundle must hold the issuing CA (cert-manager's cainjector annotation)"
		}
		return h
	}
	h := fmt.Sprintf("self-managed mode: the leader's certificate rotator writes Secret %s and replaces an unusable certificate within its check interval. If this persists, read the leader's rotator logs, check its RBAC (get, create, update that Secret; get, update the webhook configurations), or delete the Secret to have it recreated", k.o.Secret)
	if errors.Is(err, ErrWrongDNSName) {
		h += fmt.Sprintf("; the rotator issues for %q: the service and namespace given to modeguard must be those the webhook configurations call", k.o.DNSNames)
	}
	return h
}

// writeFiles writes the served pair into WriteDir when it changed.
func (k *Keeper) writeFiles() {
	s := k.cur.Load()
	if k.o.WriteDir == "" || s == nil || s.certPEM == nil || bytes.Equal(s.certPEM, k.written) {
		return
	}
	if err := writePair(k.o.WriteDir, s.certPEM, s.keyPEM); err != nil {
		k.log.Error(err, "Cannot write the serving certificate files", "dir", k.o.WriteDir)
		return
	}
	k.written = s.certPEM
}
