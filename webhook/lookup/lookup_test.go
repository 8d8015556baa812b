package lookup_test

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/modeguard/modeguard/webhook/admittest"
	"github.com/modeguard/modeguard/webhook/lookup"
	"github.com/modeguard/modeguard/workload"
)

func TestTransformConfigMap(t *testing.T) {
	t.Parallel()
	meta := func(ann map[string]string, labels map[string]string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: "ns", Name: "cm", Annotations: ann, Labels: labels,
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}
	}
	for _, tc := range []struct {
		name     string
		cm       *corev1.ConfigMap
		keepData bool
	}{
		{"alloy key", &corev1.ConfigMap{ObjectMeta: meta(nil, nil), Data: map[string]string{"config.alloy": "x"}}, true},
		{"river key", &corev1.ConfigMap{ObjectMeta: meta(nil, nil), Data: map[string]string{"agent.river": "x"}}, true},
		{"mode annotation", &corev1.ConfigMap{ObjectMeta: meta(map[string]string{"modeguard.dev/mode": "daemonset"}, nil), Data: map[string]string{"cfg": "x"}}, true},
		{"agent label", &corev1.ConfigMap{ObjectMeta: meta(nil, map[string]string{"modeguard.dev/agent": "true"}), Data: map[string]string{"cfg": "x"}}, true},
		{"unrelated", &corev1.ConfigMap{ObjectMeta: meta(map[string]string{lookup.LastApplied: "{}"}, nil), Data: map[string]string{"nginx.conf": "x"}, BinaryData: map[string][]byte{"b": {1}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := lookup.TransformConfigMap(tc.cm.DeepCopy())
			if err != nil {
				t.Fatal(err)
			}
			got := out.(*corev1.ConfigMap)
			if got.ManagedFields != nil || got.Annotations[lookup.LastApplied] != "" {
				t.Errorf("managedFields %v, last-applied %q: want both dropped", got.ManagedFields, got.Annotations[lookup.LastApplied])
			}
			if kept := len(got.Data) > 0; kept != tc.keepData {
				t.Errorf("data kept = %v, want %v", kept, tc.keepData)
			}
			if !tc.keepData && got.BinaryData != nil {
				t.Errorf("binaryData kept on an unrelated ConfigMap")
			}
		})
	}
}

func TestTransformWorkload(t *testing.T) {
	t.Parallel()
	agent := admittest.Find[*appsv1.DaemonSet](t, admittest.Example(t, "mg001-fires"))
	mirrored := agent.DeepCopy()
	mirrored.Spec.Template.Labels = map[string]string{"app": "collector"} // not the chart's name label
	mirrored.Spec.Template.Spec.Containers[0].Image = "registry.internal/mirror/alloy:v1.5.1"
	other := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"}, Spec: appsv1.DeploymentSpec{
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx"}}}},
	}}
	patterns := workload.Recognizer{Images: []string{"*/mirror/alloy*"}}
	for _, tc := range []struct {
		name   string
		obj    client.Object
		agents workload.Recognizer
		cm     string // "" for a non-agent, which keeps its metadata only
	}{
		{"agent DaemonSet", agent, workload.Recognizer{}, "alloy"},
		{"mirrored agent, no patterns", mirrored, workload.Recognizer{}, ""},
		{"mirrored agent, the settings' pattern", mirrored, patterns, "alloy"},
		{"non-agent Deployment", other, patterns, ""},
	} {
		out, err := lookup.TransformWorkload(tc.agents)(tc.obj.DeepCopyObject())
		if err != nil {
			t.Fatal(err)
		}
		got := out.(client.Object)
		var kept bool
		switch o := got.(type) {
		case *appsv1.DaemonSet:
			kept = len(o.Spec.Template.Spec.Containers) > 0
		case *appsv1.Deployment:
			kept = len(o.Spec.Template.Spec.Containers) > 0
		}
		if kept != (tc.cm != "") || got.GetName() != tc.obj.GetName() {
			t.Errorf("%s: pod template kept %v, name %q; want %v, %q", tc.name, kept, got.GetName(), tc.cm != "", tc.obj.GetName())
		}
		if cm := lookup.ConfigMapOf(tc.obj.DeepCopyObject(), tc.agents); cm != tc.cm {
			t.Errorf("%s: ConfigMapOf = %q, want %q", tc.name, cm, tc.cm)
		}
	}
}
