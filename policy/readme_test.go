package policy

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/modeguard/modeguard/workload"
)

// TestReadmePolicyExample loads the custom rule the README shows, as a
// custom policy, and checks that it works as the README says.
func TestReadmePolicyExample(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```rego\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no rego block")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "acme.rego"), m[1], 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := New(context.Background(), Options{PolicyDir: dir})
	if err != nil {
		t.Fatalf("the README's policy does not load: %v", err)
	}
	in := &Input{Subject: Subject{Kind: "DaemonSet", Namespace: "default", Name: "alloy"}, Mode: "daemonset",
		Workload: &workload.Facts{Kind: "DaemonSet", Namespace: "default", Name: "alloy", Agent: true}}
	vs, err := e.Evaluate(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	ds := e.Resolve(vs, Scope{})
	if len(ds) != 1 || ds[0].Rule.ID != "ACME1" || ds[0].Action != ActionWarn {
		t.Fatalf("got %+v, want one ACME1 warn", ds)
	}
}
