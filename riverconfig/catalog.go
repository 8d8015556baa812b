package riverconfig

import "strings"

// What each component is: docs/domain.md, Clustering, Collectors and scope,
// and Node-bound collectors.

// collectorClasses maps collector component names to their class.
var collectorClasses = map[string]string{
	"prometheus.scrape":            ClassPull,
	"pyroscope.scrape":             ClassPull,
	"loki.source.kubernetes":       ClassPull,
	"database_observability.mysql": ClassPull,

	"prometheus.operator.podmonitors":     ClassSelfDiscovering,
	"prometheus.operator.servicemonitors": ClassSelfDiscovering,
	"prometheus.operator.probes":          ClassSelfDiscovering,
	"prometheus.operator.scrapeconfigs":   ClassSelfDiscovering,
	"loki.source.podlogs":                 ClassSelfDiscovering,
	"loki.source.kubernetes_events":       ClassSelfDiscovering,

	"loki.source.file":         ClassNodeBound,
	"loki.source.journal":      ClassNodeBound,
	"loki.source.docker":       ClassNodeBound,
	"loki.source.windowsevent": ClassNodeBound,
	"pyroscope.ebpf":           ClassNodeBound,
	"pyroscope.java":           ClassNodeBound,
	"otelcol.receiver.filelog": ClassNodeBound,

	"loki.source.api":            ClassPush,
	"loki.source.syslog":         ClassPush,
	"loki.source.gelf":           ClassPush,
	"loki.source.heroku":         ClassPush,
	"loki.source.awsfirehose":    ClassPush,
	"prometheus.receive_http":    ClassPush,
	"pyroscope.receive_http":     ClassPush,
	"faro.receiver":              ClassPush,
	"prometheus.exporter.statsd": ClassPush,
}

// collectorClass returns the collector class of a component name, or "".
func collectorClass(name string) string {
	if c, ok := collectorClasses[name]; ok {
		return c
	}
	if strings.HasPrefix(name, "otelcol.receiver.") {
		return ClassPush
	}
	return ""
}

// componentClass is collectorClass plus the node-bound sources (host
// exporters, discovery.kubelet), which are not collectors themselves.
func componentClass(name string) string {
	if c := collectorClass(name); c != "" {
		return c
	}
	if isHostExporter(name) || name == "discovery.kubelet" {
		return ClassNodeBound
	}
	return ""
}

// targetsAttribute names the attribute a collector reads its targets from,
// or "" when it has none.
var targetsAttribute = map[string]string{
	"prometheus.scrape":      "targets",
	"pyroscope.scrape":       "targets",
	"loki.source.kubernetes": "targets",
	"loki.source.file":       "targets",
	"loki.source.docker":     "targets",
	"pyroscope.ebpf":         "targets",
	"pyroscope.java":         "targets",
}

// selfSourceReasons gives the collectors that find their own (cluster-wide)
// data one synthetic source; the text is its reason.
var selfSourceReasons = map[string]string{
	"prometheus.operator.podmonitors":     "prometheus.operator.podmonitors watches PodMonitor resources across the cluster",
	"prometheus.operator.servicemonitors": "prometheus.operator.servicemonitors watches ServiceMonitor resources across the cluster",
	"prometheus.operator.probes":          "prometheus.operator.probes watches Probe resources across the cluster",
	"prometheus.operator.scrapeconfigs":   "prometheus.operator.scrapeconfigs watches ScrapeConfig resources across the cluster",
	"loki.source.podlogs":                 "loki.source.podlogs watches PodLogs resources and tails pods across the cluster",
	"loki.source.kubernetes_events":       "loki.source.kubernetes_events watches the cluster's events",
	"database_observability.mysql":        "database_observability.mysql reads a central database",
}

// clusteringCapable lists the components with a clustering block (docs/domain.md, Clustering).
var clusteringCapable = map[string]bool{
	"prometheus.scrape":                   true,
	"pyroscope.scrape":                    true,
	"prometheus.operator.podmonitors":     true,
	"prometheus.operator.servicemonitors": true,
	"prometheus.operator.probes":          true,
	"prometheus.operator.scrapeconfigs":   true,
	"loki.source.kubernetes":              true,
	"loki.source.podlogs":                 true,
	"loki.source.kubernetes_events":       true,
	"database_observability.mysql":        true,
}

const exporterPrefix = "prometheus.exporter."

// hostExporters read the host the agent runs on. "agent" and "ebpf" are
// Grafana Agent's names.
var hostExporters = map[string]bool{
	"unix": true, "process": true, "cadvisor": true, "windows": true,
	"self": true, "agent": true, "ebpf": true,
}

func isHostExporter(name string) bool {
	return strings.HasPrefix(name, exporterPrefix) && hostExporters[strings.TrimPrefix(name, exporterPrefix)]
}

// centralExporters watch a service that is not on the agent's node. Any
// other exporter is treated the same, with a reason that says it was
// assumed.
var centralExporters = map[string]bool{
	"redis": true, "mysql": true, "postgres": true, "mssql": true,
	"kafka": true, "mongodb": true, "elasticsearch": true, "memcached": true,
	"blackbox": true, "snmp": true, "cloudwatch": true, "azure": true,
	"gcp": true, "github": true, "consul": true, "dnsmasq": true,
	"oracledb": true, "squid": true, "apache": true, "catchpoint": true,
	"databricks": true,
}

// configBlocks are top-level blocks that are not components.
var configBlocks = map[string]bool{
	"logging": true, "tracing": true, "http": true, "remotecfg": true,
	"livedebugging": true, "argument": true, "export": true,
	"declare": true, "foreach": true,
}

// stdlibRoots are the first identifiers of standard library names: a path
// starting with one of them is not a reference to a component.
var stdlibRoots = map[string]bool{
	"constants": true, "sys": true, "string": true, "encoding": true,
	"array": true, "convert": true, "json_path": true, "file": true,
	"env": true, "concat": true, "coalesce": true, "format": true,
	"join": true, "replace": true, "split": true, "to_lower": true,
	"to_upper": true, "trim": true, "trim_prefix": true, "trim_suffix": true,
	"trim_space": true, "json_decode": true, "yaml_decode": true,
	"nonsensitive": true, "base64_decode": true,
}

// alloyMarkers are functions and namespaces only Alloy has; agentMarkers
// are names Alloy deprecated in their favour.
var alloyMarkers = []string{"sys.", "string.", "encoding.", "array.", "convert."}

var agentMarkers = map[string]bool{
	"env": true, "concat": true, "format": true, "join": true,
	"json_decode": true, "nonsensitive": true, "to_lower": true,
	"to_upper": true, "trim": true, "trim_prefix": true, "trim_suffix": true,
	"trim_space": true, "split": true, "replace": true,
}

// Node-name meta labels of Kubernetes discovery.
const (
	labelPodNodeName           = "__meta_kubernetes_pod_node_name"
	labelNodeName              = "__meta_kubernetes_node_name"
	labelEndpointNodeName      = "__meta_kubernetes_endpoint_node_name"
	labelEndpointSliceNodeName = "__meta_kubernetes_endpointslice_endpoint_node_name"
)

// nodeNameLabels says, per role, which meta labels a relabel keep can use
// to keep only the agent's node. Endpoints backed by pods also carry the
// pod's node name (Prometheus attaches pod labels to endpoint targets), and
// a keep on it drops every target whose pod is elsewhere or unknown.
var nodeNameLabels = map[string][]string{
	"pod":           {labelPodNodeName},
	"node":          {labelNodeName},
	"endpoints":     {labelEndpointNodeName, labelPodNodeName},
	"endpointslice": {labelEndpointSliceNodeName, labelPodNodeName},
}

func isNodeNameLabel(l string) bool {
	switch l {
	case labelPodNodeName, labelNodeName, labelEndpointNodeName, labelEndpointSliceNodeName:
		return true
	}
	return false
}
