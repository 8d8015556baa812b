package certs

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
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
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// TestAdmissionsThroughRotation is the acceptance check of issue 8: a
// rotation forced with short validities (CA 30s, serving 10s, overlap 1s)
// while clients keep creating ConfigMaps through the kube-apiserver, which
// calls a failurePolicy=Fail validating webhook served by a manager wired as
// doc.go says (NewStack in self-managed mode, ConfigureTLS, AddToManager,
// leader election). Every admission must succeed through serving renewals
// and a CA rotation, and the webhook must have seen every one.
//
// The kube-apiserver reaches the webhook at https://localhost:<port>: the
// serving certificate covers localhost, and nothing leaves loopback. It keeps
// one HTTP/2 connection per caBundle, so its handshakes happen when the bundle
// changes (add-ca, drop-ca); TestEnvRotationNoFailedHandshake covers a
// handshake at every moment of a rotation.
func TestAdmissionsThroughRotation(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs a control plane and ~45s of forced certificate rotation")
	}
	if envCfg == nil {
		t.Skip(envSkipWhy) // TestMain starts envtest from bin/k8s
	}
	const (
		systemNS   = "modeguard-system"
		testNS     = "mg-admission-rotation"
		name       = "modeguard" // both webhook configurations
		labelKey   = "modeguard.dev/admission-rotation-test"
		runFor     = 40 * time.Second
		workers    = 3 // one sequential client and two concurrent ones
		maxErrText = 10
	)
	ctx := context.Background()

	cfg := rest.CopyConfig(envCfg)
	cfg.QPS, cfg.Burst = 1000, 2000
	scheme, err := newScheme()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{systemNS, testNS} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}

	// Webhook configurations, no caBundle yet: the Rotator injects it.
	port := freePort(t)
	url := func(path string) *string { s := fmt.Sprintf("https://localhost:%d%s", port, path); return &s }
	fail, ignore, none := admissionregistrationv1.Fail, admissionregistrationv1.Ignore, admissionregistrationv1.SideEffectClassNone
	timeout := int32(5)
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:         "configmaps.admission-rotation.modeguard.dev",
			ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: url("/validate")},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}},
			}},
			// Only this test's ConfigMaps, in this test's namespace.
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: testNS}},
			ObjectSelector:          &metav1.LabelSelector{MatchLabels: map[string]string{labelKey: "true"}},
			FailurePolicy:           &fail, // a failed TLS handshake is a failed admission
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
			TimeoutSeconds:          &timeout,
		}},
	}
	// The Rotator injects both; this one's rule matches a resource nobody
	// writes, so it is never called.
	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:         "nothings.admission-rotation.modeguard.dev",
			ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: url("/mutate")},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{"modeguard.dev"}, APIVersions: []string{"v1"}, Resources: []string{"nothings"}},
			}},
			FailurePolicy:           &ignore,
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
			TimeoutSeconds:          &timeout,
		}},
	}
	for _, o := range []client.Object{vwc, mwc} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		// Never leave a failurePolicy=Fail webhook behind for other tests.
		for _, o := range []client.Object{vwc, mwc} {
			if err := c.Delete(context.Background(), o); err != nil {
				t.Errorf("deleting %T %s: %v", o, o.GetName(), err)
			}
		}
	})

	// The certificate stack, with a logger that also counts the Rotator's
	// writes by action.
	var (
		actionsMu sync.Mutex
		actions   = map[Action]int{}
	)
	logger := countingLogger(t, func(args string) {
		if !strings.Contains(args, `"msg"="Wrote certificate Secret"`) {
			return
		}
		for _, a := range []Action{ActionCreate, ActionReplace, ActionRepairBundle, ActionIssueServing, ActionAddCA, ActionSwitchServing, ActionDropCA} {
			if strings.Contains(args, `"action"="`+string(a)+`"`) {
				actionsMu.Lock()
				actions[a]++
				actionsMu.Unlock()
			}
		}
	})
	policy := Policy{
		DNSNames:        append(DNSNames("modeguard", systemNS), "localhost"),
		CAValidity:      30 * time.Second,
		ServingValidity: 10 * time.Second,
		Overlap:         time.Second, // renew-befores default to a third
	}
	stack, err := NewStack(cfg, Options{
		Mode: ModeSelfManaged, Service: "modeguard", Namespace: systemNS,
		MutatingWebhookConfiguration: name, ValidatingWebhookConfiguration: name,
		Policy:        policy,
		CheckInterval: 200 * time.Millisecond,
		Registerer:    prometheus.NewRegistry(),
		Logger:        logger,
	})
	if err != nil {
		t.Fatal(err)
	}

	// Every certificate the server hands out in a handshake.
	var (
		hsMu       sync.Mutex
		handshakes int
		served     = map[string]bool{} // serial
		issuers    = map[string]bool{} // authority key id
	)
	record := func(c *tls.Config) {
		get := c.GetCertificate
		c.GetCertificate = func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
			cert, err := get(h)
			if err != nil || cert == nil {
				return cert, err
			}
			leaf := cert.Leaf
			if leaf == nil {
				if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
					return nil, err
				}
			}
			hsMu.Lock()
			handshakes++
			served[leaf.SerialNumber.String()] = true
			issuers[string(leaf.AuthorityKeyId)] = true
			hsMu.Unlock()
			return cert, nil
		}
	}

	mgr, err := manager.New(cfg, manager.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:        "0",
		WebhookServer:                 webhook.NewServer(webhook.Options{Host: "127.0.0.1", Port: port, TLSOpts: []func(*tls.Config){stack.ConfigureTLS, record}}),
		LeaderElection:                true,
		LeaderElectionID:              "modeguard",
		LeaderElectionNamespace:       systemNS,
		LeaderElectionReleaseOnCancel: true,
		Logger:                        testLogger(t).WithName("manager"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := stack.AddToManager(mgr); err != nil {
		t.Fatal(err)
	}
	var (
		seenMu sync.Mutex
		seen   = map[string]int{} // ConfigMap name → admission requests
		calls  atomic.Int64
	)
	mgr.GetWebhookServer().Register("/validate", &webhook.Admission{Handler: admission.HandlerFunc(func(_ context.Context, req admission.Request) admission.Response {
		calls.Add(1)
		seenMu.Lock()
		seen[req.Name]++
		seenMu.Unlock()
		return admission.Allowed("")
	})})
	mgrCtx, stopMgr := context.WithCancel(context.Background())
	mgrDone := make(chan error, 1)
	go func() { mgrDone <- mgr.Start(mgrCtx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		stopMgr()
		select {
		case err := <-mgrDone:
			if err != nil {
				t.Errorf("manager: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("manager did not stop within 30s")
		}
	}
	t.Cleanup(stop)

	secretKey := types.NamespacedName{Namespace: systemNS, Name: "modeguard-certs"}
	injected := func() error {
		var s corev1.Secret
		if err := c.Get(ctx, secretKey, &s); err != nil {
			return err
		}
		want := s.Data[KeyCABundle]
		var v admissionregistrationv1.ValidatingWebhookConfiguration
		if err := c.Get(ctx, types.NamespacedName{Name: name}, &v); err != nil {
			return err
		}
		var m admissionregistrationv1.MutatingWebhookConfiguration
		if err := c.Get(ctx, types.NamespacedName{Name: name}, &m); err != nil {
			return err
		}
		if len(want) == 0 || string(v.Webhooks[0].ClientConfig.CABundle) != string(want) || string(m.Webhooks[0].ClientConfig.CABundle) != string(want) {
			return errors.New("caBundle not injected yet")
		}
		return nil
	}
	start := time.Now()
	eventually(t, 30*time.Second, "Secret created and caBundle injected", injected)
	eventually(t, 10*time.Second, "keeper ready", func() error { return stack.Keeper.Ready(nil) })

	newCM := func(n string) *corev1.ConfigMap {
		return &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: n, Labels: map[string]string{labelKey: "true"}},
			Data:       map[string]string{"n": n},
		}
	}
	create := func(n string) error {
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		return c.Create(cctx, newCM(n))
	}
	// The kube-apiserver learns of the webhook configuration through an
	// informer: wait for the first admission before counting (not a rotation).
	warmups := 0
	eventually(t, 10*time.Second, "first admission through the webhook", func() error {
		warmups++
		return create(fmt.Sprintf("warmup-%d", warmups))
	})
	t.Logf("ready %v after the manager started; first admission after %d attempt(s)", time.Since(start).Round(time.Millisecond), warmups)

	// What the Secret held over time.
	var (
		secMu      sync.Mutex
		secretCAs  = map[[sha256.Size]byte]bool{}
		secretTLS  = map[[sha256.Size]byte]bool{}
		maxTrusted int
	)
	watchSecret := func() {
		var s corev1.Secret
		if err := c.Get(ctx, secretKey, &s); err != nil {
			return
		}
		n := 0
		if cs, err := DecodeCerts(s.Data[KeyCABundle]); err == nil {
			n = len(cs)
		}
		secMu.Lock()
		secretCAs[sha256.Sum256(s.Data[KeyCACert])] = true
		secretTLS[sha256.Sum256(s.Data[KeyTLSCert])] = true
		maxTrusted = max(maxTrusted, n)
		secMu.Unlock()
	}

	var (
		ok, failed atomic.Int64
		errMu      sync.Mutex
		errTexts   []string
		okNames    sync.Map
	)
	loopStart := time.Now()
	deadline := loopStart.Add(runFor)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				n := fmt.Sprintf("w%d-%d", w, i)
				t0 := time.Now()
				if err := create(n); err != nil {
					failed.Add(1)
					errMu.Lock()
					if len(errTexts) < maxErrText {
						errTexts = append(errTexts, fmt.Sprintf("%s at +%v (took %v): %v", n, t0.Sub(loopStart).Round(time.Millisecond), time.Since(t0).Round(time.Millisecond), err))
					}
					errMu.Unlock()
					continue
				}
				ok.Add(1)
				okNames.Store(n, true)
			}
		})
	}
	wg.Go(func() {
		for time.Now().Before(deadline) {
			watchSecret()
			time.Sleep(100 * time.Millisecond)
		}
	})
	wg.Wait()
	elapsed := time.Since(loopStart)

	stop() // the manager, before reading what the handler recorded
	seenMu.Lock()
	missed := 0
	okNames.Range(func(k, _ any) bool {
		if seen[k.(string)] == 0 {
			missed++
		}
		return true
	})
	seenMu.Unlock()
	hsMu.Lock()
	nServed, nIssuers, nHandshakes := len(served), len(issuers), handshakes
	hsMu.Unlock()
	actionsMu.Lock()
	acts := fmt.Sprint(actions)
	nAddCA, nSwitch, nDrop, nIssue := actions[ActionAddCA], actions[ActionSwitchServing], actions[ActionDropCA], actions[ActionIssueServing]
	actionsMu.Unlock()

	t.Logf("%d admissions, %d failed in %v (%.0f/s, %d clients); webhook calls %d (incl. %d warm-up); %d handshakes served %d serving certificates from %d CAs; Secret held %d CAs and %d serving certificates, up to %d trusted CAs; rotator writes %s",
		ok.Load()+failed.Load(), failed.Load(), elapsed.Round(time.Millisecond), float64(ok.Load()+failed.Load())/elapsed.Seconds(), workers,
		calls.Load(), warmups, nHandshakes, nServed, nIssuers, len(secretCAs), len(secretTLS), maxTrusted, acts)

	if n := failed.Load(); n > 0 {
		t.Errorf("%d failed admissions; first ones:\n%s", n, strings.Join(errTexts, "\n"))
	}
	if n := ok.Load(); n < 100 {
		t.Errorf("%d successful admissions, want at least 100", n)
	}
	if missed > 0 {
		t.Errorf("the webhook did not see %d of the %d admitted ConfigMaps", missed, ok.Load())
	}
	if nAddCA < 1 || nSwitch < 1 || nDrop < 1 {
		t.Errorf("no complete CA rotation during the run: rotator writes %s", acts)
	}
	if nIssue < 1 {
		t.Errorf("no serving renewal from the same CA during the run: rotator writes %s", acts)
	}
	if len(secretCAs) < 2 || len(secretTLS) < 3 {
		t.Errorf("the Secret held %d CAs and %d serving certificates, want at least 2 and 3", len(secretCAs), len(secretTLS))
	}
	if nServed < 2 || nIssuers < 2 {
		t.Errorf("handshakes served %d serving certificates from %d CAs, want at least 2 from 2", nServed, nIssuers)
	}
}

// countingLogger is testLogger that also hands every line to seen.
func countingLogger(t *testing.T, seen func(args string)) logr.Logger {
	var (
		mu   sync.Mutex
		over bool
	)
	t.Cleanup(func() { mu.Lock(); over = true; mu.Unlock() })
	return funcr.New(func(prefix, args string) {
		seen(args)
		mu.Lock()
		defer mu.Unlock()
		if !over && (testing.Verbose() || strings.Contains(args, `"error"`)) {
			t.Log(prefix, args)
		}
	}, funcr.Options{})
}
