# METADATA
# title: DaemonSet discovery must be node-local
# description: |
#   In a DaemonSet every pod runs the same config. A discovery.kubernetes
#   component with role pod or node that is not limited to the pod's own node
#   hands every target of the cluster to every agent: each target is scraped
#   (or tailed) once per node. The fix injects
#   `selectors { role = "pod" field = "spec.nodeName=" + NODE }`
#   (role node: `metadata.name=`), where NODE is
#   `coalesce(sys.env("HOSTNAME"), constants.hostname)` (Agent: `env`).
#   Never injected where the same targets also feed an effectively clustered
#   collector: there the selector would lose data (MG004 reports instead);
#   nor, in an `Alloy` object, where they feed a collector whose clustering
#   block is inert: MG007 turns its clustering on instead.
# custom:
#   id: MG001
#   slug: daemonset-node-local-discovery
#   action: fix
#   fix: node-selector
#   appliesTo: [DaemonSet]
package modeguard.rules.daemonset_node_local_discovery

import data.modeguard.lib

prefix := {"pod": "spec.nodeName=", "node": "metadata.name="}

violations contains object.union(x.at, {
	"msg": sprintf("role=%s discovery reaches %s without clustering and is not limited to the agent's node: every DaemonSet pod collects every %s's targets; add a %s field selector", [role, x.collector, role, p]),
	"fix": {"name": "node-selector", "params": {
		"file": x.at.file,
		"component": x.at.component,
		"role": role,
		"envFunc": x.envFunc,
		"var": lib.node_env,
	}},
}) if {
	lib.daemonset
	some x in lib.sources
	# The role first: most sources that are not pod or node discovery
	# fail there, in one expression.
	role := x.source.role
	p := prefix[role]
	x.source.kind == "discovery.kubernetes"
	x.source.scope == "cluster-wide"
	# Neither this collector's clustering nor another's is effective on
	# these targets, nor made so by MG007 in an Alloy object
	# (feedsClustered covers all three).
	x.feedsClustered == false
}
