package review_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/modeguard/modeguard/examples"
	"github.com/modeguard/modeguard/internal/benchconfig"
	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/mutate"
	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/riverconfig"
	"github.com/modeguard/modeguard/workload"
)

// withConfig returns the ConfigMap of examples/mg001-fires with config as
// its config.alloy, and a Lookup holding it and the DaemonSet that reads it.
func withConfig(tb testing.TB, config string) (*corev1.ConfigMap, *review.Set) {
	tb.Helper()
	objs := manifest.Objects(examples.Load(tb, "mg001-fires"))
	for _, o := range objs {
		if cm, ok := o.(*corev1.ConfigMap); ok {
			if _, ok := cm.Data["config.alloy"]; !ok {
				tb.Fatalf("mg001-fires has no config.alloy: %v", cm.Data)
			}
			cm.Data["config.alloy"] = config
			return cm, review.NewSet(objs)
		}
	}
	tb.Fatal("mg001-fires has no ConfigMap")
	return nil, nil
}

// TestReviewConfigPastLimits: a config nested past riverconfig's limit is
// denied by config-syntax (MG013), one with too many components gets an
// unverifiable-config warning (MG014: not checked); each says which limit,
// promptly.
func TestReviewConfigPastLimits(t *testing.T) {
	t.Parallel()
	var flat strings.Builder
	for i := range 100_000 {
		fmt.Fprintf(&flat, "discovery.relabel \"r%d\" {\n  targets = []\n}\n", i)
	}
	for _, c := range []struct{ name, config, finding, message string }{
		{"nested a million deep", "a = " + strings.Repeat("[", 1_000_000) + strings.Repeat("]", 1_000_000), "MG013:deny", fmt.Sprintf("nests more than %d levels", riverconfig.MaxNesting)},
		{"100,000 components", flat.String(), "MG014:warn", fmt.Sprintf("has 100000 components; modeguard analyses at most %d", riverconfig.MaxComponents)},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cm, lk := withConfig(t, c.config)
			rv := &review.Reviewer{Engine: engine(t, nil), Fixer: mutate.Fixer{}}
			start := time.Now()
			res, err := rv.Review(context.Background(), cm, lk, review.Options{Operation: "CREATE"})
			took := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d bytes reviewed in %v", len(c.config), took)
			if took > 5*time.Second {
				t.Errorf("took %v, want well under the webhook's 3s", took)
			}
			if got := ids(res.Findings); len(got) != 1 || got[0] != c.finding {
				t.Fatalf("findings %v, want only %s", got, c.finding)
			}
			if msg := res.Findings[0].Decision.String(); !strings.Contains(msg, c.message) || !strings.Contains(msg, "config.alloy:") {
				t.Errorf("finding %q, want config.alloy:... and %q", msg, c.message)
			}
		})
	}
}

// slowFixer applies mutate's fixes, each after a pause, and counts them.
type slowFixer struct {
	mutate.Fixer
	pause time.Duration
	calls *atomic.Int32
}

func (f slowFixer) ConfigMap(cm *corev1.ConfigMap, key string, fix policy.FixRequest, parse func(string, []byte) *riverconfig.Facts) error {
	f.calls.Add(1)
	time.Sleep(f.pause)
	return mutate.Fixer{}.ConfigMap(cm, key, fix, parse)
}

func (f slowFixer) Workload(obj runtime.Object, facts *workload.Facts, fix policy.FixRequest) error {
	f.calls.Add(1)
	time.Sleep(f.pause)
	return mutate.Fixer{}.Workload(obj, facts, fix)
}

// TestReviewStopsAtDeadline: past its context's deadline, a review stops
// at its next stage (here, before the next fix) and returns
// context.DeadlineExceeded.
func TestReviewStopsAtDeadline(t *testing.T) {
	t.Parallel()
	cm, lk := withConfig(t, benchconfig.Large(1000))
	rv := &review.Reviewer{Engine: engine(t, nil)}

	var all atomic.Int32
	rv.Fixer = slowFixer{calls: &all}
	if _, err := rv.Review(context.Background(), cm, lk, review.Options{Operation: "CREATE"}); err != nil {
		t.Fatal(err)
	}
	if all.Load() < 10 {
		t.Fatalf("the config takes %d fixes, want several for this test", all.Load())
	}

	const (
		deadline = 200 * time.Millisecond
		pause    = 50 * time.Millisecond
	)
	var calls atomic.Int32
	slow := &review.Reviewer{Engine: rv.Engine, Fixer: slowFixer{pause: pause, calls: &calls}}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	res, err := slow.Review(ctx, cm, lk, review.Options{Operation: "CREATE"})
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || res != nil {
		t.Fatalf("got %v, %v, want context.DeadlineExceeded and no result", res, err)
	}
	// Without the checks it would take every fix (all × pause) and more
	// passes; with them, the fix under way at the deadline and a margin.
	if limit := deadline + pause + 300*time.Millisecond; took > limit {
		t.Errorf("returned after %v, want within %v", took, limit)
	}
	if calls.Load() >= all.Load() {
		t.Errorf("%d of %d fixes applied, want the review stopped before the last", calls.Load(), all.Load())
	}
	t.Logf("returned after %v, %d of %d fixes applied", took, calls.Load(), all.Load())
}

// countingLookup counts what is looked up.
type countingLookup struct {
	review.Lookup
	calls atomic.Int32
}

func (l *countingLookup) NamespaceLabels(ctx context.Context, ns string) (map[string]string, error) {
	l.calls.Add(1)
	return l.Lookup.NamespaceLabels(ctx, ns)
}

// TestReviewDoneContext: a review whose context is already done does
// nothing.
func TestReviewDoneContext(t *testing.T) {
	t.Parallel()
	cm, set := withConfig(t, benchconfig.Typical)
	lk := &countingLookup{Lookup: set}
	rv := &review.Reviewer{Engine: engine(t, nil), Fixer: mutate.Fixer{}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := rv.Review(ctx, cm, lk, review.Options{Operation: "CREATE"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if lk.calls.Load() != 0 {
		t.Errorf("the Lookup was consulted %d times, want none", lk.calls.Load())
	}
}

// BenchmarkReviewLimits reviews benchconfig.Large configs (a fix for about
// one component in four) read by a DaemonSet, with every fix applied:
// the largest with at most riverconfig.MaxComponents components, one
// twice as large (refused by the limit), and one nested a million deep.
// It is how MaxComponents was chosen.
func BenchmarkReviewLimits(b *testing.B) {
	n := riverconfig.MaxComponents / benchconfig.PerRepeat * benchconfig.PerRepeat
	atLimit := benchconfig.LargeComponents(n)
	if f := riverconfig.Parse("config.alloy", []byte(atLimit)); len(f.Errors) > 0 || len(f.Unverifiable) > 0 || len(f.Components) != n {
		b.Fatalf("%d components, errors %v, unverifiable %v; want %d analysed", len(f.Components), f.Errors, f.Unverifiable, n)
	}
	for _, bc := range []struct{ name, config string }{
		{fmt.Sprintf("Large/%d-components", n), atLimit},
		{"Large/past-MaxComponents", atLimit + atLimit},
		{"nested-1e6", "a = " + strings.Repeat("[", 1_000_000) + strings.Repeat("]", 1_000_000)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cm, lk := withConfig(b, bc.config)
			e, err := policy.New(context.Background(), policy.Options{})
			if err != nil {
				b.Fatal(err)
			}
			rv := &review.Reviewer{Engine: e, Fixer: mutate.Fixer{}}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rv.Review(context.Background(), cm, lk, review.Options{Operation: "CREATE"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
