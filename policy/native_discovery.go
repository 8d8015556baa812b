package policy

import "fmt"

func init() {
	registerNative("modeguard.rules.daemonset_node_local_discovery", daemonsetNodeLocalDiscovery)
}

// nodeSelectorPrefix is MG001's prefix: the field selector of each role.
var nodeSelectorPrefix = map[string]string{"pod": "spec.nodeName=", "node": "metadata.name="}

// daemonsetNodeLocalDiscovery is MG001 (rules/daemonset-node-local-discovery.rego).
func daemonsetNodeLocalDiscovery(n *nativeInput) []Violation {
	if !n.daemonset() {
		return nil
	}
	var out []Violation
	for i := range n.d.Sources {
		x := &n.d.Sources[i]
		role := x.Source.Role
		p, ok := nodeSelectorPrefix[role]
		if !ok || x.Source.Kind != "discovery.kubernetes" || x.Source.Scope != "cluster-wide" || x.FeedsClustered {
			continue
		}
		v := atLocation(x.At, fmt.Sprintf("role=%s discovery reaches %s without clustering and is not limited to the agent's node: every DaemonSet pod collects every %s's targets; add a %s field selector", role, x.Collector, role, p))
		v.Fix = &FixRequest{Name: "node-selector", Params: fixParams(
			"file", x.At.File, "component", x.At.Component, "role", role, "envFunc", x.EnvFunc, "var", n.d.NodeEnv)}
		out = append(out, v)
	}
	return out
}
