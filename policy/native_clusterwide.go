package policy

import (
	"fmt"
	"strings"
)

func init() {
	registerNative("modeguard.rules.cluster_wide_collection_in_daemonset", clusterWideCollectionInDaemonset)
}

// clusterWideCollectionInDaemonset is MG004
// (rules/cluster-wide-collection-in-daemonset.rego): in a DaemonSet, every
// gathering collector whose clustering block is not enabled and that has a
// cluster-wide source (col.wide[0]).
func clusterWideCollectionInDaemonset(n *nativeInput) []Violation {
	if !n.daemonset() {
		return nil
	}
	var out []Violation
	for i := range n.d.Collectors {
		col := &n.d.Collectors[i]
		if !col.Gathering || col.Clustered || len(col.Wide) == 0 {
			continue
		}
		out = append(out, atLocation(col.At, fmt.Sprintf("collects cluster-wide data without clustering in a DaemonSet, once per node: %s; add clustering { enabled = true } and run with --cluster.enabled=true, or collect it from a StatefulSet", strings.Join(col.Wide, ", "))))
	}
	return out
}
