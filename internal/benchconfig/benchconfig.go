// Package benchconfig holds the configs every benchmark of the project
// parses, decides on and fixes, so that the figures of one stage can be
// compared with those of the next.
package benchconfig

import (
	"fmt"
	"strings"
)

// Typical is a DaemonSet config of about 50 lines as users write them: pod
// metrics and logs from one pod discovery without a node selector, and a
// cluster-wide service scrape without clustering (so MG001 and MG006 have
// something to fix).
const Typical = `// Metrics and logs of the pods on this node.
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

// Large repeats two blocks until the config has about lines lines: a pod
// pipeline (discovery.kubernetes "pods_N" without a selector, a relabel,
// prometheus.scrape "pods_N" without clustering) and a mix of node-local
// discovery, relabel chains, exporters, static targets and a clustered
// scrape.
func Large(lines int) string {
	var b strings.Builder
	for i := 0; b.Len() == 0 || strings.Count(b.String(), "\n") < lines; i++ {
		writeLarge(&b, i)
	}
	return b.String()
}

// LargeComponents is Large with n components (rounded up to a multiple of
// PerRepeat), for measuring how a stage grows with components.
func LargeComponents(n int) string {
	var b strings.Builder
	for i := 0; i*PerRepeat < n; i++ {
		writeLarge(&b, i)
	}
	return b.String()
}

// PerRepeat is the number of components of one repeat of Large's two blocks.
const PerRepeat = 10

func writeLarge(b *strings.Builder, i int) {
	fmt.Fprintf(b, `discovery.kubernetes "pods_%[1]d" {
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
	fmt.Fprintf(b, `discovery.kubernetes "local_%[1]d" {
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
  targets = array.concat(discovery.kubernetes.local_%[1]d.targets, discovery.kubernetes.services_%[1]d.targets)
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
