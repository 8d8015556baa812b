package policy

import (
	"fmt"
	"slices"

	"github.com/modeguard/modeguard/riverconfig"
)

func init() {
	registerNative("modeguard.rules.node_name_source", nodeNameSource)
}

// nodeNameSource is MG002 (rules/node-name-source.rego): node-name
// expressions that do not yield the node's name in a DaemonSet.
func nodeNameSource(n *nativeInput) []Violation {
	if !n.daemonset() {
		return nil
	}
	out := nodeNameClusteredFilters(n)
	out = append(out, nodeNamePodHostnames(n)...)
	return append(out, nodeNameMissingEnv(n)...)
}

// nodeNameClusteredFilters mirrors the first violations body: a
// loki.source.podlogs whose clustering is effective and whose node_filter
// name does not arrive is only recorded (audit).
func nodeNameClusteredFilters(n *nativeInput) []Violation {
	var out []Violation
	for _, r := range n.d.ComponentsByName["loki.source.podlogs"] {
		f := n.file(r.File)
		if f == nil || r.Index < 0 || r.Index >= len(f.Components) {
			continue
		}
		c := &f.Components[r.Index]
		// clustered_filter(f, c): podlogs_clustered(f, c.name, c.id).
		if c.Name != "loki.source.podlogs" || !n.d.ClusteredSources[f.File][c.ID] {
			continue
		}
		nn := nodeNameFilterName(c)
		if nn == nil || nodeNameArrives(nn, n.w) {
			continue
		}
		v := n.at(f, c.ID, fmt.Sprintf("node_filter on %s does not keep this node's pods (%s), so clustering shares out the pods of the whole cluster; were the node name to arrive, clustering would drop most of them: remove node_filter", nn.Expr, nodeNameGap(nn, n.w)))
		v.Line, v.Column = nn.Range.Start.Line, nn.Range.Start.Column
		v.Action = ActionAudit
		out = append(out, v)
	}
	return out
}

// nodeNameFilterName is filter_name(c): the component's implicit node
// name, else the nodeName of a node_filter block's node_name (nil when
// there is none).
func nodeNameFilterName(c *riverconfig.Component) *riverconfig.NodeName {
	if c.NodeName != nil {
		return c.NodeName
	}
	for _, b := range c.Blocks {
		if b.Name != "node_filter" {
			continue
		}
		if a, ok := b.Attributes["node_name"]; ok && a.NodeName != nil {
			return a.NodeName
		}
	}
	return nil
}

// nodeNamePodHostnames mirrors the second violations body: a bare
// constants.hostname without hostNetwork is the pod's name.
func nodeNamePodHostnames(n *nativeInput) []Violation {
	if n.w != nil && n.w.HostNetwork {
		return nil // not lib.workload.hostNetwork
	}
	var out []Violation
	for _, u := range n.d.NodeNames {
		nn := u.NodeName
		f := n.file(u.File)
		if nn == nil || nn.Kind != "constants.hostname" || f == nil {
			continue
		}
		id := u.Component
		v := n.at(f, id, fmt.Sprintf("node name %s is the pod's name, not the node's (no hostNetwork): %s; read %s(%q) set from fieldRef spec.nodeName", nn.Expr, nodeNameMatchesNothing(n, f, id), f.EnvFunc, n.d.NodeEnv))
		v.Line, v.Column = nn.Range.Start.Line, nn.Range.Start.Column
		v.Fix = &FixRequest{Name: "node-name-expression", Params: fixParams(
			"file", f.File, "component", id, "envFunc", f.EnvFunc, "var", n.d.NodeEnv)}
		out = append(out, v)
	}
	return out
}

// nodeNameMatchesNothing is matches_nothing(f, id).
func nodeNameMatchesNothing(n *nativeInput, f *riverconfig.Facts, id string) string {
	if c := n.component(f, id); c != nil && c.Name == "loki.source.podlogs" {
		return "node_filter matches no pod"
	}
	return "the selector matches nothing"
}

// nodeNamePlace is an element of env_places: [file, component, line,
// column].
type nodeNamePlace struct {
	file, component string
	line, column    int
}

// less orders places as Rego compares the arrays (element by element).
func (p nodeNamePlace) less(q nodeNamePlace) bool {
	switch {
	case p.file != q.file:
		return p.file < q.file
	case p.component != q.component:
		return p.component < q.component
	case p.line != q.line:
		return p.line < q.line
	}
	return p.column < q.column
}

// nodeNameEnvReads is env_reads: each env var a node-name expression
// reads, with the least place reading it (min(env_places[var])).
func nodeNameEnvReads(n *nativeInput) map[string]nodeNamePlace {
	reads := map[string]nodeNamePlace{}
	for _, u := range n.d.NodeNames {
		f := n.file(u.File)
		if u.NodeName == nil || f == nil {
			continue
		}
		p := nodeNamePlace{f.File, u.Component, u.NodeName.Range.Start.Line, u.NodeName.Range.Start.Column}
		for _, v := range u.NodeName.EnvVars {
			if q, ok := reads[v]; !ok || p.less(q) {
				reads[v] = p
			}
		}
	}
	return reads
}

// nodeNameMissingEnv mirrors the third violations body: an env var a
// node-name expression reads that the agent container does not set from
// fieldRef spec.nodeName.
func nodeNameMissingEnv(n *nativeInput) []Violation {
	if !n.hasWorkload() {
		return nil
	}
	var out []Violation
	for v, p := range nodeNameEnvReads(n) {
		if slices.Contains(n.w.NodeNameEnv, v) {
			continue
		}
		msg := fmt.Sprintf("%s reads %s, but the agent container does not set %s from fieldRef spec.nodeName%s%s",
			nodeNameReader(n, p.file, p.component), v, v, nodeNameHow(n, v), nodeNameEffect(n, p.file, p.component))
		out = append(out, Violation{Message: msg, Component: p.component, File: p.file, Line: p.line, Column: p.column,
			Target: TargetWorkload, Fix: &FixRequest{Name: "node-name-env", Params: fixParams("var", v)}})
	}
	return out
}

// nodeNamePodlogs is podlogs(file, id): some file of that name has a
// loki.source.podlogs of that id.
func nodeNamePodlogs(n *nativeInput, file, id string) bool {
	for _, f := range n.files {
		if f == nil || f.File != file {
			continue
		}
		if c := n.component(f, id); c != nil && c.Name == "loki.source.podlogs" {
			return true
		}
	}
	return false
}

// nodeNameReader is reader(file, id).
func nodeNameReader(n *nativeInput, file, id string) string {
	if nodeNamePodlogs(n, file, id) {
		return "the node_filter of " + id
	}
	return id
}

// nodeNameEffect is effect(file, id).
func nodeNameEffect(n *nativeInput, file, id string) string {
	if nodeNamePodlogs(n, file, id) {
		return ": node_filter then does not keep this node's pods (with no name at all the agent drops the filter, and every pod tails the pods of the whole cluster)"
	}
	return ""
}

// nodeNameHow is how(var): where the container's var comes from. A
// literal with an empty value has no "value" in the input, so the first
// branch fails and the second one speaks.
func nodeNameHow(n *nativeInput, v string) string {
	if e, ok := n.w.Env[v]; ok {
		if e.Source == "literal" && e.Value != "" {
			return fmt.Sprintf(" (it is the literal %q)", e.Value)
		}
		return fmt.Sprintf(" (it comes from %s)", e.Source)
	}
	switch {
	case len(n.w.EnvFrom) > 0:
		return "; envFrom cannot carry a fieldRef"
	case v == "HOSTNAME":
		return fmt.Sprintf("; unset, %s is the pod name", v)
	}
	return "; it is unset"
}
