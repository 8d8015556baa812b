package admit_test

import (
	"context"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/modeguard/modeguard/internal/testutil"
	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/webhook/admit"
	"github.com/modeguard/modeguard/webhook/admittest"
	"github.com/modeguard/modeguard/webhook/metrics"
)

func TestValidating(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("DaemonSet scraping services without clustering is denied", func(t *testing.T) {
		t.Parallel()
		objs := admittest.Example(t, "mg004-fires")
		core, reg := admittest.Core(t, nil, objs)
		h := admit.NewValidating(core, admittest.Decoder(), 0)
		for _, dryRun := range []bool{false, true} {
			resp := h.Handle(ctx, admittest.Request(t, admittest.Find[*appsv1.DaemonSet](t, objs), admissionv1.Create, dryRun))
			if resp.Allowed {
				t.Fatalf("dryRun=%v: allowed, want denied", dryRun)
			}
			msg := resp.Result.Message
			for _, want := range []string{"MG004", "cluster-wide-collection-in-daemonset", "prometheus.scrape.services", "config.alloy:", "[ConfigMap mg004-fires/alloy]"} {
				if !strings.Contains(msg, want) {
					t.Errorf("dryRun=%v: denial %q does not name %q", dryRun, msg, want)
				}
			}
			if resp.Result.Code != 403 {
				t.Errorf("dryRun=%v: code %d, want 403", dryRun, resp.Result.Code)
			}
		}
		m := admittest.Metrics(t, reg)
		if got := m.Sum(metrics.DecisionsTotal, map[string]string{"rule": "MG004", "action": "deny"}); got != 2 {
			t.Errorf("decisions{MG004,deny} = %v, want 2", got)
		}
		if got := m.Sum(metrics.RequestsTotal, map[string]string{"webhook": "validate", "kind": "DaemonSet", "result": metrics.ResultDenied}); got != 2 {
			t.Errorf("requests{DaemonSet,denied} = %v, want 2", got)
		}
	})

	t.Run("ConfigMap with no known workload: mode-free rules, with a note", func(t *testing.T) {
		t.Parallel()
		objs := admittest.Example(t, "mg004-fires")
		cm := admittest.Find[*corev1.ConfigMap](t, objs)
		core, _ := admittest.Core(t, nil, []runtime.Object{cm})
		h := admit.NewValidating(core, admittest.Decoder(), 0)
		resp := h.Handle(ctx, admittest.Request(t, cm, admissionv1.Create, false))
		if !resp.Allowed {
			t.Fatalf("denied: %s", resp.Result.Message)
		}
		if !testutil.HasWarning(resp.Warnings, "mode-free rules only") {
			t.Errorf("warnings %q: want the mode-unknown note", resp.Warnings)
		}
	})

	t.Run("warn findings are warnings", func(t *testing.T) {
		t.Parallel()
		objs := admittest.Example(t, "mg009-fires")
		core, reg := admittest.Core(t, nil, objs)
		h := admit.NewValidating(core, admittest.Decoder(), 0)
		resp := h.Handle(ctx, admittest.Request(t, admittest.Find[*appsv1.DaemonSet](t, objs), admissionv1.Create, false))
		if !resp.Allowed || !testutil.HasWarning(resp.Warnings, "MG009") {
			t.Fatalf("allowed=%v warnings=%q, want allowed with an MG009 warning", resp.Allowed, resp.Warnings)
		}
		if got := admittest.Metrics(t, reg).Sum(metrics.DecisionsTotal, map[string]string{"rule": "MG009", "action": "warn"}); got != 1 {
			t.Errorf("decisions{MG009,warn} = %v, want 1", got)
		}
	})

	t.Run("audit findings are counted, not shown", func(t *testing.T) {
		t.Parallel()
		objs := admittest.Example(t, "mg012-fires")
		core, reg := admittest.Core(t, nil, objs)
		h := admit.NewValidating(core, admittest.Decoder(), 0)
		resp := h.Handle(ctx, admittest.Request(t, admittest.Find[*appsv1.Deployment](t, objs), admissionv1.Create, false))
		if !resp.Allowed || testutil.HasWarning(resp.Warnings, "MG012") {
			t.Fatalf("allowed=%v warnings=%q, want allowed without an MG012 warning", resp.Allowed, resp.Warnings)
		}
		if got := admittest.Metrics(t, reg).Sum(metrics.DecisionsTotal, map[string]string{"rule": "MG012", "action": "audit"}); got != 1 {
			t.Errorf("decisions{MG012,audit} = %v, want 1", got)
		}
	})

	t.Run("a Pod is never denied", func(t *testing.T) {
		t.Parallel()
		objs := admittest.Example(t, "mg002-fires")
		ds := admittest.Find[*appsv1.DaemonSet](t, objs)
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ds.Namespace, GenerateName: ds.Name + "-", OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "DaemonSet", Name: ds.Name, UID: "ds-uid", Controller: ptr.To(true),
			}}},
			Spec: ds.Spec.Template.Spec,
		}
		denyMG002 := &policy.Settings{Rules: map[string]policy.RuleSettings{"MG002": {Action: policy.ActionDeny}}}
		core, _ := admittest.Core(t, denyMG002, objs)
		h := admit.NewValidating(core, admittest.Decoder(), 0)
		resp := h.Handle(ctx, admittest.Request(t, pod, admissionv1.Create, false))
		if !resp.Allowed || !testutil.HasWarning(resp.Warnings, "MG002", "not denied") {
			t.Fatalf("allowed=%v warnings=%q, want allowed with an MG002 warning", resp.Allowed, resp.Warnings)
		}
	})
}
