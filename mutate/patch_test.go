package mutate

import (
	"errors"
	"os"
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/workload"
)

func agentConfigMap(t testing.TB) *corev1.ConfigMap {
	t.Helper()
	src, err := os.ReadFile("testdata/seed_pod_logs_selector/input.river")
	if err != nil {
		t.Fatal(err)
	}
	return &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Name: "agent", Namespace: "monitoring",
			Labels:      map[string]string{"app.kubernetes.io/name": "grafana-agent"},
			Annotations: map[string]string{"modeguard.dev/mode": "daemonset"},
		},
		Data: map[string]string{
			"config.river": string(src),
			"other.river":  `discovery.kubernetes "pods" { role = "pod" }`,
			"notes.txt":    "leave me",
		},
		BinaryData: map[string][]byte{"blob": {0, 1, 2, 0xff}},
	}
}

func nodeSelectorFix(file string) policy.FixRequest {
	return policy.FixRequest{Name: FixNodeSelector, Params: map[string]any{
		"file": file, "component": "discovery.kubernetes.pods", "role": "pod", "envFunc": "env", "var": "HOSTNAME",
	}}
}

func decodeFile(t testing.TB, path string) runtime.Object {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := workload.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

// TestConfigMap: only the fixed key changes.
func TestConfigMap(t *testing.T) {
	t.Parallel()
	orig := agentConfigMap(t)
	cm := orig.DeepCopy()
	if err := ConfigMap(cm, "config.river", nodeSelectorFix("config.river")); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/seed_pod_logs_selector/expected.river")
	if err != nil {
		t.Fatal(err)
	}
	if got := cm.Data["config.river"]; got != string(want) {
		t.Errorf("config.river:\n%s\nwant\n%s", got, want)
	}
	rest := cm.DeepCopy()
	rest.Data["config.river"] = orig.Data["config.river"]
	if !reflect.DeepEqual(rest, orig) {
		t.Errorf("something besides data[config.river] changed:\n%+v\nwant\n%+v", rest, orig)
	}

	for _, tc := range []struct {
		name string
		key  string
		fix  policy.FixRequest
	}{
		{"missing key", "absent.river", nodeSelectorFix("absent.river")},
		{"binary key", "blob", nodeSelectorFix("blob")},
		{"fix for another file", "other.river", nodeSelectorFix("config.river")},
		{"object fix", "config.river", policy.FixRequest{Name: FixClusterFlags, Params: map[string]any{"joinAddresses": "x"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cm := orig.DeepCopy()
			err := ConfigMap(cm, tc.key, tc.fix)
			if !errors.Is(err, ErrNotApplicable) {
				t.Fatalf("got %v, want ErrNotApplicable", err)
			}
			if !reflect.DeepEqual(cm, orig) {
				t.Errorf("a failed fix changed the ConfigMap")
			}
		})
	}
}

// TestPatchApplies applies the JSON patch from Patch to the original object's
// JSON (evanphx/json-patch) and gets the fixed object, for a ConfigMap, a
// DaemonSet and a Pod.
func TestPatchApplies(t *testing.T) {
	t.Parallel()
	envFix := policy.FixRequest{Name: FixNodeNameEnv, Params: map[string]any{"var": "HOSTNAME"}}
	for _, tc := range []struct {
		name string
		orig runtime.Object
		fix  func(runtime.Object) error
	}{
		{"ConfigMap", agentConfigMap(t), func(o runtime.Object) error {
			return ConfigMap(o.(*corev1.ConfigMap), "config.river", nodeSelectorFix("config.river"))
		}},
		{"DaemonSet", decodeFile(t, "testdata/objects/env_existing_literal_replaced/input.yaml"), func(o runtime.Object) error {
			return Workload(o, nil, envFix)
		}},
		{"Pod", decodeFile(t, "testdata/objects/env_pod/input.yaml"), func(o runtime.Object) error {
			return Workload(o, nil, envFix)
		}},
		{"StatefulSet", decodeFile(t, "testdata/objects/flags_separate/input.yaml"), func(o runtime.Object) error {
			return Workload(o, nil, policy.FixRequest{Name: FixClusterFlags, Params: map[string]any{"joinAddresses": "alloy-cluster"}})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fixed := tc.orig.DeepCopyObject()
			if err := tc.fix(fixed); err != nil {
				t.Fatal(err)
			}
			ops, err := Patch(tc.orig, fixed)
			if err != nil {
				t.Fatal(err)
			}
			if len(ops) == 0 {
				t.Fatal("the fix changed nothing")
			}
			checkPatchApplies(t, tc.orig, fixed)
			if ops, err := Patch(fixed, fixed.DeepCopyObject()); err != nil || len(ops) != 0 {
				t.Errorf("patch between equal objects: %v, %v; want none", ops, err)
			}
		})
	}
}

// TestWorkloadErrors: requests that do not fit leave the object alone.
func TestWorkloadErrors(t *testing.T) {
	t.Parallel()
	ds := decodeFile(t, "testdata/objects/env_daemonset/input.yaml").(*appsv1.DaemonSet)
	staleFacts, err := workload.FromObject(ds, nil)
	if err != nil {
		t.Fatal(err)
	}
	staleFacts.Container.Index = 1 // the config-reloader
	// Flags read from a longer command line than the object's.
	sts := decodeFile(t, "testdata/objects/flags_enabled_false/input.yaml").(*appsv1.StatefulSet)
	longFacts, err := workload.FromObject(sts, nil)
	if err != nil {
		t.Fatal(err)
	}
	sts.Spec.Template.Spec.Containers[0].Args = sts.Spec.Template.Spec.Containers[0].Args[:2]
	for _, tc := range []struct {
		name  string
		obj   runtime.Object
		facts *workload.Facts
		fix   policy.FixRequest
	}{
		{"config fix", ds, nil, nodeSelectorFix("config.alloy")},
		{"unknown fix", ds, nil, policy.FixRequest{Name: "reboot"}},
		{"missing var", ds, nil, policy.FixRequest{Name: FixNodeNameEnv}},
		{"var with =", ds, nil, policy.FixRequest{Name: FixNodeNameEnv, Params: map[string]any{"var": "A=B"}}},
		{"join addresses not a string", ds, nil, policy.FixRequest{Name: FixClusterFlags, Params: map[string]any{"joinAddresses": []any{"a"}}}},
		{"facts of another container", ds, staleFacts, policy.FixRequest{Name: FixNodeNameEnv, Params: map[string]any{"var": "HOSTNAME"}}},
		{"flags of another command line", sts, longFacts, policy.FixRequest{Name: FixClusterFlags, Params: map[string]any{"joinAddresses": "alloy"}}},
		{"ConfigMap", &corev1.ConfigMap{}, nil, policy.FixRequest{Name: FixNodeNameEnv, Params: map[string]any{"var": "HOSTNAME"}}},
		{"ReplicaSet", &appsv1.ReplicaSet{}, nil, policy.FixRequest{Name: FixNodeNameEnv, Params: map[string]any{"var": "HOSTNAME"}}},
		{"nil Pod", (*corev1.Pod)(nil), nil, policy.FixRequest{Name: FixNodeNameEnv, Params: map[string]any{"var": "HOSTNAME"}}},
		{"nil", nil, nil, policy.FixRequest{Name: FixNodeNameEnv, Params: map[string]any{"var": "HOSTNAME"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before runtime.Object
			if tc.obj != nil && !reflect.ValueOf(tc.obj).IsNil() {
				before = tc.obj.DeepCopyObject()
			}
			err := Workload(tc.obj, tc.facts, tc.fix)
			if !errors.Is(err, ErrNotApplicable) {
				t.Fatalf("got %v, want ErrNotApplicable", err)
			}
			if before != nil && !reflect.DeepEqual(before, tc.obj) {
				t.Errorf("a failed fix changed the object")
			}
			t.Log(err)
		})
	}
}
