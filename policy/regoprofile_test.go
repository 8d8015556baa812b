package policy

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/open-policy-agent/opa/v1/profiler"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/modeguard/modeguard/internal/benchconfig"
)

// TestRegoProfile prints OPA's expression profile of one decision on the
// typical config (BenchmarkDecision's input): which Rego expressions are
// evaluated how often and take the time. A tool for tuning the rules, not a
// check: it runs only with MODEGUARD_REGO_PROFILE=N (N rows).
//
//	MODEGUARD_REGO_PROFILE=30 go test ./policy -run TestRegoProfile -v
func TestRegoProfile(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("MODEGUARD_REGO_PROFILE"))
	if n <= 0 {
		t.Skip("set MODEGUARD_REGO_PROFILE=N to print the N costliest Rego expressions")
	}
	ctx := context.Background()
	e, err := New(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := ToValue(benchInput(t, benchconfig.Typical))
	if err != nil {
		t.Fatal(err)
	}
	p := profiler.New()
	q, err := e.current().queryFor(v)
	if err != nil {
		t.Fatal(err)
	}
	const runs = 200
	for range runs {
		if _, err := q.Eval(ctx, rego.EvalParsedInput(v), rego.EvalQueryTracer(p)); err != nil {
			t.Fatal(err)
		}
	}
	var evals int
	byFile := map[string]int{}
	for _, s := range p.ReportTopNResults(-1, []string{"num_eval"}) {
		evals += s.NumEval
		byFile[s.Location.File] += s.NumEval
	}
	fmt.Printf("%d expression evaluations per decision\n", evals/runs)
	files := slices.Sorted(maps.Keys(byFile))
	slices.SortStableFunc(files, func(a, b string) int { return byFile[b] - byFile[a] })
	for _, f := range files {
		fmt.Printf("%8d  %s\n", byFile[f]/runs, f)
	}
	fmt.Printf("%10s %8s %8s  %s\n", "µs/run", "evals", "redos", "location")
	for _, s := range p.ReportTopNResults(n, []string{"total_time_ns", "num_eval", "num_redo", "file", "line"}) {
		fmt.Printf("%10.1f %8d %8d  %s:%d %s\n", float64(s.ExprTimeNs)/runs/1e3, s.NumEval/runs, s.NumRedo/runs,
			s.Location.File, s.Location.Row, firstLine(string(s.Location.Text)))
	}
}

func firstLine(s string) string {
	for i, r := range s {
		if r == '\n' {
			return s[:i] + " …"
		}
	}
	return s
}

// regoExpressionBudget bounds the Rego expressions one typical decision
// evaluates (BenchmarkDecision's input), so that the rules do not grow
// deeper unnoticed. The goal is at most 100 (each rule a few lookups of
// facts Go computed). With the derived facts (input.derived, derived.go)
// it went from 345 to 181, and with the query as one array of the
// packages' violations (no entry module, no object.union per violation)
// to 176; with violations built in the rule head (no v := or msg :=
// binding), a collector's or source's clustered flag compared to false
// rather than negated, and one pass over the unverifiable parts, to 158;
// with MG002's node-name expressions listed by Go (input.derived.nodeNames)
// rather than gathered by three rule bodies, to 151; with one query per
// input mode that leaves out the packages that cannot fire in it
// (packageModes: here MG006, MG008, MG011, MG012), to 137; with the rules
// that select collectors or sources by a property (clustered, reading
// files, localBy, podSelectorOnly) or volumes by type looking them up in
// indexes Go builds (input.derived.index.clusteredCollectors and the like) rather
// than testing every one, and MG001 testing the role first, to 118; with
// those indexes in one object (lib.index, read once), unused components
// indexed too, and the lookups that find nothing in most configs placed
// before the mode condition (packageModes finds it anywhere in a body), to
// 95.
// What is left is mostly the five violations the typical config breaks
// (message, location and fix of each: every reference inside them is an
// expression of its own), one reference per rule package in the query,
// and each rule's first conditions, once per source or collector (see
// TestRegoProfile).
const regoExpressionBudget = 95

// TestRegoExpressionBudget: the typical decision stays within the budget.
func TestRegoExpressionBudget(t *testing.T) {
	t.Parallel()
	e, err := New(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := regoExpressions(t, e, benchInput(t, benchconfig.Typical)); n > regoExpressionBudget {
		t.Errorf("the typical decision evaluates %d Rego expressions, want at most %d (MODEGUARD_REGO_PROFILE=30 go test ./policy -run TestRegoProfile -v shows where)", n, regoExpressionBudget)
	}
}
