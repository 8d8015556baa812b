package policy

import (
	"fmt"
	"strings"

	"github.com/modeguard/modeguard/riverconfig"
)

func init() {
	registerNative("modeguard.rules.clustered_node_local_collection", clusteredNodeLocalCollection)
}

// clusteredNodeLocalCollection is MG005
// (rules/clustered-node-local-collection.rego): every collector whose
// clustering block says enabled (lib.index.clusteredCollectors) and that has
// node-local sources.
func clusteredNodeLocalCollection(n *nativeInput) []Violation {
	var out []Violation
	for _, i := range n.d.Index.ClusteredCollectors {
		f, col := n.collector(i)
		if col == nil {
			continue
		}
		local := n.clusteredLocalSources(col)
		if len(local) == 0 {
			continue
		}
		v := n.at(f, col.Component, n.clusteredMessage(col, strings.Join(local, ", ")))
		if n.clusteredAudit(col) {
			v.Action = ActionAudit
		}
		out = append(out, v)
	}
	return out
}

// clusteredLocalSources is local_sources(col): "id (reason)" of each source
// that lib.source judges node-local or a host exporter, without a constant
// identity, and not a textfile-only unix exporter.
func (n *nativeInput) clusteredLocalSources(col *riverconfig.Collector) []string {
	var local []string
	for si := range col.Sources {
		s := &col.Sources[si]
		scope, reason := judgedScope(s, n.w)
		if scope != riverconfig.ScopeNodeLocal && scope != riverconfig.ScopeHostExporter || s.ConstantIdentity || n.textfileOnly(s) {
			continue
		}
		local = append(local, fmt.Sprintf("%s (%s)", s.Component, reason))
	}
	return local
}

// inert is lib.inert(col): the block says enabled, the flags are known and
// the process does not run clustered.
func (n *nativeInput) inert(col *riverconfig.Collector) bool {
	return col.Clustered && n.flagsKnown() && !n.d.ProcessClustered
}

// clusteredMessage mirrors message(col, local)'s else chain.
func (n *nativeInput) clusteredMessage(col *riverconfig.Collector, local string) string {
	switch {
	case n.d.ProcessClustered:
		return fmt.Sprintf("clustering on node-local data: %s; each peer only sees its own node, so clustering drops most of it; remove the clustering block", local)
	case n.inert(col):
		return fmt.Sprintf("clustering block on node-local data (%s) is inert (the agent runs without --cluster.enabled=true and a peer source), but would drop most of it if clustering were turned on", local)
	}
	return fmt.Sprintf("clustering block on node-local data (%s): if the agent runs with --cluster.enabled=true, most of it is dropped; remove the clustering block", local)
}

// clusteredAudit mirrors action(col): audit when the block is inert or the
// flags are not known, else the rule's own action.
func (n *nativeInput) clusteredAudit(col *riverconfig.Collector) bool {
	return n.inert(col) || !n.flagsKnown()
}
