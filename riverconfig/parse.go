package riverconfig

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/grafana/river/ast"
	"github.com/grafana/river/diag"
	riverparser "github.com/grafana/river/parser"
	"github.com/grafana/river/token"
)

// Parse parses a River (.river) or Alloy (.alloy) file and returns its
// facts. It never returns nil and never panics: parse errors are reported in
// Facts.Errors, with whatever facts could be built (none, when the file does
// not parse, since the River parser returns no tree then).
func Parse(filename string, src []byte) (facts *Facts) {
	facts = newFacts(filename)
	defer func() {
		// A bug here must not take an admission request down with it; the
		// fuzz target fails on this message so bugs are still found.
		if r := recover(); r != nil {
			facts = newFacts(filename)
			facts.Flavor, facts.EnvFunc = flavorFromName(filename), "env"
			if facts.Flavor == "alloy" {
				facts.EnvFunc = "sys.env"
			}
			facts.Errors = append(facts.Errors, Diagnostic{File: filename, Message: fmt.Sprintf("%s%v", internalErrorPrefix, r)})
		}
	}()

	p := newParser(filename, src, facts)
	if p.overLimits(checkLimits(filename, src)) {
		p.finishFlavor()
		return facts
	}
	file, err := riverparser.ParseFile(filename, src)
	if err != nil {
		p.parseErrors(err)
		p.finishFlavor()
		return facts
	}
	p.file(file)
	p.finishFlavor()
	facts.NodeNames = nodeNameUses(facts.Components)
	return facts
}

// overLimits reports a config past MaxNesting or MaxErrors in
// Facts.Errors, one past MaxComponents in Facts.Unverifiable, and tells
// whether it was: such a config is not parsed.
func (p *parser) overLimits(l limits) bool {
	diag := func(pos token.Position, msg string) Diagnostic {
		return Diagnostic{File: p.filename, Line: pos.Line, Column: pos.Column, Message: msg}
	}
	switch {
	case l.tooDeep != nil:
		p.facts.Errors = append(p.facts.Errors, *l.tooDeep)
	case l.components > MaxComponents:
		// Not a syntax error: the config may be fine, modeguard just does
		// not check it (unverifiable-config says so, as a warning).
		at := Pos{Offset: l.overComponents.Offset, Line: l.overComponents.Line, Column: l.overComponents.Column}
		p.facts.Unverifiable = append(p.facts.Unverifiable, Unverifiable{
			Kind:   UnverifiableTooLarge,
			Reason: fmt.Sprintf("the file has %d components; modeguard analyses at most %d in one file, so nothing in it was checked", l.components, MaxComponents),
			Range:  Range{Start: at, End: at},
		})
	case l.nErrors > MaxErrors:
		p.facts.Errors = append(p.facts.Errors, l.errors...)
		p.facts.Errors = append(p.facts.Errors, diag(l.overErrors,
			fmt.Sprintf("%d more syntax errors (modeguard reports the first %d)", l.nErrors-MaxErrors, MaxErrors)))
	default:
		return false
	}
	return true
}

// internalErrorPrefix starts the message of the error Parse reports when it
// recovers from a bug.
const internalErrorPrefix = "riverconfig internal error: "

func newFacts(filename string) *Facts {
	return &Facts{
		File:         filename,
		Functions:    []string{},
		Errors:       []Diagnostic{},
		Components:   []Component{},
		Collectors:   []Collector{},
		Unverifiable: []Unverifiable{},
		NodeNames:    []NodeNameUse{},
	}
}

// nodeNameUses lists the node-name expressions of comps (Facts.NodeNames):
// those of their blocks' attributes (by attribute name), then their own.
func nodeNameUses(comps []Component) []NodeNameUse {
	out := []NodeNameUse{}
	for _, c := range comps {
		for _, b := range c.Blocks {
			names := make([]string, 0, len(b.Attributes))
			for n, a := range b.Attributes {
				if a.NodeName != nil {
					names = append(names, n)
				}
			}
			sort.Strings(names)
			for _, n := range names {
				out = append(out, NodeNameUse{Component: c.ID, Name: c.Name, NodeName: b.Attributes[n].NodeName})
			}
		}
		if c.NodeName != nil {
			out = append(out, NodeNameUse{Component: c.ID, Name: c.Name, NodeName: c.NodeName})
		}
	}
	return out
}

// flavorFromName tells the flavor from the file extension.
func flavorFromName(filename string) string {
	switch strings.ToLower(filepath.Ext(filename)) {
	case ".river":
		return "agent"
	case ".alloy":
		return "alloy"
	}
	return ""
}

// parser holds the state of one Parse call.
type parser struct {
	filename string
	src      []byte
	lines    []int // offset of the first byte of each line
	facts    *Facts

	funcs        map[string]bool
	alloyMarker  bool
	agentMarker  bool
	comps        []*comp
	external     map[*comp]bool // referenced from outside any component
	touched      map[*comp]bool // reached by tracing a collector
	steps        int            // tracing steps taken, for the budget
	unverifSeen  map[string]bool
	pendingLoose []looseExpr
}

// comp is a component while it is being built.
type comp struct {
	c        Component
	block    *ast.BlockStmt
	scope    *scope
	attrs    map[string]ast.Expr // the body's attributes
	refs     []*comp             // distinct components referenced
	instance string              // "declare" or "import" for instantiations
	origin   string              // what it instantiates, for reasons
}

// scope is a body in which component ids resolve: the file, a declare body
// or a foreach template.
type scope struct {
	parent   *scope
	isolated bool // a declare body sees no outer components
	ids      map[string]*comp
	idParts  int // the most dotted parts of an id in ids
	declares map[string]bool
	imports  map[string]string // namespace → import block id
	template string
	declare  string // label of the innermost enclosing declare
	foreach  *foreachInfo
}

type foreachInfo struct {
	label      string
	varName    string
	collection ast.Expr
	scope      *scope // where collection is evaluated
}

// looseExpr is an expression outside any component (foreach collection,
// export value, import argument ...): its references keep a discovery used.
type looseExpr struct {
	expr  ast.Expr
	scope *scope
}

func newParser(filename string, src []byte, facts *Facts) *parser {
	p := &parser{
		filename:    filename,
		src:         src,
		facts:       facts,
		funcs:       map[string]bool{},
		external:    map[*comp]bool{},
		unverifSeen: map[string]bool{},
	}
	p.lines = append(p.lines, 0)
	for i, b := range src {
		if b == '\n' {
			p.lines = append(p.lines, i+1)
		}
	}
	return p
}

func (p *parser) parseErrors(err error) {
	var diags diag.Diagnostics
	if !errors.As(err, &diags) {
		p.facts.Errors = append(p.facts.Errors, Diagnostic{File: p.filename, Message: err.Error()})
		return
	}
	for _, d := range diags {
		p.facts.Errors = append(p.facts.Errors, Diagnostic{
			File:    p.filename,
			Line:    d.StartPos.Line,
			Column:  d.StartPos.Column,
			Message: d.Message,
		})
	}
}

func (p *parser) finishFlavor() {
	f := p.facts
	for name := range p.funcs {
		f.Functions = append(f.Functions, name)
	}
	sort.Strings(f.Functions)
	f.Flavor = flavorFromName(p.filename)
	if f.Flavor == "" {
		switch {
		case p.alloyMarker:
			f.Flavor = "alloy"
		case p.agentMarker:
			f.Flavor = "agent"
		}
	}
	f.EnvFunc = "env"
	if p.funcs["sys.env"] || f.Flavor == "alloy" {
		f.EnvFunc = "sys.env"
	}
}

// file builds every fact from a parsed file.
func (p *parser) file(f *ast.File) {
	top := &scope{ids: map[string]*comp{}, declares: map[string]bool{}, imports: map[string]string{}}
	p.scanBody(f.Body, top)
	for _, c := range p.comps {
		p.buildComponent(c)
	}
	for _, le := range p.pendingLoose {
		p.walkExpr(le.expr, func(path []string, _ ast.Expr) {
			if r := p.resolve(path, le.scope); r.comp != nil {
				p.external[r.comp] = true
			}
		})
	}
	p.traceCollectors()
	p.markUnused()
	for _, c := range p.comps {
		p.facts.Components = append(p.facts.Components, c.c)
	}
	sort.SliceStable(p.facts.Unverifiable, func(i, j int) bool {
		return p.facts.Unverifiable[i].Range.Start.Offset < p.facts.Unverifiable[j].Range.Start.Offset
	})
}

// scanBody registers the components of a body and the scopes nested in it.
func (p *parser) scanBody(body ast.Body, sc *scope) {
	// Declares and imports may be used before they are written.
	for _, stmt := range body {
		b, ok := stmt.(*ast.BlockStmt)
		if !ok || b.Label == "" {
			continue
		}
		name := b.GetBlockName()
		switch {
		case name == "declare":
			sc.declares[b.Label] = true
		case strings.HasPrefix(name, "import.") && len(b.Name) == 2:
			sc.imports[b.Label] = name + "." + b.Label
		}
	}
	for _, stmt := range body {
		switch s := stmt.(type) {
		case *ast.AttributeStmt:
			p.loose(s.Value, sc)
		case *ast.BlockStmt:
			p.scanBlock(s, sc)
		}
	}
}

func (p *parser) scanBlock(b *ast.BlockStmt, sc *scope) {
	name := b.GetBlockName()
	switch {
	case name == "declare":
		// declare and import exist in Agent v0.40+ and in Alloy: no flavor.
		child := &scope{
			parent: sc, isolated: true,
			ids: map[string]*comp{}, declares: map[string]bool{}, imports: map[string]string{},
			template: "declare." + b.Label, declare: b.Label,
		}
		p.scanBody(b.Body, child)
	case name == "foreach":
		p.alloyMarker = true
		fe := &foreachInfo{label: b.Label, scope: sc}
		var tmpl *ast.BlockStmt
		for _, stmt := range b.Body {
			switch s := stmt.(type) {
			case *ast.AttributeStmt:
				switch s.Name.Name {
				case "collection":
					fe.collection = s.Value
				case "var":
					if v, ok := literalValue(s.Value); ok {
						fe.varName, _ = v.(string)
					}
				}
				p.loose(s.Value, sc)
			case *ast.BlockStmt:
				if s.GetBlockName() == "template" && tmpl == nil {
					tmpl = s
				} else {
					p.looseBody(s.Body, sc)
				}
			}
		}
		if tmpl != nil {
			child := &scope{
				parent: sc,
				ids:    map[string]*comp{}, declares: map[string]bool{}, imports: map[string]string{},
				template: "foreach." + b.Label, declare: sc.declare, foreach: fe,
			}
			p.scanBody(tmpl.Body, child)
		}
	case strings.HasPrefix(name, "import."):
		p.looseBody(b.Body, sc)
		p.unverifiable(Unverifiable{
			Component: joinID(name, b.Label),
			Kind:      "import",
			Reason:    fmt.Sprintf("%s %q loads modules at run time: what they collect cannot be verified", name, b.Label),
			Range:     p.blockRange(b),
		})
	case name == "remotecfg":
		p.looseBody(b.Body, sc)
		p.unverifiable(Unverifiable{
			Component: "remotecfg",
			Kind:      "remotecfg",
			Reason:    "remotecfg fetches pipelines at run time: what they collect cannot be verified",
			Range:     p.blockRange(b),
		})
	case configBlocks[name]:
		if name == "livedebugging" {
			p.alloyMarker = true
		}
		p.looseBody(b.Body, sc)
	default:
		p.newComp(b, name, sc)
	}
}

func (p *parser) newComp(b *ast.BlockStmt, name string, sc *scope) {
	c := &comp{block: b, scope: sc, attrs: map[string]ast.Expr{}}
	c.c = Component{
		ID:         joinID(name, b.Label),
		Name:       name,
		Label:      b.Label,
		Range:      p.blockRange(b),
		Attributes: map[string]Value{},
		Blocks:     []Block{},
		Refs:       []Ref{},
		Class:      classOf(name),
		Template:   sc.template,
		BodyRange:  p.bodyRange(b),
		Indent:     p.indent(b),
	}
	for _, stmt := range b.Body {
		if a, ok := stmt.(*ast.AttributeStmt); ok {
			c.attrs[a.Name.Name] = a.Value
		}
	}
	if _, dup := sc.ids[c.c.ID]; !dup {
		sc.ids[c.c.ID] = c
		sc.idParts = max(sc.idParts, strings.Count(c.c.ID, ".")+1)
	}
	p.comps = append(p.comps, c)

	switch {
	case strings.HasPrefix(name, "module."):
		p.agentMarker = true
		p.unverifiable(Unverifiable{
			Component: c.c.ID,
			Kind:      "module",
			Reason:    fmt.Sprintf("%s loads a module at run time: what it collects cannot be verified", name),
			Range:     c.c.Range,
		})
	case len(b.Name) == 1 && sc.hasDeclare(name):
		c.instance, c.origin = "declare", fmt.Sprintf("declare %q", name)
		p.unverifiable(Unverifiable{
			Component: c.c.ID,
			Kind:      "declare",
			Reason:    fmt.Sprintf("instance of declare %q: its body is analysed with its arguments unknown", name),
			Range:     c.c.Range,
		})
	case len(b.Name) > 1 && sc.importOf(b.Name[0]) != "":
		imp := sc.importOf(b.Name[0])
		c.instance, c.origin = "import", imp
		p.unverifiable(Unverifiable{
			Component: c.c.ID,
			Kind:      "import",
			Reason:    fmt.Sprintf("instance of %s from %s: what it collects cannot be verified", name, imp),
			Range:     c.c.Range,
		})
	}
}

func joinID(name, label string) string {
	if label == "" {
		return name
	}
	return name + "." + label
}

func (sc *scope) hasDeclare(name string) bool {
	for s := sc; s != nil; s = s.parent {
		if s.declares[name] {
			return true
		}
	}
	return false
}

func (sc *scope) importOf(ns string) string {
	for s := sc; s != nil; s = s.parent {
		if id, ok := s.imports[ns]; ok {
			return id
		}
	}
	return ""
}

func (p *parser) loose(e ast.Expr, sc *scope) {
	p.pendingLoose = append(p.pendingLoose, looseExpr{expr: e, scope: sc})
	p.walkExpr(e, nil) // functions only
}

func (p *parser) looseBody(body ast.Body, sc *scope) {
	for _, stmt := range body {
		switch s := stmt.(type) {
		case *ast.AttributeStmt:
			p.loose(s.Value, sc)
		case *ast.BlockStmt:
			p.looseBody(s.Body, sc)
		}
	}
}

func (p *parser) unverifiable(u Unverifiable) {
	key := u.Component + "\x00" + u.Kind + "\x00" + u.Reason + "\x00" + strconv.Itoa(u.Range.Start.Offset)
	if p.unverifSeen[key] {
		return
	}
	p.unverifSeen[key] = true
	p.facts.Unverifiable = append(p.facts.Unverifiable, u)
}

// Positions.

func (p *parser) pos(off int) Pos {
	off = max(0, min(off, len(p.src)))
	line := sort.Search(len(p.lines), func(i int) bool { return p.lines[i] > off }) - 1
	return Pos{Offset: off, Line: line + 1, Column: off - p.lines[line] + 1}
}

func (p *parser) rng(start, end int) Range {
	if end < start {
		end = start
	}
	return Range{Start: p.pos(start), End: p.pos(end)}
}

func (p *parser) blockRange(b *ast.BlockStmt) Range {
	return p.rng(b.NamePos.Offset(), b.RCurlyPos.Offset()+1)
}

// bodyRange runs from just after the block's "{" to its "}".
func (p *parser) bodyRange(b *ast.BlockStmt) Range {
	return p.rng(b.LCurlyPos.Offset()+1, b.RCurlyPos.Offset())
}

// span returns the byte offsets of a node: start, and end just past it.
func span(n ast.Node) (int, int) {
	return ast.StartPos(n).Offset(), ast.EndPos(n).Offset() + 1
}

func (p *parser) nodeRange(n ast.Node) Range {
	s, e := span(n)
	return p.rng(s, e)
}

func (p *parser) text(start, end int) string {
	start = max(0, min(start, len(p.src)))
	end = max(start, min(end, len(p.src)))
	return string(p.src[start:end])
}

func (p *parser) nodeText(n ast.Node) string {
	s, e := span(n)
	return p.text(s, e)
}

// indent is the leading whitespace of the line of the body's first
// statement, or "" when the body is empty or starts on the line of "{".
func (p *parser) indent(b *ast.BlockStmt) string {
	if len(b.Body) == 0 {
		return ""
	}
	first := ast.StartPos(b.Body[0]).Offset()
	ls := p.pos(first)
	lineStart := first - (ls.Column - 1)
	if lineStart <= b.LCurlyPos.Offset() {
		return ""
	}
	end := lineStart
	for end < first && (p.src[end] == ' ' || p.src[end] == '\t') {
		end++
	}
	return string(p.src[lineStart:end])
}

// Components.

func (p *parser) buildComponent(c *comp) {
	c.c.Attributes, c.c.Blocks = p.body(c.block.Body, c, "")
	switch c.c.Name {
	case "discovery.kubernetes":
		for i := range c.c.Blocks {
			b := &c.c.Blocks[i]
			if b.Name != "selectors" {
				continue
			}
			if v, ok := b.Attributes["field"]; ok {
				v.NodeName = p.fieldNodeName(findAttr(c.block.Body, "selectors", i, "field"))
				b.Attributes["field"] = v
			}
		}
	case "discovery.relabel":
		for i := range c.c.Blocks {
			b := &c.c.Blocks[i]
			if b.Name != "rule" {
				continue
			}
			if l := singleLabel(b.Attributes["source_labels"]); isNodeNameLabel(l) {
				if v, ok := b.Attributes["regex"]; ok {
					v.NodeName = p.nodeExprName(findAttr(c.block.Body, "rule", i, "regex"), "")
					b.Attributes["regex"] = v
				}
			}
		}
	case "loki.source.podlogs":
		p.podlogsNodeFilter(c)
	}
	p.clustering(c)
}

// findAttr returns the expression of attribute attr in the i-th block of the
// body (counting all blocks, as Component.Blocks does) when it is named name.
func findAttr(body ast.Body, name string, i int, attr string) ast.Expr {
	n := 0
	for _, stmt := range body {
		b, ok := stmt.(*ast.BlockStmt)
		if !ok {
			continue
		}
		if n == i {
			if b.GetBlockName() != name {
				return nil
			}
			var found ast.Expr
			for _, s := range b.Body {
				if a, ok := s.(*ast.AttributeStmt); ok && a.Name.Name == attr {
					found = a.Value
				}
			}
			return found
		}
		n++
	}
	return nil
}

// singleLabel returns the label of a literal one-element source_labels.
func singleLabel(v Value) string {
	arr, ok := v.Value.([]any)
	if !ok || len(arr) != 1 {
		return ""
	}
	s, _ := arr[0].(string)
	return s
}

// body converts a block body: attributes by name (the last one wins, as a
// duplicate is an error for the agent anyway) and nested blocks in order.
func (p *parser) body(body ast.Body, c *comp, prefix string) (map[string]Value, []Block) {
	attrs := map[string]Value{}
	blocks := []Block{}
	counts := map[string]int{}
	for _, stmt := range body {
		switch s := stmt.(type) {
		case *ast.AttributeStmt:
			attrs[s.Name.Name] = p.value(s.Value, c, prefix+s.Name.Name)
		case *ast.BlockStmt:
			name := s.GetBlockName()
			idx := counts[name]
			counts[name]++
			b := Block{Name: name, Label: s.Label, Range: p.blockRange(s), Indent: p.indent(s), BodyRange: p.bodyRange(s)}
			b.Attributes, b.Blocks = p.body(s.Body, c, prefix+name+"."+strconv.Itoa(idx)+".")
			blocks = append(blocks, b)
		}
	}
	return attrs, blocks
}

// value converts an attribute's expression and records its references on c.
func (p *parser) value(e ast.Expr, c *comp, attrPath string) Value {
	v := Value{Expr: p.nodeText(e), Range: p.nodeRange(e), Refs: []string{}, Lead: p.lead(e)}
	v.Value, v.Literal = literalValue(e)
	if !v.Literal {
		v.Value = nil
	}
	p.walkExpr(e, func(path []string, _ ast.Expr) {
		r := p.resolve(path, c.scope)
		if r.comp == nil {
			return
		}
		id := r.comp.c.ID
		if !slices.Contains(v.Refs, id) {
			v.Refs = append(v.Refs, id)
		}
		ref := Ref{Attribute: attrPath, Component: id, Export: r.export}
		if !slices.Contains(c.c.Refs, ref) {
			c.c.Refs = append(c.c.Refs, ref)
		}
		if !slices.Contains(c.refs, r.comp) {
			c.refs = append(c.refs, r.comp)
		}
	})
	return v
}

func (p *parser) clustering(c *comp) {
	k, _ := lookup(c.c.Name)
	capable := k.clustering
	var blk *ast.BlockStmt
	for _, stmt := range c.block.Body {
		if b, ok := stmt.(*ast.BlockStmt); ok && b.GetBlockName() == "clustering" {
			blk = b
			break
		}
	}
	if !capable && blk == nil {
		return
	}
	cl := &Clustering{Capable: capable}
	c.c.Clustering = cl
	if blk == nil {
		return
	}
	cl.Block = true
	r := p.blockRange(blk)
	cl.Range = &r
	var enabled ast.Expr
	for _, stmt := range blk.Body {
		if a, ok := stmt.(*ast.AttributeStmt); ok && a.Name.Name == "enabled" {
			enabled = a.Value
		}
	}
	if enabled == nil {
		return
	}
	if v, ok := literalValue(enabled); ok {
		cl.Enabled = v == true
		return
	}
	cl.EnabledExpr = p.nodeText(enabled)
	kind, reason := "unknown-reference", fmt.Sprintf("clustering is enabled by the expression %s: whether it is on cannot be verified", cl.EnabledExpr)
	if p.usesArgument(enabled, c.scope) {
		kind = "declare"
		reason = fmt.Sprintf("clustering is enabled by %s: each instance of declare %q decides", cl.EnabledExpr, c.scope.declare)
		if c.scope.declare == "" {
			kind = "module"
			reason = fmt.Sprintf("clustering is enabled by %s: whoever loads this module decides", cl.EnabledExpr)
		}
	}
	p.unverifiable(Unverifiable{Component: c.c.ID, Kind: kind, Reason: reason, Range: p.nodeRange(enabled)})
}

func (p *parser) usesArgument(e ast.Expr, sc *scope) bool {
	found := false
	p.walkExpr(e, func(path []string, _ ast.Expr) {
		if p.resolve(path, sc).kind == refArgument {
			found = true
		}
	})
	return found
}

// Expressions.

// walkExpr calls ref for each reference path (a.b.c) in e, records the
// functions called, and skips function names themselves. ref may be nil.
func (p *parser) walkExpr(e ast.Expr, ref func(path []string, e ast.Expr)) {
	switch n := e.(type) {
	case *ast.IdentifierExpr, *ast.AccessExpr:
		if path, ok := chain(e); ok {
			if ref != nil {
				ref(path, e)
			}
			return
		}
		// Fields of something else (f().a.b): walk that. Going straight to
		// it keeps a long chain linear; the parser leaves no name nil, so
		// no shorter chain would resolve.
		for a, ok := e.(*ast.AccessExpr); ok; a, ok = e.(*ast.AccessExpr) {
			e = a.Value
		}
		if _, ident := e.(*ast.IdentifierExpr); !ident {
			p.walkExpr(e, ref)
		}
	case *ast.CallExpr:
		if path, ok := chain(n.Value); ok {
			p.function(strings.Join(path, "."))
		} else {
			p.walkExpr(n.Value, ref)
		}
		for _, a := range n.Args {
			p.walkExpr(a, ref)
		}
	case *ast.IndexExpr:
		p.walkExpr(n.Value, ref)
		p.walkExpr(n.Index, ref)
	case *ast.ArrayExpr:
		for _, el := range n.Elements {
			p.walkExpr(el, ref)
		}
	case *ast.ObjectExpr:
		for _, f := range n.Fields {
			p.walkExpr(f.Value, ref)
		}
	case *ast.UnaryExpr:
		p.walkExpr(n.Value, ref)
	case *ast.BinaryExpr:
		p.walkExpr(n.Left, ref)
		p.walkExpr(n.Right, ref)
	case *ast.ParenExpr:
		p.walkExpr(n.Inner, ref)
	}
}

func (p *parser) function(name string) {
	p.funcs[name] = true
	for _, m := range alloyMarkers {
		if strings.HasPrefix(name, m) {
			p.alloyMarker = true
		}
	}
	if agentMarkers[name] {
		p.agentMarker = true
	}
}

// chain returns the dotted path of an identifier or a chain of field
// accesses on one.
func chain(e ast.Expr) ([]string, bool) {
	switch n := e.(type) {
	case *ast.IdentifierExpr:
		if n.Ident == nil {
			return nil, false
		}
		return []string{n.Ident.Name}, true
	case *ast.AccessExpr:
		if n.Name == nil {
			return nil, false
		}
		path, ok := chain(n.Value)
		if !ok {
			return nil, false
		}
		return append(path, n.Name.Name), true
	}
	return nil, false
}

// Reference resolution.

const (
	refNone = iota
	refComponent
	refForeachVar
	refArgument
	refImport
	refStdlib
	refUnknown
)

type resolved struct {
	kind    int
	comp    *comp
	export  string
	foreach *foreachInfo
}

// resolve finds what a reference path names, looking in the innermost scope
// first. A component reference resolves to the longest declared id that is
// a prefix of the path; the next fragment is the export.
func (p *parser) resolve(path []string, sc *scope) resolved {
	if len(path) == 0 {
		return resolved{kind: refNone}
	}
	for s := sc; s != nil; s = s.parent {
		if s.foreach != nil && s.foreach.varName != "" && path[0] == s.foreach.varName {
			return resolved{kind: refForeachVar, foreach: s.foreach}
		}
		for k := min(len(path), s.idParts); k >= 1; k-- {
			if c, ok := s.ids[strings.Join(path[:k], ".")]; ok {
				r := resolved{kind: refComponent, comp: c}
				if k < len(path) {
					r.export = path[k]
				}
				return r
			}
		}
		if s.isolated {
			break
		}
	}
	switch {
	case path[0] == "argument":
		// A declare's argument, or, at the top of a module file, the
		// module's.
		return resolved{kind: refArgument}
	case sc.importOf(path[0]) != "":
		return resolved{kind: refImport}
	case stdlibRoots[path[0]]:
		return resolved{kind: refStdlib}
	}
	return resolved{kind: refUnknown}
}

// Literals.

// literalValue returns the Go value of a literal expression: strings,
// numbers, bools, null, negated numbers, and arrays and objects of them.
func literalValue(e ast.Expr) (any, bool) {
	switch n := e.(type) {
	case *ast.LiteralExpr:
		return literal(n)
	case *ast.ParenExpr:
		return literalValue(n.Inner)
	case *ast.UnaryExpr:
		v, ok := literalValue(n.Value)
		if !ok {
			return nil, false
		}
		switch n.Kind {
		case token.SUB:
			switch x := v.(type) {
			case int64:
				if x == math.MinInt64 {
					return nil, false
				}
				return -x, true
			case float64:
				return -x, true
			}
		case token.NOT:
			if b, ok := v.(bool); ok {
				return !b, true
			}
		}
		return nil, false
	case *ast.ArrayExpr:
		out := make([]any, 0, len(n.Elements))
		for _, el := range n.Elements {
			v, ok := literalValue(el)
			if !ok {
				return nil, false
			}
			out = append(out, v)
		}
		return out, true
	case *ast.ObjectExpr:
		out := make(map[string]any, len(n.Fields))
		for _, f := range n.Fields {
			if f.Name == nil {
				return nil, false
			}
			v, ok := literalValue(f.Value)
			if !ok {
				return nil, false
			}
			out[f.Name.Name] = v
		}
		return out, true
	}
	return nil, false
}

func literal(n *ast.LiteralExpr) (any, bool) {
	switch n.Kind {
	case token.NULL:
		return nil, true
	case token.BOOL:
		switch n.Value {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	case token.STRING:
		if s, err := strconv.Unquote(n.Value); err == nil {
			return s, true
		}
	case token.NUMBER:
		if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			return i, true
		}
		if u, err := strconv.ParseUint(n.Value, 0, 64); err == nil {
			return u, true
		}
		return finite(n.Value)
	case token.FLOAT:
		return finite(n.Value)
	}
	return nil, false
}

// finite parses a float that JSON can hold.
func finite(s string) (any, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, false
	}
	return f, true
}

// lead returns the string literal e starts with (see Value.Lead).
func (p *parser) lead(e ast.Expr) *StringLit {
	e = unparen(e)
	if call, ok := e.(*ast.CallExpr); ok && len(call.Args) > 0 {
		if fn := callName(call); fn == "format" || fn == "string.format" {
			return p.stringLit(call.Args[0])
		}
	}
	for {
		b, ok := e.(*ast.BinaryExpr)
		if !ok || b.Kind != token.ADD {
			break
		}
		e = unparen(b.Left)
	}
	return p.stringLit(e)
}

// stringLit returns the string literal e is, parentheses aside, or nil.
func (p *parser) stringLit(e ast.Expr) *StringLit {
	l, ok := unparen(e).(*ast.LiteralExpr)
	if !ok || l.Kind != token.STRING {
		return nil
	}
	s, err := strconv.Unquote(l.Value)
	if err != nil {
		return nil
	}
	return &StringLit{Value: s, Range: p.nodeRange(l)}
}

// stringLiteral returns the value of a string literal expression.
func stringLiteral(e ast.Expr) (string, bool) {
	for {
		pe, ok := e.(*ast.ParenExpr)
		if !ok {
			break
		}
		e = pe.Inner
	}
	l, ok := e.(*ast.LiteralExpr)
	if !ok || l.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(l.Value)
	return s, err == nil
}
