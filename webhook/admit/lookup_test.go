package admit_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/webhook/admit"
	"github.com/modeguard/modeguard/webhook/admittest"
	"github.com/modeguard/modeguard/webhook/metrics"
)

var errDown = errors.New("the API server is down")

// failingLookup is a review.Set whose lookups of one kind (a
// review.Lookup* constant) fail with errDown.
type failingLookup struct {
	*review.Set
	failing string
}

func (l failingLookup) ConfigMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	if l.failing == review.LookupConfigMap {
		return nil, errDown
	}
	return l.Set.ConfigMap(ctx, ns, name)
}

func (l failingLookup) Consumers(ctx context.Context, ns, cm string) ([]runtime.Object, error) {
	if l.failing == review.LookupConsumers {
		return nil, errDown
	}
	return l.Set.Consumers(ctx, ns, cm)
}

func (l failingLookup) HPAs(ctx context.Context, ns string) ([]autoscalingv2.HorizontalPodAutoscaler, error) {
	if l.failing == review.LookupHPAs {
		return nil, errDown
	}
	return l.Set.HPAs(ctx, ns)
}

func (l failingLookup) NamespaceLabels(ctx context.Context, ns string) (map[string]string, error) {
	if l.failing == review.LookupNamespace {
		return nil, errDown
	}
	return l.Set.NamespaceLabels(ctx, ns)
}

// TestFailedLookup: a lookup that fails is not an absent object. The
// review notes the failed lookup and decides nothing, the lookup error
// metric counts it, and the failure policy answers (allow with a warning
// naming the lookup, or a 500), uncached: never the mode-free review an
// absent object gets.
func TestFailedLookup(t *testing.T) {
	t.Parallel()
	objs := admittest.Example(t, "mg001-fires")
	ds := admittest.Find[*appsv1.DaemonSet](t, objs)
	cm := admittest.Find[*corev1.ConfigMap](t, objs)
	for _, tc := range []struct {
		failing string
		subject runtime.Object
		lookup  string // what the warning names
	}{
		{review.LookupConfigMap, ds, "looking up ConfigMap mg001-fires/alloy"},
		{review.LookupConsumers, cm, "looking up the agent workloads reading ConfigMap mg001-fires/alloy"},
		{review.LookupHPAs, ds, "looking up the HorizontalPodAutoscalers of namespace mg001-fires"},
		{review.LookupNamespace, cm, "looking up namespace mg001-fires"},
	} {
		for _, fp := range []admit.FailurePolicy{admit.FailAllow, admit.FailDeny} {
			t.Run(tc.failing+"/"+string(fp), func(t *testing.T) {
				t.Parallel()
				core, reg := admittest.Core(t, nil, objs)
				core.Lookup = failingLookup{Set: review.NewSet(objs), failing: tc.failing}
				core.FailurePolicy = fp
				req := admittest.Request(t, tc.subject, admissionv1.Create, false)

				// The result notes the failed lookup and holds no decision.
				s, err := admit.Decode(admittest.Decoder(), req)
				if err != nil {
					t.Fatal(err)
				}
				if reason, why := core.Guard(s); reason != "" {
					t.Fatalf("guard: %s: %s", reason, why)
				}
				sur := core.Surround(context.Background(), s)
				if key := core.Key(s, sur); key != "" {
					t.Errorf("cache key %q, want none for incomplete surroundings", key)
				}
				res, err := core.Review(context.Background(), "validate", s, sur)
				var le *review.LookupError
				if !errors.As(err, &le) || le.Kind != tc.failing || !errors.Is(err, errDown) {
					t.Fatalf("review error %v, want a %s LookupError wrapping %q", err, tc.failing, errDown)
				}
				if res == nil || len(res.Findings) != 0 || len(res.Notes) != 1 || !strings.Contains(res.Notes[0], tc.lookup) {
					t.Fatalf("review result %+v, want no findings and a note saying %q", res, tc.lookup)
				}

				// Both webhooks answer by the failure policy, every time.
				handlers := map[string]admission.Handler{
					"mutate":   admit.NewMutating(core, admittest.Decoder(), 0),
					"validate": admit.NewValidating(core, admittest.Decoder(), 0),
				}
				for name, h := range handlers {
					for i := range 2 {
						checkFailed(t, name, i, fp, h.Handle(context.Background(), req), string(req.UID), tc.lookup)
					}
				}
				m := admittest.Metrics(t, reg)
				if got := m.Sum(metrics.LookupErrorsTotal, map[string]string{"kind": tc.failing}); got != 5 {
					t.Errorf("lookup errors{kind=%s} = %v, want 5 (the review above, 2 requests per webhook)", tc.failing, got)
				}
				if got := m.Sum(metrics.RequestsTotal, map[string]string{"result": metrics.ResultError}); got != 4 {
					t.Errorf("requests{error} = %v, want 4", got)
				}
				if got := m.Sum(metrics.EvaluationsSkipped, map[string]string{"reason": metrics.SkipCacheHit}); got != 0 {
					t.Errorf("cache hits = %v, want 0", got)
				}
			})
		}
	}
}

func checkFailed(t *testing.T, webhook string, i int, fp admit.FailurePolicy, resp admission.Response, uid, lookup string) {
	t.Helper()
	for _, w := range resp.Warnings {
		if strings.Contains(w, "mode-free") || strings.Contains(w, "not known yet") {
			t.Errorf("%s request %d: warning %q: the failed lookup was read as an absent object", webhook, i+1, w)
		}
	}
	switch fp {
	case admit.FailAllow:
		if !resp.Allowed || len(resp.Patches) > 0 || len(resp.Warnings) != 1 ||
			!strings.Contains(resp.Warnings[0], uid) || !strings.Contains(resp.Warnings[0], lookup) || !strings.Contains(resp.Warnings[0], errDown.Error()) {
			t.Errorf("%s request %d, allow: got allowed=%v patches=%d warnings=%q; want allowed unpatched, one warning naming the request, %q and the cause",
				webhook, i+1, resp.Allowed, len(resp.Patches), resp.Warnings, lookup)
		}
	case admit.FailDeny:
		if resp.Allowed || resp.Result.Code != 500 || !strings.Contains(resp.Result.Message, uid) || !strings.Contains(resp.Result.Message, lookup) {
			t.Errorf("%s request %d, deny: got allowed=%v result=%+v; want a 500 naming the request and %q", webhook, i+1, resp.Allowed, resp.Result, lookup)
		}
	}
}

// TestAbsentIsNotFailed is the contrast: the same objects absent (a lookup
// that answers "none") give the ConfigMap the mode-free review, with its
// note, and count no lookup error.
func TestAbsentIsNotFailed(t *testing.T) {
	t.Parallel()
	objs := admittest.Example(t, "mg001-fires")
	cm := admittest.Find[*corev1.ConfigMap](t, objs)
	core, reg := admittest.Core(t, nil, []runtime.Object{cm})
	resp := admit.NewValidating(core, admittest.Decoder(), 0).Handle(context.Background(), admittest.Request(t, cm, admissionv1.Create, false))
	if !resp.Allowed || !strings.Contains(strings.Join(resp.Warnings, "\n"), "mode-free rules only") {
		t.Errorf("got allowed=%v warnings=%q, want allowed with the mode-free note", resp.Allowed, resp.Warnings)
	}
	if got := admittest.Metrics(t, reg).Sum(metrics.LookupErrorsTotal, nil); got != 0 {
		t.Errorf("lookup errors = %v, want 0", got)
	}
}

// countingLookup counts the lookups of a review.Set by method.
type countingLookup struct {
	*review.Set
	mu    sync.Mutex
	calls map[string]int
}

func (l *countingLookup) count(what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls[what]++
}

func (l *countingLookup) ConfigMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	l.count("ConfigMap")
	return l.Set.ConfigMap(ctx, ns, name)
}

func (l *countingLookup) Consumers(ctx context.Context, ns, cm string) ([]runtime.Object, error) {
	l.count("Consumers")
	return l.Set.Consumers(ctx, ns, cm)
}

func (l *countingLookup) HPAs(ctx context.Context, ns string) ([]autoscalingv2.HorizontalPodAutoscaler, error) {
	l.count("HPAs")
	return l.Set.HPAs(ctx, ns)
}

func (l *countingLookup) NamespaceLabels(ctx context.Context, ns string) (map[string]string, error) {
	l.count("NamespaceLabels")
	return l.Set.NamespaceLabels(ctx, ns)
}

// TestOneLookupPerRequest: a request looks each object around its subject
// up once, for the cache key and the review together.
func TestOneLookupPerRequest(t *testing.T) {
	t.Parallel()
	objs := admittest.Example(t, "mg002-fires")
	for _, tc := range []struct {
		subject runtime.Object
		want    map[string]int
	}{
		{admittest.Find[*appsv1.DaemonSet](t, objs), map[string]int{"ConfigMap": 1, "HPAs": 1, "NamespaceLabels": 1}},
		{admittest.Find[*corev1.ConfigMap](t, objs), map[string]int{"Consumers": 1, "HPAs": 1, "NamespaceLabels": 1}},
	} {
		core, _ := admittest.Core(t, nil, objs)
		lk := &countingLookup{Set: review.NewSet(objs), calls: map[string]int{}}
		core.Lookup = lk
		resp := admit.NewMutating(core, admittest.Decoder(), 0).Handle(context.Background(), admittest.Request(t, tc.subject, admissionv1.Create, false))
		if !resp.Allowed || len(resp.Patches) == 0 {
			t.Errorf("%T: allowed=%v patches=%d warnings=%q, want it fixed", tc.subject, resp.Allowed, len(resp.Patches), resp.Warnings)
		}
		if !maps.Equal(lk.calls, tc.want) {
			t.Errorf("%T: lookups %v, want %v", tc.subject, lk.calls, tc.want)
		}
	}
}
