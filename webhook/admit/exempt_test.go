package admit_test

import (
	"context"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/webhook/admit"
	"github.com/modeguard/modeguard/webhook/admittest"
)

// A namespace the settings exempt is never mutated nor denied, even for an
// object that would be fixed (MG001) or denied (MG004) anywhere else.
func TestExemptNamespaceNeverMutated(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"mg001-fires", "mg004-fires"} {
		objs := admittest.Example(t, name)
		core, _ := admittest.Core(t, &policy.Settings{ExemptNamespaces: []string{name}}, objs)
		cm := admittest.Find[*corev1.ConfigMap](t, objs)
		req := admittest.Request(t, cm, admissionv1.Create, false)
		m := admit.NewMutating(core, admittest.Decoder(), -1).Handle(context.Background(), req)
		if !m.Allowed || len(m.Patches) != 0 || len(m.Warnings) != 0 {
			t.Errorf("%s: mutate in an exempt namespace: allowed %v, %d patches, warnings %q", name, m.Allowed, len(m.Patches), m.Warnings)
		}
		v := admit.NewValidating(core, admittest.Decoder(), -1).Handle(context.Background(), req)
		if !v.Allowed || len(v.Warnings) != 0 {
			t.Errorf("%s: validate in an exempt namespace: allowed %v, warnings %q", name, v.Allowed, v.Warnings)
		}
	}
	// The same objects outside the exemption are fixed and denied.
	objs := admittest.Example(t, "mg001-fires")
	core, _ := admittest.Core(t, nil, objs)
	req := admittest.Request(t, admittest.Find[*corev1.ConfigMap](t, objs), admissionv1.Create, false)
	if m := admit.NewMutating(core, admittest.Decoder(), -1).Handle(context.Background(), req); len(m.Patches) == 0 {
		t.Fatalf("control: mg001-fires is not fixed outside the exemption")
	}
}
