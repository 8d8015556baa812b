package audit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache/informertest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/modeguard/modeguard/examples"
	"github.com/modeguard/modeguard/mutate"
	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/webhook/audit"
	"github.com/modeguard/modeguard/webhook/lookup"
	"github.com/modeguard/modeguard/webhook/metrics"
	"github.com/modeguard/modeguard/workload"
)

func TestResultOf(t *testing.T) {
	for _, tc := range []struct {
		action      policy.Action
		result, sev string
	}{
		{policy.ActionDeny, "fail", "high"},
		{policy.ActionFix, "fail", "medium"},
		{policy.ActionWarn, "warn", "low"},
		{policy.ActionAudit, "warn", "info"},
	} {
		r, s := audit.ResultOf(tc.action)
		if string(r) != tc.result || string(s) != tc.sev {
			t.Errorf("ResultOf(%s) = %s, %s; want %s, %s", tc.action, r, s, tc.result, tc.sev)
		}
	}
}

// setCache is a cache.Cache over a fake client: the lists of the audit
// read it, its informers are fakes.
type setCache struct {
	*informertest.FakeInformers
	r client.Reader
}

func (c setCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return c.r.Get(ctx, key, obj, opts...)
}

// GetInformer also serves the metadata-only kinds (Namespaces), which the
// fake informers do not know by their Go type.
func (c setCache) GetInformer(ctx context.Context, obj client.Object, opts ...cache.InformerGetOption) (cache.Informer, error) {
	if p, ok := obj.(*metav1.PartialObjectMetadata); ok {
		return c.FakeInformers.GetInformerForKind(ctx, p.GroupVersionKind(), opts...)
	}
	return c.FakeInformers.GetInformer(ctx, obj, opts...)
}

func (c setCache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return c.r.List(ctx, list, opts...)
}

// setLookup is a review.Set that watches every static kind.
type setLookup struct{ *review.Set }

func (setLookup) Watching(k *workload.Kind) bool { return !k.CRD }

type fixture struct {
	a   *audit.Auditor
	cl  client.Client
	reg *prometheus.Registry
	rec *events.FakeRecorder
}

// newFixture builds an Auditor over objs, held by a fake client indexed
// as webhook/lookup indexes the informer cache.
func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := reportsv1alpha1.Install(s); err != nil {
		t.Fatal(err)
	}
	e, err := policy.New(t.Context(), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rv := &review.Reviewer{Engine: e, Fixer: mutate.Fixer{}}
	b := fake.NewClientBuilder().WithScheme(s).WithRuntimeObjects(objs...)
	for _, k := range workload.Workloads() {
		if k.CRD {
			continue
		}
		b = b.WithIndex(k.New(), lookup.IndexAgent, func(o client.Object) []string {
			if f, err := rv.Agents().FromObject(o, nil); err == nil && f.Agent {
				return []string{"true"}
			}
			return nil
		})
	}
	cl := b.Build()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	rec := events.NewFakeRecorder(100)
	a := &audit.Auditor{
		Cache:    setCache{FakeInformers: &informertest.FakeInformers{Scheme: s}, r: cl},
		Lookup:   setLookup{review.NewSetWith(objs, rv.Agents())},
		Reader:   cl,
		Client:   cl,
		Reviewer: rv,
		Recorder: rec,
		Metrics:  m,
		Log:      logr.Discard(),
	}
	return &fixture{a: a, cl: cl, reg: reg, rec: rec}
}

func exampleObjects(t *testing.T, name string) []runtime.Object {
	t.Helper()
	var out []runtime.Object
	for _, d := range examples.Load(t, name) {
		if d.Object != nil && d.Kind != "Namespace" {
			out = append(out, d.Object)
		}
	}
	return out
}

func (f *fixture) report(t *testing.T, ns string) *reportsv1alpha1.Report {
	t.Helper()
	r := &reportsv1alpha1.Report{}
	err := f.cl.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: audit.ReportName}, r)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestNamespaceWritesOneReport(t *testing.T) {
	ns := "mg004-fires"
	f := newFixture(t, exampleObjects(t, ns)...)
	ctx := t.Context()
	if err := f.a.Namespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	r := f.report(t, ns)
	if r == nil {
		t.Fatal("no report written")
	}
	if len(r.Results) != 1 || r.Results[0].Policy != "MG004" || r.Results[0].Result != "fail" || r.Summary.Fail != 1 {
		t.Fatalf("got results %+v, summary %+v; want one MG004 fail", r.Results, r.Summary)
	}
	res := r.Results[0]
	if got, want := res.Subjects[0].Kind+"/"+res.Subjects[0].Name, "ConfigMap/alloy"; got != want {
		t.Errorf("got object %s, want %s", got, want)
	}
	if res.Subjects[0].APIVersion != "v1" {
		t.Errorf("got apiVersion %q, want v1", res.Subjects[0].APIVersion)
	}
	if res.Properties[audit.PropLocation] == "" || res.Properties[audit.PropComponent] == "" || res.Properties[audit.PropAction] != "deny" {
		t.Errorf("got properties %v, want a location, a component and action deny", res.Properties)
	}
	if got := gauge(t, f.reg, ns, "MG004", "deny"); got != 1 {
		t.Errorf("got gauge %v, want 1", got)
	}
	select {
	case e := <-f.rec.Events:
		if !strings.Contains(e, audit.ReasonViolation) || !strings.Contains(e, "MG004") {
			t.Errorf("got event %q, want a %s naming MG004", e, audit.ReasonViolation)
		}
	default:
		t.Error("no Event recorded")
	}

	// Nothing changed: the report stays as it is, and no second Event.
	rv := r.ResourceVersion
	time.Sleep(1100 * time.Millisecond) // a new time would show as a change
	if err := f.a.Namespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	if got := f.report(t, ns).ResourceVersion; got != rv {
		t.Errorf("got resourceVersion %s after an unchanged audit, want %s (no update)", got, rv)
	}
	select {
	case e := <-f.rec.Events:
		t.Errorf("got a second Event %q for an unchanged object", e)
	default:
	}
}

func TestCleanNamespaceLosesItsReport(t *testing.T) {
	ns := "mg004-fires"
	f := newFixture(t, exampleObjects(t, "mg004-passes")...) // nothing in ns
	stale := audit.NewReport(ns, []reportsv1alpha1.ReportResult{{Source: audit.Source, Policy: "MG004", Result: "fail"}})
	if err := f.cl.Create(t.Context(), stale); err != nil {
		t.Fatal(err)
	}
	if err := f.a.Namespace(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	if r := f.report(t, ns); r != nil {
		t.Errorf("got report %+v in a namespace without findings, want it deleted", r.Results)
	}
}

func TestOtherToolsReportsAreLeftAlone(t *testing.T) {
	ns := "mg004-fires"
	f := newFixture(t, exampleObjects(t, ns)...)
	other := &reportsv1alpha1.Report{ObjectMeta: metav1.ObjectMeta{Name: audit.ReportName, Namespace: ns, Labels: map[string]string{audit.LabelManagedBy: "kyverno"}}, Source: "kyverno"}
	if err := f.cl.Create(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	if err := f.a.Namespace(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	r := f.report(t, ns)
	if r == nil || r.Source != "kyverno" || len(r.Results) != 0 {
		t.Errorf("got %+v, want kyverno's report untouched", r)
	}
}

func TestResultsKeepTheirTime(t *testing.T) {
	objs := exampleObjects(t, "mg004-fires")
	f := newFixture(t, objs...)
	findings, _, err := f.a.Review(t.Context(), "mg004-fires")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1000, 0)
	first := audit.Results(findings, nil, nil, t0)
	again := audit.Results(findings, nil, first, t0.Add(time.Hour))
	if got, want := again[0].Timestamp.Seconds, int64(1000); got != want {
		t.Errorf("got time %d for an unchanged result, want %d (first seen)", got, want)
	}
}

// gauge reads modeguard_audit_findings{namespace, rule, action} (0 when
// absent).
func gauge(t *testing.T, reg *prometheus.Registry, ns, rule, action string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != metrics.AuditFindings {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["namespace"] == ns && l["rule"] == rule && l["action"] == action {
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func TestEncodeDecode(t *testing.T) {
	r := audit.NewReport("ns", []reportsv1alpha1.ReportResult{{Source: audit.Source, Policy: "MG004", Result: "fail", Timestamp: metav1.Timestamp{Seconds: 7}}})
	for _, tc := range []struct {
		format, apiVersion, kind string
		source                   bool // a top-level source
	}{
		{audit.FormatOpenReports, "openreports.io/v1alpha1", "Report", true},
		{audit.FormatWGPolicy, "wgpolicyk8s.io/v1alpha2", "PolicyReport", false},
	} {
		u, err := audit.Encode(r, tc.format)
		if err != nil {
			t.Fatal(err)
		}
		if u.GetAPIVersion() != tc.apiVersion || u.GetKind() != tc.kind {
			t.Errorf("%s: got %s %s, want %s %s", tc.format, u.GetAPIVersion(), u.GetKind(), tc.apiVersion, tc.kind)
		}
		if _, ok := u.Object["source"]; ok != tc.source {
			t.Errorf("%s: got a top-level source %v, want %v", tc.format, ok, tc.source)
		}
		back, err := audit.Decode(u)
		if err != nil {
			t.Fatal(err)
		}
		if back.Source != audit.Source || len(back.Results) != 1 || back.Results[0].Timestamp.Seconds != 7 || back.Summary != r.Summary {
			t.Errorf("%s: got %+v back, want %+v", tc.format, back, r)
		}
	}
}

// TestLoop runs the loop: a full pass at start writes the report; a change
// (a deleted agent, as its informer reports it) makes a pass of its
// namespace within the debounce, which deletes the report; a reload before
// the loop runs (a replica that is not the leader) does nothing.
func TestLoop(t *testing.T) {
	ns := "mg004-fires"
	objs := exampleObjects(t, ns)
	f := newFixture(t, objs...)
	f.a.Reload() // not the leader yet: no loop, no panic
	f.a.Debounce = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- f.a.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start: %v", err)
		}
	}()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("after 5 s: %s", what)
			}
		}
	}
	waitFor("no report after start", func() bool { return f.report(t, ns) != nil })

	inf, err := f.a.Cache.(setCache).FakeInformerFor(ctx, &corev1.ConfigMap{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if err := f.cl.Delete(ctx, o.(client.Object)); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range objs {
		if cm, ok := o.(*corev1.ConfigMap); ok {
			inf.Delete(cm)
		}
	}
	waitFor("the report of a namespace without agents is still there", func() bool { return f.report(t, ns) == nil })
}
