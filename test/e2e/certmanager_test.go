package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// TestCertManager runs cert-manager's controller and cainjector (built from
// the github.com/cert-manager/cert-manager module by make k8s-bins) against
// the API server with the overlay deploy/kustomize/overlays/cert-manager as
// shipped: a self-signed Issuer makes the CA, a CA Issuer signs the serving
// Certificate, the cainjector fills caBundle in both webhook configurations,
// and the webhook (--cert-mode=cert-manager) serves the Secret's pair, which
// the API server verifies for the Service's DNS name. Then a forced renewal
// (as `cmctl renew` does it: the Certificate's Issuing condition set) while a
// client loops admissions through the API server: every one must be
// answered by the webhook (a failed call would pass unnoticed under
// failurePolicy Ignore, so the test checks each answer carries the fix, and
// the API server's fail-open counter).
func TestCertManager(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	began := time.Now()
	c, _ := ownCluster(t, Options{CertManager: true})
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range []string{"cert-manager-controller", "cert-manager-cainjector"} {
				t.Logf("%s's log (tail):\n%s", n, tail(c.certManagerLog(n), 15))
			}
			t.Logf("the webhook's log (tail):\n%s", tail(c.WebhookLog, 15))
		}
	})

	// Issued: the CA from the self-signed Issuer, the serving pair from
	// the CA Issuer; both Certificates Ready.
	for _, name := range []string{"modeguard-ca", ServingCertificate} {
		mustKubectl(t, c, "", "wait", "-n", "modeguard-system", "--for=condition=Ready", "--timeout=60s", "certificate/"+name)
	}
	var sec corev1.Secret
	if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "modeguard-system", Name: ServingSecret}, &sec); err != nil {
		t.Fatal(err)
	}
	ca := sec.Data["ca.crt"]
	leaf := parseCert(t, sec.Data["tls.crt"])
	if err := leaf.CheckSignatureFrom(parseCert(t, ca)); err != nil {
		t.Fatalf("the serving certificate is not signed by the Secret's ca.crt: %v", err)
	}
	t.Logf("certmanager: serving certificate %s issued by %q for %v (%s after the cluster began starting)",
		leaf.SerialNumber, leaf.Issuer.CommonName, leaf.DNSNames, time.Since(began).Round(time.Millisecond))

	// Injected: every webhook of both configurations trusts the CA.
	waitInjected(ctx, t, c, ca)

	// Served: the webhook presents the Secret's certificate.
	if got := servedSerial(t, c); got != leaf.SerialNumber.String() {
		t.Fatalf("the webhook serves certificate %s, want the Secret's %s", got, leaf.SerialNumber)
	}

	// Admissions through the API server during a forced renewal.
	ns := "mg002-fires"
	docs := manifestOf(t, ns)
	mustKubectl(t, c, "", "create", "namespace", ns)
	mustKubectl(t, c, onlyKind(t, docs, "ConfigMap"), "apply", "-f", "-")
	ds := &appsv1.DaemonSet{}
	if err := yaml.Unmarshal([]byte(onlyKind(t, docs, "DaemonSet")), ds); err != nil {
		t.Fatal(err)
	}
	failOpen0 := failOpenCount(t, c)
	loop := startAdmissionLoop(ctx, c, ds)
	time.Sleep(time.Second) // admissions before the renewal
	renewStart := time.Now()
	forceRenewal(ctx, t, c)
	var renewed *x509.Certificate
	for deadline := time.Now().Add(60 * time.Second); ; {
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "modeguard-system", Name: ServingSecret}, &sec); err != nil {
			t.Fatal(err)
		}
		if l := parseCert(t, sec.Data["tls.crt"]); l.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
			renewed = l
			break
		}
		if time.Now().After(deadline) {
			loop.stop()
			t.Fatal("the forced renewal issued no new certificate in 60s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Served after the reload (the Secret mirrored into --cert-dir).
	for deadline := time.Now().Add(30 * time.Second); servedSerial(t, c) != renewed.SerialNumber.String(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			loop.stop()
			t.Fatalf("the webhook still serves %s 30s after the renewal, want %s", servedSerial(t, c), renewed.SerialNumber)
		}
	}
	servedAfter := time.Since(renewStart)
	time.Sleep(time.Second) // admissions after the renewal
	ok, failed, firstErr := loop.stop()
	waitInjected(ctx, t, c, sec.Data["ca.crt"])
	failOpen := failOpenCount(t, c) - failOpen0
	t.Logf("certmanager: forced renewal: certificate %s -> %s (new key: %v), served %s after the Issuing condition was set; admissions during the loop: %d answered by the webhook, %d failed; API server fail-open webhook calls: %d",
		leaf.SerialNumber, renewed.SerialNumber, !leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(renewed.PublicKey), servedAfter.Round(time.Millisecond), ok, failed, failOpen)
	if failed != 0 || failOpen != 0 {
		t.Errorf("admissions failed during the renewal: %d (first: %v), fail-open webhook calls %d; want 0", failed, firstErr, failOpen)
	}
	if ok < 20 {
		t.Errorf("admissions answered during the loop: got %d, want at least 20 (the loop did not run)", ok)
	}
	if !c.CertManagerRunning() {
		t.Error("a cert-manager process exited during the test")
	}
}

// onlyKind is the document of one kind of a manifest.
func onlyKind(t *testing.T, stream, kind string) string {
	t.Helper()
	objs, err := pick(stream, kind)
	if err != nil || len(objs) != 1 {
		t.Fatalf("want one %s in the manifest, got %d (%v)", kind, len(objs), err)
	}
	b, err := yaml.Marshal(objs[0].Object)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func parseCert(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("no PEM block in %q", data)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitInjected waits until every webhook of both configurations has ca as
// its caBundle.
func waitInjected(ctx context.Context, t *testing.T, c *Cluster, ca []byte) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		bundles, err := c.CABundles(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var wrong []string
		for name, b := range bundles {
			if !bytes.Equal(b, ca) {
				wrong = append(wrong, name)
			}
		}
		if len(wrong) == 0 && len(bundles) > 0 {
			t.Logf("certmanager: cainjector injected the CA into %d webhooks of both configurations", len(bundles))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("caBundle not the Secret's ca.crt after 60s in %v", wrong)
		}
	}
}

// servedSerial is the serial number of the certificate the webhook serves
// for the Service's DNS name.
func servedSerial(t *testing.T, c *Cluster) string {
	t.Helper()
	conn, err := tls.Dial("tcp", c.WebhookAddr, &tls.Config{
		ServerName: "modeguard-webhook.modeguard-system.svc", InsecureSkipVerify: true, //nolint:gosec // only reads the certificate
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// forceRenewal sets the Certificate's Issuing condition, as `cmctl renew`
// does.
func forceRenewal(ctx context.Context, t *testing.T, c *Cluster) {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: "cert-manager.io", Version: "v1", Kind: "Certificate"})
	if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "modeguard-system", Name: ServingCertificate}, u); err != nil {
		t.Fatal(err)
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	conds = append(conds, map[string]any{
		"type": "Issuing", "status": "True", "reason": "ManuallyTriggered",
		"message": "Certificate re-issuance manually triggered", "lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
	})
	if err := unstructured.SetNestedSlice(u.Object, conds, "status", "conditions"); err != nil {
		t.Fatal(err)
	}
	if err := c.Client.Status().Update(ctx, u); err != nil {
		t.Fatalf("setting the Issuing condition: %v", err)
	}
}

// failOpenCount is the API server's count of webhook calls that failed and
// were let through by failurePolicy Ignore, for modeguard's webhooks.
func failOpenCount(t *testing.T, c *Cluster) int {
	t.Helper()
	r := mustKubectl(t, c, "", "get", "--raw=/metrics")
	n := 0
	for l := range strings.Lines(r) {
		if strings.HasPrefix(l, "apiserver_admission_webhook_fail_open_count{") && strings.Contains(l, "modeguard.dev") {
			var v float64
			if _, err := fmt.Sscanf(l[strings.LastIndexByte(l, ' ')+1:], "%g", &v); err == nil {
				n += int(v)
			}
		}
	}
	return n
}

// admissionLoop dry-runs a DaemonSet creation through the API server
// until stopped: an answer from the mutating webhook carries MG002's
// HOSTNAME env fix; one without it, or an error, is a failure.
type admissionLoop struct {
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	mu         sync.Mutex
	ok, failed int
	firstErr   error
}

func startAdmissionLoop(ctx context.Context, c *Cluster, ds *appsv1.DaemonSet) *admissionLoop {
	ctx, cancel := context.WithCancel(ctx)
	l := &admissionLoop{cancel: cancel}
	for w := range 2 {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				o := ds.DeepCopy()
				o.Name = fmt.Sprintf("alloy-%d-%d", w, i)
				err := c.Client.Create(ctx, o, client.DryRunAll)
				if ctx.Err() != nil {
					return
				}
				if err == nil && !hasHostnameEnv(o.Spec.Template.Spec) {
					err = fmt.Errorf("DaemonSet %s admitted without MG002's fix: the webhook did not answer", o.Name)
				}
				l.mu.Lock()
				if err != nil {
					l.failed++
					if l.firstErr == nil {
						l.firstErr = err
					}
				} else {
					l.ok++
				}
				l.mu.Unlock()
			}
		}()
	}
	return l
}

func (l *admissionLoop) stop() (ok, failed int, firstErr error) {
	l.cancel()
	l.wg.Wait()
	return l.ok, l.failed, l.firstErr
}
