package admit_test

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/modeguard/modeguard/examples"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/webhook/admit"
	"github.com/modeguard/modeguard/webhook/admittest"
	"github.com/modeguard/modeguard/webhook/dryrun"
	"github.com/modeguard/modeguard/workload"
)

// applier sends objects through the mutating then the validating handler,
// as the API server does, and stores what a real apply admits.
type applier struct {
	t          *testing.T
	core       *admit.Core
	mut, val   *admit.Handler
	stored     []runtime.Object
	user       string
	dryRun     bool
	seen       []string // rule:action, as kubectl would show them
	lacking    int      // lacking-pair warnings
	lastDenied bool
	denials    int
}

var rule = regexp.MustCompile(`\b(MG\d{3}) [a-z0-9-]+:`)

func (a *applier) apply(obj runtime.Object) {
	a.t.Helper()
	ctx := context.Background()
	a.core.Lookup = review.NewSetWith(a.stored, a.core.Reviewer.Agents())
	req := admittest.Request(a.t, obj, admissionv1.Create, a.dryRun)
	req.UserInfo = authenticationv1.UserInfo{Username: a.user, UID: a.user + "-uid"}
	resp := a.mut.Handle(ctx, req)
	if len(resp.Patches) > 0 {
		p, _ := json.Marshal(resp.Patches)
		patch, err := jsonpatch.DecodePatch(p)
		if err != nil {
			a.t.Fatal(err)
		}
		if req.Object.Raw, err = patch.Apply(req.Object.Raw); err != nil {
			a.t.Fatal(err)
		}
	}
	warnings := resp.Warnings
	resp = a.val.Handle(ctx, req)
	warnings = append(warnings, resp.Warnings...)
	for _, w := range warnings {
		if strings.Contains(w, "modeguard check -f") {
			a.lacking++
		}
		for _, m := range rule.FindAllStringSubmatch(w, -1) {
			action := "warn"
			if strings.Contains(w, "[fixed]") || strings.Contains(w, "[fix will be applied") {
				action = "fix"
			}
			a.seen = append(a.seen, m[1]+":"+action)
		}
	}
	a.lastDenied = !resp.Allowed
	if !resp.Allowed {
		a.denials++
		for _, m := range rule.FindAllStringSubmatch(resp.Result.Message, -1) {
			a.seen = append(a.seen, m[1]+":deny")
		}
		return
	}
	if !a.dryRun {
		stored := workload.KindOf(obj).New()
		if err := json.Unmarshal(req.Object.Raw, stored); err != nil {
			a.t.Fatal(err)
		}
		a.stored = append(a.stored, stored)
	}
}

func (a *applier) observed() []string {
	out := slices.Clone(a.seen)
	slices.Sort(out)
	return slices.Compact(out)
}

var (
	sharedCore     *admit.Core
	sharedCoreOnce sync.Once
)

// newApplier returns an applier over a core of its own, sharing one engine.
func newApplier(t *testing.T, ov *dryrun.Overlay, user string, dryRun bool, namespaces []runtime.Object) *applier {
	sharedCoreOnce.Do(func() { sharedCore, _ = admittest.Core(t, nil, nil) })
	core := *sharedCore
	core.Overlay = ov
	return &applier{t: t, core: &core, mut: admit.NewMutating(&core, admittest.Decoder(), 0), val: admit.NewValidating(&core, admittest.Decoder(), 0),
		user: user, dryRun: dryRun, stored: namespaces}
}

// Every example's bundle, in either order, shows under a dry run the
// denials, warnings and fixes a real apply shows; a second user's dry run
// of the same objects sees nothing of the first's.
func TestDryRunBundleJudgedWhole(t *testing.T) {
	t.Parallel()
	for _, name := range examples.Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var namespaces, objs []runtime.Object
			for _, o := range admittest.Example(t, name) {
				switch k := workload.KindOf(o); {
				case k == workload.KindNamespace:
					namespaces = append(namespaces, o)
				case k != nil && k.Reviewed:
					objs = append(objs, o)
				}
			}
			pairs := 0 // a bundle may hold several workloads, each with its ConfigMap
			for _, o := range objs {
				if k := workload.KindOf(o); k != workload.KindConfigMap && k != workload.KindHPA {
					pairs++
				}
			}
			pairs = max(pairs, 1)
			for _, reversed := range []bool{false, true} {
				order := slices.Clone(objs)
				if reversed {
					slices.Reverse(order)
				}
				real := newApplier(t, nil, "alice", false, namespaces)
				ov := dryrun.New(dryrun.Options{}, workload.Recognizer{})
				dry := newApplier(t, ov, "alice", true, namespaces)
				other := newApplier(t, ov, "bob", true, namespaces)
				for i, o := range order {
					real.apply(o.DeepCopyObject())
					dry.apply(o.DeepCopyObject())
					if i == len(order)-1 && len(order) > 1 {
						// Bob sends only the last object of Alice's bundle.
						other.apply(o.DeepCopyObject())
					}
				}
				if got, want := dry.observed(), real.observed(); !slices.Equal(got, want) {
					t.Errorf("reversed=%v: dry run showed %v, want %v as the real apply", reversed, got, want)
				}
				if len(order) > 1 && other.lacking != 1 {
					t.Errorf("reversed=%v: the other user's dry run of the last object gave %d lacking-pair warnings, want 1 (it must not see the first user's)", reversed, other.lacking)
				}
				if len(order) > 1 && dry.lacking > pairs && dry.denials == 0 {
					// (A denied object is not stored: the next lacks it, as in a real apply.)
					t.Errorf("reversed=%v: %d lacking-pair warnings, want at most %d (the first object of each workload's pair)", reversed, dry.lacking, pairs)
				}
			}
		})
	}
}

// The validating handler remembers what a dry run admitted, forgets what
// it denied, and says when a verdict lacks its pair.
func TestDryRunOverlayFilledByValidating(t *testing.T) {
	t.Parallel()
	objs := admittest.Example(t, "mg004-fires")
	ov := dryrun.New(dryrun.Options{}, workload.Recognizer{})
	a := newApplier(t, ov, "alice", true, nil)
	a.apply(objs[1]) // ConfigMap
	if n, _ := ov.Len(); n != 1 || a.lacking != 1 {
		t.Fatalf("after the ConfigMap: %d entries, %d lacking-pair warnings; want 1, 1", n, a.lacking)
	}
	a.apply(objs[2]) // DaemonSet: denied with the ConfigMap
	if !a.lastDenied || a.lacking != 1 {
		t.Fatalf("DaemonSet: denied %v, %d lacking-pair warnings; want denied, still 1", a.lastDenied, a.lacking)
	}
	if n, _ := ov.Len(); n != 1 {
		t.Errorf("after the denied DaemonSet: %d entries, want 1 (denied objects are not remembered)", n)
	}
	real := newApplier(t, ov, "alice", false, nil)
	real.apply(objs[1])
	if real.lacking != 0 {
		t.Errorf("a real request: %d lacking-pair warnings, want 0", real.lacking)
	}
}

// A dry-run HPA sent to the validating webhook is remembered: the next
// workload of the dry run is judged with its replicas.
func TestDryRunRemembersHPAs(t *testing.T) {
	t.Parallel()
	ov := dryrun.New(dryrun.Options{}, workload.Recognizer{})
	a := newApplier(t, ov, "alice", true, nil)
	min := int32(3)
	h := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "alloy"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: &min, MaxReplicas: 5,
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "alloy"}},
	}
	req := admittest.Request(t, h, admissionv1.Create, true)
	req.UserInfo = authenticationv1.UserInfo{Username: a.user, UID: a.user + "-uid"}
	if resp := a.val.Handle(context.Background(), req); !resp.Allowed {
		t.Fatalf("the HPA: denied %v", resp.Result)
	}
	hpas, err := ov.Lookup(dryrun.User(a.user, a.user+"-uid"), review.NewSet(nil)).HPAs(context.Background(), "ns")
	if err != nil || len(hpas) != 1 || *hpas[0].Spec.MinReplicas != 3 {
		t.Errorf("got %v, %v; want the dry run's HPA", hpas, err)
	}
	h.Name = "real"
	if resp := a.val.Handle(context.Background(), admittest.Request(t, h, admissionv1.Create, false)); !resp.Allowed {
		t.Fatal("a real HPA: denied")
	}
	if n, _ := ov.Len(); n != 1 {
		t.Errorf("after a real HPA: %d entries, want 1 (real requests are not remembered)", n)
	}
}
