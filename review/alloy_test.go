package review_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/modeguard/modeguard/examples"
	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/mutate"
	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/workload"
)

// TestAlloyInlineFixes: an Alloy object whose config is its
// spec.alloy.configMap.content is fixed in its values: the clustering block
// in the content (MG006), spec.alloy.clustering.enabled (MG007); the
// findings name the object and the value.
func TestAlloyInlineFixes(t *testing.T) {
	t.Parallel()
	rv := &review.Reviewer{Engine: engine(t, nil), Fixer: mutate.Fixer{}}
	a := example(t, "alloy-mg006-fires")["Alloy"].(*workload.Alloy)
	orig := a.DeepCopy()
	res, err := rv.Review(context.Background(), a, review.NewSet([]runtime.Object{a}), review.Options{Operation: "CREATE"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids(res.Findings), ","); got != "MG006:fix,MG007:fix" {
		t.Fatalf("got findings %s, want MG006:fix,MG007:fix", got)
	}
	want := map[string]string{"MG006": workload.AlloyValueContent, "MG007": workload.AlloyValueClustering}
	for _, f := range res.Findings {
		if f.Object != (review.ObjectRef{Kind: "Alloy", Namespace: "alloy-mg006-fires", Name: "metrics"}) || !f.Applied || f.Value != want[f.Rule.ID] {
			t.Errorf("%s: object %v, applied %v, value %q; want the Alloy object, applied, value %q", f.Rule.ID, f.Object, f.Applied, f.Value, want[f.Rule.ID])
		}
	}
	if res.Related != nil {
		t.Errorf("a related object was fixed: %T", res.Related)
	}
	fixed, ok := res.Fixed.(*workload.Alloy)
	if !ok {
		t.Fatalf("fixed is %T, want *workload.Alloy", res.Fixed)
	}
	f, err := workload.FromObject(fixed, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Run.Cluster.Enabled || len(f.Run.Cluster.JoinAddresses) != 1 || f.Run.Cluster.JoinAddresses[0] != "metrics-alloy-cluster" {
		t.Errorf("fixed object runs with cluster %+v, want enabled, joining metrics-alloy-cluster", f.Run.Cluster)
	}
	if cm := workload.AlloyConfigMap(fixed); cm == nil || !strings.Contains(cm.Data["config.alloy"], "clustering {") {
		t.Errorf("fixed content has no clustering block")
	}
	if _, ok := orig.Spec["alloy"].(map[string]any)["clustering"]; ok {
		t.Error("the subject was changed in place")
	}
	// The fixed object is clean.
	res, err = rv.Review(context.Background(), fixed, review.NewSet([]runtime.Object{fixed}), review.Options{Operation: "CREATE"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 0 || res.Fixed != nil {
		t.Errorf("the fixed object: findings %v, fixed %v; want none", ids(res.Findings), res.Fixed != nil)
	}
}

// TestAlloyConsumer: with configMap.create false the Alloy object reads the
// ConfigMap its values name, which is reviewed with it as consumer; a config
// fix patches that ConfigMap (the user's), and the finding names the value
// of the Alloy object a workload-side rule asks to change.
func TestAlloyConsumer(t *testing.T) {
	t.Parallel()
	rv := &review.Reviewer{Engine: engine(t, nil), Fixer: mutate.Fixer{}}
	docs := examples.Load(t, "alloy-k8smon4-logs-metrics")
	manifest.DefaultNamespace(docs, "default")
	objs := manifest.Objects(docs)
	// Drop the varlog mount: MG009, about the Alloy object's value.
	for _, o := range objs {
		if a, ok := o.(*workload.Alloy); ok && a.Name == "k8smon-alloy-logs" {
			a.Spec["alloy"].(map[string]any)["mounts"] = map[string]any{"varlog": false}
		}
	}
	set := review.NewSet(objs)
	cons, _ := set.Consumers(context.Background(), "alloy-k8smon4-logs-metrics", "k8smon-alloy-logs")
	if len(cons) != 1 || review.KindOf(cons[0]) != "Alloy" {
		t.Fatalf("consumers of k8smon-alloy-logs: %d, want the Alloy object", len(cons))
	}
	res, err := rv.ReviewBundle(context.Background(), objs, review.Options{Operation: "CHECK"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids(res.Findings), ","); got != "MG009:warn" {
		t.Fatalf("got %s, want MG009:warn", got)
	}
	f := res.Findings[0]
	if f.Value != workload.AlloyValueVarlog || f.Via == nil && f.Object.Kind != "Alloy" {
		t.Errorf("finding object %v via %v value %q: want the Alloy object's %s", f.Object, f.Via, f.Value, workload.AlloyValueVarlog)
	}
	for _, r := range res.Results {
		if r != nil && strings.Contains(strings.Join(r.Notes, " "), "no agent workload") {
			t.Errorf("%v: %v", r.Subject, r.Notes)
		}
	}
}

// TestAlloyOwnedNotPatched: a ConfigMap and a workload an Alloy object owns
// are never patched; their fixes are warnings naming the owner.
func TestAlloyOwnedNotPatched(t *testing.T) {
	t.Parallel()
	rv := &review.Reviewer{Engine: engine(t, nil), Fixer: mutate.Fixer{}}
	objs := example(t, "alloy-owned-daemonset")
	cm := objs["ConfigMap"].(*corev1.ConfigMap)
	set := review.NewSet([]runtime.Object{cm, objs["DaemonSet"]})
	for _, subject := range []runtime.Object{cm, objs["DaemonSet"]} {
		res, err := rv.Review(context.Background(), subject, set, review.Options{Operation: "CREATE"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Fixed != nil || res.Related != nil {
			t.Errorf("%s: patched (fixed %v, related %v)", res.Subject.Kind, res.Fixed != nil, res.Related != nil)
		}
		found := false
		for _, f := range res.Findings {
			if f.Rule.ID != "MG001" {
				continue
			}
			found = true
			if f.Action != policy.ActionWarn || f.Applied || f.Owner != "alloy-owned-daemonset/logs" || f.Value != workload.AlloyValueContent {
				t.Errorf("%s: MG001 %s applied %v owner %q value %q; want warn, not applied, owner alloy-owned-daemonset/logs, value %s", res.Subject.Kind, f.Action, f.Applied, f.Owner, f.Value, workload.AlloyValueContent)
			}
		}
		if !found {
			t.Errorf("%s: no MG001 finding: %v", res.Subject.Kind, ids(res.Findings))
		}
	}
}

// TestAlloyOwnedWorkloadNotPatched: a workload fix (here MG002's node-name
// env var) on a DaemonSet an Alloy object owns is not applied: the finding
// is a warning naming the owner and spec.alloy.extraEnv, and nothing is
// patched, whether the DaemonSet or its ConfigMap is the subject.
func TestAlloyOwnedWorkloadNotPatched(t *testing.T) {
	t.Parallel()
	rv := &review.Reviewer{Engine: engine(t, nil), Fixer: mutate.Fixer{}}
	objs := example(t, "alloy-owned-daemonset")
	cm := objs["ConfigMap"].(*corev1.ConfigMap).DeepCopy()
	// Node-selected discovery (no MG001, no MG004) on an env var the
	// DaemonSet does not set: MG002, fixed in the workload.
	cm.Data["config.alloy"] = strings.Replace(cm.Data["config.alloy"], "role = \"pod\"\n", "role = \"pod\"\n  selectors {\n    role  = \"pod\"\n    field = \"spec.nodeName=\" + sys.env(\"NODE_NAME\")\n  }\n", 1)
	ds := objs["DaemonSet"]
	set := review.NewSet([]runtime.Object{cm, ds})
	for _, subject := range []runtime.Object{ds, cm} {
		res, err := rv.Review(context.Background(), subject, set, review.Options{Operation: "CREATE"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Fixed != nil || res.Related != nil {
			t.Errorf("%s: patched (fixed %v, related %v), want nothing patched", res.Subject.Kind, res.Fixed != nil, res.Related != nil)
		}
		var wl *review.Finding
		for i, f := range res.Findings {
			if f.Rule.ID == "MG002" && f.Target == policy.TargetWorkload {
				wl = &res.Findings[i]
			}
		}
		if wl == nil {
			t.Fatalf("%s: got %v, want a MG002 finding about the DaemonSet", res.Subject.Kind, ids(res.Findings))
		}
		if wl.Action != policy.ActionWarn || wl.Applied || wl.Owner != "alloy-owned-daemonset/logs" || wl.Value != workload.AlloyValueExtraEnv {
			t.Errorf("%s: MG002 %s applied %v owner %q value %q; want warn, not applied, owner alloy-owned-daemonset/logs, value %s", res.Subject.Kind, wl.Action, wl.Applied, wl.Owner, wl.Value, workload.AlloyValueExtraEnv)
		}
	}
}

// TestAlloyInertBlockGetsClustering: an Alloy DaemonSet whose config has a
// clustering block over every pod of the cluster, clustering off in its
// values, is fixed one way: MG007 turns spec.alloy.clustering.enabled on.
// MG001's node selector as well would leave clustering on node-local data,
// denied by MG005 (a plain DaemonSet, which MG007 cannot fix, gets the
// selector).
func TestAlloyInertBlockGetsClustering(t *testing.T) {
	t.Parallel()
	docs, err := manifest.Parse("inert.yaml", []byte(`apiVersion: v1
kind: ConfigMap
metadata: {name: logs-alloy, namespace: monitoring}
data:
  config.alloy: |
    discovery.kubernetes "pods" {
      role = "pod"
    }

    prometheus.scrape "pods" {
      targets    = discovery.kubernetes.pods.targets
      forward_to = [prometheus.remote_write.default.receiver]
      clustering {
        enabled = true
      }
    }

    prometheus.remote_write "default" {
      endpoint {
        url = "http://mimir.monitoring.svc:9009/api/v1/push"
      }
    }
---
apiVersion: collectors.grafana.com/v1alpha1
kind: Alloy
metadata: {name: logs, namespace: monitoring}
spec:
  alloy:
    configMap: {create: false, name: logs-alloy}
`))
	if err != nil {
		t.Fatal(err)
	}
	rv := &review.Reviewer{Engine: engine(t, nil), Fixer: mutate.Fixer{}}
	res, err := rv.ReviewBundle(context.Background(), manifest.Objects(docs), review.Options{Operation: "CHECK"})
	if err != nil {
		t.Fatal(err)
	}
	var acted []string
	for _, f := range res.Findings {
		if f.Action != policy.ActionAudit {
			acted = append(acted, f.Rule.ID+":"+string(f.Action))
		}
	}
	if got := strings.Join(acted, ","); got != "MG007:fix" {
		t.Errorf("got %s, want MG007:fix alone", got)
	}
}
