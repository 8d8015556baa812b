package deploy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/modeguard/modeguard/internal/testutil"
	"github.com/modeguard/modeguard/test/envtestbins"
)

// One control plane for the package's cluster tests, started by the first
// that needs it and stopped by TestMain. The tests that use it run one after
// another (cluster-scoped objects are shared).
var cp struct {
	once   sync.Once
	env    *envtest.Environment
	cfg    *rest.Config
	err    error
	cancel context.CancelFunc
	done   chan struct{}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if cp.env != nil {
		cp.cancel()
		<-cp.done
		if err := cp.env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping the control plane: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// controlPlane returns the shared control plane's admin config and a
// kubeconfig for kubectl. Under -short the test is skipped.
func controlPlane(t *testing.T) (*rest.Config, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a kube-apiserver and etcd (make k8s-bins); skipped under -short")
	}
	dir := envtestbins.Dir(t)
	cp.once.Do(func() {
		env := &envtest.Environment{
			BinaryAssetsDirectory: dir,
			CRDInstallOptions: envtest.CRDInstallOptions{
				Paths: []string{
					filepath.Join(testutil.Root(t), "test", "deploy", "testdata", "cert-manager-crds.yaml"),
					filepath.Join(testutil.Root(t), "test", "deploy", "testdata", "prometheus-operator-crds.yaml"),
				},
			},
			ErrorIfCRDPathMissing: true,
		}
		// Webhook calls to a Service go to its endpoints, which nothing
		// fills here (no controllers), and so fail at once: never to a
		// Service's cluster IP, an address off this machine.
		env.ControlPlane.GetAPIServer().Configure().Set("enable-aggregator-routing", "true")
		if os.Getenv("KUBEBUILDER_CONTROLPLANE_START_TIMEOUT") == "" {
			env.ControlPlaneStartTimeout = 2 * time.Minute // 2 shared cores
		}
		start := time.Now()
		cp.cfg, cp.err = env.Start()
		if cp.err != nil {
			return
		}
		cp.env = env
		t.Logf("control plane up in %v", time.Since(start).Round(time.Millisecond))
		ctx, cancel := context.WithCancel(context.Background())
		cp.cancel, cp.done = cancel, make(chan struct{})
		go finalizeNamespaces(ctx, cp.cfg, cp.done)
	})
	if cp.err != nil {
		t.Fatalf("starting the control plane: %v", cp.err)
	}
	return cp.cfg, envtestbins.Kubeconfig(t, cp.cfg)
}

// finalizeNamespaces stands in for the namespace controller, which envtest
// does not run: a namespace being deleted is finalized (its remaining
// content is not removed), so that `kubectl delete -k` returns and the
// namespace can be created again.
func finalizeNamespaces(ctx context.Context, cfg *rest.Config, done chan<- struct{}) {
	defer close(done)
	cs := kubernetes.NewForConfigOrDie(cfg)
	_ = wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		nss, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for _, ns := range nss.Items {
			if ns.DeletionTimestamp != nil && len(ns.Spec.Finalizers) > 0 {
				ns.Spec.Finalizers = nil
				_, _ = cs.CoreV1().Namespaces().Finalize(ctx, &ns, metav1.UpdateOptions{})
			}
		}
		return false, nil
	})
}

// adminClient is a client with the control plane's admin rights.
func adminClient(t *testing.T, cfg *rest.Config) client.WithWatch {
	t.Helper()
	c, err := client.NewWithWatch(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ensureNamespace creates a namespace with labels (and its default service
// account, which no controller creates here) unless it exists.
func ensureNamespace(t *testing.T, c client.Client, name string, labels map[string]string) {
	t.Helper()
	ctx := t.Context()
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		var ns corev1.Namespace
		err := c.Get(ctx, client.ObjectKey{Name: name}, &ns)
		switch {
		case apierrors.IsNotFound(err):
			err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}})
			return err == nil, ignoreExists(err)
		case err != nil:
			return false, err
		}
		return ns.DeletionTimestamp == nil, nil // wait out a deletion
	})
	if err != nil {
		t.Fatalf("namespace %s: %v", name, err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: "default"}}
	if err := ignoreExists(c.Create(ctx, sa)); err != nil {
		t.Fatalf("service account %s/default: %v", name, err)
	}
}

func ignoreExists(err error) error {
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// writeManifests writes a YAML stream into a file for kubectl -f.
func writeManifests(t *testing.T, stream string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "manifests.yaml")
	if err := os.WriteFile(p, []byte(stream), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// only keeps the documents of the given kinds.
func only(t *testing.T, stream string, kinds ...string) string {
	t.Helper()
	objs, err := decode(stream)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, o := range objs {
		for _, k := range kinds {
			if o.GetKind() == k {
				data, err := o.MarshalJSON()
				if err != nil {
					t.Fatal(err)
				}
				b.WriteString("---\n")
				b.Write(data)
				b.WriteString("\n")
			}
		}
	}
	if b.Len() == 0 {
		t.Fatalf("no %v rendered", kinds)
	}
	return b.String()
}
