package workload

import (
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestKinds checks each entry of the table against the API types: its
// GVK makes the object New makes, its resource is the GVK's, and KindOf,
// KindFor and KindNamed find it.
func TestKinds(t *testing.T) {
	t.Parallel()
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, autoscalingv2.AddToScheme, AddAlloyToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range Kinds {
		t.Run(k.Name, func(t *testing.T) {
			if k.GVK.Kind != k.Name {
				t.Errorf("GVK kind %q, want %q", k.GVK.Kind, k.Name)
			}
			want, err := s.New(k.GVK)
			if err != nil {
				t.Fatal(err)
			}
			if got := k.New(); reflect.TypeOf(got) != reflect.TypeOf(want) {
				t.Errorf("New() is %T, want %T", got, want)
			}
			if k.NewList != nil {
				list, err := s.New(k.GVK.GroupVersion().WithKind(k.Name + "List"))
				if err != nil {
					t.Fatal(err)
				}
				if got := k.NewList(); reflect.TypeOf(got) != reflect.TypeOf(list) {
					t.Errorf("NewList() is %T, want %T", got, list)
				}
			}
			// A CRD names its plural itself (alloys, where the guess says alloies).
			if plural, _ := meta.UnsafeGuessKindToResource(k.GVK); plural.Resource != k.Resource && !k.CRD {
				t.Errorf("resource %q, want %q", k.Resource, plural.Resource)
			}
			if got := KindOf(k.New()); got != k {
				t.Errorf("KindOf(New()) = %v, want this kind", got)
			}
			if got := KindFor(k.GVK.GroupKind()); got != k {
				t.Errorf("KindFor(%v) = %v, want this kind", k.GVK.GroupKind(), got)
			}
			if got := KindNamed(k.Name); got != k {
				t.Errorf("KindNamed(%q) = %v, want this kind", k.Name, got)
			}
			if k.Workload && !k.CRD && (k.Pod == nil || k.NewList == nil || k.Spec == nil || k.Mode == "") {
				t.Error("a workload kind without Pod, NewList, Spec or Mode")
			}
			// A CRD kind (an Alloy object) has its facts from its spec, its
			// mode from its values.
			if k.CRD && (k.NewList == nil || k.Spec == nil || k.Mode != "") {
				t.Error("a CRD kind without NewList or Spec, or with a fixed Mode")
			}
			if k.Pod != nil {
				obj := k.New()
				_, spec := k.Pod(obj)
				spec.HostNetwork = true
				if f, err := FromObject(obj, nil); err != nil || !f.HostNetwork || f.Kind != k.Name {
					t.Errorf("FromObject after editing the spec Pod returns: %+v, %v; want kind %s, hostNetwork", f, err, k.Name)
				}
			}
			if inf := k.Informer(); k.MetadataOnly != (reflect.TypeOf(inf) != reflect.TypeOf(k.New())) {
				t.Errorf("Informer() is %T for MetadataOnly=%v", inf, k.MetadataOnly)
			}
		})
	}
}

// TestKindNamed: a kind name from user data names a kind as the API
// server's RESTMapper resolves it: as registered, or all lower case.
func TestKindNamed(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]*Kind{
		"DaemonSet": KindDaemonSet, "daemonset": KindDaemonSet, "deployment": KindDeployment,
		"statefulset": KindStatefulSet, "Daemonset": nil, "DAEMONSET": nil, "DaemonSets": nil, "daemonsets": nil, "ds": nil, "": nil, "Service": nil,
	} {
		if got := KindNamed(name); got != want {
			t.Errorf("KindNamed(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kinds []*Kind
		want  string
	}{
		{nil, "nothing"},
		{[]*Kind{KindPod}, "a Pod"},
		{[]*Kind{KindPod, KindDaemonSet}, "a Pod or DaemonSet"},
		{Workloads(), "a DaemonSet, StatefulSet, Deployment or Alloy"},
	} {
		if got := Names(tc.kinds); got != tc.want {
			t.Errorf("Names(%d kinds) = %q, want %q", len(tc.kinds), got, tc.want)
		}
	}
}
