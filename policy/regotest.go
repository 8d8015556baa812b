package policy

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestResult is the outcome of one Rego test.
type TestResult struct {
	Package  string
	Name     string
	File     string
	Line     int
	Pass     bool
	Skip     bool
	Fail     string // the failure or error, when not Pass
	Duration time.Duration
}

// RunTests runs the Rego tests of the built-in rules and of the custom
// policy directory (custom rules replace built-ins as they do in the engine),
// with the same capabilities the engine allows. The rules are compiled first
// as the engine loads them (compilePolicy); an error there is returned.
func RunTests(ctx context.Context, policyDir string) ([]TestResult, error) {
	b, err := builtinSources(true)
	if err != nil {
		return nil, err
	}
	c, err := customSources(policyDir)
	if err != nil {
		return nil, err
	}
	srcs := merge(b, c)
	// The rules first, exactly as the engine compiles them (strict, METADATA
	// required): tests that pass on a policy the webhook refuses would be
	// worse than no tests.
	if _, _, _, err := compilePolicy(srcs); err != nil {
		return nil, err
	}
	modules := map[string]*ast.Module{}
	for _, s := range srcs {
		modules[s.name] = s.module
	}
	compiler := ast.NewCompiler().WithCapabilities(Capabilities()).WithDefaultRegoVersion(ast.RegoV1)
	ch, err := tester.NewRunner().
		SetCompiler(compiler).
		SetModules(modules).
		SetTimeout(30*time.Second).
		RaiseBuiltinErrors(true).
		RunTests(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("compiling policy tests: %w", err)
	}
	var out []TestResult
	for r := range ch {
		tr := TestResult{Package: r.Package, Name: r.Name, Pass: r.Pass(), Skip: r.Skip, Duration: r.Duration}
		if r.Location != nil {
			tr.File, tr.Line = r.Location.File, r.Location.Row
		}
		switch {
		case r.Error != nil:
			tr.Fail = r.Error.Error()
		case r.Fail:
			tr.Fail = "failed"
		}
		out = append(out, tr)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	return out, nil
}

// ReportTests writes results the way `opa test` does and returns how many
// failed.
func ReportTests(w io.Writer, results []TestResult, verbose bool) (failed int) {
	pass, skip := 0, 0
	for _, r := range results {
		switch {
		case r.Skip:
			skip++
			if verbose {
				fmt.Fprintf(w, "%s: %s.%s: SKIPPED\n", r.File, r.Package, r.Name)
			}
		case r.Pass:
			pass++
			if verbose {
				fmt.Fprintf(w, "%s: %s.%s: PASS (%s)\n", r.File, r.Package, r.Name, r.Duration.Round(time.Microsecond))
			}
		default:
			failed++
			fmt.Fprintf(w, "%s:%d: %s.%s: FAIL: %s\n", r.File, r.Line, r.Package, r.Name, r.Fail)
		}
	}
	fmt.Fprintln(w, "--------------------------------------------------------------------------------")
	fmt.Fprintf(w, "PASS: %d/%d\n", pass, len(results))
	if failed > 0 {
		fmt.Fprintf(w, "FAIL: %d/%d\n", failed, len(results))
	}
	if skip > 0 {
		fmt.Fprintf(w, "SKIPPED: %d/%d\n", skip, len(results))
	}
	return failed
}
