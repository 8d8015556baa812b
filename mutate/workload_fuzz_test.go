package mutate

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/workload"
)

// fuzzArgs splits a fuzzed command line at newlines; "" is no argument.
func fuzzArgs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// FuzzWorkloadFix checks the workload fixes on fuzzed command lines and env
// var names: no panic; a failure matches ErrNotApplicable and changes
// nothing; a success is idempotent and gives what the fix promises, as
// workload reads the fixed object (cluster-flags: clustering enabled with a
// peer source; node-name-env: the var set from spec.nodeName).
func FuzzWorkloadFix(f *testing.F) {
	for _, seed := range []struct{ command, args string }{
		{"", "run\n/etc/alloy/config.alloy\n--storage.path=/tmp/alloy\n--cluster.enabled=true\n--cluster.join-addresses=alloy-cluster"},
		{"/bin/alloy\nrun\n/etc/alloy/config.alloy\n--storage.path\n/tmp/alloy", ""},
		{"/bin/grafana-agent\nrun\n/etc/agent/config.river", "--storage.path=/tmp/agent\n--cluster.enabled=false"},
		{"", "run\n/c\n--cluster.discover-peers=provider=k8s\n--cluster.enabled=maybe"},
		{"", "run\n--cluster.join-addresses\n\n--\n--cluster.enabled=false"},
		{"", "run\n-cluster.enabled=false\n---cluster.join-addresses=\n/c"},
		{"", ""},
	} {
		f.Add(seed.command, seed.args, "HOSTNAME", false)
		f.Add(seed.command, seed.args, "K8S_NODE_NAME", true)
	}
	f.Fuzz(func(t *testing.T, command, args, envVar string, env bool) {
		sts := &appsv1.StatefulSet{}
		sts.Name, sts.Namespace = "alloy", "monitoring"
		sts.Spec.ServiceName = "alloy-cluster"
		sts.Spec.Template.Spec.Containers = []corev1.Container{{
			Name: "alloy", Image: "grafana/alloy:v1.8.0",
			Command: fuzzArgs(command), Args: fuzzArgs(args),
			Env: []corev1.EnvVar{{Name: envVar, Value: "x"}},
		}}
		fix := policy.FixRequest{Name: FixClusterFlags, Params: map[string]any{"joinAddresses": "alloy-cluster"}}
		if env {
			fix = policy.FixRequest{Name: FixNodeNameEnv, Params: map[string]any{"var": envVar}}
		}
		orig := sts.DeepCopy()
		if err := Workload(sts, nil, fix); err != nil {
			if !errors.Is(err, ErrNotApplicable) {
				t.Fatalf("%v: error %q does not match ErrNotApplicable", fix, err)
			}
			if !reflect.DeepEqual(sts, orig) {
				t.Fatalf("%v failed with %v but changed the object", fix, err)
			}
			return
		}
		fixed := sts.DeepCopy()
		if err := Workload(sts, nil, fix); err != nil || !reflect.DeepEqual(sts, fixed) {
			t.Fatalf("%v: not idempotent (%v):\nonce  %+v\ntwice %+v", fix, err, fixed.Spec.Template.Spec.Containers[0], sts.Spec.Template.Spec.Containers[0])
		}
		facts, err := workload.FromObject(sts, nil)
		if err != nil || facts.Run == nil {
			t.Fatalf("facts of the fixed object: %v, %+v", err, facts)
		}
		c := facts.Run.Cluster
		switch {
		case env && !slices.Contains(facts.NodeNameEnv, envVar):
			t.Fatalf("%v: the fixed object sets from spec.nodeName only %v", fix, facts.NodeNameEnv)
		case !env && (!c.Enabled || len(c.JoinAddresses) == 0 && c.DiscoverPeers == ""):
			t.Fatalf("%v: the fixed command line %q %q reads as %+v", fix, fixed.Spec.Template.Spec.Containers[0].Command, fixed.Spec.Template.Spec.Containers[0].Args, c)
		}
	})
}
