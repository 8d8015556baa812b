package workload

import (
	"errors"
	"fmt"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestDecode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		data    string
		want    string // %T of the object
		wantErr error
	}{
		{name: "yaml", data: "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: a}\n", want: "*v1.DaemonSet"},
		{name: "json", data: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"}}`, want: "*v1.Pod"},
		{name: "leading comment document", data: "---\n# Source: x\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n", want: "*v1.ConfigMap"},
		{name: "hpa v1", data: "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: a}\n", want: "*v1.HorizontalPodAutoscaler"},
		{name: "unknown field ignored", data: "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {bogus: 1}\n", want: "*v1.Pod"},
		{name: "unsupported kind", data: "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: a}\n", wantErr: ErrUnsupportedKind},
		{name: "empty", data: "# nothing\n", wantErr: ErrEmptyDocument},
		{name: "two documents", data: "apiVersion: v1\nkind: Pod\n---\napiVersion: v1\nkind: Pod\n"},
		{name: "no kind", data: "apiVersion: v1\nmetadata: {name: a}\n"},
		{name: "not yaml", data: "{{{"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			obj, err := Decode([]byte(tc.data))
			if tc.want == "" {
				if err == nil {
					t.Fatalf("got %T, want an error", obj)
				}
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Fatalf("got error %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%T", obj); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestFromObjectRejects(t *testing.T) {
	t.Parallel()
	var nilPod *corev1.Pod
	for _, obj := range []runtime.Object{nil, nilPod, &corev1.ConfigMap{}, &autoscalingv2.HorizontalPodAutoscaler{}} {
		if f, err := FromObject(obj, nil); !errors.Is(err, ErrNotWorkload) {
			t.Errorf("FromObject(%T) = %v, %v; want ErrNotWorkload", obj, f, err)
		}
	}
}

func TestTargetsHPA(t *testing.T) {
	t.Parallel()
	hpa := func(apiVersion, kind, name string) *autoscalingv2.HorizontalPodAutoscaler {
		return &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: apiVersion, Kind: kind, Name: name},
		}}
	}
	for _, tc := range []struct {
		hpa        *autoscalingv2.HorizontalPodAutoscaler
		kind, name string
		want       bool
	}{
		{hpa("apps/v1", "Deployment", "alloy"), "Deployment", "alloy", true},
		{hpa("extensions/v1beta1", "Deployment", "alloy"), "Deployment", "alloy", true},
		{hpa("", "StatefulSet", "alloy"), "StatefulSet", "alloy", true},
		{hpa("apps/v1", "deployment", "alloy"), "Deployment", "alloy", true}, // the Alloy chart's HPA
		{hpa("apps/v1", "statefulset", "alloy"), "StatefulSet", "alloy", true},
		{hpa("apps/v1", "Statefulset", "alloy"), "StatefulSet", "alloy", false},
		{hpa("apps/v1", "Deployment", "alloy"), "StatefulSet", "alloy", false},
		{hpa("apps/v1", "Deployment", "other"), "Deployment", "alloy", false},
		{hpa("example.com/v1", "Deployment", "alloy"), "Deployment", "alloy", false},
		{hpa("a/b/c", "Deployment", "alloy"), "Deployment", "alloy", false},
		{nil, "Deployment", "alloy", false},
	} {
		if got := TargetsHPA(tc.hpa, KindNamed(tc.kind), tc.name); got != tc.want {
			var ref any
			if tc.hpa != nil {
				ref = tc.hpa.Spec.ScaleTargetRef
			}
			t.Errorf("TargetsHPA(%+v, %q, %q) = %v, want %v", ref, tc.kind, tc.name, got, tc.want)
		}
	}
}
