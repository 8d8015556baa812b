// Package riverconfig reads a Grafana Agent (Flow) River file or a Grafana
// Alloy file and turns it into config facts: components, their attributes and
// nested blocks, the references between them, every collector with the
// sources its data comes from and each source's scope, clustering, and what
// cannot be verified. Rules read these facts; they never parse River.
//
// riverconfig knows nothing of Kubernetes objects, HTTP or policy: it takes
// bytes and a file name and returns plain values that marshal to JSON.
//
// # Positions
//
// Every range is a pair of byte offsets into the original source (with the
// 1-based line and byte column of each), End just past the last byte, so a
// fix splices text at those offsets and leaves every other byte alone. A
// component's Range runs from its name to just past "}", BodyRange from just
// after "{" to "}", and Indent is the whitespace before its first statement.
//
// # Scope of a source
//
// A collector's targets expression is followed through discovery.relabel
// (targets), local.file_match (path_targets), foreach (the loop variable
// traces to the collection), concat, arrays and objects, to every ultimate
// source; one Source is reported per distinct path, with Via listing what
// lies between (source side first). For discovery.kubernetes:
//
//   - role pod: node-local when a selectors block for role pod has a field
//     "spec.nodeName=" + NODE (LocalBy "field-selector"), or when a
//     discovery.relabel on the path keeps on __meta_kubernetes_pod_node_name
//     (LocalBy "relabel-keep"). NODE, or the keep's regex, must read the node
//     name at run time: env/sys.env, constants.hostname, or a coalesce of
//     them. Whether it really yields the node name is for the rules (MG002):
//     Source.NodeName carries the expression. A literal node makes every
//     agent see the same pods (cluster-wide); any other expression is
//     unknown.
//   - role node: the same with "metadata.name=" and __meta_kubernetes_node_name.
//   - role endpoints / endpointslice: only a keep on
//     __meta_kubernetes_endpoint_node_name (resp.
//     __meta_kubernetes_endpointslice_endpoint_node_name) or on
//     __meta_kubernetes_pod_node_name makes them node-local. A role pod
//     spec.nodeName selector alone leaves them cluster-wide and sets
//     PodSelectorOnly (NodeName is then the selector's expression). The
//     role "endpoint" (no Prometheus role) is read as endpoints and the
//     reason says so.
//   - role service / ingress: cluster-wide.
//
// Keep rules on other labels do not change the scope. The scope of every
// other source is the catalog's (below): discovery.kubelet and
// discovery.process are node-local, host exporters have scope
// "host-exporter", prometheus.exporter.statsd is node-local (it holds what
// was pushed to this pod), every other exporter and discovery is
// cluster-wide. A literal target list is cluster-wide ("static"), and
// literal path_targets of local.file_match are node-local (files of this
// node). Self-discovering collectors (prometheus.operator.*,
// loki.source.podlogs, loki.source.kubernetes_events) get one cluster-wide
// source: themselves. Push receivers get none.
//
// A loki.source.podlogs whose node_filter block says enabled = true lists
// only the pods of the node it names: its source is node-local (LocalBy
// "node-filter") when that name is read at run time, as for a field
// selector, cluster-wide on a literal node, unknown otherwise. node_name's
// Value carries the NodeName; without node_name (or with "") the component
// reads the env var NODE_NAME, which Component.NodeName records. Whether
// the name really arrives is again for the rules.
//
// # Catalog
//
// catalog.go holds the one table of what each component is, by name, with
// families by prefix (otelcol.receiver.* push receivers,
// prometheus.exporter.* central exporters, discovery.* cluster-wide
// discovery): its class, the attribute holding its targets, where a file
// reader's paths come from, clustering support, and its scope as a source.
// The facts carry the class to the rules: Component.Class, Collector.Class
// and ReadsFiles, Source.Class. Node-bound are the collectors that read
// their own node (file readers on node paths, the journal, the Windows
// event log, the local Docker daemon, the eBPF and Java profilers) and the
// sources that list it (discovery.kubelet, discovery.process, host
// exporters).
//
// ConstantIdentity is set when a discovery.relabel on the path replaces
// instance with a constant (no "$"): every peer holds the same target, so
// clustering deduplicates instead of losing data (the k8s-monitoring
// telemetry pattern).
//
// A prometheus.exporter.unix source also carries Source.Unix: the
// collectors it runs (from literal set_collectors, disable_collectors and
// enable_collectors), its textfile directory and the host path arguments
// set. With the textfile collector alone it reads only the *.prom files of
// that directory; whether they are the host's depends on the volume the
// directory is on, which the workload facts tell, so riverconfig leaves its
// scope "host-exporter" and the rules decide.
//
// Whatever cannot be traced (declare arguments, imported modules, Agent
// modules, instances of declares, names that are no component) has scope
// "unknown" and an Unverifiable entry for the collector.
//
// # Limits
//
// A config can be several MiB of anything.
// Before calling the River parser, Parse walks the tokens as the parser
// would and refuses, with one Diagnostic in Facts.Errors and no other fact,
// a config nested deeper than MaxNesting (the parser recurses, and a stack
// overflow cannot be recovered) or with more than MaxComponents components;
// past MaxErrors syntax errors it reports the first ones and a count.
package riverconfig
