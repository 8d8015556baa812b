package policy

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/modeguard/modeguard/internal/benchconfig"
)

// TestNativeCoversBuiltins: every built-in rule package has a Go form, and
// an engine without custom modules evaluates every one in Go.
func TestNativeCoversBuiltins(t *testing.T) {
	t.Parallel()
	e := newEngine(t, "", nil)
	c := e.current()
	for _, r := range c.catalog.list {
		if c.native[r.Package] == nil {
			t.Errorf("%s (%s) has no Go form: add it beside native_discovery.go", r.ID, r.Package)
		}
	}
	for _, mode := range append(slices.Clone(queryModes), modeOther) {
		if _, ok := c.byMode[mode]; ok && len(c.native) == len(c.catalog.list) {
			t.Errorf("mode %q still has an OPA query although every package is evaluated in Go", mode)
		}
	}
}

// TestNativeStepsAsideForCustomModules: a custom module of a built-in
// package, or of modeguard.lib, makes OPA evaluate what it says.
func TestNativeStepsAsideForCustomModules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	in := benchInput(t, benchconfig.Typical) // MG001 fires on its pod discovery
	mg001 := func(e *Engine) []string {
		t.Helper()
		vs, err := e.Evaluate(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		var msgs []string
		for _, v := range vs {
			if v.Rule.ID == "MG001" {
				msgs = append(msgs, v.Message)
			}
		}
		return msgs
	}
	builtin := mg001(newEngine(t, "", nil))
	if len(builtin) == 0 || !strings.Contains(builtin[0], "add a spec.nodeName= field selector") {
		t.Fatalf("built-in MG001 on the typical config: %q", builtin)
	}

	dir := t.TempDir()
	write(t, dir, "mg001.rego", `# METADATA
# title: Ours
# description: Replaces MG001.
# custom:
#   id: MG001
#   slug: daemonset-node-local-discovery
#   action: warn
#   appliesTo: [DaemonSet]
package modeguard.rules.daemonset_node_local_discovery

violations contains {"msg": "replaced", "target": "workload"} if input.mode == "daemonset"
`)
	e := newEngine(t, dir, nil)
	if got := mg001(e); !slices.Equal(got, []string{"replaced"}) {
		t.Errorf("MG001 replaced by a custom module: got %q, want [replaced]", got)
	}
	if c := e.current(); c.native["modeguard.rules.daemonset_node_local_discovery"] != nil {
		t.Errorf("the replaced MG001 is still evaluated in Go")
	}

	// A custom library: every built-in rule reads it, so none runs in Go.
	lib, err := builtinFS.ReadFile("rules/lib.rego")
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	write(t, dir, "lib.rego", string(lib)+"\n# A custom helper.\nacme := true\n")
	e = newEngine(t, dir, nil)
	if n := len(e.current().native); n != 0 {
		t.Errorf("with a custom modeguard.lib, %d packages are still evaluated in Go", n)
	}
	if got := mg001(e); !slices.Equal(got, builtin) {
		t.Errorf("MG001 through OPA with the library copied: got %q, want %q", got, builtin)
	}
}

// TestCrossCheckFindsDifferences: under CrossCheck a Go form that differs
// from its Rego fails the evaluation, naming both lists.
func TestCrossCheckFindsDifferences(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, err := New(ctx, Options{CrossCheck: true, MemoEntries: -1})
	if err != nil {
		t.Fatal(err)
	}
	in := benchInput(t, benchconfig.Typical)
	if _, err := e.Evaluate(ctx, in); err != nil {
		t.Fatalf("the Go forms as built: %v", err)
	}
	const pkg = "modeguard.rules.daemonset_node_local_discovery"
	c := e.current()
	good := c.native[pkg]
	for name, bad := range map[string]nativeRule{
		"message": func(n *nativeInput) []Violation {
			vs := good(n)
			for i := range vs {
				vs[i].Message += "!"
			}
			return vs
		},
		"fix param": func(n *nativeInput) []Violation {
			vs := good(n)
			for i := range vs {
				f := *vs[i].Fix
				f.Params = fixParams("file", "x")
				vs[i].Fix = &f
			}
			return vs
		},
		"missing": func(*nativeInput) []Violation { return nil },
		"extra": func(n *nativeInput) []Violation {
			return append(good(n), Violation{Message: "extra", Target: TargetWorkload})
		},
	} {
		c.native[pkg] = bad
		_, err := e.Evaluate(ctx, in)
		if !errors.Is(err, ErrEvaluation) || !strings.Contains(err.Error(), "disagree") || !strings.Contains(err.Error(), "MG001") {
			t.Errorf("%s: got %v, want the cross-check's difference", name, err)
		}
	}
	c.native[pkg] = good
}

// TestWholeQueryOnFirstUse: an engine whose every mode runs in Go holds no
// prepared query until one is asked for (EvaluateValue), then prepares
// the whole policy's, which decides as the Go forms do.
func TestWholeQueryOnFirstUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEngine(t, "", nil)
	c := e.current()
	if len(c.byMode) != 0 || len(c.whole) != 0 || c.prepareWhole == nil {
		t.Fatalf("a Go-only engine prepared %d mode queries and %d whole ones (prepareWhole set: %v), want none and a way to prepare them", len(c.byMode), len(c.whole), c.prepareWhole != nil)
	}
	in := benchInput(t, benchconfig.Typical)
	inGo, err := e.Evaluate(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	v, err := ToValue(in)
	if err != nil {
		t.Fatal(err)
	}
	inRego, err := e.EvaluateValue(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	if len(inGo) == 0 {
		t.Fatal("nothing fired on the typical config: the comparison proves nothing")
	}
	if d := diffViolations(inGo, inRego); d != "" {
		t.Errorf("the whole query prepared on first use disagrees with the Go forms:\n%s", d)
	}
	if len(c.whole) != len(queryModes)+1 || c.prepareWhole != nil {
		t.Errorf("after first use: %d whole queries (want %d), prepareWhole kept: %v", len(c.whole), len(queryModes)+1, c.prepareWhole != nil)
	}
}
