package review_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/modeguard/modeguard/examples"
	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/mutate"
	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/riverconfig"
)

// bundleOutcome is everything a review decides, as JSON: the findings and
// the fixed objects.
func bundleOutcome(t *testing.T, rv *review.Reviewer, objs []runtime.Object) string {
	t.Helper()
	res, err := rv.ReviewBundle(context.Background(), objs, review.Options{Operation: "CHECK"})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	for i, r := range res.Results {
		if r == nil {
			continue
		}
		if err := enc.Encode([]any{r, r.Fixed, r.Related}); err != nil {
			t.Fatalf("object %d: %v", i, err)
		}
	}
	if err := enc.Encode(res.Findings); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// goldenConfigs are the River texts of the golden scenarios of riverconfig
// (facts) and mutate (fixes).
func goldenConfigs(t *testing.T) map[string]string {
	t.Helper()
	var paths []string
	for _, g := range []string{"../riverconfig/testdata/*/input.*", "../mutate/testdata/*/input.*"} {
		p, err := filepath.Glob(g)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p...)
	}
	if len(paths) == 0 {
		t.Fatal("no golden configs")
	}
	out := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = string(b)
	}
	return out
}

// exampleObjects returns the objects of examples/<name>, in the namespace
// default where they name none.
func exampleObjects(t *testing.T, name string) []runtime.Object {
	t.Helper()
	docs := examples.Load(t, name)
	manifest.DefaultNamespace(docs, "default")
	return manifest.Objects(docs)
}

// withText returns a copy of objs whose ConfigMaps hold text under every
// data key, and, when mode is not "", the modeguard.dev/mode annotation.
func withText(objs []runtime.Object, text, mode string) []runtime.Object {
	out := make([]runtime.Object, len(objs))
	for i, o := range objs {
		out[i] = o.DeepCopyObject()
		if cm, ok := out[i].(*corev1.ConfigMap); ok {
			for k := range cm.Data {
				cm.Data[k] = text
			}
			if mode != "" {
				if cm.Annotations == nil {
					cm.Annotations = map[string]string{}
				}
				cm.Annotations[policy.AnnotationMode] = mode
			}
		}
	}
	return out
}

// TestFileCacheKeepsDecisions: reviews through the engine's file cache
// decide exactly what reviews without it decide (findings, fixed objects),
// on every example and on every golden config read by a DaemonSet, a
// StatefulSet, a Deployment or nobody (in each mode); the cached engine
// reviews everything twice, the second time from the cache.
func TestFileCacheKeepsDecisions(t *testing.T) {
	t.Parallel()
	cached := engine(t, nil)
	uncached, err := policy.New(context.Background(), policy.Options{FileCacheEntries: -1})
	if err != nil {
		t.Fatal(err)
	}
	if cached.FileCache() == nil || uncached.FileCache() != nil {
		t.Fatal("FileCacheEntries does not switch the cache")
	}
	with := &review.Reviewer{Engine: cached, Fixer: mutate.Fixer{}}
	without := &review.Reviewer{Engine: uncached, Fixer: mutate.Fixer{}}

	type scenario struct {
		name string
		objs []runtime.Object
	}
	var scenarios []scenario
	for _, name := range examples.Names() {
		scenarios = append(scenarios, scenario{name, exampleObjects(t, name)})
	}
	if len(scenarios) == 0 {
		t.Fatal("no examples")
	}
	// A ConfigMap of each mode's example, read by its workload; and alone.
	readers := map[string][]runtime.Object{}
	for _, ex := range []string{"mg001-fires", "mg006-fires", "mg007-fires"} {
		readers[ex] = exampleObjects(t, ex)
	}
	var alone []runtime.Object
	for _, o := range readers["mg001-fires"] {
		if cm, ok := o.(*corev1.ConfigMap); ok {
			alone = []runtime.Object{cm}
		}
	}
	for path, text := range goldenConfigs(t) {
		for ex, objs := range readers {
			scenarios = append(scenarios, scenario{path + " read in " + ex, withText(objs, text, "")})
		}
		for _, mode := range []string{"", "daemonset", "statefulset", "deployment"} {
			scenarios = append(scenarios, scenario{fmt.Sprintf("%s alone, mode %q", path, mode), withText(alone, text, mode)})
		}
	}

	for round := range 2 {
		for _, s := range scenarios {
			want := bundleOutcome(t, without, s.objs)
			if got := bundleOutcome(t, with, s.objs); got != want {
				t.Errorf("round %d, %s: with the file cache\n%s\nwithout\n%s", round, s.name, got, want)
			}
		}
	}
	if hits, misses := cached.FileCache().Stats(); hits == 0 || misses == 0 {
		t.Errorf("the cache had %d hits and %d misses, want some of each", hits, misses)
	}
}

// TestFileCacheFactsUnchanged: the facts the cache shares come out of a
// review, fixes applied, as they went in.
func TestFileCacheFactsUnchanged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := engine(t, nil)
	rv := &review.Reviewer{Engine: e, Fixer: mutate.Fixer{}}
	for _, ex := range []string{"mg001-fires", "mg002-fires", "mg006-fires", "mg007-fires", "seed-daemonset"} {
		objs := exampleObjects(t, ex)
		type seen struct {
			key   string
			facts *riverconfig.Facts
			json  []byte
		}
		var before []seen
		for _, o := range objs {
			if cm, ok := o.(*corev1.ConfigMap); ok {
				for k, v := range cm.Data {
					f := e.ParseConfig(k, []byte(v))
					b, err := json.Marshal(f)
					if err != nil {
						t.Fatal(err)
					}
					before = append(before, seen{k, f, b})
				}
			}
		}
		if _, err := rv.ReviewBundle(ctx, objs, review.Options{Operation: "CHECK"}); err != nil {
			t.Fatal(err)
		}
		for _, s := range before {
			after, err := json.Marshal(s.facts)
			if err != nil {
				t.Fatal(err)
			}
			if string(after) != string(s.json) {
				t.Errorf("%s %s: the cached facts changed during the review:\nbefore %s\nafter  %s", ex, s.key, s.json, after)
			}
		}
	}
}
