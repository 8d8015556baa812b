package review

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// same agrees with equality.Semantic on the edits fixes make, and on what
// a copy leaves alone.
func TestSameAgreesWithSemantic(t *testing.T) {
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "alloy", Namespace: "monitoring", Labels: map[string]string{"b": "2", "a": "1"}},
		Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "alloy", Args: []string{"run", "/etc/alloy/config.alloy"},
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}},
		}}}}},
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "alloy"}, Data: map[string]string{"config.alloy": "a", "other": "b"}}
	for _, tc := range []struct {
		name        string
		fixed, orig runtime.Object
		want        bool
	}{
		{"a copy", ds.DeepCopy(), ds, true},
		{"an arg added", edit(ds, func(d *appsv1.DaemonSet) {
			c := &d.Spec.Template.Spec.Containers[0]
			c.Args = append(c.Args, "--cluster.enabled=true")
		}), ds, false},
		{"an env var added", edit(ds, func(d *appsv1.DaemonSet) {
			c := &d.Spec.Template.Spec.Containers[0]
			c.Env = append(c.Env, corev1.EnvVar{Name: "HOSTNAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}})
		}), ds, false},
		{"an empty env instead of none", edit(ds, func(d *appsv1.DaemonSet) { d.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{} }), ds, true},
		{"a label map rebuilt in another order", edit(ds, func(d *appsv1.DaemonSet) { d.Labels = map[string]string{"a": "1", "b": "2"} }), ds, true},
		{"a label changed", edit(ds, func(d *appsv1.DaemonSet) { d.Labels["a"] = "x" }), ds, false},
		{"a ConfigMap's text fixed", editCM(cm, func(c *corev1.ConfigMap) { c.Data["config.alloy"] = "a fixed" }), cm, false},
		{"a ConfigMap copied", cm.DeepCopy(), cm, true},
		{"against no ConfigMap", cm.DeepCopy(), (*corev1.ConfigMap)(nil), false},
		{"another kind", cm.DeepCopy(), ds, false},
	} {
		if got := same(tc.fixed, tc.orig); got != tc.want {
			t.Errorf("%s: same = %v, want %v", tc.name, got, tc.want)
		}
		if sem := equality.Semantic.DeepEqual(tc.fixed, tc.orig); sem != tc.want {
			t.Errorf("%s: equality.Semantic says %v, the test wants %v", tc.name, sem, tc.want)
		}
	}
}

func edit(ds *appsv1.DaemonSet, f func(*appsv1.DaemonSet)) *appsv1.DaemonSet {
	c := ds.DeepCopy()
	f(c)
	return c
}

func editCM(cm *corev1.ConfigMap, f func(*corev1.ConfigMap)) *corev1.ConfigMap {
	c := cm.DeepCopy()
	f(c)
	return c
}
