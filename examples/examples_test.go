package examples_test

import (
	"context"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/modeguard/modeguard/examples"
	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/mutate"
	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
)

// expected parses "MG001:fix,MG004:deny" (or "none") into sorted entries.
func expected(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return []string{}
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		out = append(out, strings.TrimSpace(f))
	}
	sort.Strings(out)
	return out
}

// TestExamples is the Go scenario test of every rule: each example is
// reviewed as one bundle, and every object must get exactly the findings
// its modeguard.dev/expect annotation lists (rule:action).
func TestExamples(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	engine, err := policy.New(ctx, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rv := &review.Reviewer{Engine: engine, Fixer: mutate.Fixer{}}
	files, err := fs.Glob(examples.FS, "*/manifest.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	fired := map[string]bool{}
	for _, file := range files {
		docs, err := manifest.Parse(file, mustRead(t, file))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		manifest.DefaultNamespace(docs, "default")
		res, err := rv.ReviewBundle(ctx, manifest.Objects(docs), review.Options{Operation: "CHECK"})
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, f := range res.Findings {
			fired[f.Rule.ID] = true
		}
		for _, d := range docs {
			if d.Object == nil || d.Kind == "Namespace" {
				continue
			}
			m, _ := meta.Accessor(d.Object)
			want, ok := m.GetAnnotations()[examples.AnnotationExpect]
			if !ok {
				t.Errorf("%s: %s %s has no %s annotation", d.Where(), d.Kind, d.Name, examples.AnnotationExpect)
				continue
			}
			got := []string{}
			var msgs []string
			for _, f := range res.Findings {
				if f.Object.Kind == d.Kind && f.Object.Name == d.Name && f.Object.Namespace == d.Namespace {
					got = append(got, f.Rule.ID+":"+string(f.Action))
					msgs = append(msgs, f.Decision.String())
				}
			}
			sort.Strings(got)
			got = slices.Compact(got) // a rule may fire on several components
			if !slices.Equal(got, expected(want)) {
				t.Errorf("%s: %s %s: got %v, want %v\n  %s", d.Where(), d.Kind, d.Name, got, expected(want), strings.Join(msgs, "\n  "))
			}
		}
	}
	// Every rule has an example where it fires.
	for _, r := range engine.Rules() {
		if !fired[r.ID] {
			t.Errorf("%s: no example makes it fire", r.ID)
		}
		if _, err := fs.Stat(examples.FS, path.Join(strings.ToLower(r.ID)+"-fires", "manifest.yaml")); err != nil {
			t.Errorf("%s: no examples/%s-fires", r.ID, strings.ToLower(r.ID))
		}
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(examples.FS, name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
