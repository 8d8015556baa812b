package policy

import (
	"fmt"
	"strings"

	"github.com/modeguard/modeguard/riverconfig"
)

func init() {
	registerNative("modeguard.rules.replicated_collection_needs_clustering", replicatedCollectionNeedsClustering)
}

// replicatedCollectionNeedsClustering is MG006
// (rules/replicated-collection-needs-clustering.rego): when several replicas
// run the config, every gathering collector without an enabled clustering
// block that has cluster-wide sources (as lib.source judges them).
func replicatedCollectionNeedsClustering(n *nativeInput) []Violation {
	if !n.distributed() {
		return nil
	}
	var out []Violation
	for f, col := range n.collectors() {
		// col.class in lib.gathering_classes; not col.clustered.
		if col.Class != riverconfig.ClassPull && col.Class != riverconfig.ClassSelfDiscovering || col.Clustered {
			continue
		}
		wide := n.replicatedWide(col)
		if len(wide) == 0 {
			continue
		}
		// c := lib.component(f, col.component): no violation without it.
		c := n.component(f, col.Component)
		if c == nil {
			continue
		}
		out = append(out, n.replicatedViolation(f, c, col.Component, wide))
	}
	return out
}

// replicatedWide is the rule's wide: the ids of col's sources whose scope,
// as lib.source judges it, is cluster-wide (repeats kept, an array).
func (n *nativeInput) replicatedWide(col *riverconfig.Collector) []string {
	var wide []string
	for si := range col.Sources {
		s := &col.Sources[si]
		if scope, _ := judgedScope(s, n.w); scope == riverconfig.ScopeClusterWide {
			wide = append(wide, s.Component)
		}
	}
	return wide
}

// replicatedViolation mirrors message(c, wide) and fix(f, c): a
// clustering-capable component gets the clustering-block fix, any other is
// denied.
func (n *nativeInput) replicatedViolation(f *riverconfig.Facts, c *riverconfig.Component, id string, wide []string) Violation {
	list := strings.Join(wide, ", ")
	if c.Clustering != nil && c.Clustering.Capable {
		v := n.at(f, id, fmt.Sprintf("collects cluster-wide data (%s) in every replica of the %s without clustering: each target is collected once per replica; add clustering { enabled = true }", list, n.in.Mode))
		v.Fix = &FixRequest{Name: "clustering-block", Params: fixParams("file", f.File, "component", c.ID)}
		return v
	}
	v := n.at(f, id, fmt.Sprintf("collects cluster-wide data (%s) in every replica of the %s, and %s has no clustering support: run it in a single-replica workload", list, n.in.Mode, c.Name))
	v.Action = ActionDeny
	return v
}
