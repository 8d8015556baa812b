package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/modeguard/modeguard/riverconfig"
)

func init() {
	registerNative("modeguard.rules.clustering_not_effective", clusteringNotEffective)
}

// clusteringNotEffective is MG007 (rules/clustering-not-effective.rego).
func clusteringNotEffective(n *nativeInput) []Violation {
	// Both violations need a clustering block (some _ in clustered_any)
	// and known flags (lib.flags_known).
	needing, clusteredAny := n.clusteringKeys()
	if len(clusteredAny) == 0 || !n.flagsKnown() {
		return nil
	}
	missing := n.clusteringMissing()
	if len(missing) == 0 {
		return nil
	}
	// needing is part of clustered_any: needing | clustered_any is
	// clustered_any in both violations.
	first := strings.Split(slices.Min(clusteredAny), "|")
	f := n.clusteringFile(first[0])
	if f == nil {
		return nil
	}
	if n.clusteringNeedsDistribution(len(needing) > 0) {
		msg := fmt.Sprintf("clustering blocks (%s) do nothing: the agent container runs without %s, so every %s pod collects everything",
			clusteringNames(clusteredAny), strings.Join(missing, " and "), n.in.Mode)
		return []Violation{n.clusteringRemedy(n.at(f, first[1], msg))}
	}
	msg := fmt.Sprintf("clustering blocks (%s) are inert: the agent runs without %s; harmless here, as nothing needs distributing",
		clusteringNames(clusteredAny), strings.Join(missing, " and "))
	v := n.at(f, first[1], msg)
	v.Action = ActionAudit
	return []Violation{v}
}

// clusteringKeys are the rule's needing and clustered_any: the clustered
// collectors (lib.index.clusteredCollectors) as "file|component", those
// with a cluster-wide source (col.wide[0]) in needing. Each is a set: a
// key appears once.
func (n *nativeInput) clusteringKeys() (needing, clusteredAny []string) {
	for _, i := range n.d.Index.ClusteredCollectors {
		col := &n.d.Collectors[i]
		key := fmt.Sprintf("%s|%s", n.files[col.File].File, col.Component)
		if !slices.Contains(clusteredAny, key) {
			clusteredAny = append(clusteredAny, key)
		}
		if len(col.Wide) > 0 && !slices.Contains(needing, key) {
			needing = append(needing, key)
		}
	}
	return needing, clusteredAny
}

// clusteringNeedsDistribution is needs_distribution: lib.distributed, or a
// DaemonSet with a clustered collector of cluster-wide data.
func (n *nativeInput) clusteringNeedsDistribution(needing bool) bool {
	return n.distributed() || n.daemonset() && needing
}

// clusteringMissing is sort(missing): what the process flags lack for
// clustering to be effective (flags known).
func (n *nativeInput) clusteringMissing() []string {
	var missing []string
	c := n.w.Run.Cluster
	if !c.Enabled {
		missing = append(missing, "--cluster.enabled=true")
	}
	// not lib.peer_source
	if len(c.JoinAddresses) == 0 && c.DiscoverPeers == "" {
		missing = append(missing, "a peer source (--cluster.join-addresses or --cluster.discover-peers)")
	}
	return missing // already sorted: "-" sorts before "a"
}

// clusteringFile is [x | some x in lib.files; x.file == name][0]: the
// first file of that name, nil when there is none.
func (n *nativeInput) clusteringFile(name string) *riverconfig.Facts {
	for _, f := range n.files {
		if f != nil && f.File == name {
			return f
		}
	}
	return nil
}

// clusteringNames is names(set): the components of the keys, sorted,
// joined by ", " (an array comprehension: a component of two files appears
// twice).
func clusteringNames(keys []string) string {
	names := make([]string, 0, len(keys))
	for _, k := range keys {
		names = append(names, strings.Split(k, "|")[1])
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// clusteringRemedy is object.union(v, remedy): an Alloy object's fix sets
// the flags through its chart (joinAddresses <fullname>-cluster), a
// StatefulSet's joins its governing Service, anything else is denied.
func (n *nativeInput) clusteringRemedy(v Violation) Violation {
	v.Target = TargetWorkload
	switch {
	case n.w.Alloy != nil && n.w.Alloy.Fullname != "":
		v.Fix = &FixRequest{Name: "cluster-flags", Params: fixParams("joinAddresses", n.w.Alloy.Fullname+"-cluster")}
	case n.statefulset() && n.w.ServiceName != "":
		v.Fix = &FixRequest{Name: "cluster-flags", Params: fixParams("joinAddresses", n.w.ServiceName)}
	default:
		v.Action = ActionDeny
	}
	return v
}
