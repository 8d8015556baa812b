package riverconfig

import "strings"

// kind is what modeguard knows of one component name (or family of names):
// the one table the parser, the tracer and the facts read. Only the class
// facts reach the rules (Component.Class, Collector.Class and ReadsFiles,
// Source.Class and Scope); what a rule makes of them is policy.
type kind struct {
	// class is the collector class (Class* constants), or ClassNodeBound
	// for a target source that only sees the node it runs on.
	class string
	// collector says the component gathers data itself: it is listed in
	// Facts.Collectors. Otherwise it is at most a source of targets.
	collector bool
	// targets names the attribute a collector reads its targets from.
	targets string
	// files says where a file reader finds the files it reads: fromPath
	// (the __path__ label of its targets) or the attribute that lists them
	// as globs.
	files string
	// clustering says the component has a clustering block.
	clustering bool
	// scope and reason describe the data the component yields as a source:
	// to the collectors that read its targets, or, for a collector with no
	// targets attribute, to itself (self-discovering collectors). "%s" in
	// reason stands for the component's name.
	scope, reason string
	// scopeOf decides scope and reason from the component's attributes
	// instead, starting from scope and reason.
	scopeOf func(c *comp, relabels []*comp, s *Source)
}

// fromPath is kind.files of a reader of the __path__ label of its targets.
const fromPath = "__path__"

// catalog is that table, by component name; families holds the entries of
// names the catalog does not list. The node-bound entries follow the
// upstream component reference (grafana/alloy,
// docs/sources/reference/components).
var catalog = map[string]kind{
	// Pull: gather from the targets they are given.
	"prometheus.scrape":      {class: ClassPull, collector: true, targets: "targets", clustering: true},
	"pyroscope.scrape":       {class: ClassPull, collector: true, targets: "targets", clustering: true},
	"loki.source.kubernetes": {class: ClassPull, collector: true, targets: "targets", clustering: true},
	"database_observability.mysql": {class: ClassPull, collector: true, clustering: true,
		scope: ScopeClusterWide, reason: "%s reads a central database"},

	// Self-discovering: find their own targets across the cluster.
	"prometheus.operator.podmonitors": {class: ClassSelfDiscovering, collector: true, clustering: true,
		scope: ScopeClusterWide, reason: "%s watches PodMonitor resources across the cluster"},
	"prometheus.operator.servicemonitors": {class: ClassSelfDiscovering, collector: true, clustering: true,
		scope: ScopeClusterWide, reason: "%s watches ServiceMonitor resources across the cluster"},
	"prometheus.operator.probes": {class: ClassSelfDiscovering, collector: true, clustering: true,
		scope: ScopeClusterWide, reason: "%s watches Probe resources across the cluster"},
	"prometheus.operator.scrapeconfigs": {class: ClassSelfDiscovering, collector: true, clustering: true,
		scope: ScopeClusterWide, reason: "%s watches ScrapeConfig resources across the cluster"},
	// Node-local when an enabled node_filter names the agent's node.
	"loki.source.podlogs": {class: ClassSelfDiscovering, collector: true, clustering: true,
		scope: ScopeClusterWide, reason: "%s watches PodLogs resources and tails pods across the cluster", scopeOf: podlogsScope},
	"loki.source.kubernetes_events": {class: ClassSelfDiscovering, collector: true, clustering: true,
		scope: ScopeClusterWide, reason: "%s watches the cluster's events"},

	// Node-bound collectors: read the node they run on. File readers only
	// when the files they read are the node's.
	"loki.source.file":         {class: ClassNodeBound, collector: true, targets: "targets", files: fromPath},
	"otelcol.receiver.filelog": {class: ClassNodeBound, collector: true, files: "include"},
	"loki.source.journal":      {class: ClassNodeBound, collector: true},
	"loki.source.windowsevent": {class: ClassNodeBound, collector: true},
	// Reads the Docker daemon at its host attribute: the node's socket.
	"loki.source.docker": {class: ClassNodeBound, collector: true, targets: "targets"},
	"pyroscope.ebpf":     {class: ClassNodeBound, collector: true, targets: "targets"},
	"pyroscope.java":     {class: ClassNodeBound, collector: true, targets: "targets"},

	// Push receivers: get what is sent to them, whatever the mode.
	"loki.source.api":         {class: ClassPush, collector: true},
	"loki.source.syslog":      {class: ClassPush, collector: true},
	"loki.source.gelf":        {class: ClassPush, collector: true},
	"loki.source.heroku":      {class: ClassPush, collector: true},
	"loki.source.awsfirehose": {class: ClassPush, collector: true},
	"prometheus.receive_http": {class: ClassPush, collector: true},
	"pyroscope.receive_http":  {class: ClassPush, collector: true},
	"faro.receiver":           {class: ClassPush, collector: true},
	"prometheus.exporter.statsd": {class: ClassPush, collector: true,
		scope: ScopeNodeLocal, reason: "statsd exporter receives what is pushed to this pod"},

	// Target sources whose scope depends on their attributes.
	"discovery.kubernetes": {scopeOf: kubernetesScope},
	"discovery.docker":     {scopeOf: dockerScope},

	// Node-bound sources: list what is on their own node. discovery.kubelet
	// asks the kubelet at localhost:10250 by default.
	"discovery.kubelet": {class: ClassNodeBound, scope: ScopeNodeLocal, reason: "kubelet discovery lists its own node's pods"},
	"discovery.process": {class: ClassNodeBound, scope: ScopeNodeLocal, reason: "%s lists the processes of the host it runs on"},

	// Host exporters read the host they run on. self (the agent's own
	// metrics) has always been classed with them; agent and ebpf are
	// Grafana Agent's names.
	// unix also says what it runs and reads: with the textfile collector
	// alone it reads only the files of one directory.
	"prometheus.exporter.unix":     {class: ClassNodeBound, scope: ScopeHostExporter, reason: hostExporter.reason, scopeOf: unixScope},
	"prometheus.exporter.process":  hostExporter,
	"prometheus.exporter.cadvisor": hostExporter,
	"prometheus.exporter.windows":  hostExporter,
	"prometheus.exporter.self":     hostExporter,
	"prometheus.exporter.agent":    hostExporter,
	"prometheus.exporter.ebpf":     hostExporter,

	// Central exporters watch a service that is not on the agent's node.
	"prometheus.exporter.redis":         centralExporter,
	"prometheus.exporter.mysql":         centralExporter,
	"prometheus.exporter.postgres":      centralExporter,
	"prometheus.exporter.mssql":         centralExporter,
	"prometheus.exporter.kafka":         centralExporter,
	"prometheus.exporter.mongodb":       centralExporter,
	"prometheus.exporter.elasticsearch": centralExporter,
	"prometheus.exporter.memcached":     centralExporter,
	"prometheus.exporter.blackbox":      centralExporter,
	"prometheus.exporter.snmp":          centralExporter,
	"prometheus.exporter.cloudwatch":    centralExporter,
	"prometheus.exporter.azure":         centralExporter,
	"prometheus.exporter.gcp":           centralExporter,
	"prometheus.exporter.github":        centralExporter,
	"prometheus.exporter.consul":        centralExporter,
	"prometheus.exporter.dnsmasq":       centralExporter,
	"prometheus.exporter.oracledb":      centralExporter,
	"prometheus.exporter.squid":         centralExporter,
	"prometheus.exporter.apache":        centralExporter,
	"prometheus.exporter.catchpoint":    centralExporter,
	"prometheus.exporter.databricks":    centralExporter,
}

var (
	hostExporter    = kind{class: ClassNodeBound, scope: ScopeHostExporter, reason: "%s reads the host it runs on"}
	centralExporter = kind{scope: ScopeClusterWide, reason: "%s watches a central service"}
)

// families are the entries of the names the catalog does not list, by
// prefix.
var families = []struct {
	prefix string
	kind   kind
}{
	{"otelcol.receiver.", kind{class: ClassPush, collector: true}},
	{"prometheus.exporter.", kind{scope: ScopeClusterWide, reason: "%s is not a known host exporter: assumed to watch a central service"}},
	{"discovery.", kind{scope: ScopeClusterWide, reason: "%s finds the same targets from every agent"}},
}

// lookup returns the entry of a component name: its own, else its
// family's (listed says which), else the zero kind.
func lookup(name string) (k kind, listed bool) {
	if k, ok := catalog[name]; ok {
		return k, true
	}
	for _, f := range families {
		if strings.HasPrefix(name, f.prefix) {
			return f.kind, false
		}
	}
	return kind{}, false
}

// classOf is the class of a component name: the collector class, or
// ClassNodeBound for a node-bound source, or "".
func classOf(name string) string {
	k, _ := lookup(name)
	return k.class
}

// why is the reason of a component's scope as a source.
func (k kind) why(name string) string {
	return strings.ReplaceAll(k.reason, "%s", name)
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
