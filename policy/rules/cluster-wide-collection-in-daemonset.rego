# METADATA
# title: Cluster-wide collection in a DaemonSet needs clustering
# description: |
#   A collector in a DaemonSet that gathers cluster-wide data (services,
#   ingresses, central exporters, static targets, endpoints not kept by node,
#   prometheus.operator.*, loki.source.podlogs without a node_filter that
#   receives the node name (MG002), loki.source.kubernetes_events) runs once
#   per node: every series or log line arrives once per node. Give it
#   a `clustering { enabled = true }` block (and run the agent with
#   `--cluster.enabled=true` and a peer source: MG007), or move it to a
#   StatefulSet. Pod and node discovery is made node-local by MG001 instead.
# custom:
#   id: MG004
#   slug: cluster-wide-collection-in-daemonset
#   action: deny
#   appliesTo: [DaemonSet]
package modeguard.rules.cluster_wide_collection_in_daemonset

import data.modeguard.lib

# The violation is built in the head and clustered compared to false
# (lib.collectors always says true or false) rather than negated: fewer
# expressions to evaluate (policy/regoprofile_test.go).
violations contains object.union(col.at, {"msg": sprintf(
	"collects cluster-wide data without clustering in a DaemonSet, once per node: %s; add clustering { enabled = true } and run with --cluster.enabled=true, or collect it from a StatefulSet",
	[concat(", ", col.wide)],
)}) if {
	lib.daemonset
	some col in lib.collectors
	col.gathering
	col.clustered == false
	col.wide[0]
}
