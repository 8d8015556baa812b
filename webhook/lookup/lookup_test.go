package lookup_test

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/modeguard/modeguard/webhook/admittest"
	"github.com/modeguard/modeguard/webhook/lookup"
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
	other := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"}, Spec: appsv1.DeploymentSpec{
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx"}}}},
	}}
	out, _ := lookup.TransformWorkload(agent.DeepCopy())
	if got := out.(*appsv1.DaemonSet); len(got.Spec.Template.Spec.Containers) != 1 {
		t.Errorf("agent DaemonSet lost its pod template")
	}
	if cm := lookup.ConfigMapOf(out.(*appsv1.DaemonSet)); cm != "alloy" {
		t.Errorf("ConfigMapOf(agent DaemonSet) = %q, want alloy", cm)
	}
	out, _ = lookup.TransformWorkload(other.DeepCopy())
	if got := out.(*appsv1.Deployment); len(got.Spec.Template.Spec.Containers) != 0 || got.Name != "web" {
		t.Errorf("non-agent Deployment: got %d containers, name %q; want the metadata only", len(got.Spec.Template.Spec.Containers), got.Name)
	}
	if cm := lookup.ConfigMapOf(other); cm != "" {
		t.Errorf("ConfigMapOf(non-agent) = %q, want empty", cm)
	}
}
