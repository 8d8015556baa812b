package workload

import (
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// mirrored is the image of an agent pulled through a mirror: no image rule
// names it.
const mirrored = "registry.internal/mirror/alloy:v1.5.1"

// agentDaemonSet is a DaemonSet whose agent container (named "agent")
// mounts ConfigMap alloy at /etc/alloy, behind a config-reloader sidecar
// that comes first, as a chart may order them.
func agentDaemonSet(image string, command, args []string, env []corev1.EnvVar, labels, templateLabels map[string]string) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "alloy", Namespace: "monitoring", Labels: labels},
		Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: templateLabels},
			Spec: corev1.PodSpec{
				Containers: []corev1.Container{
					{Name: "config-reloader", Image: "example/config-reloader:v0.8", Args: []string{"--volume-dir=/etc/alloy", "--webhook-url=http://localhost:12345/-/reload"},
						VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/alloy"}}},
					{Name: "agent", Image: image, Command: command, Args: args, Env: env,
						VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/alloy"}}},
				},
				Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
					ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "alloy"}},
				}}},
			},
		}},
	}
}

// TestRecognize covers each way a workload is recognized as an agent, and
// the ways it is not, with an image no built-in rule names.
func TestRecognize(t *testing.T) {
	t.Parallel()
	runArgs := []string{"run", "/etc/alloy/config.alloy", "--storage.path=/tmp/alloy"}
	flow := []corev1.EnvVar{{Name: "AGENT_MODE", Value: "flow"}}
	chartEnv := []corev1.EnvVar{{Name: EnvAlloyDeployMode, Value: "helm"}}
	mirrorPatterns := Recognizer{Images: []string{"*/mirror/alloy*"}}
	for _, tc := range []struct {
		name           string
		rec            Recognizer
		image          string
		command, args  []string
		env            []corev1.EnvVar
		labels, tmpl   map[string]string
		agent          bool
		flavor, reason string // reason: a substring
	}{
		{name: "built-in image", image: "grafana/alloy:v1.5.1", args: runArgs,
			agent: true, flavor: FlavorAlloy, reason: "image grafana/alloy"},
		{name: "mirrored image, nothing else", image: mirrored, args: runArgs,
			reason: ReasonNoContainer},
		{name: "mirrored image matching a settings pattern", rec: mirrorPatterns, image: mirrored, args: runArgs,
			agent: true, flavor: FlavorAlloy, reason: "image " + mirrored + " matches */mirror/alloy* of the settings' agentImages"},
		{name: "digest matching a settings pattern", rec: mirrorPatterns, image: "registry.internal/mirror/alloy@sha256:0123abcd", args: runArgs,
			agent: true, flavor: FlavorAlloy, reason: "matches */mirror/alloy*"},
		{name: "settings pattern for agent-flow, flavor from the binary", rec: Recognizer{Images: []string{"registry.internal/mirror/agent-flow:*"}},
			image: "registry.internal/mirror/agent-flow:v0.44.2", command: []string{"/bin/grafana-agent-flow"}, args: []string{"run", "/etc/alloy/config.river"},
			agent: true, flavor: FlavorAgent, reason: "(flavor agent from binary /bin/grafana-agent-flow)"},
		{name: "settings pattern that does not match", rec: Recognizer{Images: []string{"*/other/alloy*", "mirror/alloy*"}}, image: mirrored, args: runArgs,
			reason: ReasonNoContainer},
		{name: "alloy run", image: mirrored, command: []string{"/bin/alloy"}, args: runArgs,
			agent: true, flavor: FlavorAlloy, reason: "container agent runs `alloy run`"},
		{name: "alloy run, all in command", image: mirrored, command: append([]string{"alloy"}, runArgs...),
			agent: true, flavor: FlavorAlloy, reason: "container agent runs `alloy run`"},
		{name: "grafana-agent-flow run", image: mirrored, command: []string{"grafana-agent-flow", "run", "/etc/alloy/config.river"},
			agent: true, flavor: FlavorAgent, reason: "container agent runs `grafana-agent-flow run`"},
		{name: "grafana-agent run with AGENT_MODE=flow", image: mirrored, command: []string{"/bin/grafana-agent", "run", "/etc/alloy/config.river"}, env: flow,
			agent: true, flavor: FlavorAgent, reason: "container agent runs `grafana-agent run` with AGENT_MODE=flow"},
		{name: "grafana-agent run without AGENT_MODE: static mode", image: mirrored, command: []string{"/bin/grafana-agent", "run", "/etc/alloy/config.river"},
			reason: "which is not an agent image"},
		{name: "grafana-agent run with AGENT_MODE from a ConfigMap", image: mirrored, command: []string{"/bin/grafana-agent", "run", "/etc/alloy/config.river"},
			env:    []corev1.EnvVar{{Name: "AGENT_MODE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Key: "mode"}}}},
			reason: "which is not an agent image"},
		{name: "alloy fmt is not run", image: mirrored, command: []string{"alloy", "fmt", "/etc/alloy/config.alloy"},
			reason: ReasonNoContainer},
		{name: "the Alloy chart's env var", image: mirrored, args: runArgs, env: chartEnv,
			agent: true, flavor: FlavorAlloy, reason: "container agent has env ALLOY_DEPLOY_MODE (set by the Alloy chart)"},
		{name: "chart name label alloy on the pod template", image: mirrored, args: runArgs, tmpl: map[string]string{LabelAppName: "alloy"},
			agent: true, flavor: FlavorAlloy, reason: "label app.kubernetes.io/name=alloy on the pod template (flavor alloy from label app.kubernetes.io/name=alloy)"},
		{name: "chart name label grafana-agent, Flow mode", image: mirrored, args: []string{"run", "/etc/alloy/config.river"}, env: flow, labels: map[string]string{LabelAppName: "grafana-agent"},
			agent: true, flavor: FlavorAgent, reason: "label app.kubernetes.io/name=grafana-agent (flavor agent from label"},
		{name: "chart name label grafana-agent, static mode", image: mirrored, command: []string{"/bin/grafana-agent"}, args: []string{"-config.file=/etc/agent/agent.yaml"}, labels: map[string]string{LabelAppName: "grafana-agent"},
			flavor: FlavorAgent, reason: ReasonStatic},
		{name: "another chart name label", image: mirrored, args: runArgs, labels: map[string]string{LabelAppName: "alloy-operator"},
			reason: ReasonNoContainer},
		{name: "opt-out label wins over the chart's env var", image: mirrored, args: runArgs, env: chartEnv, labels: map[string]string{LabelAgent: "false"},
			reason: "label modeguard.dev/agent=false"},
		{name: "opt-in label keeps its reason", image: mirrored, command: []string{"/bin/alloy"}, args: runArgs, labels: map[string]string{LabelAgent: "true"},
			agent: true, flavor: FlavorAlloy, reason: "label modeguard.dev/agent=true (flavor from binary /bin/alloy)"},
		{name: "opt-in label keeps its default flavor", image: mirrored, args: runArgs, env: flow, labels: map[string]string{LabelAgent: "true", LabelAppName: "grafana-agent"},
			agent: true, flavor: FlavorAlloy, reason: "label modeguard.dev/agent=true (flavor alloy by default: neither image nor binary names one)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ds := agentDaemonSet(tc.image, tc.command, tc.args, tc.env, tc.labels, tc.tmpl)
			f, err := tc.rec.FromObject(ds, nil)
			if err != nil {
				t.Fatal(err)
			}
			if f.Agent != tc.agent || f.Flavor != tc.flavor || !strings.Contains(f.Reason, tc.reason) {
				t.Fatalf("got agent %v, flavor %q, reason %q; want %v, %q, a reason with %q", f.Agent, f.Flavor, f.Reason, tc.agent, tc.flavor, tc.reason)
			}
			if !tc.agent {
				return
			}
			if f.Container == nil || f.Container.Name != "agent" {
				t.Errorf("got container %+v, want agent", f.Container)
			}
			if f.Config == nil || f.Config.ConfigMap != "alloy" {
				t.Errorf("got config %+v, want ConfigMap alloy", f.Config)
			}
		})
	}
}

// TestRecognizerBuiltIn: the package's FromObject is the zero Recognizer's.
func TestRecognizerBuiltIn(t *testing.T) {
	t.Parallel()
	ds := agentDaemonSet(mirrored, nil, []string{"run", "/etc/alloy/config.alloy"}, nil, nil, nil)
	f, err := FromObject(ds, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Recognizer{Images: []string{"*/mirror/alloy*"}}.FromObject(ds, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.Agent || !g.Agent {
		t.Errorf("got agent %v without patterns and %v with, want false and true", f.Agent, g.Agent)
	}
}

func TestCheckImagePattern(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pattern string
		ok      bool
	}{
		{"*/mirror/alloy*", true},
		{"registry.internal/mirror/alloy:v1.5.1", true},
		{"registry.internal:5000/*/grafana-alloy@sha256:*", true},
		{"Registry_1/A-b", true},
		{"", false},
		{"*", false},
		{"*/*:*", false},
		{"*/mirror/[a]lloy", false},
		{"*/mirror/?lloy", false},
		{`*/mirror/\alloy`, false},
		{"*/mirror/alloy'", false},
		{"*/mirror/alloy *", false},
		{"*/mirror/ällöy", false},
		{strings.Repeat("a", MaxImagePatternLength+1), false},
	} {
		err := CheckImagePattern(tc.pattern)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrImagePattern)) {
			t.Errorf("CheckImagePattern(%q) = %v, want ok %v", tc.pattern, err, tc.ok)
		}
	}
}

func TestMatchImage(t *testing.T) {
	t.Parallel()
	r := Recognizer{Images: []string{"*/mirror/alloy*", "registry.internal/agents/*:v1.*", "*/[bad"}}
	for _, tc := range []struct {
		image, want string
	}{
		{mirrored, "*/mirror/alloy*"},
		{"registry.internal/mirror/alloy", "*/mirror/alloy*"},
		{"registry.internal/mirror/alloy-rebuilt:v2", "*/mirror/alloy*"},
		{" registry.internal/mirror/alloy:v1.5.1 ", "*/mirror/alloy*"},
		{"registry.internal/agents/collector:v1.4", "registry.internal/agents/*:v1.*"},
		{"registry.internal/agents/collector:v2.0", ""},
		{"registry.internal/team/mirror/alloy:v1.5.1", ""}, // * stops at /
		{"mirror/alloy:v1.5.1", ""},
		{"REGISTRY.INTERNAL/MIRROR/ALLOY:v1", ""}, // as written: case counts
		{"registry.internal/[bad", ""},            // an invalid pattern matches nothing
	} {
		if got := r.matchImage(tc.image); got != tc.want {
			t.Errorf("matchImage(%q) = %q, want %q", tc.image, got, tc.want)
		}
	}
}
