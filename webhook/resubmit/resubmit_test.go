package resubmit_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/modeguard/modeguard/mutate"
	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/webhook/admittest"
	"github.com/modeguard/modeguard/webhook/lookup"
	"github.com/modeguard/modeguard/webhook/metrics"
	"github.com/modeguard/modeguard/webhook/resubmit"
	"github.com/modeguard/modeguard/workload"
)

// clientLookup reads a (fake) client, so that the reconciler sees its own
// writes.
type clientLookup struct{ c client.Client }

func (l clientLookup) ConfigMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	cm := &corev1.ConfigMap{}
	if err := l.c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, cm); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	return cm, nil
}

func (l clientLookup) Consumers(ctx context.Context, ns, cm string) ([]runtime.Object, error) {
	list := &appsv1.DaemonSetList{}
	if err := l.c.List(ctx, list, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	var out []runtime.Object
	for i := range list.Items {
		if lookup.ConfigMapOf(&list.Items[i], workload.Recognizer{}) == cm {
			out = append(out, &list.Items[i])
		}
	}
	return out, nil
}

func (clientLookup) HPAs(context.Context, string) ([]autoscalingv2.HorizontalPodAutoscaler, error) {
	return nil, nil
}
func (clientLookup) NamespaceLabels(context.Context, string) (map[string]string, error) {
	return nil, nil
}
func (clientLookup) AgentConfigMaps(context.Context) ([]types.NamespacedName, error) {
	return nil, nil
}

// Without a webhook to apply the fix (a fake client), the reconciler
// re-submits once, then leaves the object alone: no loop.
func TestResubmitsOnceWithoutWebhook(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var objs []client.Object
	for _, o := range admittest.Example(t, "mg001-fires") {
		objs = append(objs, o.(client.Object))
	}
	c := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithObjects(objs...).Build()
	engine, err := policy.New(ctx, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	rec := events.NewFakeRecorder(10)
	r := &resubmit.Reconciler{
		Client: c, Lookup: clientLookup{c}, Metrics: m, Recorder: rec,
		Reviewer: &review.Reviewer{Engine: engine, Fixer: mutate.Fixer{}},
	}
	r.Init()
	req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "mg001-fires", Name: "alloy"}}
	for range 3 {
		if _, err := r.Reconcile(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, req.NamespacedName, cm); err != nil {
		t.Fatal(err)
	}
	want := engine.Version() + "/"
	if got := cm.Annotations[resubmit.AnnotationReviewed]; !strings.HasPrefix(got, want) {
		t.Errorf("annotation %s = %q, want %s<hash>", resubmit.AnnotationReviewed, got, want)
	}
	f := admittest.Metrics(t, reg)
	if got := f.Sum(metrics.ResubmissionsTotal, map[string]string{"kind": "ConfigMap", "result": "resubmitted"}); got != 1 {
		t.Errorf("resubmissions{resubmitted} = %v, want 1", got)
	}
	if got := f.Sum(metrics.ResubmissionsTotal, map[string]string{"kind": "ConfigMap", "result": "unchanged"}); got != 2 {
		t.Errorf("resubmissions{unchanged} = %v, want 2", got)
	}
	var reasons []string
	for len(rec.Events) > 0 {
		reasons = append(reasons, strings.Fields(<-rec.Events)[1])
	}
	if strings.Join(reasons, ",") != resubmit.ReasonResubmitted+","+resubmit.ReasonNotApplied {
		t.Errorf("events %v, want %s then %s once", reasons, resubmit.ReasonResubmitted, resubmit.ReasonNotApplied)
	}
}

// A lookup that fails is an error of the reconcile (retried), counted,
// not a ConfigMap nobody reads.
func TestLookupErrorIsRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var objs []client.Object
	for _, o := range admittest.Example(t, "mg001-fires") {
		objs = append(objs, o.(client.Object))
	}
	down := errors.New("the API server is down")
	c := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithObjects(objs...).
		WithInterceptorFuncs(interceptor.Funcs{List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
			return down
		}}).Build()
	engine, err := policy.New(ctx, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	r := &resubmit.Reconciler{
		Client: c, Lookup: clientLookup{c}, Metrics: m,
		Reviewer: &review.Reviewer{Engine: engine, Fixer: mutate.Fixer{}},
	}
	r.Init()
	req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "mg001-fires", Name: "alloy"}}
	if _, err := r.Reconcile(ctx, req); !errors.Is(err, down) {
		t.Fatalf("got error %v, want one wrapping %q", err, down)
	}
	f := admittest.Metrics(t, reg)
	if got := f.Sum(metrics.LookupErrorsTotal, map[string]string{"kind": review.LookupConsumers}); got != 1 {
		t.Errorf("lookup errors{%s} = %v, want 1", review.LookupConsumers, got)
	}
	if got := f.Sum(metrics.ResubmissionsTotal, nil); got != 0 {
		t.Errorf("resubmissions = %v, want none", got)
	}
}

// TestReconcileLeavesLookupObjects: what the Lookup returns may be the
// informer cache's own objects (lookup.Cache lists consumers without
// copying them): re-submitting a ConfigMap and a workload must not modify
// them.
func TestReconcileLeavesLookupObjects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var objs []client.Object
	var shared []runtime.Object
	for _, name := range []string{"mg001-fires", "mg002-fires"} {
		for _, o := range admittest.Example(t, name) {
			objs = append(objs, o.DeepCopyObject().(client.Object))
			shared = append(shared, o)
		}
	}
	before := make([]runtime.Object, len(shared))
	for i, o := range shared {
		before[i] = o.DeepCopyObject()
	}
	c := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithObjects(objs...).Build()
	engine, err := policy.New(ctx, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	r := &resubmit.Reconciler{
		Client: c, Lookup: setLookup{review.NewSet(shared)}, Metrics: m, Recorder: events.NewFakeRecorder(10),
		Reviewer: &review.Reviewer{Engine: engine, Fixer: mutate.Fixer{}},
	}
	r.Init()
	for _, ns := range []string{"mg001-fires", "mg002-fires"} {
		if _, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: "alloy"}}); err != nil {
			t.Fatal(err)
		}
	}
	resubmitted := 0
	for _, ns := range []string{"mg001-fires", "mg002-fires"} {
		list := &corev1.ConfigMapList{}
		if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		dss := &appsv1.DaemonSetList{}
		if err := c.List(ctx, dss, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for _, cm := range list.Items {
			if cm.Annotations[resubmit.AnnotationReviewed] != "" {
				resubmitted++
			}
		}
		for _, ds := range dss.Items {
			if ds.Annotations[resubmit.AnnotationReviewed] != "" {
				resubmitted++
			}
		}
	}
	if resubmitted == 0 {
		t.Fatal("nothing was re-submitted: the test proves nothing")
	}
	for i, o := range shared {
		if !equality.Semantic.DeepEqual(o, before[i]) {
			t.Errorf("re-submitting modified the looked-up %T %s:\n%+v\nwas\n%+v", o, o.(client.Object).GetName(), o, before[i])
		}
	}
}

// setLookup is a review.Set (which returns its own objects, as the
// informer cache does) as the reconciler's Lookup.
type setLookup struct{ *review.Set }

func (setLookup) AgentConfigMaps(context.Context) ([]types.NamespacedName, error) {
	return nil, nil
}
