package policy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newEngine(t *testing.T, dir string, s *Settings) *Engine {
	t.Helper()
	e, err := New(context.Background(), Options{PolicyDir: dir, Settings: s})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

func TestBuiltinCatalog(t *testing.T) {
	t.Parallel()
	e := newEngine(t, "", nil)
	var ids []string
	for _, r := range e.Rules() {
		ids = append(ids, r.ID)
		if r.Description == "" || r.Slug == "" || len(r.AppliesTo) == 0 {
			t.Errorf("%s: incomplete metadata %+v", r.ID, r)
		}
		if !strings.HasSuffix(r.File, r.Slug+".rego") {
			t.Errorf("%s: file %s does not match slug %s", r.ID, r.File, r.Slug)
		}
	}
	want := "MG001 MG002 MG003 MG004 MG005 MG006 MG007 MG008 MG009 MG010 MG011 MG012 MG013 MG014 MG015"
	if got := strings.Join(ids, " "); got != want {
		t.Fatalf("rules: got %s, want %s", got, want)
	}
}

func write(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

const customRule = `# METADATA
# title: No agents in namespace forbidden
# description: Example custom rule.
# custom:
#   id: ACME1
#   action: warn
#   appliesTo: [DaemonSet]
package modeguard.rules.acme_forbidden

violations contains {"msg": "agents are not allowed here", "target": "workload"} if input.subject.namespace == "forbidden"
`

const overrideMG015 = `# METADATA
# title: Whole-cluster watch (ours)
# description: Replaces the built-in with a deny on every unused discovery.
# custom:
#   id: MG015
#   slug: whole-cluster-watch
#   action: deny
#   appliesTo: [DaemonSet]
package modeguard.rules.whole_cluster_watch

violations contains {"msg": "replaced"} if input.mode == "daemonset"
`

func TestCustomPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	write(t, dir, "acme.rego", customRule)
	write(t, dir, "mg015.rego", overrideMG015)
	e := newEngine(t, dir, nil)

	in := &Input{Subject: Subject{Kind: "DaemonSet", Namespace: "forbidden", Name: "a"}, Mode: "daemonset"}
	vs, err := e.Evaluate(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Action{}
	for _, d := range e.Resolve(vs, Scope{}) {
		got[d.Rule.ID] = d.Action
	}
	if got["ACME1"] != ActionWarn {
		t.Errorf("custom rule ACME1: got %q, want warn", got["ACME1"])
	}
	if got["MG015"] != ActionDeny {
		t.Errorf("overridden MG015: got %q, want deny (the custom package replaces the built-in)", got["MG015"])
	}
	if r, _ := e.Rule("MG015"); r.Builtin {
		t.Errorf("MG015 still reported as built-in after override")
	}
	before := e.Version()

	// Broken Rego: Reload fails with file:line, the last good policy stays.
	write(t, dir, "acme.rego", strings.Replace(customRule, "if input", "if input ==", 1))
	err = e.Reload(ctx)
	if err == nil || !strings.Contains(err.Error(), "acme.rego:") {
		t.Fatalf("Reload of broken Rego: got %v, want an error naming acme.rego:line", err)
	}
	if e.Version() != before {
		t.Errorf("version changed after a failed reload")
	}
	vs, err = e.Evaluate(ctx, in)
	if err != nil || len(vs) != 2 {
		t.Fatalf("after failed reload: got %d violations (%v), want the 2 of the last good policy", len(vs), err)
	}

	// A valid change takes effect.
	if err := os.Remove(filepath.Join(dir, "acme.rego")); err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if e.Version() == before {
		t.Errorf("version unchanged after a successful reload")
	}
	if _, ok := e.Rule("ACME1"); ok {
		t.Errorf("ACME1 still loaded after its file was removed")
	}
}

// TestRuleFixes reads custom.fix: one name, or a list of them.
func TestRuleFixes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ fix, want string }{
		{fix: "", want: ""},
		{fix: "#   fix: node-selector\n", want: "node-selector"},
		{fix: "#   fix: [node-name-expression, node-name-env]\n", want: "node-name-expression node-name-env"},
	} {
		dir := t.TempDir()
		write(t, dir, "x.rego", "# METADATA\n# title: t\n# custom:\n#   id: X1\n"+tc.fix+"package modeguard.rules.x\n")
		e := newEngine(t, dir, nil)
		r, ok := e.Rule("X1")
		if !ok {
			t.Fatal("rule X1 not loaded")
		}
		if got := strings.Join(r.Fixes, " "); got != tc.want {
			t.Errorf("%q: got fixes %q, want %q", tc.fix, got, tc.want)
		}
	}
}

func TestCustomPolicyErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ body, want string }{
		"network builtin": {`# METADATA
# title: t
# custom:
#   id: NET1
package modeguard.rules.net

violations contains {"msg": "x"} if http.send({"method": "GET", "url": "http://127.0.0.1"})
`, "http.send"},
		"no metadata":  {"package modeguard.rules.bare\n\nviolations contains {\"msg\": \"x\"} if true\n", "no METADATA"},
		"bad action":   {"# METADATA\n# title: t\n# custom:\n#   id: X1\n#   action: block\npackage modeguard.rules.x\n", `"block"`},
		"duplicate id": {"# METADATA\n# title: t\n# custom:\n#   id: MG001\npackage modeguard.rules.mine\n", "already used"},
		"nested":       {"# METADATA\n# title: t\n# custom:\n#   id: X2\npackage modeguard.rules.a.b\n", "one level deep"},
		"syntax":       {"package modeguard.rules.x\n\nviolations contains if {\n", "syntax.rego:"},
		"fix a number": {"# METADATA\n# title: t\n# custom:\n#   id: X3\n#   fix: 3\npackage modeguard.rules.x\n", "custom.fix is 3"},
		"fix list":     {"# METADATA\n# title: t\n# custom:\n#   id: X4\n#   fix: [a, [b]]\npackage modeguard.rules.x\n", "custom.fix lists [b]"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			file := "syntax.rego"
			write(t, dir, file, c.body)
			_, err := New(context.Background(), Options{PolicyDir: dir})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestCustomRegoTests(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, "acme.rego", customRule)
	write(t, dir, "acme_test.rego", `package modeguard.rules.acme_forbidden_test

import data.modeguard.rules.acme_forbidden

test_fires if count(acme_forbidden.violations) == 1 with input as {"subject": {"namespace": "forbidden"}}

test_wrong if count(acme_forbidden.violations) == 5 with input as {"subject": {"namespace": "forbidden"}}
`)
	res, err := RunTests(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	var pass, fail []string
	for _, r := range res {
		if strings.Contains(r.Package, "acme") {
			if r.Pass {
				pass = append(pass, r.Name)
			} else {
				fail = append(fail, r.Name)
			}
		}
	}
	if strings.Join(pass, ",") != "test_fires" || strings.Join(fail, ",") != "test_wrong" {
		t.Fatalf("custom tests: pass %v fail %v, want pass [test_fires] fail [test_wrong]", pass, fail)
	}
}

func TestEvaluationTimeout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, "slow.rego", `# METADATA
# title: slow
# custom:
#   id: SLOW1
package modeguard.rules.slow

violations contains {"msg": "x"} if {
	count([x | some x in numbers.range(1, 100000000)]) < 0
}
`)
	s, _ := ParseSettings([]byte("evaluationTimeout: 50ms"))
	e := newEngine(t, dir, s)
	_, err := e.Evaluate(context.Background(), &Input{})
	if !errors.Is(err, ErrEvaluation) {
		t.Fatalf("got %v, want ErrEvaluation after the timeout", err)
	}
}

// TestEvaluationErrorWrapsContext: when evaluation stops on its context —
// the caller's deadline or cancellation, or the engine's own timeout — the
// error matches both ErrEvaluation and the context's error, whether OPA
// stopped between expressions or inside a builtin.
func TestEvaluationErrorWrapsContext(t *testing.T) {
	t.Parallel()
	rules := map[string]string{
		// Millions of expressions: OPA stops between two of them.
		"between expressions": `xs := numbers.range(1, 3000)

violations contains {"msg": "x"} if {
	some i in xs
	some j in xs
	i + j < 0
}`,
		// One builtin call that runs long and stops itself.
		"inside a builtin": `violations contains {"msg": "x"} if {
	count(numbers.range(1, 100000000)) < 0
}`,
	}
	const after = 50 * time.Millisecond
	contexts := []struct {
		name     string
		settings string
		ctx      func() (context.Context, context.CancelFunc)
		want     error
	}{
		{"caller's deadline", "", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), after)
		}, context.DeadlineExceeded},
		{"caller cancels", "", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(after, cancel)
			return ctx, cancel
		}, context.Canceled},
		{"engine's timeout", "evaluationTimeout: 50ms", func() (context.Context, context.CancelFunc) {
			return context.WithCancel(context.Background())
		}, context.DeadlineExceeded},
	}
	for name, body := range rules {
		for _, c := range contexts {
			t.Run(name+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				write(t, dir, "slow.rego", "# METADATA\n# title: slow\n# custom:\n#   id: SLOW1\npackage modeguard.rules.slow\n\n"+body+"\n")
				s, err := ParseSettings([]byte(c.settings))
				if err != nil {
					t.Fatal(err)
				}
				e := newEngine(t, dir, s)
				ctx, cancel := c.ctx()
				defer cancel()
				_, err = e.Evaluate(ctx, &Input{})
				if !errors.Is(err, c.want) || !errors.Is(err, ErrEvaluation) {
					t.Fatalf("got %v, want an error matching %v and ErrEvaluation", err, c.want)
				}
			})
		}
	}
}

func TestPodOnlyGetsPodRules(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, "acme.rego", customRule)
	e := newEngine(t, dir, nil)
	vs, err := e.Evaluate(context.Background(), &Input{Subject: Subject{Kind: "Pod", Namespace: "forbidden"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 0 {
		t.Fatalf("Pod subject: got %d violations of a DaemonSet-only rule, want 0", len(vs))
	}
}

// TestNonObjectViolationsLeftOut: a custom rule whose violations include
// something other than an object has those left out, not an error, and
// its objects kept.
func TestNonObjectViolationsLeftOut(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, "acme.rego", `# METADATA
# title: Mixed violations
# description: Yields a string and an object.
# custom:
#   id: ACME2
#   action: warn
#   appliesTo: [DaemonSet]
package modeguard.rules.acme_mixed

violations contains "not an object" if input.mode == "daemonset"

violations contains {"msg": "an object", "target": "workload"} if input.mode == "daemonset"
`)
	e := newEngine(t, dir, nil)
	vs, err := e.Evaluate(context.Background(), &Input{Subject: Subject{Kind: "DaemonSet", Namespace: "a", Name: "a"}, Mode: "daemonset"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs {
		if v.Rule.ID == "ACME2" {
			got = append(got, v.Message)
		}
	}
	if len(got) != 1 || got[0] != "an object" {
		t.Errorf("ACME2 violations: got %q, want [\"an object\"]", got)
	}
}

// TestViolationsForms: a package's violations may be written in any form
// Rego allows. "contains" rules that fire nothing, a complete rule that is
// undefined, a complete set, an array and elements that are not objects:
// each package gives what it holds, and one package's undefined violations
// never hide another's (the query is one array of them).
func TestViolationsForms(t *testing.T) {
	t.Parallel()
	rule := func(id, body string) string {
		return "# METADATA\n# title: t\n# custom:\n#   id: " + id + "\n#   action: warn\npackage modeguard.rules." + strings.ToLower(id) + "\n\n" + body + "\n"
	}
	dir := t.TempDir()
	write(t, dir, "a.rego", rule("A1", `violations contains {"msg": "never"} if input.mode == "nothing"`))
	write(t, dir, "b.rego", rule("B1", `violations := {{"msg": "never"}} if input.mode == "nothing"`))
	write(t, dir, "c.rego", rule("C1", `violations := {{"msg": "complete set"}, "not an object"}`))
	write(t, dir, "d.rego", rule("D1", `violations := [{"msg": "array"}, 7]`))
	write(t, dir, "e.rego", rule("E1", `violations contains {"msg": "contains", "package": "elsewhere"} if input.mode == "daemonset"`))
	write(t, dir, "f.rego", rule("F1", `helper := 1`))
	e := newEngine(t, dir, nil)
	vs, err := e.Evaluate(context.Background(), &Input{Subject: Subject{Kind: "DaemonSet", Namespace: "n", Name: "a"}, Mode: "daemonset"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs {
		if !v.Rule.Builtin {
			got = append(got, v.Rule.ID+":"+v.Message+"@"+v.Package)
		}
	}
	want := "C1:complete set@modeguard.rules.c1 D1:array@modeguard.rules.d1 E1:contains@modeguard.rules.e1"
	if strings.Join(got, " ") != want {
		t.Errorf("custom violations:\n got %v\nwant %s", got, want)
	}
}
