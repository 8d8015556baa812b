package policy

import (
	"context"
	"os"
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
