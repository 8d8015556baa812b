# METADATA
# title: Clustering on node-local data loses it
# description: |
#   Clustering hands each target to one peer of the whole cluster. When a
#   collector's targets are node-local (a node-local discovery, a host
#   exporter, the statsd exporter's pushes, a loki.source.podlogs node_filter
#   that receives the node name) each peer only sees its own node's
#   targets, and the hash gives most of them to peers that never see them: most
#   data is silently dropped. Remove the clustering block, or the node-local
#   filter. Exception: when a discovery.relabel sets `instance` to a constant,
#   every peer holds the same target and clustering elects one to scrape it
#   (deduplication, not loss). Nor is a `prometheus.exporter.unix` that runs
#   only the `textfile` collector node-local when its directory is not on a
#   hostPath volume (e.g. the agent's own ConfigMap mount): every peer reads
#   the same files. Any other collector, or a textfile directory or
#   `rootfs_path`/`procfs_path`/`sysfs_path` on a hostPath volume, is host
#   data. A block the process flags leave inert is only recorded (audit), and
#   so is a block in a ConfigMap whose workload is not known yet (its flags
#   decide).
# custom:
#   id: MG005
#   slug: clustered-node-local-collection
#   action: deny
#   appliesTo: [DaemonSet, StatefulSet, Deployment]
package modeguard.rules.clustered_node_local_collection

import data.modeguard.lib

local_scopes := {"node-local", "host-exporter"}

local_sources(col) := [sprintf("%s (%s)", [s.component, s.reason]) |
	some fact in col.sources
	s := lib.source(fact)
	s.scope in local_scopes
	not s.constantIdentity
	not lib.textfile_only(s)
]

violations contains v if {
	some i in lib.index.clusteredCollectors
	c := lib.collectors[i]
	f := lib.files[c.file]
	col := f.collectors[c.index]
	local := local_sources(col)
	count(local) > 0
	v := object.union(lib.at(f, col.component, message(col, local)), action(col))
}

message(col, local) := sprintf("clustering on node-local data: %s; each peer only sees its own node, so clustering drops most of it; remove the clustering block", [concat(", ", local)]) if {
	lib.process_clustered
} else := sprintf("clustering block on node-local data (%s) is inert (the agent runs without --cluster.enabled=true and a peer source), but would drop most of it if clustering were turned on", [concat(", ", local)]) if {
	lib.inert(col)
} else := sprintf("clustering block on node-local data (%s): if the agent runs with --cluster.enabled=true, most of it is dropped; remove the clustering block", [concat(", ", local)])

action(col) := {"action": "audit"} if lib.inert(col)

else := {"action": "audit"} if not lib.flags_known

else := {}
