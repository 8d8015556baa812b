package riverconfig

import (
	"fmt"
	"strings"
	"testing"
)

// smallConfig is a realistic ~50-line DaemonSet config: node-local pods,
// pod logs and a host exporter.
const smallConfig = `discovery.kubernetes "pods" {
  role = "pod"
  selectors {
    role  = "pod"
    field = "spec.nodeName=" + coalesce(sys.env("HOSTNAME"), constants.hostname)
  }
}

discovery.relabel "pods" {
  targets = discovery.kubernetes.pods.targets
  rule {
    source_labels = ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"]
    regex         = "true"
    action        = "keep"
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
  forward_to = [loki.write.default.receiver]
}

prometheus.exporter.unix "node" { }

prometheus.scrape "node" {
  targets    = prometheus.exporter.unix.node.targets
  forward_to = [prometheus.remote_write.default.receiver]
}
`

// largeConfig repeats a block mixing discovery, relabel chains, exporters
// and scrapes until it has about lines lines.
func largeConfig(lines int) string {
	var b strings.Builder
	for i := 0; strings.Count(b.String(), "\n") < lines; i++ {
		fmt.Fprintf(&b, `discovery.kubernetes "pods_%[1]d" {
  role = "pod"
  selectors {
    role  = "pod"
    field = "spec.nodeName=" + sys.env("HOSTNAME")
  }
}

discovery.kubernetes "services_%[1]d" {
  role = "service"
}

discovery.relabel "a_%[1]d" {
  targets = array.concat(discovery.kubernetes.pods_%[1]d.targets, discovery.kubernetes.services_%[1]d.targets)
  rule {
    source_labels = ["__meta_kubernetes_namespace"]
    target_label  = "namespace"
  }
}

discovery.relabel "b_%[1]d" {
  targets = discovery.relabel.a_%[1]d.output
  rule {
    source_labels = ["__meta_kubernetes_pod_node_name"]
    regex         = coalesce(sys.env("HOSTNAME"), constants.hostname)
    action        = "keep"
  }
}

prometheus.exporter.redis "r_%[1]d" {
  redis_addr = "redis-%[1]d.redis:6379"
}

prometheus.exporter.unix "u_%[1]d" { }

prometheus.scrape "s_%[1]d" {
  targets    = array.concat(discovery.relabel.b_%[1]d.output, prometheus.exporter.redis.r_%[1]d.targets, prometheus.exporter.unix.u_%[1]d.targets, [{"__address__" = "static-%[1]d:9090"}])
  forward_to = [prometheus.remote_write.default.receiver]
  clustering {
    enabled = true
  }
}

`, i)
	}
	b.WriteString("prometheus.remote_write \"default\" {\n  endpoint {\n    url = \"http://mimir/api/v1/push\"\n  }\n}\n")
	return b.String()
}

func BenchmarkParseSmall(b *testing.B) {
	src := []byte(smallConfig)
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if f := Parse("config.alloy", src); len(f.Errors) > 0 {
			b.Fatal(f.Errors)
		}
	}
}

func BenchmarkParseLarge(b *testing.B) {
	src := []byte(largeConfig(3000))
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	b.ReportMetric(float64(strings.Count(string(src), "\n")), "lines")
	for b.Loop() {
		if f := Parse("config.alloy", src); len(f.Errors) > 0 {
			b.Fatal(f.Errors)
		}
	}
}
