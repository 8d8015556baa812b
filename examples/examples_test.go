package examples_test

import (
	"context"
	"errors"
	"io/fs"
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
	names := examples.Names()
	if len(names) == 0 {
		t.Fatal("no examples")
	}
	fired := map[string]bool{}
	for _, name := range names {
		docs := examples.Load(t, name)
		manifest.DefaultNamespace(docs, "default")
		res, err := rv.ReviewBundle(ctx, manifest.Objects(docs), review.Options{Operation: "CHECK"})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
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
		if !slices.Contains(names, strings.ToLower(r.ID)+"-fires") {
			t.Errorf("%s: no examples/%s-fires", r.ID, strings.ToLower(r.ID))
		}
	}
}

// TestDocuments: Documents names the example's file in its documents and
// reports an unknown example as fs.ErrNotExist.
func TestDocuments(t *testing.T) {
	t.Parallel()
	docs, err := examples.Documents("mg001-fires")
	if err != nil || len(docs) == 0 {
		t.Fatalf("got %d documents, %v, want some and no error", len(docs), err)
	}
	for _, d := range docs {
		if d.File != "examples/mg001-fires/manifest.yaml" {
			t.Errorf("got file %q, want examples/mg001-fires/manifest.yaml", d.File)
		}
	}
	if _, err := examples.Documents("no-such-example"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("unknown example: got %v, want fs.ErrNotExist", err)
	}
	names := examples.Names()
	if !slices.IsSorted(names) || !slices.Contains(names, "mg001-fires") {
		t.Errorf("got names %v, want them sorted and mg001-fires among them", names)
	}
}
