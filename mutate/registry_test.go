package mutate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/modeguard/modeguard/policy"
)

// TestRegistry checks the registry itself: unique names, a known target and
// one apply function that fits it, parameters named once.
func TestRegistry(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, f := range Fixes() {
		if f.Name == "" || seen[f.Name] {
			t.Errorf("fix %q: empty or registered twice", f.Name)
		}
		seen[f.Name] = true
		switch {
		case f.Target == policy.TargetConfig && (f.config == nil || f.workload != nil):
			t.Errorf("fix %s: a config fix needs a config apply function and no workload one", f.Name)
		case f.Target == policy.TargetWorkload && (f.workload == nil || f.config != nil):
			t.Errorf("fix %s: a workload fix needs a workload apply function and no config one", f.Name)
		case f.Target != policy.TargetConfig && f.Target != policy.TargetWorkload:
			t.Errorf("fix %s: got target %q, want %s or %s", f.Name, f.Target, policy.TargetConfig, policy.TargetWorkload)
		}
		if f.Doc == "" {
			t.Errorf("fix %s: no doc", f.Name)
		}
		names := map[string]bool{}
		for _, p := range f.Params {
			if p.Name == "" || names[p.Name] || p.Doc == "" {
				t.Errorf("fix %s: parameter %q empty, undocumented or listed twice", f.Name, p.Name)
			}
			names[p.Name] = true
		}
		if f.Target == policy.TargetConfig && (!names[paramFile.Name] || !names[paramComponent.Name]) {
			t.Errorf("fix %s: a config fix takes %q and %q", f.Name, paramFile.Name, paramComponent.Name)
		}
		if got, ok := Lookup(f.Name); !ok || got.Name != f.Name {
			t.Errorf("Lookup(%q): got %q, %v", f.Name, got.Name, ok)
		}
	}
	if _, ok := Lookup("no-such-fix"); ok {
		t.Error(`Lookup("no-such-fix") found a fix`)
	}
}

// rulesDir holds the built-in rules.
const rulesDir = "../policy/rules"

// TestRulesUseRegisteredFixes checks every fix name the built-in rules
// declare (METADATA custom.fix, as the policy engine reads it) and every
// fix they can ask for, found in the Rego source itself, so that a rule
// asking for a new name fails here even when no example triggers it: each
// must be registered, with the parameters the rule passes and on the target
// the rule names, and each rule must declare exactly the fixes it asks for.
func TestRulesUseRegisteredFixes(t *testing.T) {
	t.Parallel()
	emitted, problems, err := rulesFixes(rulesDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	if len(emitted) == 0 {
		t.Fatalf("found no fix in %s: the scan is broken", rulesDir)
	}
	byPkg := map[string][]string{}
	for _, e := range emitted {
		byPkg[e.pkg] = append(byPkg[e.pkg], e.name)
		for _, p := range checkEmitted(e) {
			t.Errorf("%s: %s", e.where, p)
		}
	}

	engine, err := policy.New(context.Background(), policy.Options{FileCacheEntries: -1})
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]bool{}
	for _, r := range engine.Rules() {
		rules[r.Package] = true
		for _, name := range r.Fixes {
			if _, ok := Lookup(name); !ok {
				t.Errorf("%s %s (%s): METADATA custom.fix names %q, which is no registered fix (registered: %s)", r.ID, r.Slug, r.File, name, strings.Join(registeredNames(), ", "))
			}
		}
		declared := slices.Sorted(slices.Values(r.Fixes))
		asked := slices.Compact(slices.Sorted(slices.Values(byPkg[r.Package])))
		if !slices.Equal(declared, asked) {
			t.Errorf("%s %s (%s): METADATA custom.fix declares %v, the rule asks for %v", r.ID, r.Slug, r.File, declared, asked)
		}
	}
	for pkg := range byPkg {
		if !rules[pkg] {
			t.Errorf("package %s asks for fixes but is no rule: the rules' METADATA cannot declare them", pkg)
		}
	}
}

// emittedFix is one fix object written in a rule module:
// {"fix": {"name": NAME, "params": {...}}}.
type emittedFix struct {
	pkg, where string
	name       string
	params     []string // the keys of params
	target     string   // the "target" written beside "fix", if any
}

// rulesFixes parses the Rego modules of dir (tests aside) and returns the
// fix objects they build, and a problem for each fix it cannot read from
// the source: every fix name must be a string literal there.
func rulesFixes(dir string) ([]emittedFix, []string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.rego"))
	if err != nil {
		return nil, nil, err
	}
	var out []emittedFix
	var problems []string
	for _, path := range files {
		if strings.HasSuffix(path, "_test.rego") {
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, err
		}
		m, err := ast.ParseModuleWithOpts(path, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, nil, err
		}
		e, p := moduleFixes(m)
		out, problems = append(out, e...), append(problems, p...)
	}
	return out, problems, nil
}

// moduleFixes walks one module for objects with a "fix" key.
func moduleFixes(m *ast.Module) ([]emittedFix, []string) {
	pkg := strings.TrimPrefix(m.Package.Path.String(), "data.")
	var out []emittedFix
	var problems []string
	ast.WalkTerms(m, func(t *ast.Term) bool {
		obj, ok := t.Value.(ast.Object)
		if !ok {
			return false
		}
		fix := obj.Get(ast.StringTerm("fix"))
		if fix == nil {
			return false
		}
		where := fmt.Sprint(fix.Location)
		e := emittedFix{pkg: pkg, where: where}
		if s, ok := stringValue(obj.Get(ast.StringTerm("target"))); ok {
			e.target = s
		}
		f, ok := fix.Value.(ast.Object)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: fix %v is not an object literal: its name cannot be checked", where, fix))
			return false
		}
		name, ok := stringValue(f.Get(ast.StringTerm("name")))
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: fix %v has no string literal name: it cannot be checked", where, fix))
			return false
		}
		e.name = name
		if p := f.Get(ast.StringTerm("params")); p != nil {
			po, ok := p.Value.(ast.Object)
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: fix %s: params %v are not an object literal: they cannot be checked", where, name, p))
				return false
			}
			for _, k := range po.Keys() {
				s, ok := stringValue(k)
				if !ok {
					problems = append(problems, fmt.Sprintf("%s: fix %s: parameter name %v is not a string literal", where, name, k))
					continue
				}
				e.params = append(e.params, s)
			}
		}
		out = append(out, e)
		return false
	})
	return out, problems
}

func stringValue(t *ast.Term) (string, bool) {
	if t == nil {
		return "", false
	}
	s, ok := t.Value.(ast.String)
	return string(s), ok
}

// checkEmitted says what is wrong with a fix a rule asks for.
func checkEmitted(e emittedFix) []string {
	f, ok := Lookup(e.name)
	if !ok {
		return []string{fmt.Sprintf("the rule asks for fix %q, which is not registered (registered: %s)", e.name, strings.Join(registeredNames(), ", "))}
	}
	var out []string
	if e.target != "" && e.target != f.Target {
		out = append(out, fmt.Sprintf("fix %s edits the %s, but the rule says target %q", f.Name, f.Target, e.target))
	}
	for _, p := range e.params {
		if !slices.ContainsFunc(f.Params, func(d Param) bool { return d.Name == p }) {
			out = append(out, fmt.Sprintf("fix %s takes no parameter %q", f.Name, p))
		}
	}
	for _, d := range f.Params {
		if !d.Optional && !slices.Contains(e.params, d.Name) {
			out = append(out, fmt.Sprintf("fix %s needs parameter %q, which the rule does not pass", f.Name, d.Name))
		}
	}
	return out
}

func registeredNames() []string {
	var out []string
	for _, f := range Fixes() {
		out = append(out, f.Name)
	}
	return out
}

// TestFixScanCatches checks that the source scan finds what it must: a fix
// name a rule would ask for that is not registered, computed names and
// wrong parameters, wherever in the module the fix object stands.
func TestFixScanCatches(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, rego string
		want       string // in a problem; "" for none
	}{
		{
			name: "registered",
			rego: `v := {"target": "workload", "fix": {"name": "node-name-env", "params": {"var": "X"}}}`,
		},
		{
			name: "unknown name in a helper's object.union",
			rego: `f(x) := object.union(x, {"fix": {"name": "node-name", "params": {"var": "X"}}})`,
			want: `fix "node-name", which is not registered`,
		},
		{
			name: "unknown name in a violation body",
			rego: "violations contains v if {\n\tsome x in input.xs\n\tv := {\"msg\": x, \"fix\": {\"name\": \"typo-fix\"}}\n}",
			want: `fix "typo-fix", which is not registered`,
		},
		{
			name: "computed name",
			rego: `f(n) := {"fix": {"name": n}}`,
			want: "no string literal name",
		},
		{
			name: "fix not a literal",
			rego: `f(x) := {"fix": x}`,
			want: "not an object literal",
		},
		{
			name: "unknown parameter",
			rego: `v := {"target": "workload", "fix": {"name": "node-name-env", "params": {"var": "X", "vra": "Y"}}}`,
			want: `takes no parameter "vra"`,
		},
		{
			name: "missing parameter",
			rego: `v := {"target": "workload", "fix": {"name": "cluster-flags", "params": {}}}`,
			want: `needs parameter "joinAddresses"`,
		},
		{
			name: "wrong target",
			rego: `v := {"target": "config", "fix": {"name": "node-name-env", "params": {"var": "X"}}}`,
			want: `but the rule says target "config"`,
		},
	} {
		m, err := ast.ParseModuleWithOpts("x.rego", "package modeguard.rules.x\n\n"+tc.rego+"\n", ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		emitted, problems := moduleFixes(m)
		for _, e := range emitted {
			problems = append(problems, checkEmitted(e)...)
		}
		got := strings.Join(problems, "\n")
		switch {
		case tc.want == "" && got != "":
			t.Errorf("%s: got problems %s, want none", tc.name, got)
		case tc.want != "" && !strings.Contains(got, tc.want):
			t.Errorf("%s: got problems %q, want one saying %q", tc.name, got, tc.want)
		}
	}
}
