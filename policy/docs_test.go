package policy

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/modeguard/modeguard/internal/testutil"
)

// TestRulesDoc fails when docs/rules.md is not what the METADATA generates;
// `make docs` (go test ./policy -run TestRulesDoc -update) rewrites it.
func TestRulesDoc(t *testing.T) {
	t.Parallel()
	e, err := New(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, filepath.Join("..", "docs", "rules.md"), RulesMarkdown(e.Rules()))
}
