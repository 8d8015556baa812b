package policy

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/modeguard/modeguard/riverconfig"
	"github.com/modeguard/modeguard/workload"
)

// typicalConfig is a logs-and-metrics DaemonSet config of about 50 lines.
const typicalConfig = `discovery.kubernetes "pods" {
  role = "pod"
}

discovery.relabel "pods" {
  targets = discovery.kubernetes.pods.targets
  rule {
    source_labels = ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"]
    regex         = "true"
    action        = "keep"
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

discovery.relabel "pod_logs" {
  targets = discovery.kubernetes.pods.targets
  rule {
    source_labels = ["__meta_kubernetes_pod_uid", "__meta_kubernetes_pod_container_name"]
    separator     = "/"
    replacement   = "/var/log/pods/*$1/*.log"
    target_label  = "__path__"
  }
}

local.file_match "pod_logs" {
  path_targets = discovery.relabel.pod_logs.output
}

loki.source.file "pod_logs" {
  targets    = local.file_match.pod_logs.targets
  forward_to = []
}

prometheus.remote_write "default" {
  endpoint {
    url = "http://mimir/api/v1/push"
  }
}
`

// largeConfig repeats a pipeline until the config has about n lines.
func largeConfig(n int) string {
	var b strings.Builder
	for i := 0; strings.Count(b.String(), "\n") < n; i++ {
		fmt.Fprintf(&b, `discovery.kubernetes "d%[1]d" {
  role = "%[2]s"
}

discovery.relabel "r%[1]d" {
  targets = discovery.kubernetes.d%[1]d.targets
  rule {
    source_labels = ["__meta_kubernetes_namespace"]
    regex         = "ns%[1]d"
    action        = "keep"
  }
}

prometheus.exporter.redis "x%[1]d" {
  redis_addr = "redis-%[1]d:6379"
}

prometheus.scrape "s%[1]d" {
  targets    = concat(discovery.relabel.r%[1]d.output, prometheus.exporter.redis.x%[1]d.targets)
  forward_to = []
}

`, i, []string{"pod", "service", "endpoints", "node"}[i%4])
	}
	return b.String()
}

func benchInput(b *testing.B, config string) *Input {
	b.Helper()
	data := []byte(`apiVersion: apps/v1
kind: DaemonSet
metadata: {name: alloy, namespace: monitoring}
spec:
  selector: {matchLabels: {app: alloy}}
  template:
    metadata: {labels: {app: alloy}}
    spec:
      containers:
        - name: alloy
          image: grafana/alloy:v1.5.1
          args: [run, /etc/alloy/config.alloy, --storage.path=/tmp/alloy]
          env: [{name: HOSTNAME, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}]
          volumeMounts: [{name: config, mountPath: /etc/alloy}]
      volumes: [{name: config, configMap: {name: alloy}}]
`)
	obj, err := workload.Decode(data)
	if err != nil {
		b.Fatal(err)
	}
	w, err := workload.FromObject(obj, nil)
	if err != nil {
		b.Fatal(err)
	}
	return &Input{
		Subject: Subject{Kind: "ConfigMap", Namespace: "monitoring", Name: "alloy", Operation: "UPDATE"},
		Mode:    w.Mode, Workload: w,
		Config: &Config{Namespace: "monitoring", Name: "alloy", Files: []*riverconfig.Facts{riverconfig.Parse("config.alloy", []byte(config))}},
	}
}

// BenchmarkDecision is one full decision with the facts already built:
// input conversion, evaluation of every rule, action resolution.
func BenchmarkDecision(b *testing.B) {
	for _, c := range []struct {
		name   string
		config string
	}{{"typical", typicalConfig}, {"large3000", largeConfig(3000)}} {
		b.Run(c.name, func(b *testing.B) {
			e, err := New(context.Background(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			in := benchInput(b, c.config)
			ctx := context.Background()
			b.ReportAllocs()
			var n int
			for b.Loop() {
				vs, err := e.Evaluate(ctx, in)
				if err != nil {
					b.Fatal(err)
				}
				n = len(e.Resolve(vs, Scope{}))
			}
			b.ReportMetric(float64(n), "decisions")
		})
	}
}
