package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The cert-manager overlay's objects (deploy/kustomize/overlays/cert-manager).
const (
	CertManagerOverlay = "deploy/kustomize/overlays/cert-manager"
	// ServingCertificate is the Certificate of the webhook's serving pair,
	// ServingSecret the Secret cert-manager writes it into.
	ServingCertificate = "modeguard-webhook"
	ServingSecret      = "modeguard-webhook-tls"
	webhookService     = "modeguard-webhook"
)

// certManagerKinds are the overlay's kinds the cert-manager cluster applies:
// what cert-manager acts on, the webhook configurations it injects, and the
// Service the API server reaches the webhook through. The Deployment, RBAC
// and settings are left out: the webhook runs here as a local process.
var certManagerKinds = []string{"Issuer", "Certificate", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}

// certManagerProc is one cert-manager process.
type certManagerProc struct {
	name string
	cmd  *exec.Cmd
	done chan error
}

// setupCertManager installs cert-manager's CRDs, starts its controller and
// cainjector (from Assets, built by make k8s-bins), applies the overlay's
// Issuers, Certificates and webhook configurations (with their
// clientConfig.service as shipped) and the Service, whose EndpointSlice
// points at host:port, the local webhook (the API server runs with
// --enable-aggregator-routing, so it calls the endpoint, verifying the
// certificate for the Service's DNS name). It waits until the serving
// Secret exists and mirrors it into certDir as the kubelet mounts a
// Secret volume, until the cluster stops.
func (c *Cluster) setupCertManager(ctx context.Context, host string, port int, certDir string) error {
	for _, b := range []string{"cert-manager-controller", "cert-manager-cainjector", "cert-manager-crds.yaml"} {
		if _, err := os.Stat(filepath.Join(c.opts.Assets, b)); err != nil {
			return fmt.Errorf("%s missing from %s: run make k8s-bins", b, c.opts.Assets)
		}
	}
	if _, err := c.Kubectl(ctx, "", "apply", "--server-side", "-f", filepath.Join(c.opts.Assets, "cert-manager-crds.yaml")); err != nil {
		return err
	}
	if _, err := c.Kubectl(ctx, "", "wait", "--for=condition=Established", "--timeout=60s",
		"crd/certificates.cert-manager.io", "crd/issuers.cert-manager.io", "crd/certificaterequests.cert-manager.io", "crd/clusterissuers.cert-manager.io"); err != nil {
		return err
	}
	if err := c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "cert-manager"}}); err != nil {
		return fmt.Errorf("creating namespace cert-manager: %w", err)
	}
	kc, err := c.KubeconfigFor("cert-manager")
	if err != nil {
		return err
	}
	for _, p := range []struct {
		name string
		args []string
	}{
		{"cert-manager-controller", []string{"--kubeconfig=" + kc, "--v=2"}},
		{"cert-manager-cainjector", []string{"--kubeconfig=" + kc, "--v=2"}},
	} {
		if err := c.startCertManagerProc(p.name, p.args); err != nil {
			return err
		}
	}

	r, err := c.Kubectl(ctx, "", "kustomize", filepath.Join(c.opts.Root, CertManagerOverlay))
	if err != nil {
		return err
	}
	objs, err := pick(r.Stdout, certManagerKinds...)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := c.Client.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	svc, err := pick(r.Stdout, "Service")
	if err != nil {
		return err
	}
	for _, o := range svc {
		if o.GetName() != webhookService {
			continue
		}
		// No Pods to select: the EndpointSlice below is the local process.
		unstructured.RemoveNestedField(o.Object, "spec", "selector")
		if err := c.Client.Create(ctx, o); err != nil {
			return fmt.Errorf("creating Service %s: %w", o.GetName(), err)
		}
	}
	proto, ready := corev1.ProtocolTCP, true
	portName := "https"
	port32 := int32(port)
	eps := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: webhookService + "-local", Namespace: "modeguard-system",
			Labels: map[string]string{discoveryv1.LabelServiceName: webhookService, discoveryv1.LabelManagedBy: "modeguard-e2e"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{host}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports:       []discoveryv1.EndpointPort{{Name: &portName, Port: &port32, Protocol: &proto}},
	}
	if err := c.Client.Create(ctx, eps); err != nil {
		return fmt.Errorf("creating the webhook's EndpointSlice: %w", err)
	}

	began := time.Now()
	var sec corev1.Secret
	for {
		err := c.Client.Get(ctx, client.ObjectKey{Namespace: "modeguard-system", Name: ServingSecret}, &sec)
		if err == nil && len(sec.Data["tls.crt"]) > 0 {
			break
		}
		if time.Since(began) > 90*time.Second {
			return fmt.Errorf("cert-manager did not issue Secret %s in 90s (last error: %v); the controller's log:\n%s", ServingSecret, err, tail(c.certManagerLog("cert-manager-controller"), 30))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	c.logf("cert-manager issued Secret %s in %s", ServingSecret, time.Since(began).Round(time.Millisecond))
	if err := os.MkdirAll(certDir, 0o755); err != nil {
		return err
	}
	if err := writeSecretVolume(certDir, sec.Data); err != nil {
		return err
	}
	mirrorCtx, cancel := context.WithCancel(context.Background())
	c.stopMirror = cancel
	go c.mirrorSecret(mirrorCtx, certDir, sec.ResourceVersion)
	return nil
}

func (c *Cluster) certManagerLog(name string) string {
	return filepath.Join(c.opts.WorkDir, name+".log")
}

func (c *Cluster) startCertManagerProc(name string, args []string) error {
	logFile, err := os.OpenFile(c.certManagerLog(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(c.opts.Assets, name), args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting %s: %w", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); logFile.Close() }()
	c.certManager = append(c.certManager, &certManagerProc{name: name, cmd: cmd, done: done})
	c.logf("%s process %d (log: %s)", name, cmd.Process.Pid, c.certManagerLog(name))
	return nil
}

// CertManagerRunning reports whether cert-manager's processes are alive.
func (c *Cluster) CertManagerRunning() bool {
	if len(c.certManager) == 0 {
		return false
	}
	for _, p := range c.certManager {
		select {
		case err := <-p.done:
			p.done <- err
			return false
		default:
		}
	}
	return true
}

func (c *Cluster) stopCertManager() {
	if c.stopMirror != nil {
		c.stopMirror()
		c.stopMirror = nil
	}
	for _, p := range c.certManager {
		terminate(p.cmd.Process, p.done, 15*time.Second)
	}
	c.certManager = nil
}

// mirrorSecret copies the serving Secret into dir whenever it changes, as
// the kubelet updates a mounted Secret volume (there within about a
// minute; here within 200ms).
func (c *Cluster) mirrorSecret(ctx context.Context, dir, rv string) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
		var sec corev1.Secret
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "modeguard-system", Name: ServingSecret}, &sec); err != nil {
			continue
		}
		if sec.ResourceVersion == rv || len(sec.Data["tls.crt"]) == 0 || len(sec.Data["tls.key"]) == 0 {
			continue
		}
		if err := writeSecretVolume(dir, sec.Data); err != nil {
			c.logf("mirroring Secret %s: %v", ServingSecret, err)
			continue
		}
		rv = sec.ResourceVersion
		c.logf("Secret %s changed (resourceVersion %s): written to %s", ServingSecret, rv, dir)
	}
}

// writeSecretVolume writes a Secret's keys into dir the way the kubelet's
// atomic writer does: into a new timestamped directory, then one rename of
// the ..data symlink, so that a reader never sees a new tls.crt with an old
// tls.key.
func writeSecretVolume(dir string, data map[string][]byte) error {
	ts, err := os.MkdirTemp(dir, "..data_tmp_")
	if err != nil {
		return err
	}
	for k, v := range data {
		if err := os.WriteFile(filepath.Join(ts, k), v, 0o600); err != nil {
			return err
		}
	}
	link := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(link)
	if err := os.Symlink(filepath.Base(ts), link); err != nil {
		return err
	}
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	if err := os.Rename(link, filepath.Join(dir, "..data")); err != nil {
		return err
	}
	for k := range data {
		p := filepath.Join(dir, k)
		if _, err := os.Lstat(p); err != nil {
			if err := os.Symlink(filepath.Join("..data", k), p); err != nil {
				return err
			}
		}
	}
	if old != "" && old != filepath.Base(ts) {
		_ = os.RemoveAll(filepath.Join(dir, old))
	}
	return nil
}

// CABundles returns the caBundle of every webhook of modeguard's two
// webhook configurations, named "<kind>/<webhook>".
func (c *Cluster) CABundles(ctx context.Context) (map[string][]byte, error) {
	out := map[string][]byte{}
	var m admissionregistrationv1.MutatingWebhookConfiguration
	if err := c.Client.Get(ctx, client.ObjectKey{Name: "modeguard"}, &m); err != nil {
		return nil, err
	}
	for _, w := range m.Webhooks {
		out["mutating/"+w.Name] = w.ClientConfig.CABundle
	}
	var v admissionregistrationv1.ValidatingWebhookConfiguration
	if err := c.Client.Get(ctx, client.ObjectKey{Name: "modeguard"}, &v); err != nil {
		return nil, err
	}
	for _, w := range v.Webhooks {
		out["validating/"+w.Name] = w.ClientConfig.CABundle
	}
	return out, nil
}

// pick decodes a YAML stream and keeps the objects of the given kinds.
func pick(stream string, kinds ...string) ([]*unstructured.Unstructured, error) {
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(stream)), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if m == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		for _, k := range kinds {
			if strings.EqualFold(u.GetKind(), k) {
				out = append(out, u)
			}
		}
	}
}

// hostIP is the first IPv4 address of the host that is not a loopback one.
func hostIP() (string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String(), nil
		}
	}
	return "", errors.New("no IPv4 address other than loopback: an EndpointSlice cannot point at the local webhook")
}
