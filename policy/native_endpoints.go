package policy

import "fmt"

func init() {
	registerNative("modeguard.rules.endpoints_pod_selector", endpointsPodSelector)
}

// endpointsPodSelectorLabel is MG003's label: the node-name meta label to
// keep by, for each endpoints role.
var endpointsPodSelectorLabel = map[string]string{
	"endpoints":     "__meta_kubernetes_endpoint_node_name",
	"endpoint":      "__meta_kubernetes_endpoint_node_name",
	"endpointslice": "__meta_kubernetes_endpointslice_endpoint_node_name",
}

// endpointsPodSelector is MG003 (rules/endpoints-pod-selector.rego): in a
// DaemonSet, a source relying on a pod spec.nodeName selector, which does
// not filter endpoints.
func endpointsPodSelector(n *nativeInput) []Violation {
	if !n.daemonset() {
		return nil
	}
	var out []Violation
	for _, i := range n.d.Index.PodSelectorOnlySources {
		if i < 0 || i >= len(n.d.Sources) {
			continue
		}
		x := &n.d.Sources[i]
		s := x.Source
		// object.get(label, s.role, "the endpoint's node name").
		label, ok := endpointsPodSelectorLabel[s.Role]
		if !ok {
			label = "the endpoint's node name"
		}
		out = append(out, atLocation(x.At, fmt.Sprintf("role=%s relies on a pod spec.nodeName selector, which does not filter endpoints: every agent still discovers every endpoint and %s collects them once per node; keep by %s in a discovery.relabel instead", s.Role, x.Collector, label)))
	}
	return out
}
