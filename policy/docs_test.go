package policy

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files and generated docs")

// TestRulesDoc fails when docs/rules.md is not what the METADATA generates;
// `make docs` (go test ./policy -run TestRulesDoc -update) rewrites it.
func TestRulesDoc(t *testing.T) {
	t.Parallel()
	e, err := New(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := RulesMarkdown(e.Rules())
	path := filepath.Join("..", "docs", "rules.md")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run make docs)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("docs/rules.md is stale: run make docs")
	}
}
