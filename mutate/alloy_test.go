package mutate_test

import (
	"errors"
	"testing"

	"github.com/modeguard/modeguard/mutate"
	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/workload"
)

// TestAlloyWorkloadFixes: a workload fix of an Alloy object changes its
// values, not a pod template it does not have.
func TestAlloyWorkloadFixes(t *testing.T) {
	t.Parallel()
	a := &workload.Alloy{}
	a.Name, a.Namespace = "m", "ns"
	for _, req := range []policy.FixRequest{
		{Name: mutate.FixNodeNameEnv, Params: map[string]any{"var": "NODE_NAME"}},
		{Name: mutate.FixClusterFlags, Params: map[string]any{"joinAddresses": "m-alloy"}},
	} {
		for range 2 { // idempotent
			if err := mutate.Workload(a, nil, req); err != nil {
				t.Fatalf("%s: %v", req.Name, err)
			}
		}
	}
	f, err := workload.FromObject(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Run.Cluster.Enabled || f.Env["NODE_NAME"].FieldRef != "spec.nodeName" {
		t.Errorf("got cluster %+v, NODE_NAME %+v; want clustering and NODE_NAME from spec.nodeName", f.Run.Cluster, f.Env["NODE_NAME"])
	}
	if env := a.Spec["alloy"].(map[string]any)["extraEnv"].([]any); len(env) != 1 {
		t.Errorf("got %d extraEnv entries, want 1", len(env))
	}
	err = mutate.Workload(a, nil, policy.FixRequest{Name: mutate.FixClusteringBlock, Params: map[string]any{"component": "x"}})
	if !errors.Is(err, mutate.ErrNotApplicable) {
		t.Errorf("a config fix on an Alloy object: %v, want ErrNotApplicable", err)
	}
}
