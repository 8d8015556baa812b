package riverconfig

import "fmt"

// nodeNameVar is the env var loki.source.podlogs reads when its node_filter
// is enabled and node_name is empty (grafana/alloy
// internal/component/loki/source/podlogs/reconciler.go, getNodeFilterName).
// With it empty too, the filter is off.
const nodeNameVar = "NODE_NAME"

// implicitNodeName is the Expr of the node name a node_filter without
// node_name reads: no expression in the config says it.
const implicitNodeName = nodeNameVar + " (read implicitly: node_filter has no node_name)"

// podlogsNodeFilter classifies the node name of a loki.source.podlogs
// node_filter block that says enabled = true: node_name's expression on the
// attribute, or, when node_name is absent or "", the implicit read of
// NODE_NAME on the component. Only the first node_filter block counts (the
// agent accepts one). A filter that is off, or enabled by an expression, is
// left alone: the source stays cluster-wide.
func (p *parser) podlogsNodeFilter(c *comp) {
	for i := range c.c.Blocks {
		b := &c.c.Blocks[i]
		if b.Name != "node_filter" {
			continue
		}
		if on, _ := b.Attributes["enabled"].Value.(bool); !on {
			return
		}
		if v, ok := b.Attributes["node_name"]; ok && !(v.Literal && v.Value == "") {
			v.NodeName = p.nodeExprName(findAttr(c.block.Body, "node_filter", i, "node_name"), "")
			b.Attributes["node_name"] = v
			return
		}
		c.c.NodeName = &NodeName{Kind: NodeNameEnv, Expr: implicitNodeName, EnvVars: []string{nodeNameVar}, Range: b.Range}
		return
	}
}

// nodeFilter returns the node name of a loki.source.podlogs whose
// node_filter is enabled, and whether it is.
func nodeFilter(c *Component) (*NodeName, bool) {
	if c.NodeName != nil {
		return c.NodeName, true
	}
	for _, b := range c.Blocks {
		if b.Name == "node_filter" {
			n := b.Attributes["node_name"].NodeName
			return n, n != nil
		}
	}
	return nil, false
}

// podlogsScope: loki.source.podlogs tails pods across the cluster, unless
// an enabled node_filter names the agent's node. As for a field selector,
// whether the name really reaches the agent is for the rules to judge
// against the workload; a fixed node makes every agent tail the same pods,
// and any other expression cannot be told.
func podlogsScope(c *comp, _ []*comp, s *Source) {
	n, on := nodeFilter(&c.c)
	switch {
	case !on:
	case isNodeName(n):
		s.Scope, s.LocalBy, s.NodeName = ScopeNodeLocal, "node-filter", n
		s.Reason = "node_filter keeps the pods of the node named by " + n.Expr
		if n == c.c.NodeName {
			s.Reason = "node_filter without node_name keeps the pods of the node named by env var " + nodeNameVar
		}
	case n.Kind == NodeNameLiteral:
		s.Scope = ScopeClusterWide
		s.Reason = fmt.Sprintf("node_filter on the fixed node %s: every agent tails the same pods", n.Expr)
	default:
		s.Scope, s.NodeName = ScopeUnknown, n
		s.Reason = fmt.Sprintf("node_filter on %s, which is not a recognised node name", n.Expr)
	}
}
