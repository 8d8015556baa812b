package certs

import (
	"github.com/modeguard/modeguard/internal/freeport"

	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// envCfg reaches the envtest control plane; nil when it is not running.
var (
	envCfg     *rest.Config
	envSkipWhy string
)

func TestMain(m *testing.M) {
	flag.Parse()
	// certwatcher logs through controller-runtime's root logger.
	logf.SetLogger(logr.Discard())
	if testing.Short() {
		envSkipWhy = "-short: no control plane"
		m.Run()
		return
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets, _ = filepath.Abs(filepath.Join("..", "bin", "k8s"))
	}
	if _, err := os.Stat(filepath.Join(assets, "kube-apiserver")); err != nil {
		envSkipWhy = fmt.Sprintf("no kube-apiserver in %s (make k8s-bins)", assets)
		m.Run()
		return
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting envtest from %s: %v\n", assets, err)
		os.Exit(1)
	}
	envCfg = cfg
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "stopping envtest: %v\n", err)
	}
	os.Exit(code)
}

// cluster is one test's slice of the control plane: a namespace and a
// mutating and a validating webhook configuration with two webhooks each.
type cluster struct {
	t    *testing.T
	c    client.Client
	ns   string
	name string // webhook configurations and Secret
}

func newCluster(t *testing.T, name string) *cluster {
	t.Helper()
	if envCfg == nil {
		t.Skip(envSkipWhy)
	}
	scheme, err := newScheme()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(envCfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	cl := &cluster{t: t, c: c, ns: "mg-" + name, name: "modeguard-" + name}
	ctx := context.Background()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: cl.ns}}); err != nil {
		t.Fatal(err)
	}
	ignore, none := admissionregistrationv1.Ignore, admissionregistrationv1.SideEffectClassNone
	path := "/mutate"
	cc := admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: cl.ns, Name: "svc", Path: &path}}
	// Rules on a resource nobody writes: these webhooks are never called.
	rules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{"modeguard.dev"}, APIVersions: []string{"v1"}, Resources: []string{"nothings"}},
	}}
	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: cl.name}}
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: cl.name}}
	for _, n := range []string{"a", "b"} {
		name := n + "." + name + ".modeguard.dev"
		mwc.Webhooks = append(mwc.Webhooks, admissionregistrationv1.MutatingWebhook{Name: name, ClientConfig: cc, Rules: rules, FailurePolicy: &ignore, SideEffects: &none, AdmissionReviewVersions: []string{"v1"}})
		vwc.Webhooks = append(vwc.Webhooks, admissionregistrationv1.ValidatingWebhook{Name: name, ClientConfig: cc, Rules: rules, FailurePolicy: &ignore, SideEffects: &none, AdmissionReviewVersions: []string{"v1"}})
	}
	for _, o := range []client.Object{mwc, vwc} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	return cl
}

func (cl *cluster) secretKey() types.NamespacedName {
	return types.NamespacedName{Namespace: cl.ns, Name: cl.name}
}

func (cl *cluster) names() []string { return DNSNames("svc", cl.ns) }

func (cl *cluster) secret() (*corev1.Secret, error) {
	var s corev1.Secret
	return &s, cl.c.Get(context.Background(), cl.secretKey(), &s)
}

// bundles returns the caBundle of every webhook in both configurations,
// and their resourceVersions.
func (cl *cluster) bundles() (bundles [][]byte, rvs []string, err error) {
	ctx := context.Background()
	var m admissionregistrationv1.MutatingWebhookConfiguration
	if err := cl.c.Get(ctx, types.NamespacedName{Name: cl.name}, &m); err != nil {
		return nil, nil, err
	}
	var v admissionregistrationv1.ValidatingWebhookConfiguration
	if err := cl.c.Get(ctx, types.NamespacedName{Name: cl.name}, &v); err != nil {
		return nil, nil, err
	}
	for _, w := range m.Webhooks {
		bundles = append(bundles, w.ClientConfig.CABundle)
	}
	for _, w := range v.Webhooks {
		bundles = append(bundles, w.ClientConfig.CABundle)
	}
	return bundles, []string{m.ResourceVersion, v.ResourceVersion}, nil
}

// settled reports nil once the Secret is valid and every webhook carries
// its CA bundle.
func (cl *cluster) settled() error {
	s, err := cl.secret()
	if err != nil {
		return err
	}
	b := BundleFromData(s.Data)
	if err := Validate(b, cl.names(), time.Now(), 0); err != nil {
		return err
	}
	bundles, _, err := cl.bundles()
	if err != nil {
		return err
	}
	for i, got := range bundles {
		if string(got) != string(b.CABundle) {
			return fmt.Errorf("webhook %d caBundle differs from the Secret's ca-bundle.crt", i)
		}
	}
	return nil
}

func (cl *cluster) rotatorOptions() RotatorOptions {
	return RotatorOptions{
		Secret:                         cl.secretKey(),
		MutatingWebhookConfiguration:   cl.name,
		ValidatingWebhookConfiguration: cl.name,
		Policy:                         Policy{DNSNames: cl.names()},
		CheckInterval:                  100 * time.Millisecond,
		Logger:                         testLogger(cl.t),
	}
}

// run starts r in the background until the test ends.
func run(t *testing.T, r manager.Runnable) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start returned %v, want nil", err)
		}
	})
}

// testLogger logs errors (and, with -v, everything) to t until the test
// ends; later lines are dropped rather than failing the test.
func testLogger(t *testing.T) logr.Logger {
	var (
		mu   sync.Mutex
		over bool
	)
	t.Cleanup(func() { mu.Lock(); over = true; mu.Unlock() })
	return funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		if !over && (testing.Verbose() || strings.Contains(args, `"error"`)) {
			t.Log(prefix, args)
		}
	}, funcr.Options{})
}

// dial handshakes with addr as the kube-apiserver would: trusting the
// validating webhook configuration's caBundle, for svc.<ns>.svc.
func (cl *cluster) dial(addr string) (*x509.Certificate, error) {
	bundles, _, err := cl.bundles()
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bundles[len(bundles)-1]) {
		return nil, errors.New("caBundle holds no certificate")
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{
		RootCAs: pool, ServerName: "svc." + cl.ns + ".svc", MinVersion: tls.VersionTLS12,
	})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := freeport.Loopback()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEnvFromNothing runs two replicas the way cmd/webhook will: managers
// with leader election, each with a webhook server served by its Keeper.
// From nothing, the leader creates the Secret and injects the bundle; both
// replicas become ready and serve certificates the caBundle trusts.
func TestEnvFromNothing(t *testing.T) {
	t.Parallel()
	cl := newCluster(t, "fromnothing")
	var stacks []*Stack
	var addrs []string
	for i := range 2 {
		s, err := NewStack(envCfg, Options{
			Service: "svc", Namespace: cl.ns, SecretName: cl.name,
			MutatingWebhookConfiguration: cl.name, ValidatingWebhookConfiguration: cl.name,
			CheckInterval: 200 * time.Millisecond,
			Logger:        testLogger(t).WithValues("replica", i),
		})
		if err != nil {
			t.Fatal(err)
		}
		port := freePort(t)
		mgr, err := manager.New(envCfg, manager.Options{
			Metrics:                       metricsserver.Options{BindAddress: "0"},
			HealthProbeBindAddress:        "0",
			WebhookServer:                 webhook.NewServer(webhook.Options{Host: "127.0.0.1", Port: port, TLSOpts: []func(*tls.Config){s.ConfigureTLS}}),
			LeaderElection:                true,
			LeaderElectionID:              "modeguard-certs",
			LeaderElectionNamespace:       cl.ns,
			LeaderElectionReleaseOnCancel: true,
			Logger:                        testLogger(t).WithValues("replica", i),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AddToManager(mgr); err != nil {
			t.Fatal(err)
		}
		// Registering handlers does this in cmd/webhook: it adds the server.
		mgr.GetWebhookServer().Register("/ping", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		run(t, mgr)
		stacks = append(stacks, s)
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", port))
	}

	eventually(t, 30*time.Second, "Secret created and bundle injected", cl.settled)
	s, _ := cl.secret()
	if s.Type != corev1.SecretTypeTLS {
		t.Errorf("Secret type %q, want %q", s.Type, corev1.SecretTypeTLS)
	}
	want := BundleFromData(s.Data)
	for i, st := range stacks {
		eventually(t, 10*time.Second, fmt.Sprintf("replica %d ready", i), func() error { return st.Keeper.Ready(nil) })
		eventually(t, 10*time.Second, fmt.Sprintf("replica %d serving", i), func() error {
			leaf, err := cl.dial(addrs[i])
			if err != nil {
				return err
			}
			if got := string(EncodeCerts(leaf)); got != string(want.TLSCert) {
				return errors.New("serves another certificate than the Secret's")
			}
			return nil
		})
	}
}

// TestEnvTwoRotatorsNoChurn runs two Rotators at once on one Secret (as if
// both replicas thought they led): they race at creation, then nothing
// changes: resourceVersions stay put across many intervals.
func TestEnvTwoRotatorsNoChurn(t *testing.T) {
	t.Parallel()
	cl := newCluster(t, "churn")
	for range 2 {
		r, err := NewRotator(envCfg, cl.rotatorOptions())
		if err != nil {
			t.Fatal(err)
		}
		run(t, r)
	}
	eventually(t, 30*time.Second, "settled", cl.settled)

	snapshot := func() string {
		s, err := cl.secret()
		if err != nil {
			t.Fatal(err)
		}
		_, rvs, err := cl.bundles()
		if err != nil {
			t.Fatal(err)
		}
		return s.ResourceVersion + "/" + strings.Join(rvs, "/")
	}
	before := snapshot()
	time.Sleep(1500 * time.Millisecond) // 15 check intervals of both rotators
	if after := snapshot(); after != before {
		t.Errorf("resourceVersions (Secret/mutating/validating) changed from %s to %s: churn", before, after)
	}
}

// TestEnvRepairs corrupts the Secret and a webhook's caBundle under a
// running Rotator and Keeper: both are put right, and the Keeper keeps
// serving a good certificate throughout.
func TestEnvRepairs(t *testing.T) {
	t.Parallel()
	cl := newCluster(t, "repairs")
	r, err := NewRotator(envCfg, cl.rotatorOptions())
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewKeeper(envCfg, KeeperOptions{DNSNames: cl.names(), Secret: cl.secretKey(), CheckInterval: 100 * time.Millisecond, Registerer: prometheus.NewRegistry(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	run(t, k)
	run(t, r)
	eventually(t, 30*time.Second, "settled", cl.settled)
	eventually(t, 10*time.Second, "keeper ready", func() error { return k.Ready(nil) })

	// Watch readiness while things break.
	var notReady atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := k.Ready(nil); err != nil {
				notReady.Store(err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	defer func() { close(stop); wg.Wait() }()

	s, _ := cl.secret()
	old := BundleFromData(s.Data)
	s.Data[KeyCACert] = []byte("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n")
	s.Data[KeyTLSCert] = []byte("garbage")
	if err := cl.c.Update(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "corrupt Secret replaced", func() error {
		s, err := cl.secret()
		if err != nil {
			return err
		}
		if string(s.Data[KeyCACert]) == string(old.CACert) || Validate(BundleFromData(s.Data), cl.names(), time.Now(), 0) != nil {
			return errors.New("not replaced yet")
		}
		return cl.settled()
	})

	var v admissionregistrationv1.ValidatingWebhookConfiguration
	if err := cl.c.Get(context.Background(), types.NamespacedName{Name: cl.name}, &v); err != nil {
		t.Fatal(err)
	}
	v.Webhooks[1].ClientConfig.CABundle = old.CABundle
	if err := cl.c.Update(context.Background(), &v); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "caBundle re-injected", cl.settled)
	eventually(t, 10*time.Second, "keeper serves the new certificate", func() error {
		s, _ := cl.secret()
		if c, _ := k.GetCertificate(nil); c == nil || string(EncodeCerts(c.Leaf)) != string(s.Data[KeyTLSCert]) {
			return errors.New("still the old certificate")
		}
		return nil
	})
	if err, _ := notReady.Load().(error); err != nil {
		t.Errorf("keeper was not ready while the Secret was broken: %v", err)
	}
}

// TestEnvRotationNoFailedHandshake rotates everything fast (CA 30s, serving
// 10s) while a client keeps connecting to a server fed by a Keeper, trusting
// whatever caBundle the webhook configuration holds at that moment. Every
// handshake must succeed through serving renewals and a CA rotation.
func TestEnvRotationNoFailedHandshake(t *testing.T) {
	t.Parallel()
	cl := newCluster(t, "rotation")
	o := cl.rotatorOptions()
	o.Policy = Policy{DNSNames: cl.names(), CAValidity: 30 * time.Second, ServingValidity: 10 * time.Second, Overlap: time.Second}
	r, err := NewRotator(envCfg, o)
	if err != nil {
		t.Fatal(err)
	}
	writeDir := t.TempDir()
	k, err := NewKeeper(envCfg, KeeperOptions{DNSNames: cl.names(), Secret: cl.secretKey(), WriteDir: writeDir, CheckInterval: 100 * time.Millisecond, Registerer: prometheus.NewRegistry(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	run(t, r)
	run(t, k)
	eventually(t, 30*time.Second, "settled", cl.settled)
	eventually(t, 10*time.Second, "keeper ready", func() error { return k.Ready(nil) })
	s, _ := cl.secret()
	firstCA := string(s.Data[KeyCACert])

	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	k.ConfigureTLS(cfg)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_ = c.(*tls.Conn).Handshake()
				c.Close()
			}()
		}
	}()

	var (
		ok, failed int
		serials    = map[string]bool{}
		issuers    = map[string]bool{}
		rotated    bool
	)
	deadline := time.Now().Add(40 * time.Second)
	for !rotated && time.Now().Before(deadline) {
		leaf, err := cl.dial(ln.Addr().String())
		if err != nil {
			failed++
			t.Errorf("handshake %d failed: %v", ok+failed, err)
		} else {
			ok++
			serials[leaf.SerialNumber.String()] = true
			issuers[string(leaf.AuthorityKeyId)] = true
		}
		// Done once the new CA alone is trusted and served.
		if s, err := cl.secret(); err == nil && string(s.Data[KeyCACert]) != firstCA && string(s.Data[KeyCABundle]) == string(s.Data[KeyCACert]) && len(issuers) > 1 {
			rotated = cl.settled() == nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("%d handshakes, %d failed; %d serving certificates from %d CAs", ok+failed, failed, len(serials), len(issuers))
	if !rotated {
		t.Fatalf("no complete CA rotation within the deadline (served by %d CAs)", len(issuers))
	}
	if len(serials) < 3 {
		t.Errorf("%d serving certificates seen, want renewals too (at least 3)", len(serials))
	}

	// The served pair is also on disk for a CertDir-configured server.
	b := Bundle{TLSCert: mustRead(t, filepath.Join(writeDir, KeyTLSCert)), TLSKey: mustRead(t, filepath.Join(writeDir, KeyTLSKey))}
	if err := Validate(b, cl.names(), time.Now(), 0); err != nil {
		t.Errorf("written files: %v", err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
