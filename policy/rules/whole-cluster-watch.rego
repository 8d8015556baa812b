# METADATA
# title: Every DaemonSet pod watches the whole cluster
# description: |
#   Pod or node discovery made node-local only by a relabel keep is correct,
#   but every agent pod still lists and watches every pod (or node) of the
#   cluster through the API server, and drops all but its own. A field
#   selector makes the API server filter, which is far cheaper on large
#   clusters. Discovery that reaches nothing at all costs the same watch for
#   nothing. Recorded only.
# custom:
#   id: MG015
#   slug: whole-cluster-watch
#   action: audit
#   appliesTo: [DaemonSet]
package modeguard.rules.whole_cluster_watch

import data.modeguard.lib

selector_prefix := {"pod": "spec.nodeName=", "node": "metadata.name="}

violations contains v if {
	some i in lib.index.sourcesByLocalBy["relabel-keep"]
	lib.daemonset
	x := lib.sources[i]
	s := x.source
	s.role in {"pod", "node"}
	v := object.union(x.at, {"msg": sprintf("role=%s is made node-local only by a relabel keep: every agent pod still watches every %s of the cluster; a %s field selector lets the API server filter", [s.role, s.role, selector_prefix[s.role]])})
}

violations contains v if {
	some c in lib.index.unusedComponents["discovery.kubernetes"]
	lib.daemonset
	v := lib.at(lib.files[c.file], c.id, "discovers targets that reach no collector, yet every agent pod keeps a watch on the API server for it; remove it")
}
