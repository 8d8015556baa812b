package policy

import "fmt"

func init() {
	registerNative("modeguard.rules.whole_cluster_watch", wholeClusterWatch)
}

// wholeClusterWatch is MG015 (rules/whole-cluster-watch.rego): in a
// DaemonSet, pod or node discovery made node-local only by a relabel keep,
// and discovery.kubernetes components whose targets reach nothing.
func wholeClusterWatch(n *nativeInput) []Violation {
	if !n.daemonset() {
		return nil
	}
	return append(watchRelabelKept(n), watchUnusedDiscovery(n)...)
}

// watchRelabelKept is MG015's first violations rule: the sources of
// lib.index.sourcesByLocalBy["relabel-keep"] whose role is pod or node,
// at the source (x.at). The prefix is MG001's selector_prefix.
func watchRelabelKept(n *nativeInput) []Violation {
	var out []Violation
	for _, i := range n.d.Index.SourcesByLocalBy["relabel-keep"] {
		if i < 0 || i >= len(n.d.Sources) {
			continue
		}
		x := &n.d.Sources[i]
		role := x.Source.Role
		p, ok := nodeSelectorPrefix[role]
		if !ok {
			continue
		}
		out = append(out, atLocation(x.At, fmt.Sprintf("role=%s is made node-local only by a relabel keep: every agent pod still watches every %s of the cluster; a %s field selector lets the API server filter", role, role, p)))
	}
	return out
}

// watchUnusedDiscovery is MG015's second violations rule: each
// discovery.kubernetes of lib.index.unusedComponents, as lib.at gives it.
func watchUnusedDiscovery(n *nativeInput) []Violation {
	var out []Violation
	for _, c := range n.d.Index.UnusedComponents["discovery.kubernetes"] {
		f := n.file(c.File)
		if f == nil { // lib.at of a missing or null file is undefined
			continue
		}
		out = append(out, n.at(f, c.ID, "discovers targets that reach no collector, yet every agent pod keeps a watch on the API server for it; remove it"))
	}
	return out
}
