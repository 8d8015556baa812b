package admit_test

import (
	"context"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/webhook/admit"
	"github.com/modeguard/modeguard/webhook/admittest"
	"github.com/modeguard/modeguard/webhook/metrics"
)

// TestConfigMapPastTheAPIServerLimit: an agent ConfigMap whose data is over
// the 1 MiB the API server stores is admitted unreviewed, with a warning
// that says why, by both webhooks; one just under the limit is reviewed.
func TestConfigMapPastTheAPIServerLimit(t *testing.T) {
	t.Parallel()
	objs := admittest.Example(t, "mg001-fires")
	cm := admittest.Find[*corev1.ConfigMap](t, objs)
	key := ""
	for k := range cm.Data {
		key = k
	}
	pad := func(total int) *corev1.ConfigMap {
		c := cm.DeepCopy()
		c.Data[key] += "\n// " + strings.Repeat("x", total-len(c.Data[key])-len(key)-4) + "\n"
		return c
	}
	core, reg := admittest.CoreWith(t, policy.Options{}, objs)
	mh := admit.NewMutating(core, admittest.Decoder(), 0)
	vh := admit.NewValidating(core, admittest.Decoder(), 0)
	req := admittest.Request(t, pad(admit.MaxConfigMapBytes+1), admissionv1.Create, false)
	for name, got := range map[string]admission.Response{
		"mutate": mh.Handle(context.Background(), req), "validate": vh.Handle(context.Background(), req),
	} {
		if !got.Allowed || len(got.Patches) > 0 || len(got.Warnings) != 1 || !strings.Contains(got.Warnings[0], "did not review ConfigMap") {
			t.Errorf("%s, %d bytes: allowed=%v patches=%d warnings=%q; want allowed unpatched with one warning saying it was not reviewed",
				name, admit.MaxConfigMapBytes+1, got.Allowed, len(got.Patches), got.Warnings)
		}
	}
	if n := admittest.Metrics(t, reg).Sum(metrics.EvaluationsSkipped, map[string]string{"reason": metrics.SkipTooLarge}); n != 2 {
		t.Errorf("skipped{too-large} = %v, want 2", n)
	}
	// Just under the limit it is reviewed, and fixed (MG001).
	got := mh.Handle(context.Background(), admittest.Request(t, pad(admit.MaxConfigMapBytes-64), admissionv1.Create, false))
	if !got.Allowed || len(got.Patches) == 0 {
		t.Errorf("under the limit: allowed=%v patches=%d warnings=%q, want it fixed", got.Allowed, len(got.Patches), got.Warnings)
	}
}
