package policy

import (
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The input modes a decision's query is prepared for (Input.Mode); any
// other mode, "" among them, takes the query of modeOther.
var queryModes = []string{"daemonset", "statefulset", "deployment"}

const modeOther = ""

// maxModeDepth bounds how many rules deep packageModes follows a
// condition (violations → outside → lib.statefulset is two).
const maxModeDepth = 4

// packageModes returns, for each rule package, the input modes in which
// its violations can be defined: nil when any mode can (the package is
// always evaluated), else a sorted list. A package is limited to modes
// only when every one of its violations rules has a condition that holds
// in those modes alone: input.mode compared to a string, or a
// rule without arguments (lib.daemonset, lib.distributed, a package's own
// helper) whose every definition holds only so, as the compiler compiled
// them. The condition need not come first: a body holds only when every
// one of its expressions does. Anything else (a negated or `with` condition, a default or else
// branch, a function, a rule defined in several modules, a custom module
// adding to lib) counts as any mode: a package is skipped only where the
// compiled policy itself says it cannot fire, so the decisions are those
// of the whole query.
func packageModes(c *ast.Compiler, packages []string) map[string][]string {
	out := make(map[string][]string, len(packages))
	for _, pkg := range packages {
		ref := ast.MustParseRef("data." + pkg + ".violations")
		modes, ok := rulesModes(c, c.GetRulesExact(ref), 0)
		if ok {
			out[pkg] = modes
		}
	}
	return out
}

// rulesModes is the union of the modes in which each rule's body can hold;
// ok is false when one of them can hold in any mode.
func rulesModes(c *ast.Compiler, rules []*ast.Rule, depth int) (modes []string, ok bool) {
	if len(rules) == 0 || depth > maxModeDepth {
		return nil, false
	}
	for _, r := range rules {
		if r.Default || r.Else != nil || len(r.Head.Args) > 0 || len(r.Body) == 0 {
			return nil, false
		}
		// Every expression of a body must hold: the first that limits
		// the modes limits the rule.
		var m []string
		ok := false
		for _, x := range r.Body {
			if m, ok = exprModes(c, x, depth); ok {
				break
			}
		}
		if !ok {
			return nil, false
		}
		for _, x := range m {
			if !slices.Contains(modes, x) {
				modes = append(modes, x)
			}
		}
	}
	slices.Sort(modes)
	return modes, true
}

// exprModes is the modes in which a rule body's expression can hold;
// ok is false when it can in any.
func exprModes(c *ast.Compiler, x *ast.Expr, depth int) ([]string, bool) {
	if x.Negated || len(x.With) > 0 || x.Generated {
		return nil, false
	}
	switch t := x.Terms.(type) {
	case []*ast.Term: // a call: input.mode == "x" (compiled to eq or equal)
		if len(t) != 3 {
			return nil, false
		}
		if op := x.Operator().String(); op != ast.Equality.Name && op != ast.Equal.Name {
			return nil, false
		}
		for _, pair := range [][2]*ast.Term{{t[1], t[2]}, {t[2], t[1]}} {
			if inputMode(pair[0]) {
				if s, ok := pair[1].Value.(ast.String); ok {
					return []string{string(s)}, true
				}
			}
		}
	case *ast.Term: // a rule: lib.daemonset, lib.distributed, outside
		ref, ok := t.Value.(ast.Ref)
		if !ok || !ref.IsGround() || !ref.HasPrefix(ast.DefaultRootRef) {
			return nil, false
		}
		rules := c.GetRulesExact(ref)
		if len(rules) == 0 {
			return nil, false
		}
		// A partial set or object is defined (maybe empty) whether or not
		// a body holds: only a complete rule fails where its bodies do.
		for _, r := range rules {
			if r.Head.RuleKind() != ast.SingleValue {
				return nil, false
			}
		}
		return rulesModes(c, rules, depth+1)
	}
	return nil, false
}

// inputMode reports whether t is the reference input.mode.
func inputMode(t *ast.Term) bool {
	r, ok := t.Value.(ast.Ref)
	return ok && r.Equal(ast.MustParseRef("input.mode"))
}
