package mutate

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/riverconfig"
)

// typicalConfig is a DaemonSet config of about 50 lines: pod metrics and pod
// logs from one pod discovery, and a cluster-wide service scrape.
const typicalConfig = `// Metrics and logs of the pods on this node.
discovery.kubernetes "pods" {
  role = "pod"
}

discovery.relabel "pods" {
  targets = discovery.kubernetes.pods.targets
  rule {
    source_labels = ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"]
    action        = "keep"
    regex         = "true"
  }
  rule {
    source_labels = ["__meta_kubernetes_namespace"]
    target_label  = "namespace"
  }
}

prometheus.scrape "pods" {
  targets    = discovery.relabel.pods.output
  forward_to = [prometheus.remote_write.default.receiver]
}

discovery.kubernetes "services" {
  role = "service"
}

prometheus.scrape "services" {
  targets    = discovery.kubernetes.services.targets
  forward_to = [prometheus.remote_write.default.receiver]
}

loki.source.kubernetes "pods" {
  targets    = discovery.relabel.pods.output
  forward_to = [loki.write.default.receiver]
}

prometheus.remote_write "default" {
  endpoint {
    url = "http://mimir-nginx.mimir.svc:80/api/v1/push"
  }
}

loki.write "default" {
  endpoint {
    url = "http://loki-gateway.loki.svc:80/loki/api/v1/push"
  }
}
`

// largeConfig generates a config of about lines lines: pipelines of pod
// discovery, relabel and scrape, each about 25 lines.
func largeConfig(lines int) string {
	var b strings.Builder
	for i := 0; b.Len() == 0 || strings.Count(b.String(), "\n") < lines; i++ {
		fmt.Fprintf(&b, `discovery.kubernetes "pods_%[1]d" {
  role = "pod"
  namespaces {
    names = ["team-%[1]d"]
  }
}

discovery.relabel "pods_%[1]d" {
  targets = discovery.kubernetes.pods_%[1]d.targets
  rule {
    source_labels = ["__meta_kubernetes_pod_label_app"]
    action        = "keep"
    regex         = "api|web"
  }
  // team %[1]d labels
  rule {
    replacement  = "team-%[1]d"
    target_label = "team"
  }
}

prometheus.scrape "pods_%[1]d" {
  targets    = discovery.relabel.pods_%[1]d.output
  forward_to = []
}

`, i)
	}
	return b.String()
}

func BenchmarkConfigFix(b *testing.B) {
	large := largeConfig(3000)
	n := strings.Count(large, "discovery.kubernetes \"")
	mid := n / 2
	for _, tc := range []struct {
		name string
		src  string
		fix  policy.FixRequest
	}{
		{"typical/node-selector", typicalConfig, benchFix(FixNodeSelector, "config.alloy", "discovery.kubernetes.pods")},
		{"typical/clustering-block", typicalConfig, benchFix(FixClusteringBlock, "config.alloy", "prometheus.scrape.services")},
		{"large/node-selector", large, benchFix(FixNodeSelector, "config.alloy", fmt.Sprintf("discovery.kubernetes.pods_%d", mid))},
		{"large/clustering-block", large, benchFix(FixClusteringBlock, "config.alloy", fmt.Sprintf("prometheus.scrape.pods_%d", mid))},
	} {
		src := []byte(tc.src)
		b.Run(fmt.Sprintf("%s/%dlines", tc.name, strings.Count(tc.src, "\n")), func(b *testing.B) {
			if f := riverconfig.Parse("config.alloy", src); len(f.Errors) > 0 {
				b.Fatal(f.Errors)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				if _, err := Config("config.alloy", src, tc.fix); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPatch fixes a ConfigMap holding the typical config and builds the
// JSON patch, as the mutating webhook does for one fix.
func BenchmarkPatch(b *testing.B) {
	orig := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "alloy", Namespace: "monitoring", Labels: map[string]string{"app.kubernetes.io/name": "alloy"}},
		Data:       map[string]string{"config.alloy": typicalConfig},
	}
	fix := benchFix(FixNodeSelector, "config.alloy", "discovery.kubernetes.pods")
	b.ReportAllocs()
	for b.Loop() {
		cm := orig.DeepCopy()
		if err := ConfigMap(cm, "config.alloy", fix); err != nil {
			b.Fatal(err)
		}
		ops, err := Patch(orig, cm)
		if err != nil || len(ops) != 1 {
			b.Fatalf("patch %v, %v; want one operation", ops, err)
		}
	}
}

func benchFix(name, file, component string) policy.FixRequest {
	return policy.FixRequest{Name: name, Params: map[string]any{
		"file": file, "component": component, "role": "pod", "envFunc": "sys.env", "var": "HOSTNAME",
	}}
}
