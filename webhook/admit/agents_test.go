package admit_test

import (
	"context"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/webhook/admit"
	"github.com/modeguard/modeguard/webhook/admittest"
	"github.com/modeguard/modeguard/webhook/metrics"
)

// TestMirroredAgent: the webhook recognizes an agent pulled through a
// mirror by the settings' agentImages: Guard lets the DaemonSet through to
// review, and its ConfigMap is reviewed with it (MG004 on
// examples/mg004-fires). Without the pattern the DaemonSet is skipped as
// not an agent and the ConfigMap gets mode-free rules only.
func TestMirroredAgent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		settings *policy.Settings
		skip     string   // Guard's reason for the DaemonSet
		want     []string // the ConfigMap's findings
	}{
		{"no pattern", nil, metrics.SkipNotAgent, []string{}},
		{"the settings' pattern", &policy.Settings{AgentImages: []string{"*/mirror/alloy*"}}, "", []string{"MG004:deny"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			objs := admittest.Example(t, "mg004-fires")
			ds := admittest.Find[*appsv1.DaemonSet](t, objs)
			ds.Spec.Template.Labels = map[string]string{"app": "collector"} // not the chart's name label
			ds.Spec.Template.Spec.Containers[0].Image = "registry.internal/mirror/alloy:v1.5.1"
			core, _ := admittest.Core(t, tc.settings, objs)
			s := &admit.Subject{Object: ds, Kind: "DaemonSet", Namespace: ds.Namespace, Name: ds.Name, Operation: "CREATE"}
			if reason, why := core.Guard(s); reason != tc.skip {
				t.Errorf("Guard(DaemonSet) = %q (%s), want %q", reason, why, tc.skip)
			}
			cm := admittest.Find[*corev1.ConfigMap](t, objs)
			res, err := core.Reviewer.Review(context.Background(), kruntime.Object(cm), core.Lookup, review.Options{Operation: "CREATE"})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range res.Findings {
				got = append(got, f.Rule.ID+":"+string(f.Action))
			}
			if got == nil {
				got = []string{}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("ConfigMap findings %v, want %v", got, tc.want)
			}
		})
	}
}
