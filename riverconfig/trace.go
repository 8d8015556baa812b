package riverconfig

import (
	"fmt"
	"slices"
	"strings"

	"github.com/grafana/river/ast"
)

// Limits that keep tracing bounded on adversarial configs: diamonds of
// relabels multiply paths, and long chains make each path long. A step costs
// one unit plus the length of the path it records.
const (
	maxTraceSteps = 100000  // per collector
	maxTotalSteps = 1000000 // per file
	maxSources    = 512     // per collector
)

// traceCollectors fills Facts.Collectors.
func (p *parser) traceCollectors() {
	touched := map[*comp]bool{}
	for _, c := range p.comps {
		k, _ := lookup(c.c.Name)
		if !k.collector {
			continue
		}
		col := Collector{
			Component:  c.c.ID,
			Class:      k.class,
			Clustered:  c.c.Clustering != nil && c.c.Clustering.Capable && c.c.Clustering.Enabled,
			ReadsFiles: k.files != "",
			Sources:    []Source{},
			Paths:      []string{},
		}
		switch {
		case k.class == ClassPush:
			// Push receivers get what is sent to them: mode-neutral.
		case k.targets == "" && k.scope != "":
			// It finds its own data: one source, itself.
			s := Source{
				Component: c.c.ID,
				Kind:      c.c.Name,
				Class:     k.class,
				Scope:     k.scope,
				Reason:    k.why(c.c.Name),
				Via:       []string{},
			}
			if k.scopeOf != nil {
				k.scopeOf(c, nil, &s)
			}
			if s.Scope == ScopeUnknown && s.NodeName != nil {
				p.unverifiable(Unverifiable{Component: c.c.ID, Kind: "unknown-reference", Reason: s.Reason, Range: s.NodeName.Range})
			}
			col.Sources = append(col.Sources, s)
		case k.targets != "":
			if e := c.attrs[k.targets]; e != nil {
				t := &tracer{p: p, coll: c, out: &col, seen: map[string]bool{}, touched: touched,
					files: k.files == fromPath}
				t.walk(e, c.scope, false, false)
			}
		}
		if k.files != "" && k.files != fromPath {
			listedPaths(c.attrs[k.files], &col)
		}
		p.facts.Collectors = append(p.facts.Collectors, col)
	}
	p.touched = touched
}

// listedPaths adds the literal strings of a list of globs (an element
// computed at run time cannot be read) to the collector's paths.
func listedPaths(e ast.Expr, col *Collector) {
	for {
		pe, ok := e.(*ast.ParenExpr)
		if !ok {
			break
		}
		e = pe.Inner
	}
	a, ok := e.(*ast.ArrayExpr)
	if !ok {
		return
	}
	for _, el := range a.Elements {
		if v, ok := stringLiteral(el); ok && !slices.Contains(col.Paths, v) {
			col.Paths = append(col.Paths, v)
		}
	}
}

// tracer follows one collector's targets back to their sources.
type tracer struct {
	p       *parser
	coll    *comp
	out     *Collector
	seen    map[string]bool
	touched map[*comp]bool
	files   bool // collect __path__ values
	steps   int
	full    bool
	stack   []*comp  // components passed through, collector side first
	via     []string // their ids, with foreach.<label> entries
}

// walk follows every reference in e; a target object written in place is a
// static source (pathTargets: reached through local.file_match path_targets).
func (t *tracer) walk(e ast.Expr, sc *scope, pathTargets, inObject bool) {
	if t.full {
		return
	}
	switch n := e.(type) {
	case *ast.IdentifierExpr, *ast.AccessExpr:
		if path, ok := chain(e); ok {
			t.ref(path, e, sc, pathTargets)
			return
		}
		if a, ok := n.(*ast.AccessExpr); ok {
			t.walk(a.Value, sc, pathTargets, inObject)
		}
	case *ast.CallExpr:
		if _, ok := chain(n.Value); !ok {
			t.walk(n.Value, sc, pathTargets, inObject)
		}
		for _, a := range n.Args {
			t.walk(a, sc, pathTargets, inObject)
		}
	case *ast.IndexExpr:
		t.walk(n.Value, sc, pathTargets, inObject)
		t.walk(n.Index, sc, pathTargets, inObject)
	case *ast.ArrayExpr:
		for _, el := range n.Elements {
			t.walk(el, sc, pathTargets, inObject)
		}
	case *ast.ObjectExpr:
		if !inObject {
			t.static(n, pathTargets)
		}
		for _, f := range n.Fields {
			t.walk(f.Value, sc, pathTargets, true)
		}
	case *ast.UnaryExpr:
		t.walk(n.Value, sc, pathTargets, inObject)
	case *ast.BinaryExpr:
		t.walk(n.Left, sc, pathTargets, inObject)
		t.walk(n.Right, sc, pathTargets, inObject)
	case *ast.ParenExpr:
		t.walk(n.Inner, sc, pathTargets, inObject)
	}
}

func (t *tracer) step(cost int) bool {
	t.steps += cost
	t.p.steps += cost
	if t.steps > maxTraceSteps || t.p.steps > maxTotalSteps || len(t.out.Sources) >= maxSources {
		if !t.full {
			t.full = true
			t.out.Sources = append(t.out.Sources, Source{
				Component: t.coll.c.ID,
				Kind:      t.coll.c.Name,
				Scope:     ScopeUnknown,
				Reason:    "too many reference paths to trace",
				Via:       []string{},
			})
			t.p.unverifiable(Unverifiable{
				Component: t.coll.c.ID,
				Kind:      "unknown-reference",
				Reason:    "too many reference paths to trace",
				Range:     t.coll.c.Range,
			})
		}
		return false
	}
	return true
}

func (t *tracer) ref(path []string, e ast.Expr, sc *scope, pathTargets bool) {
	if !t.step(1) {
		return
	}
	r := t.p.resolve(path, sc)
	text := strings.Join(path, ".")
	switch r.kind {
	case refComponent:
		t.component(r.comp, e, pathTargets)
	case refForeachVar:
		fe := r.foreach
		name := "foreach." + fe.label
		if slices.Contains(t.via, name) || fe.collection == nil {
			return
		}
		t.via = append(t.via, name)
		t.walk(fe.collection, fe.scope, pathTargets, false)
		t.via = t.via[:len(t.via)-1]
	case refArgument:
		reason := fmt.Sprintf("%s is an argument of declare %q: each instance decides its targets", text, sc.declare)
		if sc.declare == "" {
			reason = text + " is a module argument: whoever loads this module decides its targets"
		}
		t.unknown(text, "argument", reason, e)
	case refImport:
		t.unknown(text, "import", fmt.Sprintf("%s comes from module %s: its targets cannot be traced", text, sc.importOf(path[0])), e)
	case refUnknown:
		t.unknown(text, "unknown", fmt.Sprintf("%s does not name a component", text), e)
	}
}

// component follows a referenced component: through discovery.relabel and
// local.file_match, or to a source.
func (t *tracer) component(c *comp, e ast.Expr, pathTargets bool) {
	if c == t.coll || slices.Contains(t.stack, c) {
		return // a cycle: the agent rejects it anyway
	}
	t.touched[c] = true
	switch c.c.Name {
	case "discovery.relabel", "local.file_match":
		attr := "targets"
		if c.c.Name == "local.file_match" {
			attr, pathTargets = "path_targets", true
		}
		in := c.attrs[attr]
		if in == nil {
			return
		}
		t.stack = append(t.stack, c)
		t.via = append(t.via, c.c.ID)
		t.walk(in, c.scope, pathTargets, false)
		t.stack = t.stack[:len(t.stack)-1]
		t.via = t.via[:len(t.via)-1]
	default:
		// An unknown source is reported where the reference is written.
		t.add(t.p.sourceOf(c, t.relabels()), t.p.nodeRange(e), c)
	}
}

// relabels returns the discovery.relabel components on the current path.
func (t *tracer) relabels() []*comp {
	var out []*comp
	for _, c := range t.stack {
		if c.c.Name == "discovery.relabel" {
			out = append(out, c)
		}
	}
	return out
}

func (t *tracer) static(o *ast.ObjectExpr, pathTargets bool) {
	if !t.step(1) {
		return
	}
	s := Source{Component: "static", Kind: "static", Scope: ScopeClusterWide, Reason: "static target list"}
	if pathTargets {
		s.Scope, s.Reason = ScopeNodeLocal, "static file paths are read on the node the agent runs on"
	}
	if t.files {
		for _, f := range o.Fields {
			if f.Name != nil && f.Name.Name == "__path__" {
				if v, ok := stringLiteral(f.Value); ok {
					t.path(v)
				}
			}
		}
	}
	t.add(s, t.p.nodeRange(o), nil)
}

func (t *tracer) unknown(component, kind, reason string, e ast.Expr) {
	t.add(Source{Component: component, Kind: kind, Scope: ScopeUnknown, Reason: reason}, t.p.nodeRange(e), nil)
}

// add completes a source (from component src, if any) with the path it was
// reached by and records it once.
func (t *tracer) add(s Source, where Range, src *comp) {
	if !t.step(len(t.via)) {
		return
	}
	s.Via = make([]string, 0, len(t.via))
	for i := len(t.via) - 1; i >= 0; i-- {
		s.Via = append(s.Via, t.via[i])
	}
	relabels := t.relabels()
	for _, r := range relabels {
		if constantInstance(r) {
			s.ConstantIdentity = true
		}
		if t.files {
			for _, b := range r.c.Blocks {
				if b.Name == "rule" && literalString(b.Attributes["target_label"]) == "__path__" {
					if v := literalString(b.Attributes["replacement"]); v != "" {
						t.path(v)
					}
				}
			}
		}
	}
	key := fmt.Sprintf("%s\x00%s\x00%s\x00%s", s.Component, s.Kind, s.Reason, strings.Join(s.Via, ","))
	if t.seen[key] {
		return
	}
	t.seen[key] = true
	t.out.Sources = append(t.out.Sources, s)
	if s.Scope == ScopeUnknown {
		kind := "unknown-reference"
		switch s.Kind {
		case "argument":
			kind = "declare"
			if t.coll.scope.declare == "" {
				kind = "module"
			}
		case "import":
			kind = "import"
		}
		if src != nil {
			switch {
			case strings.HasPrefix(src.c.Name, "module."):
				kind = "module"
			case src.instance != "":
				kind = src.instance
			}
		}
		t.p.unverifiable(Unverifiable{
			Component: t.coll.c.ID,
			Kind:      kind,
			Reason:    s.Reason,
			Range:     where,
		})
	}
}

func (t *tracer) path(v string) {
	if !slices.Contains(t.out.Paths, v) {
		t.out.Paths = append(t.out.Paths, v)
	}
}

func literalString(v Value) string {
	s, _ := v.Value.(string)
	return s
}

// constantInstance reports whether a discovery.relabel replaces the
// instance label with a constant.
func constantInstance(r *comp) bool {
	for _, b := range r.c.Blocks {
		if b.Name != "rule" || literalString(b.Attributes["target_label"]) != "instance" {
			continue
		}
		action, ok := b.Attributes["action"]
		if ok && !strings.EqualFold(literalString(action), "replace") {
			continue
		}
		rep, ok := b.Attributes["replacement"]
		if !ok || !rep.Literal {
			continue
		}
		if s, isStr := rep.Value.(string); isStr && s != "" && !strings.Contains(s, "$") {
			return true
		}
	}
	return false
}

// sourceOf classifies an ultimate source; relabels are the discovery.relabel
// components between it and the collector.
func (p *parser) sourceOf(c *comp, relabels []*comp) Source {
	name := c.c.Name
	s := Source{Component: c.c.ID, Kind: name}
	k, listed := lookup(name)
	switch {
	case listed && k.scopeOf != nil:
		s.Scope, s.Reason = k.scope, k.why(name)
		k.scopeOf(c, relabels, &s)
	case listed && k.scope != "":
		s.Scope, s.Reason = k.scope, k.why(name)
	case strings.HasPrefix(name, "module."):
		s.Scope, s.Reason = ScopeUnknown, c.c.ID+" exports what a module loaded at run time produces: its targets cannot be traced"
		return s
	case c.instance == "declare":
		s.Scope, s.Reason = ScopeUnknown, fmt.Sprintf("%s is an instance of %s: its exports cannot be traced", c.c.ID, c.origin)
		return s
	case c.instance == "import":
		s.Scope, s.Reason = ScopeUnknown, fmt.Sprintf("%s is an instance of a module from %s: its targets cannot be traced", c.c.ID, c.origin)
		return s
	case k.scope != "":
		s.Scope, s.Reason = k.scope, k.why(name)
	default:
		s.Scope, s.Reason = ScopeUnknown, name+" is not a known target source"
	}
	s.Class = k.class
	return s
}

// dockerScope: discovery.docker is node-local when it reads the local
// Docker daemon.
func dockerScope(c *comp, _ []*comp, s *Source) {
	if h := literalString(c.c.Attributes["host"]); strings.HasPrefix(h, "unix://") {
		s.Scope, s.Reason = ScopeNodeLocal, "discovery.docker reads the local Docker daemon"
	} else {
		s.Scope, s.Reason = ScopeClusterWide, "discovery.docker reads a Docker daemon that is not known to be local"
	}
}

// kubernetesScope decides the scope of a discovery.kubernetes source (see
// the package doc).
func kubernetesScope(c *comp, relabels []*comp, s *Source) {
	roleVal, ok := c.c.Attributes["role"]
	role, isStr := roleVal.Value.(string)
	if !ok || !roleVal.Literal || !isStr {
		s.Scope = ScopeUnknown
		s.Reason = "role is not a literal"
		if ok {
			s.Reason = "role is not a literal: " + roleVal.Expr
		}
		return
	}
	s.Role = role
	norm, note := role, ""
	if role == "endpoint" {
		// No Prometheus role, but a likely misspelling of endpoints: read
		// it as meant so the endpoints rules still apply, and say so.
		norm, note = "endpoints", " (not a valid role; read as endpoints)"
	}
	label := "role=" + role + note
	switch norm {
	case "service", "ingress":
		s.Scope, s.Reason = ScopeClusterWide, label+" is cluster-wide"
		return
	case "pod", "node", "endpoints", "endpointslice":
	default:
		s.Scope, s.Reason = ScopeUnknown, label+" is not a discovery.kubernetes role"
		return
	}

	var sel *NodeName
	if norm == "pod" || norm == "node" {
		prefix := prefixPodNode
		if norm == "node" {
			prefix = prefixNode
		}
		sel = selector(c, norm, prefix)
		if isNodeName(sel) {
			s.Scope, s.LocalBy, s.NodeName = ScopeNodeLocal, "field-selector", sel
			s.Reason = fmt.Sprintf("%s with %s field selector", label, strings.TrimSuffix(prefix, "="))
			return
		}
	}
	if l, n := nodeKeep(relabels, nodeNameLabels[norm]); n != nil {
		s.Scope, s.LocalBy, s.NodeName = ScopeNodeLocal, "relabel-keep", n
		s.Reason = "kept by relabel on " + l
		return
	}
	switch norm {
	case "pod", "node":
		if sel != nil && sel.Kind == NodeNameLiteral {
			s.Scope = ScopeClusterWide
			s.Reason = fmt.Sprintf("%s with a field selector on the fixed node %q: every agent sees the same targets", label, sel.Expr)
			return
		}
		if sel != nil {
			s.Scope, s.NodeName = ScopeUnknown, sel
			s.Reason = fmt.Sprintf("%s with a field selector on %s, which is not a recognised node name", label, sel.Expr)
			return
		}
		s.Scope = ScopeClusterWide
		s.Reason = fmt.Sprintf("%s without a field selector or relabel keep on the node name", label)
	default:
		s.Scope = ScopeClusterWide
		if n := selector(c, "pod", prefixPodNode); n != nil {
			s.PodSelectorOnly, s.NodeName = true, n
			s.Reason = label + ": a pod selector does not filter endpoints"
			return
		}
		s.Reason = fmt.Sprintf("%s without a relabel keep on %s", label, nodeNameLabels[norm][0])
	}
}

// selector returns the node name of the first selectors block for role
// whose field starts with prefix.
func selector(c *comp, role, prefix string) *NodeName {
	for _, b := range c.c.Blocks {
		if b.Name != "selectors" || literalString(b.Attributes["role"]) != role {
			continue
		}
		if f, ok := b.Attributes["field"]; ok && f.NodeName != nil && f.NodeName.Prefix == prefix {
			return f.NodeName
		}
	}
	return nil
}

// nodeKeep finds a keep rule on one of labels whose regex is a node-name
// expression, in any of the relabels.
func nodeKeep(relabels []*comp, labels []string) (string, *NodeName) {
	for _, r := range relabels {
		for _, b := range r.c.Blocks {
			if b.Name != "rule" || !strings.EqualFold(literalString(b.Attributes["action"]), "keep") {
				continue
			}
			l := singleLabel(b.Attributes["source_labels"])
			if !slices.Contains(labels, l) {
				continue
			}
			if n := b.Attributes["regex"].NodeName; isNodeName(n) {
				return l, n
			}
		}
	}
	return "", nil
}

// markUnused flags discovery components whose targets reach neither a
// collector nor anything the engine cannot see through.
func (p *parser) markUnused() {
	referrers := map[*comp][]*comp{}
	for _, c := range p.comps {
		for _, d := range c.refs {
			referrers[d] = append(referrers[d], c)
		}
	}
	memo := map[*comp]int{} // 0 unknown, 1 visiting, 2 used, 3 unused
	var used func(c *comp) bool
	used = func(c *comp) bool {
		switch memo[c] {
		case 1, 3:
			return false
		case 2:
			return true
		}
		memo[c] = 1
		res := p.touched[c] || p.external[c]
		for _, r := range referrers[c] {
			if res {
				break
			}
			passThrough := strings.HasPrefix(r.c.Name, "discovery.") || r.c.Name == "local.file_match"
			res = !passThrough || used(r)
		}
		memo[c] = 3
		if res {
			memo[c] = 2
		}
		return res
	}
	for _, c := range p.comps {
		if strings.HasPrefix(c.c.Name, "discovery.") {
			c.c.Unused = !used(c)
		}
	}
}
