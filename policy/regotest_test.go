package policy

import (
	"context"
	"os"
	"strings"
	"testing"
)

// TestRegoBuiltins runs every built-in _test.rego with OPA's test runner.
func TestRegoBuiltins(t *testing.T) {
	t.Parallel()
	res, err := RunTests(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(res) == 0 {
		t.Fatal("no Rego tests found in the built-in rules")
	}
	if failed := ReportTests(os.Stderr, res, testing.Verbose()); failed > 0 {
		t.Fatalf("%d of %d Rego tests failed", failed, len(res))
	}
}

// TestRegoTestsCompileAsTheEngine: a policy the engine refuses (strict
// mode: an unused import or variable; a rule package without METADATA)
// is refused by RunTests too, with the engine's error, although its own
// tests would pass.
func TestRegoTestsCompileAsTheEngine(t *testing.T) {
	t.Parallel()
	const passingTest = `package modeguard.rules.acme_forbidden_test

import data.modeguard.rules.acme_forbidden

test_fires if count(acme_forbidden.violations) == 1 with input as {"subject": {"namespace": "forbidden"}}
`
	cases := map[string]struct{ rule, want string }{
		"unused import": {
			rule: strings.Replace(customRule, "package modeguard.rules.acme_forbidden\n", "package modeguard.rules.acme_forbidden\n\nimport data.kubernetes\n", 1),
			want: "import data.kubernetes unused",
		},
		"unused variable": {
			rule: strings.Replace(customRule, `if input.subject.namespace == "forbidden"`, `if {
	x := 1
	input.subject.namespace == "forbidden"
}`, 1),
			want: "assigned var x unused",
		},
		"no METADATA": {
			rule: customRule[strings.Index(customRule, "package "):],
			want: "METADATA",
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			write(t, dir, "acme.rego", c.rule)
			write(t, dir, "acme_test.rego", passingTest)
			_, engineErr := New(context.Background(), Options{PolicyDir: dir})
			if engineErr == nil {
				t.Fatalf("the engine loads the policy; the case tests nothing")
			}
			_, err := RunTests(context.Background(), dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("RunTests: got %v, want an error containing %q (the engine: %v)", err, c.want, engineErr)
			}
		})
	}
}
