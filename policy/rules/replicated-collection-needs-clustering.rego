# METADATA
# title: Replicated agents must cluster cluster-wide collection
# description: |
#   Every replica of a StatefulSet (and of a Deployment with replicas > 1 or an
#   HPA) runs the same config. A collector of cluster-wide data without a
#   `clustering { enabled = true }` block collects everything once per replica.
#   The fix injects the block (or flips `enabled = false`); components without
#   clustering support cannot be fixed and are denied. Clustering also needs the
#   process flags (MG007).
# custom:
#   id: MG006
#   slug: replicated-collection-needs-clustering
#   action: fix
#   fix: clustering-block
#   appliesTo: [StatefulSet, Deployment]
package modeguard.rules.replicated_collection_needs_clustering

import data.modeguard.lib

violations contains v if {
	lib.distributed
	some f in lib.files
	some col in f.collectors
	col.class in lib.gathering_classes
	not col.clustered
	wide := [s.component | some s in col.sources; lib.source(s).scope == "cluster-wide"]
	count(wide) > 0
	c := lib.component(f, col.component)
	v := object.union(lib.at(f, col.component, message(c, wide)), fix(f, c))
}

message(c, wide) := sprintf("collects cluster-wide data (%s) in every replica of the %s without clustering: each target is collected once per replica; add clustering { enabled = true }", [concat(", ", wide), input.mode]) if {
	c.clustering.capable
} else := sprintf("collects cluster-wide data (%s) in every replica of the %s, and %s has no clustering support: run it in a single-replica workload", [concat(", ", wide), input.mode, c.name])

fix(f, c) := {"fix": {"name": "clustering-block", "params": {"file": f.file, "component": c.id}}} if {
	c.clustering.capable
} else := {"action": "deny"}
