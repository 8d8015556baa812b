package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/modeguard/modeguard/examples"
	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/workload"
)

// TestAlloy runs the Alloy scenarios on a cluster of their own, so that the
// shared one stays a cluster without the Alloy CRD: the webhook starts
// without it (and answers as before), the CRD is installed while it runs
// (it must find it), then Alloy objects are admitted, fixed and denied.
func TestAlloy(t *testing.T) {
	ctx := t.Context()
	c, _ := ownCluster(t, Options{})
	rv := reviewer(t)
	cl := alloyClient(t, c)

	// Without the CRD: the webhook runs, watches no Alloy objects, and
	// judges the other kinds as always.
	if c.WatchesAlloy() {
		t.Fatal("the webhook watches Alloy objects before the CRD exists")
	}
	runExample(t, c, rv, "mg006-fires", examples.Load(t, "mg006-fires"), false)

	// The CRD appears: the webhook finds it.
	if err := c.InstallAlloyCRD(ctx); err != nil {
		t.Fatal(err)
	}

	t.Run("statefulset without clustering is fixed in its values", func(t *testing.T) {
		ns := "alloy-sts-fixed"
		apply(t, c, ns, "alloy-mg006-fires", "", false)
		a := &workload.Alloy{}
		if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: "metrics"}, a); err != nil {
			t.Fatal(err)
		}
		al, _ := a.Spec["alloy"].(map[string]any)
		cl, _ := al["clustering"].(map[string]any)
		if cl["enabled"] != true {
			t.Errorf("spec.alloy.clustering = %v, want enabled: true", cl)
		}
		if cm := workload.AlloyConfigMap(a); cm == nil || !strings.Contains(cm.Data["config.alloy"], "clustering {") {
			t.Errorf("spec.alloy.configMap.content has no clustering block: %v", cm)
		}
	})

	t.Run("dry-run returns the fix and stores nothing", func(t *testing.T) {
		ns := "alloy-dry-run"
		r := apply(t, c, ns, "alloy-mg006-fires", "--dry-run=server", false)
		if !strings.Contains(r, "enabled: true") || !strings.Contains(r, "clustering {") {
			t.Errorf("dry-run output lacks the fixed values:\n%s", r)
		}
		a := &workload.Alloy{}
		err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: "metrics"}, a)
		if !apierrors.IsNotFound(err) {
			t.Errorf("reading the Alloy object after a dry-run: %v, want not found", err)
		}
	})

	t.Run("daemonset clustering node-local API log tailing is denied", func(t *testing.T) {
		ns := "alloy-ds-denied"
		out := apply(t, c, ns, "alloy-mg005-fires", "", true)
		if !strings.Contains(out, "MG005") {
			t.Errorf("kubectl printed no MG005 denial:\n%s", out)
		}
		if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: "logs"}, &workload.Alloy{}); !apierrors.IsNotFound(err) {
			t.Errorf("reading the denied Alloy object: %v, want not found", err)
		}
	})

	t.Run("operator-owned objects are not patched", func(t *testing.T) {
		ns := "alloy-owned"
		out := apply(t, c, ns, "alloy-owned-daemonset", "", false)
		if !strings.Contains(out, "owned by Alloy "+ns+"/logs") {
			t.Errorf("no warning names the owner:\n%s", out)
		}
		cm := &corev1.ConfigMap{}
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "logs-alloy"}, cm); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(cm.Data["config.alloy"], "selectors") {
			t.Errorf("the operator-owned ConfigMap was patched:\n%s", cm.Data["config.alloy"])
		}
	})

	t.Run("a ConfigMap an Alloy object reads is judged in the object's mode", func(t *testing.T) {
		// The logs pair of the k8s-monitoring 4 example, its node selector
		// taken out: alone the ConfigMap is mode-free (nothing to fix);
		// read by the Alloy DaemonSet it gets MG001's selector back, at
		// admission or from the reconciler once the webhook sees the object.
		ns := "alloy-consumer"
		if err := c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
		const selector = "      selectors {\n        role  = \"pod\"\n        field = \"spec.nodeName=\" + sys.env(\"HOSTNAME\")\n      }\n"
		var alloy, cm string
		for _, d := range examples.Load(t, "alloy-k8smon4-logs-metrics") {
			raw := strings.ReplaceAll(string(d.Raw), "namespace: alloy-k8smon4-logs-metrics", "namespace: "+ns)
			switch {
			case d.Name != "k8smon-alloy-logs":
			case d.Kind == workload.KindAlloy.Name:
				alloy = raw
			case d.Kind == "ConfigMap":
				cm = strings.Replace(raw, selector, "", 1)
				if cm == raw {
					t.Fatal("the example's logs ConfigMap has no node selector to take out")
				}
			}
		}
		for _, doc := range []string{alloy, cm} {
			if _, err := c.Kubectl(ctx, doc, "apply", "-f", "-"); err != nil {
				t.Fatal(err)
			}
		}
		got := &corev1.ConfigMap{}
		deadline := time.Now().Add(30 * time.Second)
		for {
			if err := c.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "k8smon-alloy-logs"}, got); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(got.Data["config.alloy"], `field = "spec.nodeName=" +`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the ConfigMap read by Alloy %s/k8smon-alloy-logs has no node selector 30 s after it was applied:\n%s", ns, got.Data["config.alloy"])
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	// Every Alloy example, in both orders, as the other examples.
	for _, workloadFirst := range []bool{false, true} {
		for _, name := range examples.Names() {
			docs := examples.Load(t, name)
			if !hasAlloy(docs) {
				continue
			}
			t.Run(name+map[bool]string{false: "/configmap-first", true: "/workload-first"}[workloadFirst], func(t *testing.T) {
				runExample(t, c, rv, name, docs, workloadFirst)
			})
		}
	}
}

// apply applies an example's objects, in namespace ns (created), with
// kubectl and extra flags; it returns kubectl's output, and fails the test
// when kubectl's success is not !denied.
func apply(t *testing.T, c *Cluster, ns, example, flag string, denied bool) string {
	t.Helper()
	if err := c.Client.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, d := range examples.Load(t, example) {
		if d.Kind == "Namespace" {
			continue
		}
		raw := strings.ReplaceAll(string(d.Raw), "namespace: "+example, "namespace: "+ns)
		raw = strings.ReplaceAll(raw, "Alloy "+example+"/", "Alloy "+ns+"/")
		args := []string{"apply", "-f", "-"}
		if flag != "" {
			args = append(args, flag, "-o", "yaml")
		}
		r := c.KubectlAllowFail(context.Background(), raw, args...)
		out.WriteString(r.Stdout + r.Stderr)
		if d.Kind == workload.KindAlloy.Name && (r.Err != nil) != denied {
			t.Errorf("kubectl apply %s: error %v, want denied %v:\n%s%s", manifestName(d), r.Err, denied, r.Stdout, r.Stderr)
		}
	}
	return out.String()
}

func manifestName(d manifest.Document) string { return d.Kind + " " + d.Name }

// alloyClient is an administrator's client that knows Alloy objects.
func alloyClient(t *testing.T, c *Cluster) client.Client {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := workload.AddAlloyToScheme(s); err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(c.Config, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}
