package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/modeguard/modeguard/examples"
	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/mutate"
	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/test/envtestbins"
	"github.com/modeguard/modeguard/workload"
)

var (
	shared     *Cluster
	sharedErr  error
	sharedOnce sync.Once
)

// TestMain builds the webhook binary, starts one cluster for every test,
// and checks that stopping it frees every port.
func TestMain(m *testing.M) {
	// The tests' own clients log nothing worth reading; without a logger
	// controller-runtime prints a warning with a stack trace instead.
	logf.SetLogger(logr.Discard())
	code := m.Run()
	if shared != nil {
		err := shared.Stop()
		busy := shared.PortsFree()
		if err != nil || len(busy) > 0 {
			os.Stderr.WriteString("e2e: stopping the cluster: " + errString(err) + " ports still open: " + strings.Join(busy, ",") + "\n")
			code = 1
		}
	}
	os.Exit(code)
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func cluster(t *testing.T) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: starts kube-apiserver, etcd and the webhook process; skipped under -short")
	}
	assets := envtestbins.Dir(t)
	sharedOnce.Do(func() {
		root, err := FindRoot()
		if err != nil {
			sharedErr = err
			return
		}
		bin := filepath.Join(os.TempDir(), "modeguard-e2e-webhook")
		if out, err := runGo(root, "build", "-o", bin, "./cmd/webhook"); err != nil {
			sharedErr = err
			t.Logf("%s", out)
			return
		}
		shared, sharedErr = Start(context.Background(), Options{Root: root, Assets: assets, Webhook: bin, Log: testLog{t}})
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// ownCluster starts a control plane and webhook of the test's own (for
// tests that change flags, replicas or CRDs), with the webhook binary
// cluster builds; o's Root, Assets, Webhook and Log are filled in. It is
// stopped when the test ends, its ports checked free; the repository root
// is returned beside it.
func ownCluster(t *testing.T, o Options) (*Cluster, string) {
	t.Helper()
	cluster(t) // builds the webhook binary (and skips under -short)
	root, err := FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	o.Root, o.Assets, o.Log = root, envtestbins.Dir(t), testLog{t}
	o.Webhook = filepath.Join(os.TempDir(), "modeguard-e2e-webhook")
	c, err := Start(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
		if busy := c.PortsFree(); len(busy) > 0 {
			t.Errorf("ports still open: %v", busy)
		}
	})
	return c, root
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func reviewer(t *testing.T) *review.Reviewer {
	t.Helper()
	e, err := policy.New(context.Background(), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &review.Reviewer{Engine: e, Fixer: mutate.Fixer{}}
}

// TestExamplesThroughTheAPIServer applies every example with kubectl, in
// both orders (ConfigMap first, workload first), and checks what kubectl
// printed and what the cluster converged to against the annotations.
func TestExamplesThroughTheAPIServer(t *testing.T) {
	c := cluster(t)
	rv := reviewer(t)
	for _, workloadFirst := range []bool{false, true} {
		order := map[bool]string{false: "configmap-first", true: "workload-first"}[workloadFirst]
		t.Run(order, func(t *testing.T) {
			for _, name := range examples.Names() {
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					docs := examples.Load(t, name)
					if hasAlloy(docs) {
						// This cluster has no Alloy CRD, as most do:
						// TestAlloy runs these examples on one that has.
						t.Skip("an Alloy example: run by TestAlloy")
					}
					runExample(t, c, rv, name, docs, workloadFirst)
				})
			}
		})
	}
}

// runExample applies one example in its own namespace (named for the
// order) and checks what kubectl printed and what the cluster converged to
// against its annotations.
func runExample(t *testing.T, c *Cluster, rv *review.Reviewer, name string, docs []manifest.Document, workloadFirst bool) {
	t.Helper()
	order := map[bool]string{false: "configmap-first", true: "workload-first"}[workloadFirst]
	// Each order gets its own namespace.
	ns := name + "-" + order[:2]
	for i := range docs {
		docs[i].Raw = []byte(strings.ReplaceAll(string(docs[i].Raw), "namespace: "+name, "namespace: "+ns))
		docs[i].Raw = []byte(strings.ReplaceAll(string(docs[i].Raw), "name: "+name+"\n", "name: "+ns+"\n"))
		if docs[i].Namespace == name {
			docs[i].Namespace = ns
		}
		if docs[i].Kind == "Namespace" {
			docs[i].Name = ns
		}
	}
	o, err := c.RunExample(context.Background(), rv, name, docs, workloadFirst)
	if err != nil {
		t.Fatal(err)
	}
	if !o.OK() {
		var b strings.Builder
		for _, s := range o.Steps {
			b.WriteString("\n  " + s.Object + ": " + strings.Join(s.Warnings, " | ") + " " + s.Denial)
		}
		t.Errorf("kubectl showed %v, want %v; not fixed: %v%s", o.Observed, o.Expected, o.Remaining, b.String())
	}
}

// hasAlloy reports whether an example holds an Alloy object.
func hasAlloy(docs []manifest.Document) bool {
	for _, d := range docs {
		if d.Kind == workload.KindAlloy.Name {
			return true
		}
	}
	return false
}
