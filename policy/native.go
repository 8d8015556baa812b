package policy

import (
	"cmp"
	"encoding/json"
	"fmt"
	"iter"
	"reflect"
	"slices"
	"strings"

	"github.com/modeguard/modeguard/riverconfig"
	"github.com/modeguard/modeguard/workload"
)

// The built-in rules also run as Go: one function per rule package
// (nativeRules), each yielding exactly the violations its Rego yields for
// an input the engine builds (Input with Derived filled). The Rego stays
// the definition: the catalog, the docs, `modeguard test` and any policy
// that replaces a built-in package or modeguard.lib read it, and the engine
// evaluates a built-in package through OPA whenever a custom module
// replaces it or the library (nativeEligible). Evaluating in Go skips
// OPA's evaluation and the conversion of the input to Rego values, the
// three quarters of a decision's cost (issue #22). Options.CrossCheck
// evaluates both ways and fails on any difference; the decision
// equivalence tests run with it on.

// nativeRule computes the violations of one rule package, without Rule
// and Package (the engine sets them).
type nativeRule func(n *nativeInput) []Violation

// nativeRules are the Go forms of the built-in rule packages, by package.
var nativeRules = map[string]nativeRule{}

// registerNative adds the Go form of a built-in rule package.
func registerNative(pkg string, r nativeRule) {
	if _, dup := nativeRules[pkg]; dup {
		panic("policy: two Go forms of " + pkg)
	}
	nativeRules[pkg] = r
}

// libPackage is the package of the helpers the built-in rules import.
const libPackage = "modeguard.lib"

// nativeEligible returns, of the rule packages of cat, those evaluated in
// Go: a Go form exists, and srcs (the merged modules) hold the package and
// modeguard.lib only as built in (a custom module of either package
// replaces the built-in one, and then OPA evaluates what it says).
func nativeEligible(srcs []source, cat *catalog) map[string]nativeRule {
	custom := map[string]bool{}
	for _, s := range srcs {
		if !s.builtin && !s.test {
			custom[strings.TrimPrefix(s.module.Package.Path.String(), "data.")] = true
		}
	}
	out := map[string]nativeRule{}
	if custom[libPackage] {
		return out
	}
	for _, r := range cat.list {
		if f, ok := nativeRules[r.Package]; ok && r.Builtin && !custom[r.Package] {
			out[r.Package] = f
		}
	}
	return out
}

// nativeInput is an input as the Go forms read it, with lib's helpers.
type nativeInput struct {
	in    *Input
	d     *Derived
	files []*riverconfig.Facts // lib.files
	w     *workload.Facts      // nil: lib.workload is {}
	// index is config.index: file name → component id → position.
	index map[string]map[string]int
}

func newNativeInput(in *Input) *nativeInput {
	// Derived and the index afresh: a caller may have changed the config
	// since ToValue filled them.
	d, index := deriveIndexed(in)
	n := &nativeInput{in: in, d: d, w: in.Workload, index: index}
	if in.Config != nil {
		n.files = in.Config.Files
	}
	return n
}

// lib.daemonset, lib.statefulset, lib.deployment, lib.distributed.
func (n *nativeInput) daemonset() bool   { return n.in.Mode == workload.ModeDaemonSet }
func (n *nativeInput) statefulset() bool { return n.in.Mode == workload.ModeStatefulSet }
func (n *nativeInput) deployment() bool  { return n.in.Mode == workload.ModeDeployment }
func (n *nativeInput) distributed() bool {
	return n.statefulset() || n.deployment() && n.w != nil && n.w.Replicated
}

// lib.has_workload and lib.flags_known.
func (n *nativeInput) hasWorkload() bool { return n.w != nil }
func (n *nativeInput) flagsKnown() bool  { return n.w != nil && n.w.Run != nil }

// file is lib.files[i], nil when there is none.
func (n *nativeInput) file(i int) *riverconfig.Facts {
	if i < 0 || i >= len(n.files) {
		return nil
	}
	return n.files[i]
}

// collector is the collector of derived collector i (an index into
// n.d.Collectors, as lib.index lists them) with its file: nil, nil when
// there is none.
func (n *nativeInput) collector(i int) (*riverconfig.Facts, *riverconfig.Collector) {
	c := &n.d.Collectors[i]
	f := n.file(c.File)
	if f == nil || c.Index >= len(f.Collectors) {
		return nil, nil
	}
	return f, &f.Collectors[c.Index]
}

// collectors yields every collector of every file with its file (lib's
// `some f in lib.files; some col in f.collectors`).
func (n *nativeInput) collectors() iter.Seq2[*riverconfig.Facts, *riverconfig.Collector] {
	return func(yield func(*riverconfig.Facts, *riverconfig.Collector) bool) {
		for _, f := range n.files {
			if f == nil {
				continue
			}
			for ci := range f.Collectors {
				if !yield(f, &f.Collectors[ci]) {
					return
				}
			}
		}
	}
}

// component is lib.component(f, id): nil when f has no component id.
func (n *nativeInput) component(f *riverconfig.Facts, id string) *riverconfig.Component {
	if i, ok := n.index[f.File][id]; ok && i < len(f.Components) {
		return &f.Components[i]
	}
	return nil
}

// at is lib.at(f, id, msg): a violation about component id of f.
func (n *nativeInput) at(f *riverconfig.Facts, id, msg string) Violation {
	v := Violation{Message: msg, Component: id, File: f.File, Target: TargetConfig}
	if c := n.component(f, id); c != nil {
		v.Line, v.Column = c.Range.Start.Line, c.Range.Start.Column
	}
	return v
}

// atLocation is object.union(x.at, {"msg": msg}) for a derived entry.
func atLocation(l Location, msg string) Violation {
	return Violation{Message: msg, Component: l.Component, File: l.File, Line: l.Line, Column: l.Column, Target: l.Target}
}

// evaluateNative runs the Go forms in rules (by package) of the packages
// of cat not in skip, as evaluate runs the query: the violations of each,
// with Rule and Package set, a rule's equal violations once (Rego's sets).
func evaluateNative(in *Input, cat *catalog, rules map[string]nativeRule, skip map[string]bool) []Violation {
	n := newNativeInput(in)
	var out []Violation
	for _, r := range cat.list {
		f := rules[r.Package]
		if f == nil || skip[r.Package] {
			continue
		}
		start := len(out)
		for _, v := range f(n) {
			v.Package, v.Rule = r.Package, r
			if v.Target == "" {
				v.Target = TargetConfig
				if v.Component == "" {
					v.Target = TargetWorkload
				}
			}
			if slices.ContainsFunc(out[start:], func(w Violation) bool { return sameViolation(v, w) }) {
				continue
			}
			out = append(out, v)
		}
	}
	return out
}

// sameViolation: a and b are one element of a rule's violations set.
func sameViolation(a, b Violation) bool {
	return a.Rule == b.Rule && a.Message == b.Message && a.Component == b.Component && a.File == b.File &&
		a.Line == b.Line && a.Column == b.Column && a.Target == b.Target && a.Action == b.Action &&
		reflect.DeepEqual(a.Fix, b.Fix)
}

// sortViolations orders violations by rule id, file, line, component,
// message, then by what else tells them apart (column, target, action,
// fix), so that two evaluations of one policy list them alike.
func sortViolations(vs []Violation) {
	slices.SortStableFunc(vs, func(a, b Violation) int {
		return cmp.Or(
			strings.Compare(a.Rule.ID, b.Rule.ID),
			strings.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			strings.Compare(a.Component, b.Component),
			strings.Compare(a.Message, b.Message),
			cmp.Compare(a.Column, b.Column),
			strings.Compare(a.Target, b.Target),
			strings.Compare(string(a.Action), string(b.Action)),
			strings.Compare(fixKey(a.Fix), fixKey(b.Fix)),
		)
	})
}

func fixKey(f *FixRequest) string {
	if f == nil {
		return ""
	}
	b, _ := json.Marshal(f)
	return string(b)
}

// diffViolations describes how got (Go) differs from want (OPA), "" when
// they are equal.
func diffViolations(got, want []Violation) string {
	show := func(vs []Violation) string {
		var b strings.Builder
		for _, v := range vs {
			fix, _ := json.Marshal(v.Fix)
			fmt.Fprintf(&b, "\n  %s %q component=%q at=%s:%d:%d target=%s action=%q fix=%s", v.Rule.ID, v.Message, v.Component, v.File, v.Line, v.Column, v.Target, v.Action, fix)
		}
		return b.String()
	}
	if len(got) == len(want) {
		same := true
		for i := range got {
			if !sameViolation(got[i], want[i]) || got[i].Package != want[i].Package {
				same = false
				break
			}
		}
		if same {
			return ""
		}
	}
	return "Go:" + show(got) + "\nRego:" + show(want)
}

// fixParams is a fix's params as decodeFix gives them from Rego (numbers
// as float64).
func fixParams(kv ...any) map[string]any {
	m := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}
