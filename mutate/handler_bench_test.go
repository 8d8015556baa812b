package mutate_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/modeguard/modeguard/mutate"
	"github.com/modeguard/modeguard/validate"
	"github.com/modeguard/modeguard/webhook/admittest"
)

// bigConfig is an Alloy config of about lines lines: node-local pod
// pipelines (discovery with a node selector, relabel, scrape), the last one
// without its selector, so that one MG001 fix applies.
func bigConfig(lines int) string {
	const pipeline = `// Pipeline %[1]d: the pods of team-%[1]d on this node.
discovery.kubernetes "pods_%[1]d" {
  role = "pod"
  namespaces {
    names = ["team-%[1]d"]
  }
%[2]s}

discovery.relabel "pods_%[1]d" {
  targets = discovery.kubernetes.pods_%[1]d.targets
  rule {
    source_labels = ["__meta_kubernetes_pod_label_app"]
    regex         = "app-%[1]d"
    action        = "keep"
  }
  rule {
    source_labels = ["__meta_kubernetes_namespace"]
    target_label  = "namespace"
  }
}

prometheus.scrape "pods_%[1]d" {
  targets         = discovery.relabel.pods_%[1]d.output
  forward_to      = [prometheus.remote_write.default.receiver]
  scrape_interval = "30s"
}

`
	const selector = `  selectors {
    role  = "pod"
    field = "spec.nodeName=" + coalesce(sys.env("HOSTNAME"), constants.hostname)
  }
`
	var b strings.Builder
	b.WriteString("prometheus.remote_write \"default\" {\n  endpoint {\n    url = \"http://mimir.monitoring.svc:9009/api/v1/push\"\n  }\n}\n\n")
	per := strings.Count(fmt.Sprintf(pipeline, 0, selector), "\n")
	n := lines / per
	for i := range n {
		sel := selector
		if i == n-1 {
			sel = ""
		}
		fmt.Fprintf(&b, pipeline, i, sel)
	}
	return b.String()
}

func BenchmarkHandler(b *testing.B) {
	ctx := context.Background()
	mg001 := admittest.Example(b, "mg001-fires")
	mg002 := admittest.Example(b, "mg002-fires")
	big := make([]runtime.Object, len(mg001))
	for i, o := range mg001 {
		big[i] = o.DeepCopyObject()
	}
	bigCM := admittest.Find[*corev1.ConfigMap](b, big)
	bigCM.Data["config.alloy"] = bigConfig(3000)

	type handler interface {
		Handle(context.Context, admission.Request) admission.Response
	}
	for _, bc := range []struct {
		name    string
		objs    []runtime.Object
		subject func(testing.TB, []runtime.Object) runtime.Object
		webhook string
		check   func(admission.Response) bool
	}{
		{"mutate/ConfigMap", mg001, func(t testing.TB, o []runtime.Object) runtime.Object { return admittest.Find[*corev1.ConfigMap](t, o) }, "mutate",
			func(r admission.Response) bool { return len(r.Patches) > 0 }},
		{"mutate/ConfigMap-3000-lines", big, func(t testing.TB, o []runtime.Object) runtime.Object { return admittest.Find[*corev1.ConfigMap](t, o) }, "mutate",
			func(r admission.Response) bool { return len(r.Patches) > 0 }},
		{"mutate/DaemonSet", mg002, func(t testing.TB, o []runtime.Object) runtime.Object { return admittest.Find[*appsv1.DaemonSet](t, o) }, "mutate",
			func(r admission.Response) bool { return len(r.Patches) > 0 }},
		{"mutate/Pod-cache-hit", mg002, func(t testing.TB, o []runtime.Object) runtime.Object {
			return daemonSetPod(admittest.Find[*appsv1.DaemonSet](t, o), "node-a")
		}, "mutate", func(r admission.Response) bool { return len(r.Patches) > 0 }},
		{"validate/DaemonSet", admittest.Example(b, "mg004-fires"), func(t testing.TB, o []runtime.Object) runtime.Object { return admittest.Find[*appsv1.DaemonSet](t, o) }, "validate",
			func(r admission.Response) bool { return !r.Allowed }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			core, _ := admittest.Core(b, nil, bc.objs)
			cacheSize := -1 // every request evaluates
			if strings.HasSuffix(bc.name, "cache-hit") {
				cacheSize = 0
			}
			var h handler = mutate.NewHandler(core, admittest.Decoder(), cacheSize)
			if bc.webhook == "validate" {
				h = validate.NewHandler(core, admittest.Decoder(), cacheSize)
			}
			req := admittest.Request(b, bc.subject(b, bc.objs), admissionv1.Create, false)
			if resp := h.Handle(ctx, req); !bc.check(resp) { // also warms the cache
				b.Fatalf("unexpected response: allowed=%v patches=%d warnings=%q", resp.Allowed, len(resp.Patches), resp.Warnings)
			}
			b.ReportAllocs()
			for b.Loop() {
				h.Handle(ctx, req)
			}
		})
	}
}
