package admit_test

import (
	"context"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/modeguard/modeguard/webhook/admit"
	"github.com/modeguard/modeguard/webhook/admittest"
	"github.com/modeguard/modeguard/workload"
)

// TestAlloyAdmission: an Alloy object is decoded, fixed by a patch of its
// values (mutating), and denied naming the value to change (validating).
func TestAlloyAdmission(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	objs := admittest.Example(t, "alloy-mg006-fires")
	core, _ := admittest.Core(t, nil, objs)
	a := admittest.Find[*workload.Alloy](t, objs)
	resp := admit.NewMutating(core, admittest.Decoder(), -1).Handle(ctx, admittest.Request(t, a, admissionv1.Create, false))
	paths := map[string]bool{}
	for _, p := range resp.Patches {
		paths[p.Path] = true
	}
	if !resp.Allowed || !paths["/spec/alloy/clustering"] || !paths["/spec/alloy/configMap/content"] {
		t.Errorf("mutating: allowed %v, patched %v; want /spec/alloy/clustering and /spec/alloy/configMap/content", resp.Allowed, paths)
	}

	objs = admittest.Example(t, "alloy-mg005-fires")
	core, _ = admittest.Core(t, nil, objs)
	a = admittest.Find[*workload.Alloy](t, objs)
	resp = admit.NewValidating(core, admittest.Decoder(), -1).Handle(ctx, admittest.Request(t, a, admissionv1.Create, false))
	if resp.Allowed || !strings.Contains(resp.Result.Message, "MG005") || !strings.Contains(resp.Result.Message, "[change "+workload.AlloyValueClustering+"]") {
		t.Errorf("validating: allowed %v, message %q; want a MG005 denial naming %s", resp.Allowed, resp.Result.Message, workload.AlloyValueClustering)
	}
}
