package review_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/modeguard/modeguard/mutate"
	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/workload"
)

// TestMirroredAgent: the DaemonSet of examples/mg004-fires with its image
// pulled through a mirror and no chart label. Unrecognized, it is skipped
// with a note that says how to mark it; recognized (by the settings'
// pattern, the Alloy chart's env var, or the opt-in label) it gets the
// example's MG004 deny.
func TestMirroredAgent(t *testing.T) {
	t.Parallel()
	const image = "registry.internal/mirror/alloy:v1.5.1"
	mirror := &policy.Settings{AgentImages: []string{"*/mirror/alloy*"}}
	hint := `label it modeguard.dev/agent: "true", or add its image to the settings' agentImages ("registry.internal/mirror/alloy:*")`
	for _, tc := range []struct {
		name     string
		settings *policy.Settings
		edit     func(ds *appsv1.DaemonSet, cm *corev1.ConfigMap)
		want     []string // findings
		note     string   // a substring of the DaemonSet's note, "" for none
	}{
		{name: "unrecognized", want: []string{}, note: "mounts ConfigMap mg004-fires/alloy, whose key config.alloy holds River, but is not recognized as an agent (no agent container), so it is not checked: " + hint},
		{name: "settings pattern", settings: mirror, want: []string{"MG004:deny"}},
		{name: "the Alloy chart's env var", edit: func(ds *appsv1.DaemonSet, _ *corev1.ConfigMap) {
			c := &ds.Spec.Template.Spec.Containers[0]
			c.Env = append(c.Env, corev1.EnvVar{Name: workload.EnvAlloyDeployMode, Value: "helm"})
		}, want: []string{"MG004:deny"}},
		{name: "opt-in label", edit: func(ds *appsv1.DaemonSet, _ *corev1.ConfigMap) {
			ds.Labels = map[string]string{workload.LabelAgent: "true"}
		}, want: []string{"MG004:deny"}},
		{name: "opted out: no note", edit: func(ds *appsv1.DaemonSet, _ *corev1.ConfigMap) {
			ds.Labels = map[string]string{workload.LabelAgent: "false"}
		}, want: []string{}},
		{name: "ConfigMap without River: no note", edit: func(_ *appsv1.DaemonSet, cm *corev1.ConfigMap) {
			cm.Data = map[string]string{"nginx.conf": "server { listen 80; }", "app.properties": "a=b"}
		}, want: []string{}},
		{name: "River in a key the volume does not mount: no note", edit: func(ds *appsv1.DaemonSet, cm *corev1.ConfigMap) {
			cm.Data["other.conf"] = "x: y"
			ds.Spec.Template.Spec.Volumes[0].ConfigMap.Items = []corev1.KeyToPath{{Key: "other.conf", Path: "config.alloy"}}
		}, want: []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ex := example(t, "mg004-fires")
			ds := ex["DaemonSet"].(*appsv1.DaemonSet).DeepCopy()
			cm := ex["ConfigMap"].(*corev1.ConfigMap).DeepCopy()
			ds.Spec.Template.Labels = map[string]string{"app": "collector"} // not the chart's name label
			ds.Spec.Template.Spec.Containers[0].Image = image
			if tc.edit != nil {
				tc.edit(ds, cm)
			}
			rv := &review.Reviewer{Engine: engine(t, tc.settings), Fixer: mutate.Fixer{}}
			res, err := rv.ReviewBundle(context.Background(), []runtime.Object{cm, ds}, review.Options{Operation: "CHECK"})
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(res.Findings); !slices.Equal(got, tc.want) {
				t.Errorf("got findings %v, want %v", got, tc.want)
			}
			notes := strings.Join(res.Results[1].Notes, "\n")
			if tc.note == "" && strings.Contains(notes, "not recognized as an agent") {
				t.Errorf("got note %q, want none", notes)
			}
			if tc.note != "" && !strings.Contains(notes, tc.note) {
				t.Errorf("got notes %q, want one with %q", notes, tc.note)
			}
		})
	}
}
