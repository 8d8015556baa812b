package policy

import (
	"fmt"

	"github.com/modeguard/modeguard/riverconfig"
)

func init() {
	registerNative("modeguard.rules.node_bound_collection_outside_daemonset", nodeBoundCollectionOutsideDaemonset)
}

// nodeBoundPathPrefixes is MG008's node_path_prefixes: the directories
// that hold the node's files.
var nodeBoundPathPrefixes = []string{"/var/log", "/var/lib/docker", "/var/lib/containers", "/var/lib/kubelet", "/proc", "/sys", "/host"}

// nodeBoundCollectionOutsideDaemonset is MG008
// (rules/node-bound-collection-outside-daemonset.rego).
func nodeBoundCollectionOutsideDaemonset(n *nativeInput) []Violation {
	// outside: a StatefulSet or a Deployment.
	if !n.statefulset() && !n.deployment() {
		return nil
	}
	var out []Violation
	for f, col := range n.collectors() {
		out = append(out, n.nodeBoundCollector(f, col)...)
	}
	return out
}

// nodeBoundCollector is the three violations of MG008 for one collector.
func (n *nativeInput) nodeBoundCollector(f *riverconfig.Facts, col *riverconfig.Collector) []Violation {
	var out []Violation
	// A node-bound collector; file readers are judged by their paths.
	if col.Class == riverconfig.ClassNodeBound && !col.ReadsFiles {
		if c := n.component(f, col.Component); c != nil {
			out = append(out, n.at(f, col.Component, fmt.Sprintf("%s only sees the node it runs on: in a %s it misses every other node; run it in a DaemonSet", c.Name, n.in.Mode)))
		}
	}
	// Paths under a node path prefix (one violation per path: the
	// prefixes give it alike).
	for _, p := range col.Paths {
		for _, prefix := range nodeBoundPathPrefixes {
			if pathUnder(p, prefix) {
				out = append(out, n.at(f, col.Component, fmt.Sprintf("reads node files (%s): in a %s it only sees the nodes its replicas run on; run file log collection in a DaemonSet", p, n.in.Mode)))
				break
			}
		}
	}
	// Sources that only see the node.
	for si := range col.Sources {
		s := &col.Sources[si]
		if n.nodeBoundSource(s) {
			out = append(out, n.at(f, col.Component, fmt.Sprintf("collects from %s (%s): in a %s it only sees the nodes its replicas run on; run it in a DaemonSet", s.Component, s.Reason, n.in.Mode)))
		}
	}
	return out
}

// nodeBoundSource is node_bound_source(s): a node-bound source but a host
// exporter with a constant identity (constant_host_exporter) and a
// textfile-only unix exporter.
func (n *nativeInput) nodeBoundSource(s *riverconfig.Source) bool {
	if s.Class != riverconfig.ClassNodeBound {
		return false
	}
	if s.Scope == riverconfig.ScopeHostExporter && s.ConstantIdentity {
		return false
	}
	return !n.textfileOnly(s)
}
