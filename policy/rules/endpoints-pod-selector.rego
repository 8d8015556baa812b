# METADATA
# title: A pod selector does not make endpoints node-local
# description: |
#   For role endpoints or endpointslice, a `selectors { role = "pod" field = "spec.nodeName=…" }`
#   block only filters which pods are used to attach pod labels: endpoints whose
#   pod is not found are still emitted, so every DaemonSet pod still discovers
#   every endpoint of the cluster (the draft deployment-modes pattern, docs/domain.md). Keep by node
#   instead: a discovery.relabel rule `action = "keep"` on
#   `__meta_kubernetes_endpoint_node_name` (endpointslice:
#   `__meta_kubernetes_endpointslice_endpoint_node_name`) equal to the node name.
# custom:
#   id: MG003
#   slug: endpoints-pod-selector
#   action: warn
#   appliesTo: [DaemonSet]
package modeguard.rules.endpoints_pod_selector

import data.modeguard.lib

label := {"endpoints": "__meta_kubernetes_endpoint_node_name", "endpoint": "__meta_kubernetes_endpoint_node_name", "endpointslice": "__meta_kubernetes_endpointslice_endpoint_node_name"}

violations contains v if {
	some i in lib.index.podSelectorOnlySources
	lib.daemonset
	x := lib.sources[i]
	s := x.source
	msg := sprintf("role=%s relies on a pod spec.nodeName selector, which does not filter endpoints: every agent still discovers every endpoint and %s collects them once per node; keep by %s in a discovery.relabel instead", [s.role, x.collector, object.get(label, s.role, "the endpoint's node name")])
	v := object.union(x.at, {"msg": msg})
}
