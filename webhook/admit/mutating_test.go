package admit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/modeguard/modeguard/internal/testutil"
	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/webhook/admit"
	"github.com/modeguard/modeguard/webhook/admittest"
	"github.com/modeguard/modeguard/webhook/metrics"
)

// patched applies the response's patch to the request's object.
func patched[T runtime.Object](t *testing.T, req admission.Request, resp admission.Response, into T) T {
	t.Helper()
	if len(resp.Patches) == 0 {
		t.Fatalf("no patch; warnings %q", resp.Warnings)
	}
	p, err := json.Marshal(resp.Patches)
	if err != nil {
		t.Fatal(err)
	}
	patch, err := jsonpatch.DecodePatch(p)
	if err != nil {
		t.Fatal(err)
	}
	out, err := patch.Apply(req.Object.Raw)
	if err != nil {
		t.Fatalf("applying %s: %v", p, err)
	}
	if err := json.Unmarshal(out, into); err != nil {
		t.Fatal(err)
	}
	return into
}

func hostnameEnv(spec corev1.PodSpec) bool {
	for _, e := range spec.Containers[0].Env {
		if e.Name == "HOSTNAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "spec.nodeName" {
			return true
		}
	}
	return false
}

// daemonSetPod is a Pod as the DaemonSet controller makes it: the template,
// an owner reference, and a node affinity pinning it to its node.
func daemonSetPod(ds *appsv1.DaemonSet, node string) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:    ds.Namespace,
			GenerateName: ds.Name + "-",
			Labels:       ds.Spec.Template.Labels,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "DaemonSet", Name: ds.Name, UID: "ds-uid", Controller: ptr.To(true),
			}},
		},
		Spec: *ds.Spec.Template.Spec.DeepCopy(),
	}
	pod.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
		}}},
	}}
	return pod
}

func TestMutating(t *testing.T) {
	t.Parallel()
	mg001 := admittest.Example(t, "mg001-fires")
	mg002 := admittest.Example(t, "mg002-fires")
	ctx := context.Background()

	t.Run("ConfigMap read by a DaemonSet gets the node selector", func(t *testing.T) {
		t.Parallel()
		core, reg := admittest.Core(t, nil, mg001)
		h := admit.NewMutating(core, admittest.Decoder(), 0)
		cm := admittest.Find[*corev1.ConfigMap](t, mg001)
		req := admittest.Request(t, cm, admissionv1.Create, false)
		resp := h.Handle(ctx, req)
		if !resp.Allowed {
			t.Fatalf("denied: %v", resp.Result)
		}
		got := patched(t, req, resp, &corev1.ConfigMap{})
		if cfg := got.Data["config.alloy"]; !strings.Contains(cfg, `field = "spec.nodeName=" +`) {
			t.Errorf("fixed config has no node selector:\n%s", cfg)
		}
		if !testutil.HasWarning(resp.Warnings, "MG001", "discovery.kubernetes.pods", "[fixed]") {
			t.Errorf("warnings %q: want one naming MG001, the component and [fixed]", resp.Warnings)
		}
		m := admittest.Metrics(t, reg)
		if got := m.Sum(metrics.FixesAppliedTotal, map[string]string{"rule": "MG001"}); got != 1 {
			t.Errorf("fixes_applied{MG001} = %v, want 1", got)
		}
		if got := m.Sum(metrics.RequestsTotal, map[string]string{"kind": "ConfigMap", "result": metrics.ResultPatched}); got != 1 {
			t.Errorf("requests{ConfigMap,patched} = %v, want 1", got)
		}
	})

	t.Run("DaemonSet says the fix will be applied to its ConfigMap", func(t *testing.T) {
		t.Parallel()
		core, _ := admittest.Core(t, nil, mg001)
		h := admit.NewMutating(core, admittest.Decoder(), 0)
		ds := admittest.Find[*appsv1.DaemonSet](t, mg001)
		resp := h.Handle(ctx, admittest.Request(t, ds, admissionv1.Create, false))
		if !resp.Allowed || len(resp.Patches) != 0 {
			t.Fatalf("got allowed=%v patches=%v, want allowed without patch", resp.Allowed, resp.Patches)
		}
		if !testutil.HasWarning(resp.Warnings, "MG001", "will be applied to ConfigMap mg001-fires/alloy") {
			t.Errorf("warnings %q: want MG001 ... will be applied to ConfigMap mg001-fires/alloy", resp.Warnings)
		}
	})

	t.Run("DaemonSet gets the HOSTNAME env its fixed config reads", func(t *testing.T) {
		t.Parallel()
		core, _ := admittest.Core(t, nil, mg002)
		h := admit.NewMutating(core, admittest.Decoder(), 0)
		ds := admittest.Find[*appsv1.DaemonSet](t, mg002)
		req := admittest.Request(t, ds, admissionv1.Create, false)
		resp := h.Handle(ctx, req)
		got := patched(t, req, resp, &appsv1.DaemonSet{})
		if !hostnameEnv(got.Spec.Template.Spec) {
			t.Errorf("no HOSTNAME from spec.nodeName in %+v", got.Spec.Template.Spec.Containers[0].Env)
		}
		if !testutil.HasWarning(resp.Warnings, "MG002", "[fixed]") || !testutil.HasWarning(resp.Warnings, "MG002", "will be applied to ConfigMap mg002-fires/alloy") {
			t.Errorf("warnings %q: want MG002 fixed here and pending on the ConfigMap", resp.Warnings)
		}
	})

	t.Run("ConfigMap re-applied: answered from the result cache until a reader changes", func(t *testing.T) {
		t.Parallel()
		core, reg := admittest.Core(t, nil, mg001)
		h := admit.NewMutating(core, admittest.Decoder(), 0)
		cm := admittest.Find[*corev1.ConfigMap](t, mg001)
		req := admittest.Request(t, cm, admissionv1.Update, false)
		m := admittest.Metrics(t, reg)
		hits := func() float64 {
			return m.Sum(metrics.EvaluationsSkipped, map[string]string{"reason": metrics.SkipCacheHit})
		}
		first := h.Handle(ctx, req)
		// The second request is evaluated again, and its answer kept (the
		// Doorkeeper); the third is the cache's.
		second := h.Handle(ctx, req)
		if m = admittest.Metrics(t, reg); hits() != 0 {
			t.Errorf("skipped{cache-hit} = %v after two requests, want 0 (an answer is kept when asked for twice)", hits())
		}
		third := h.Handle(ctx, req)
		for i, again := range []admission.Response{second, third} {
			if len(first.Patches) == 0 || !reflect.DeepEqual(first.Patches, again.Patches) || !slices.Equal(first.Warnings, again.Warnings) {
				t.Errorf("answer %d differs from the first (or no patch): %+v\nvs %+v", i+2, again, first)
			}
		}
		if m = admittest.Metrics(t, reg); hits() != 1 {
			t.Errorf("skipped{cache-hit} = %v after three requests, want 1", hits())
		}
		s, err := admit.Decode(admittest.Decoder(), req)
		if err != nil {
			t.Fatal(err)
		}
		sur := core.Surround(ctx, s)
		key := core.Key(s, sur)
		if key == "" || len(sur.Consumers) != 1 {
			t.Fatalf("key %q with %d consumers, want a key and 1 consumer", key, len(sur.Consumers))
		}
		changed := *sur
		ds := sur.Consumers[0].DeepCopyObject().(*appsv1.DaemonSet)
		ds.Spec.Template.Spec.HostNetwork = !ds.Spec.Template.Spec.HostNetwork
		changed.Consumers = []runtime.Object{ds}
		if core.Key(s, &changed) == key {
			t.Error("a reader of the ConfigMap changed, but the key did not")
		}
	})

	t.Run("DaemonSet Pods: the env fix, two evaluations for the rollout", func(t *testing.T) {
		t.Parallel()
		core, reg := admittest.Core(t, nil, mg002)
		h := admit.NewMutating(core, admittest.Decoder(), 0)
		ds := admittest.Find[*appsv1.DaemonSet](t, mg002)
		// The first two Pods are evaluated (the second's answer is kept:
		// the Doorkeeper), the others answered from the cache.
		for i, node := range []string{"node-a", "node-b", "node-c", "node-d"} {
			req := admittest.Request(t, daemonSetPod(ds, node), admissionv1.Create, false)
			resp := h.Handle(ctx, req)
			got := patched(t, req, resp, &corev1.Pod{})
			if !hostnameEnv(got.Spec) {
				t.Errorf("pod %d: no HOSTNAME from spec.nodeName in %+v", i, got.Spec.Containers[0].Env)
			}
			if aff := got.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields[0].Values[0]; aff != node {
				t.Errorf("pod %d: node affinity %q, want %q kept", i, aff, node)
			}
		}
		m := admittest.Metrics(t, reg)
		if got := m.Sum(metrics.EvaluationsTotal, map[string]string{"kind": "Pod"}); got != 2 {
			t.Errorf("evaluations{Pod} = %v, want 2", got)
		}
		if got := m.Sum(metrics.EvaluationsSkipped, map[string]string{"reason": metrics.SkipCacheHit}); got != 2 {
			t.Errorf("skipped{cache-hit} = %v, want 2", got)
		}
		if got := m.Sum(metrics.FixesAppliedTotal, map[string]string{"rule": "MG002"}); got != 4 {
			t.Errorf("fixes_applied{MG002} = %v, want 4 (one per Pod)", got)
		}
	})

	t.Run("non-agent objects pass untouched without evaluation", func(t *testing.T) {
		t.Parallel()
		app := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "web"},
			Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1.27"}},
			}}},
		}
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "web"}, Data: map[string]string{"nginx.conf": "events {}"}}
		core, reg := admittest.Core(t, nil, []runtime.Object{app, cm})
		h := admit.NewMutating(core, admittest.Decoder(), 0)
		for _, obj := range []runtime.Object{app, cm} {
			resp := h.Handle(ctx, admittest.Request(t, obj, admissionv1.Create, false))
			if !resp.Allowed || len(resp.Patches) > 0 || len(resp.Warnings) > 0 {
				t.Errorf("%T: allowed=%v patches=%v warnings=%q, want allowed untouched", obj, resp.Allowed, resp.Patches, resp.Warnings)
			}
		}
		m := admittest.Metrics(t, reg)
		if got := m.Sum(metrics.EvaluationsSkipped, map[string]string{"reason": metrics.SkipNotAgent}); got != 2 {
			t.Errorf("skipped{not-agent} = %v, want 2", got)
		}
		if got := m.Sum(metrics.EvaluationsTotal, nil); got != 0 {
			t.Errorf("evaluations = %v, want 0", got)
		}
	})

	t.Run("undecodable object is a bad request", func(t *testing.T) {
		t.Parallel()
		core, reg := admittest.Core(t, nil, nil)
		h := admit.NewMutating(core, admittest.Decoder(), 0)
		req := admittest.Request(t, admittest.Find[*corev1.ConfigMap](t, mg001), admissionv1.Create, false)
		req.Object.Raw = []byte(`{"apiVersion":"v1","kind":"ConfigMap","data":42}`)
		resp := h.Handle(ctx, req)
		if resp.Allowed || resp.Result.Code != 400 {
			t.Errorf("got allowed=%v code=%d, want a 400", resp.Allowed, resp.Result.Code)
		}
		if got := admittest.Metrics(t, reg).Sum(metrics.RequestsTotal, map[string]string{"result": metrics.ResultInvalid}); got != 1 {
			t.Errorf("requests{invalid} = %v, want 1", got)
		}
	})

	t.Run("engine errors follow the failure policy", func(t *testing.T) {
		t.Parallel()
		broken := policy.Options{PolicyDir: admittest.BrokenPolicyDir(t)}
		cm := admittest.Find[*corev1.ConfigMap](t, mg001)
		for _, fp := range []admit.FailurePolicy{admit.FailAllow, admit.FailDeny} {
			core, _ := admittest.CoreWith(t, broken, mg001)
			core.FailurePolicy = fp
			h := admit.NewMutating(core, admittest.Decoder(), 0)
			req := admittest.Request(t, cm, admissionv1.Create, false)
			resp := h.Handle(ctx, req)
			switch fp {
			case admit.FailAllow:
				if !resp.Allowed || len(resp.Patches) > 0 || !testutil.HasWarning(resp.Warnings, "could not evaluate", string(req.UID)) {
					t.Errorf("allow: got allowed=%v patches=%d warnings=%q, want allowed unpatched with a warning naming the request", resp.Allowed, len(resp.Patches), resp.Warnings)
				}
			case admit.FailDeny:
				if resp.Allowed || resp.Result.Code != 500 || !strings.Contains(resp.Result.Message, string(req.UID)) {
					t.Errorf("deny: got allowed=%v result=%+v, want a 500 naming the request", resp.Allowed, resp.Result)
				}
			}
		}
	})
}

// bigConfig is an Alloy config of about lines lines: node-local pod
// pipelines (discovery with a node selector, relabel, scrape), the last one
// without its selector, so that one MG001 fix applies.
func bigConfig(lines int) string {
	const pipeline = `// Pipeline %[1]d: the pods of team-%[1]d on this node.
discovery.kubernetes "pods_%[1]d" {
  role = "pod"
  namespaces {
    names = ["team-%[1]d"]
  }
%[2]s}

discovery.relabel "pods_%[1]d" {
  targets = discovery.kubernetes.pods_%[1]d.targets
  rule {
    source_labels = ["__meta_kubernetes_pod_label_app"]
    regex         = "app-%[1]d"
    action        = "keep"
  }
  rule {
    source_labels = ["__meta_kubernetes_namespace"]
    target_label  = "namespace"
  }
}

prometheus.scrape "pods_%[1]d" {
  targets         = discovery.relabel.pods_%[1]d.output
  forward_to      = [prometheus.remote_write.default.receiver]
  scrape_interval = "30s"
}

`
	const selector = `  selectors {
    role  = "pod"
    field = "spec.nodeName=" + coalesce(sys.env("HOSTNAME"), constants.hostname)
  }
`
	var b strings.Builder
	b.WriteString("prometheus.remote_write \"default\" {\n  endpoint {\n    url = \"http://mimir.monitoring.svc:9009/api/v1/push\"\n  }\n}\n\n")
	per := strings.Count(fmt.Sprintf(pipeline, 0, selector), "\n")
	n := lines / per
	for i := range n {
		sel := selector
		if i == n-1 {
			sel = ""
		}
		fmt.Fprintf(&b, pipeline, i, sel)
	}
	return b.String()
}

func BenchmarkHandler(b *testing.B) {
	ctx := context.Background()
	mg001 := admittest.Example(b, "mg001-fires")
	mg002 := admittest.Example(b, "mg002-fires")
	big := make([]runtime.Object, len(mg001))
	for i, o := range mg001 {
		big[i] = o.DeepCopyObject()
	}
	bigCM := admittest.Find[*corev1.ConfigMap](b, big)
	bigCM.Data["config.alloy"] = bigConfig(3000)

	for _, bc := range []struct {
		name    string
		objs    []runtime.Object
		subject func(testing.TB, []runtime.Object) runtime.Object
		webhook string
		check   func(admission.Response) bool
		memo    bool // the built-ins through OPA and the engine's memo on: the same input answered from it
	}{
		{"mutate/ConfigMap", mg001, func(t testing.TB, o []runtime.Object) runtime.Object { return admittest.Find[*corev1.ConfigMap](t, o) }, "mutate",
			func(r admission.Response) bool { return len(r.Patches) > 0 }, false},
		{"mutate/ConfigMap-3000-lines", big, func(t testing.TB, o []runtime.Object) runtime.Object { return admittest.Find[*corev1.ConfigMap](t, o) }, "mutate",
			func(r admission.Response) bool { return len(r.Patches) > 0 }, false},
		{"mutate/DaemonSet", mg002, func(t testing.TB, o []runtime.Object) runtime.Object { return admittest.Find[*appsv1.DaemonSet](t, o) }, "mutate",
			func(r admission.Response) bool { return len(r.Patches) > 0 }, false},
		{"mutate/Pod-cache-hit", mg002, func(t testing.TB, o []runtime.Object) runtime.Object {
			return daemonSetPod(admittest.Find[*appsv1.DaemonSet](t, o), "node-a")
		}, "mutate", func(r admission.Response) bool { return len(r.Patches) > 0 }, false},
		{"validate/DaemonSet", admittest.Example(b, "mg004-fires"), func(t testing.TB, o []runtime.Object) runtime.Object { return admittest.Find[*appsv1.DaemonSet](t, o) }, "validate",
			func(r admission.Response) bool { return !r.Allowed }, false},
		{"mutate/ConfigMap-memo-hit", mg001, func(t testing.TB, o []runtime.Object) runtime.Object { return admittest.Find[*corev1.ConfigMap](t, o) }, "mutate",
			func(r admission.Response) bool { return len(r.Patches) > 0 }, true},
		{"mutate/DaemonSet-memo-hit", mg002, func(t testing.TB, o []runtime.Object) runtime.Object { return admittest.Find[*appsv1.DaemonSet](t, o) }, "mutate",
			func(r admission.Response) bool { return len(r.Patches) > 0 }, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			o := policy.Options{MemoEntries: -1} // every request evaluates
			if bc.memo {                         // the memo serves OPA's evaluations only
				o.MemoEntries, o.RegoOnly = 0, true
			}
			core, _ := admittest.CoreWith(b, o, bc.objs)
			cacheSize := -1 // no result cache
			if strings.HasSuffix(bc.name, "cache-hit") {
				cacheSize = 0
			}
			h := admit.NewMutating(core, admittest.Decoder(), cacheSize)
			if bc.webhook == "validate" {
				h = admit.NewValidating(core, admittest.Decoder(), cacheSize)
			}
			req := admittest.Request(b, bc.subject(b, bc.objs), admissionv1.Create, false)
			if resp := h.Handle(ctx, req); !bc.check(resp) { // also warms the cache
				b.Fatalf("unexpected response: allowed=%v patches=%d warnings=%q", resp.Allowed, len(resp.Patches), resp.Warnings)
			}
			b.ReportAllocs()
			var lat latencies
			for b.Loop() {
				t := time.Now()
				h.Handle(ctx, req)
				lat = append(lat, time.Since(t))
			}
			lat.report(b)
		})
	}

	// The typical ConfigMap again, its text different in every request (a
	// comment), so that no cache knows it: what a new config costs. And
	// the 3,000-line one so: the comment at the top moves every component,
	// so that only the pass after the fix finds values to reuse.
	for _, d := range []struct {
		name string
		objs []runtime.Object
		n    int
	}{{"mutate/ConfigMap-distinct", mg001, 1000}, {"mutate/ConfigMap-3000-lines-distinct", big, 20}} {
		b.Run(d.name, func(b *testing.B) { distinct(b, d.objs, d.n) })
	}

	// The DaemonSet of mg002-fires, an annotation new in every request, with
	// the engine as the server runs it (memo and result cache on): neither
	// knows the input, as in make bench's worst case end to end.
	b.Run("mutate/DaemonSet-new", func(b *testing.B) {
		core, _ := admittest.CoreWith(b, policy.Options{}, mg002)
		h := admit.NewMutating(core, admittest.Decoder(), 0)
		next := newDaemonSets(b, mg002)
		if resp := h.Handle(ctx, next(0)); len(resp.Patches) == 0 {
			b.Fatalf("no patch: warnings %q", resp.Warnings)
		}
		b.ReportAllocs()
		i := 1
		var lat latencies
		for b.Loop() {
			r := next(i)
			t := time.Now()
			h.Handle(ctx, r)
			lat = append(lat, time.Since(t))
			i++
		}
		lat.report(b)
	})
}

// newDaemonSets returns the requests that create the DaemonSet of objs,
// request i with an annotation of its own: a new input each time.
func newDaemonSets(t testing.TB, objs []runtime.Object) func(i int) admission.Request {
	d := admittest.Find[*appsv1.DaemonSet](t, objs).DeepCopy()
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	const seq = "SEQ0000000"
	d.Annotations["bench.modeguard.dev/seq"] = seq
	tmpl := admittest.Request(t, d, admissionv1.Create, false)
	return func(i int) admission.Request {
		r := tmpl
		r.Object.Raw = bytes.Replace(tmpl.Object.Raw, []byte(seq), fmt.Appendf(nil, "%010d", i), 1)
		return r
	}
}

// distinct runs the mutating handler on the ConfigMap of objs, its text
// different in each of n requests (a comment at the top, of another
// length than the request before's, so that every component moves), the
// memo and the result cache off.
func distinct(b *testing.B, objs []runtime.Object, n int) {
	ctx := context.Background()
	core, _ := admittest.CoreWith(b, policy.Options{MemoEntries: -1}, objs)
	h := admit.NewMutating(core, admittest.Decoder(), -1)
	cm := admittest.Find[*corev1.ConfigMap](b, objs)
	reqs := make([]admission.Request, n) // more than the file cache holds
	for i := range reqs {
		c := cm.DeepCopy()
		c.Data["config.alloy"] = fmt.Sprintf("// request %d%s\n%s", i, strings.Repeat("-", i%3), c.Data["config.alloy"])
		reqs[i] = admittest.Request(b, c, admissionv1.Create, false)
	}
	if resp := h.Handle(ctx, reqs[0]); len(resp.Patches) == 0 {
		b.Fatalf("no patch: warnings %q", resp.Warnings)
	}
	b.ReportAllocs()
	i := 1
	var lat latencies
	for b.Loop() {
		t := time.Now()
		h.Handle(ctx, reqs[i%len(reqs)])
		lat = append(lat, time.Since(t))
		i++
	}
	lat.report(b)
}

// latencies are the durations of a benchmark's requests, one by one, for
// the 99th percentile next to go test's mean (the target is a p99).
type latencies []time.Duration

// report adds the p99 of the requests as the metric p99-ns.
func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	s := slices.Clone(l)
	slices.Sort(s)
	b.ReportMetric(float64(s[(len(s)*99+99)/100-1]), "p99-ns")
}

// TestAnswerSizeEstimate: what the result cache counts of its answers is
// within a factor of two of the heap they hold, measured on the answers to
// 600 new DaemonSets (examples/mg002-fires with an annotation new each
// time: a patch and its warnings), each asked for twice.
func TestAnswerSizeEstimate(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap over 1200 reviews")
	}
	ctx := context.Background()
	mg002 := admittest.Example(t, "mg002-fires")
	core, _ := admittest.CoreWith(t, policy.Options{MemoEntries: -1}, mg002)
	next := newDaemonSets(t, mg002)
	const n = 600
	// Each request twice: the cache keeps an answer asked for a second
	// time (its Doorkeeper).
	run := func(h *admit.Handler, from int) {
		for i := from; i < from+n; i++ {
			for range 2 {
				if resp := h.Handle(ctx, next(i)); len(resp.Patches) == 0 {
					t.Fatalf("no patch: %q", resp.Warnings)
				}
			}
		}
	}
	heap := func() int64 {
		goruntime.GC()
		goruntime.GC()
		var m goruntime.MemStats
		goruntime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	// The same requests through a handler without a result cache, then
	// one with: what the second retains more is its cache's. (Requests
	// retain a little outside the handler: controller-runtime's logger
	// keeps its children until a logger is set, as tests do not.)
	off := admit.NewMutating(core, admittest.Decoder(), -1)
	run(off, 0) // the engine's own caches fill
	base := heap()
	run(off, n)
	retainedOff := heap() - base
	h := admit.NewMutating(core, admittest.Decoder(), 0)
	base = heap()
	run(h, 2*n)
	entries, counted := h.Cached()
	held := heap() - base - retainedOff
	goruntime.KeepAlive(h)
	t.Logf("%d answers: counted %d bytes, the heap held %d (%.2f×)", entries, counted, held, float64(counted)/float64(held))
	if entries != n {
		t.Fatalf("%d answers cached, want %d (raise the byte bound of the test)", entries, n)
	}
	if counted < held/2 || counted > held*2 {
		t.Errorf("the cache counts %d bytes for %d answers holding %d: want within a factor of 2", counted, n, held)
	}
}

// TestKeyLeavesTheSubjectAlone: the result cache's key is computed from
// the subject with its per-Pod fields cleared (name, node, affinity,
// status), on a copy: the subject the review reads keeps them.
func TestKeyLeavesTheSubjectAlone(t *testing.T) {
	ctx := context.Background()
	mg002 := admittest.Example(t, "mg002-fires")
	core, _ := admittest.CoreWith(t, policy.Options{}, mg002)
	pod := daemonSetPod(admittest.Find[*appsv1.DaemonSet](t, mg002), "node-a")
	pod.Spec.NodeName, pod.Spec.Hostname = "node-a", "host-a"
	pod.Status.Phase = corev1.PodPending
	pod.ResourceVersion, pod.UID = "7", "uid-a"
	req := admittest.Request(t, pod, admissionv1.Create, false)
	s, err := admit.Decode(admittest.Decoder(), req)
	if err != nil {
		t.Fatal(err)
	}
	if reason, why := core.Guard(s); reason != "" {
		t.Fatalf("guard: %s: %s", reason, why)
	}
	before := s.Object.DeepCopyObject()
	sur := core.Surround(ctx, s)
	key := core.Key(s, sur)
	if key == "" {
		t.Fatal("no key for a Pod of an agent DaemonSet")
	}
	if !reflect.DeepEqual(before, s.Object) {
		t.Errorf("Key changed the subject:\n%+v\nwant\n%+v", s.Object, before)
	}
	// A sibling on another node has the same key.
	other := pod.DeepCopy()
	other.Name, other.Spec.NodeName, other.Spec.Hostname, other.UID = "alloy-other", "node-b", "host-b", "uid-b"
	s2, err := admit.Decode(admittest.Decoder(), admittest.Request(t, other, admissionv1.Create, false))
	if err != nil {
		t.Fatal(err)
	}
	if reason, why := core.Guard(s2); reason != "" {
		t.Fatalf("guard: %s: %s", reason, why)
	}
	if k2 := core.Key(s2, core.Surround(ctx, s2)); k2 != key {
		t.Errorf("a sibling Pod on another node got key %s, want %s", k2, key)
	}
	// Any other change makes another key.
	for what, change := range map[string]func(p *corev1.Pod){
		"a label":       func(p *corev1.Pod) { p.Labels = map[string]string{"team": "a"} },
		"an annotation": func(p *corev1.Pod) { p.Annotations = map[string]string{"modeguard.dev/mode": "daemonset"} },
		"an env var": func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, corev1.EnvVar{Name: "X", Value: "1"})
		},
		"an image": func(p *corev1.Pod) { p.Spec.Containers[0].Image += "-other" },
		"an argument": func(p *corev1.Pod) {
			p.Spec.Containers[0].Args = append(p.Spec.Containers[0].Args, "--cluster.enabled=true")
		},
		"host networking": func(p *corev1.Pod) { p.Spec.HostNetwork = !p.Spec.HostNetwork },
	} {
		changed := pod.DeepCopy()
		change(changed)
		s3, err := admit.Decode(admittest.Decoder(), admittest.Request(t, changed, admissionv1.Create, false))
		if err != nil {
			t.Fatal(err)
		}
		if reason, why := core.Guard(s3); reason != "" {
			t.Fatalf("%s changed: guard: %s: %s", what, reason, why)
		}
		if k3 := core.Key(s3, core.Surround(ctx, s3)); k3 == key || k3 == "" {
			t.Errorf("with %s changed, the key is %q: want another", what, k3)
		}
	}
}
