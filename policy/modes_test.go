package policy

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/modeguard/modeguard/internal/benchconfig"
)

// TestPackageModes: the built-in packages that begin every violation with
// a mode condition are limited to those modes; the others run in any.
func TestPackageModes(t *testing.T) {
	t.Parallel()
	b, err := builtinSources(true)
	if err != nil {
		t.Fatal(err)
	}
	cat, _, c, err := compilePolicy(b)
	if err != nil {
		t.Fatal(err)
	}
	var pkgs []string
	for _, r := range cat.list {
		pkgs = append(pkgs, r.Package)
	}
	got := packageModes(c, pkgs)
	want := map[string][]string{
		"modeguard.rules.daemonset_node_local_discovery":          {"daemonset"},
		"modeguard.rules.cluster_wide_collection_in_daemonset":    {"daemonset"},
		"modeguard.rules.node_bound_collection_outside_daemonset": {"deployment", "statefulset"},
		"modeguard.rules.replicated_collection_needs_clustering":  {"deployment", "statefulset"},
		"modeguard.rules.statefulset_wal_persistence":             {"statefulset"},
		"modeguard.rules.ephemeral_wal":                           {"deployment"},
		"modeguard.rules.endpoints_pod_selector":                  {"daemonset"},
		"modeguard.rules.whole_cluster_watch":                     {"daemonset"},
		"modeguard.rules.node_name_source":                        {"daemonset"},
		"modeguard.rules.daemonset_log_mounts":                    {"daemonset"},
		"modeguard.rules.shared_claim":                            {"daemonset", "deployment"},
	}
	for _, pkg := range slices.Sorted(maps.Keys(want)) {
		if !slices.Equal(got[pkg], want[pkg]) {
			t.Errorf("%s: modes %v, want %v", pkg, got[pkg], want[pkg])
		}
	}
	// The rest run in any mode (absent from the map).
	for pkg, m := range got {
		if _, ok := want[pkg]; !ok {
			t.Errorf("%s: limited to %v, want any mode (not in the test's list)", pkg, m)
		}
	}
	for _, pkg := range []string{"modeguard.rules.config_syntax", "modeguard.rules.unverifiable_config", "modeguard.rules.clustering_not_effective"} {
		if m, ok := got[pkg]; ok {
			t.Errorf("%s: limited to %v, want any mode", pkg, m)
		}
	}
}

// TestPackageModesConservative: a package is limited only where the
// compiled policy says so: a custom lib whose daemonset means something
// else, a negated condition, a condition that is a partial set (defined,
// maybe empty, in every mode), a second body without a mode condition, a
// condition under with, or a helper with an else branch leave it
// unlimited; a mode condition after others limits it.
func TestPackageModesConservative(t *testing.T) {
	t.Parallel()
	const head = "# METADATA\n# title: t\n# custom:\n#   id: C001\n#   action: warn\n#   appliesTo: [DaemonSet]\npackage modeguard.rules.c1\n\nimport data.modeguard.lib\n\n"
	lib, err := builtinFS.ReadFile("rules/lib.rego")
	if err != nil {
		t.Fatal(err)
	}
	const libDaemonset = `daemonset if input.mode == "daemonset"`
	if !strings.Contains(string(lib), libDaemonset) {
		t.Fatalf("lib.rego no longer says %s", libDaemonset)
	}
	for name, tc := range map[string]struct {
		files map[string]string
		limit bool // c1 stays limited to daemonset
	}{
		"limited": {map[string]string{"c1.rego": head + "violations contains {\"msg\": \"x\"} if lib.daemonset\n"}, true},
		"lib redefined": {map[string]string{
			"c1.rego":  head + "violations contains {\"msg\": \"x\"} if lib.daemonset\n",
			"lib.rego": strings.Replace(string(lib), libDaemonset, `daemonset if input.subject.kind == "DaemonSet"`, 1),
		}, false},
		"negated":     {map[string]string{"c1.rego": head + "violations contains {\"msg\": \"x\"} if not lib.statefulset\n"}, false},
		"partial set": {map[string]string{"c1.rego": head + "guard contains 1 if lib.daemonset\n\nviolations contains {\"msg\": \"x\"} if {\n\tguard\n\ttrue\n}\n"}, false},
		"second body": {map[string]string{"c1.rego": head + "violations contains {\"msg\": \"x\"} if lib.daemonset\n\nviolations contains {\"msg\": \"y\"} if input.subject.kind == \"Pod\"\n"}, false},
		"else":        {map[string]string{"c1.rego": head + "g := true if lib.daemonset\n\nelse := true\n\nviolations contains {\"msg\": \"x\"} if g\n"}, false},
		// The condition need not come first; negated or under with, it does
		// not limit.
		"later condition": {map[string]string{"c1.rego": head + "violations contains {\"msg\": \"x\"} if {\n\tinput.subject.kind == \"Pod\"\n\tlib.daemonset\n}\n"}, true},
		"later negated":   {map[string]string{"c1.rego": head + "violations contains {\"msg\": \"x\"} if {\n\tinput.subject.kind == \"Pod\"\n\tnot lib.statefulset\n}\n"}, false},
		"later with":      {map[string]string{"c1.rego": head + "violations contains {\"msg\": \"x\"} if {\n\tinput.subject.kind == \"Pod\"\n\tlib.daemonset with input.mode as \"daemonset\"\n}\n"}, false},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for n, src := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, n), []byte(src), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			b, err := builtinSources(true)
			if err != nil {
				t.Fatal(err)
			}
			custom, err := customSources(dir)
			if err != nil {
				t.Fatal(err)
			}
			_, _, c, err := compilePolicy(merge(b, custom))
			if err != nil {
				t.Fatal(err)
			}
			got, limited := packageModes(c, []string{"modeguard.rules.c1"})["modeguard.rules.c1"]
			if limited != tc.limit || (limited && !slices.Equal(got, []string{"daemonset"})) {
				t.Errorf("modes %v (limited %v), want limited %v", got, limited, tc.limit)
			}
		})
	}
}

// TestQueryByModeSkipsOnlyWhatCannotFire: an engine answers inputs of every
// mode as the whole query does (the packages each mode's query leaves out
// are empty there), over the golden inputs of the decision tests with the
// mode set to each value.
func TestQueryByModeSkipsOnlyWhatCannotFire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, err := New(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := e.current()
	b, err := builtinSources(true)
	if err != nil {
		t.Fatal(err)
	}
	cat, modules, compiler, err := compilePolicy(b)
	if err != nil {
		t.Fatal(err)
	}
	// The whole query, as compile prepares each mode's (terms, not Go
	// values, as the result).
	whole, err := rego.New(rego.Compiler(compiler), rego.Query(entryQuery(cat, modules, nil)),
		rego.GenerateJSON(func(t *ast.Term, _ *rego.EvalContext) (any, error) { return t, nil }),
	).PrepareForEval(ctx)
	if err != nil {
		t.Fatal(err)
	}
	in := benchInput(t, benchconfig.Typical)
	for _, mode := range []string{"daemonset", "statefulset", "deployment", "", "unknown"} {
		in.Mode = mode
		if in.Workload != nil {
			w := *in.Workload
			w.Mode = mode
			in.Workload = &w
		}
		v, err := ToValue(in)
		if err != nil {
			t.Fatal(err)
		}
		all, err := whole.Eval(ctx, rego.EvalParsedInput(v))
		if err != nil {
			t.Fatal(err)
		}
		q, err := c.queryFor(v)
		if err != nil {
			t.Fatal(err)
		}
		some, err := q.Eval(ctx, rego.EvalParsedInput(v))
		if err != nil {
			t.Fatal(err)
		}
		if a, s := all[0].Expressions[0].Value, some[0].Expressions[0].Value; fmt.Sprint(a) != fmt.Sprint(s) {
			t.Errorf("mode %q: the mode's query gives\n%v\nthe whole query\n%v", mode, s, a)
		}
	}
}
