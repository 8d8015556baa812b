# METADATA
# title: Clustering blocks need the cluster flags
# description: |
#   A `clustering { enabled = true }` block does nothing unless the agent runs
#   with `--cluster.enabled=true` and a peer source (`--cluster.join-addresses`
#   or `--cluster.discover-peers`): a standalone instance behaves as a
#   single-node cluster, so every replica collects everything. Where work must
#   be distributed (StatefulSet, replicated Deployment, DaemonSet collecting
#   cluster-wide data) this is a duplication bug; for a StatefulSet the fix adds
#   `--cluster.enabled=true --cluster.join-addresses=<spec.serviceName>`, and
#   for an `Alloy` object of any controller type it sets
#   `spec.alloy.clustering.enabled: true` (the chart then writes both flags and
#   the headless `<fullname>-cluster` Service the peers join through).
#   Elsewhere the inert block is only recorded (audit).
# custom:
#   id: MG007
#   slug: clustering-not-effective
#   action: fix
#   fix: cluster-flags
#   appliesTo: [StatefulSet, Deployment, DaemonSet]
package modeguard.rules.clustering_not_effective

import data.modeguard.lib

# Clustered collectors of cluster-wide data, as "file|component".
needing contains sprintf("%s|%s", [lib.files[col.file].file, col.component]) if {
	some i in lib.index.clusteredCollectors
	col := lib.collectors[i]
	col.wide[0]
}

clustered_any contains sprintf("%s|%s", [lib.files[col.file].file, col.component]) if {
	some i in lib.index.clusteredCollectors
	col := lib.collectors[i]
}

needs_distribution if lib.distributed

needs_distribution if {
	lib.daemonset
	count(needing) > 0
}

missing contains "--cluster.enabled=true" if not lib.workload.run.cluster.enabled

missing contains "a peer source (--cluster.join-addresses or --cluster.discover-peers)" if not lib.peer_source

# Both violations need a clustering block (needing is part of
# clustered_any): checked first, as most configs have none.
violations contains v if {
	some _ in clustered_any
	lib.flags_known
	needs_distribution
	count(missing) > 0
	first := split(min(needing | clustered_any), "|")
	f := [x | some x in lib.files; x.file == first[0]][0]
	msg := sprintf("clustering blocks (%s) do nothing: the agent container runs without %s, so every %s pod collects everything", [names(needing | clustered_any), concat(" and ", sort(missing)), input.mode])
	v := object.union(lib.at(f, first[1], msg), remedy)
}

violations contains v if {
	some _ in clustered_any
	lib.flags_known
	not needs_distribution
	count(missing) > 0
	first := split(min(clustered_any), "|")
	f := [x | some x in lib.files; x.file == first[0]][0]
	msg := sprintf("clustering blocks (%s) are inert: the agent runs without %s; harmless here, as nothing needs distributing", [names(clustered_any), concat(" and ", sort(missing))])
	v := object.union(lib.at(f, first[1], msg), {"action": "audit"})
}

names(set) := concat(", ", sort([split(x, "|")[1] | some x in set]))

# An Alloy object's chart renders the flags and the peers' Service for any
# controller type once spec.alloy.clustering.enabled is true.
remedy := {"target": "workload", "fix": {"name": "cluster-flags", "params": {"joinAddresses": sprintf("%s-cluster", [lib.workload.alloy.fullname])}}} if {
	lib.workload.alloy.fullname != ""
} else := {"target": "workload", "fix": {"name": "cluster-flags", "params": {"joinAddresses": lib.workload.serviceName}}} if {
	lib.statefulset
	lib.workload.serviceName != ""
} else := {"target": "workload", "action": "deny"}
