package workload

import (
	"reflect"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Object is a typed API object: what controller-runtime calls a
// client.Object (a value of one is one of those).
type Object interface {
	metav1.Object
	runtime.Object
}

// ObjectList is a typed list of API objects (a client.ObjectList).
type ObjectList interface {
	metav1.ListInterface
	runtime.Object
}

// Kind is one kind of object modeguard reads: what it is called, how to
// make one, and how to reach its pods. Kinds lists them; the other
// packages range over it, or ask KindOf, instead of switching on Go types
// or kind names, so that a new kind is one entry here plus its facts
// function.
type Kind struct {
	// Name is the kind as the API server names it: "DaemonSet".
	Name string
	// GVK is the group, version and kind modeguard reads it as.
	GVK schema.GroupVersionKind
	// Resource is its resource: "daemonsets".
	Resource string
	// Namespaced is false for cluster-scoped kinds.
	Namespaced bool
	// Reviewed marks the kinds review decides on: the admission subjects.
	Reviewed bool
	// Workload marks the kinds an agent runs as that read a ConfigMap: the
	// consumers a ConfigMap's review pairs it with, which the webhook
	// caches with their pod templates.
	Workload bool
	// Mode is the mode of an agent running as this kind; "" when the kind
	// alone does not say (a Pod, a ReplicaSet) or it runs no agent.
	Mode string
	// Scalable marks the kinds an HPA may scale (through their scale
	// subresource).
	Scalable bool
	// MetadataOnly marks the kinds modeguard reads only the metadata of (a
	// Namespace's labels): an informer of them keeps their metadata.
	MetadataOnly bool
	// CRD marks the kinds a CustomResourceDefinition serves: a cluster may
	// not have them, so the webhook watches them only once it does.
	CRD bool

	// New returns an empty object of the kind.
	New func() Object
	// NewList returns an empty list of the kind; nil for kinds modeguard
	// never lists by kind.
	NewList func() ObjectList
	// Pod reaches an object's pods: its pod template's metadata and spec
	// (a Pod's own), which fixes edit in place. Nil for kinds without pods.
	Pod func(obj runtime.Object) (*metav1.ObjectMeta, *corev1.PodSpec)
	// Spec returns a pointer to an object's spec: what a fix of a workload
	// may change. Nil for kinds without one.
	Spec func(obj runtime.Object) any
	// Replicas returns spec.replicas (nil: unset); nil for kinds without.
	Replicas func(obj runtime.Object) *int32

	// facts reads into f what FromObject reads of this kind alone (mode,
	// owner, service name, ...); nil for kinds without pods.
	facts func(k *Kind, f *Facts, obj runtime.Object) kindFacts
}

// kindFacts is what a kind's facts function hands back to FromObject.
type kindFacts struct {
	claims  []corev1.PersistentVolumeClaim // volumeClaimTemplates
	targets []target                       // what an HPA scaling it would target
}

// target is a kind and name an HPA may target.
type target struct {
	kind *Kind
	name string
}

// Is reports whether name, a kind as written in user data (an
// ownerReference, an HPA's scaleTargetRef), names k. It is the one place
// such a name is compared with the table, and it accepts what the API
// server's RESTMapper resolves: the kind as registered, or all in lower
// case (client-go restmapper/discovery.go registers both), as the Alloy
// chart's HPA writes it (`kind: deployment`). Other spellings ("Daemonset",
// a plural, a short name) resolve to nothing there, and here.
func (k *Kind) Is(name string) bool {
	return k != nil && (name == k.Name || name == strings.ToLower(k.Name))
}

// Informer returns the object to give an informer of the kind: an empty
// object, or a metadata-only one for a MetadataOnly kind.
func (k *Kind) Informer() Object {
	if k.MetadataOnly {
		p := &metav1.PartialObjectMetadata{}
		p.SetGroupVersionKind(k.GVK)
		return p
	}
	return k.New()
}

// The kinds.
var (
	KindDaemonSet = &Kind{
		Name: "DaemonSet", GVK: appsv1.SchemeGroupVersion.WithKind("DaemonSet"), Resource: "daemonsets",
		Namespaced: true, Reviewed: true, Workload: true, Mode: ModeDaemonSet,
		New:     func() Object { return &appsv1.DaemonSet{} },
		NewList: func() ObjectList { return &appsv1.DaemonSetList{} },
		Pod: func(obj runtime.Object) (*metav1.ObjectMeta, *corev1.PodSpec) {
			t := &obj.(*appsv1.DaemonSet).Spec.Template
			return &t.ObjectMeta, &t.Spec
		},
		Spec:  func(obj runtime.Object) any { return &obj.(*appsv1.DaemonSet).Spec },
		facts: modeOfKind,
	}
	KindStatefulSet = &Kind{
		Name: "StatefulSet", GVK: appsv1.SchemeGroupVersion.WithKind("StatefulSet"), Resource: "statefulsets",
		Namespaced: true, Reviewed: true, Workload: true, Mode: ModeStatefulSet, Scalable: true,
		New:     func() Object { return &appsv1.StatefulSet{} },
		NewList: func() ObjectList { return &appsv1.StatefulSetList{} },
		Pod: func(obj runtime.Object) (*metav1.ObjectMeta, *corev1.PodSpec) {
			t := &obj.(*appsv1.StatefulSet).Spec.Template
			return &t.ObjectMeta, &t.Spec
		},
		Spec:     func(obj runtime.Object) any { return &obj.(*appsv1.StatefulSet).Spec },
		Replicas: func(obj runtime.Object) *int32 { return obj.(*appsv1.StatefulSet).Spec.Replicas },
		facts:    statefulSetFacts,
	}
	KindDeployment = &Kind{
		Name: "Deployment", GVK: appsv1.SchemeGroupVersion.WithKind("Deployment"), Resource: "deployments",
		Namespaced: true, Reviewed: true, Workload: true, Mode: ModeDeployment, Scalable: true,
		New:     func() Object { return &appsv1.Deployment{} },
		NewList: func() ObjectList { return &appsv1.DeploymentList{} },
		Pod: func(obj runtime.Object) (*metav1.ObjectMeta, *corev1.PodSpec) {
			t := &obj.(*appsv1.Deployment).Spec.Template
			return &t.ObjectMeta, &t.Spec
		},
		Spec:     func(obj runtime.Object) any { return &obj.(*appsv1.Deployment).Spec },
		Replicas: func(obj runtime.Object) *int32 { return obj.(*appsv1.Deployment).Spec.Replicas },
		facts:    modeOfKind,
	}
	// KindReplicaSet is read (a Deployment's, or a Pod's owner) but not
	// reviewed: admission sees its Deployment.
	KindReplicaSet = &Kind{
		Name: "ReplicaSet", GVK: appsv1.SchemeGroupVersion.WithKind("ReplicaSet"), Resource: "replicasets",
		Namespaced: true, Scalable: true,
		New:     func() Object { return &appsv1.ReplicaSet{} },
		NewList: func() ObjectList { return &appsv1.ReplicaSetList{} },
		Pod: func(obj runtime.Object) (*metav1.ObjectMeta, *corev1.PodSpec) {
			t := &obj.(*appsv1.ReplicaSet).Spec.Template
			return &t.ObjectMeta, &t.Spec
		},
		Spec:     func(obj runtime.Object) any { return &obj.(*appsv1.ReplicaSet).Spec },
		Replicas: func(obj runtime.Object) *int32 { return obj.(*appsv1.ReplicaSet).Spec.Replicas },
		facts:    replicaSetFacts,
	}
	KindPod = &Kind{
		Name: "Pod", GVK: corev1.SchemeGroupVersion.WithKind("Pod"), Resource: "pods",
		Namespaced: true, Reviewed: true,
		New:     func() Object { return &corev1.Pod{} },
		NewList: func() ObjectList { return &corev1.PodList{} },
		Pod: func(obj runtime.Object) (*metav1.ObjectMeta, *corev1.PodSpec) {
			p := obj.(*corev1.Pod)
			return &p.ObjectMeta, &p.Spec
		},
		Spec:  func(obj runtime.Object) any { return &obj.(*corev1.Pod).Spec },
		facts: podFacts,
	}
	KindConfigMap = &Kind{
		Name: "ConfigMap", GVK: corev1.SchemeGroupVersion.WithKind("ConfigMap"), Resource: "configmaps",
		Namespaced: true, Reviewed: true,
		New:     func() Object { return &corev1.ConfigMap{} },
		NewList: func() ObjectList { return &corev1.ConfigMapList{} },
	}
	KindHPA = &Kind{
		Name: "HorizontalPodAutoscaler", GVK: autoscalingv2.SchemeGroupVersion.WithKind("HorizontalPodAutoscaler"), Resource: "horizontalpodautoscalers",
		Namespaced: true,
		New:        func() Object { return &autoscalingv2.HorizontalPodAutoscaler{} },
		NewList:    func() ObjectList { return &autoscalingv2.HorizontalPodAutoscalerList{} },
	}
	// KindAlloy is an Alloy object of the alloy-operator: a workload whose
	// facts follow from the Alloy chart rendering its spec (alloy.go). It
	// has no pod template of its own (Pod is nil): fixes change its values.
	KindAlloy = &Kind{
		Name: "Alloy", GVK: AlloyGroupVersion.WithKind("Alloy"), Resource: "alloys",
		Namespaced: true, Reviewed: true, Workload: true, CRD: true,
		New:     func() Object { return &Alloy{} },
		NewList: func() ObjectList { return &AlloyList{} },
		Spec:    func(obj runtime.Object) any { return &obj.(*Alloy).Spec },
	}
	KindNamespace = &Kind{
		Name: "Namespace", GVK: corev1.SchemeGroupVersion.WithKind("Namespace"), Resource: "namespaces",
		MetadataOnly: true,
		New:          func() Object { return &corev1.Namespace{} },
		NewList:      func() ObjectList { return &corev1.NamespaceList{} },
	}
)

// Kinds are the kinds modeguard reads, workloads first (in the order a
// ConfigMap's consumers are listed). Do not modify.
var Kinds []*Kind

// byType finds a kind by the Go type of its objects.
var byType map[reflect.Type]*Kind

// init fills Kinds: as initializers they would refer to themselves
// (facts functions look kinds up).
func init() {
	Kinds = []*Kind{KindDaemonSet, KindStatefulSet, KindDeployment, KindAlloy, KindReplicaSet, KindPod, KindConfigMap, KindHPA, KindNamespace}
	byType = make(map[reflect.Type]*Kind, len(Kinds))
	for _, k := range Kinds {
		byType[reflect.TypeOf(k.New())] = k
	}
}

// KindOf returns the kind of a typed object (a pointer to its k8s.io/api
// type), nil for an object of no kind in Kinds.
func KindOf(obj runtime.Object) *Kind {
	if obj == nil {
		return nil
	}
	return byType[reflect.TypeOf(obj)]
}

// KindFor returns the kind of a group and kind as the API server sends
// them (an admission request's kind), nil for one not in Kinds.
func KindFor(gk schema.GroupKind) *Kind {
	for _, k := range Kinds {
		if k.GVK.GroupKind() == gk {
			return k
		}
	}
	return nil
}

// KindNamed returns the kind a name written in user data names (see Is),
// nil for one not in Kinds.
func KindNamed(name string) *Kind {
	for _, k := range Kinds {
		if k.Is(name) {
			return k
		}
	}
	return nil
}

// Workloads are the Workload kinds, in the order of Kinds.
func Workloads() []*Kind {
	var out []*Kind
	for _, k := range Kinds {
		if k.Workload {
			out = append(out, k)
		}
	}
	return out
}

// Modes are the modes the Workload kinds run in, in the order of Kinds.
func Modes() []string {
	var out []string
	for _, k := range Workloads() {
		if k.Mode != "" {
			out = append(out, k.Mode)
		}
	}
	return out
}

// Names lists the names of kinds for a sentence: "a Pod, DaemonSet or
// Deployment".
func Names(kinds []*Kind) string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.Name
	}
	switch len(names) {
	case 0:
		return "nothing"
	case 1:
		return "a " + names[0]
	}
	return "a " + strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// modeOfKind is the facts function of a kind whose mode the kind says
// (a DaemonSet, a Deployment): scaled, it scales itself.
func modeOfKind(k *Kind, f *Facts, obj runtime.Object) kindFacts {
	f.Mode, f.ModeSource = k.Mode, "kind"
	if k.Scalable {
		return kindFacts{targets: []target{{k, obj.(metav1.Object).GetName()}}}
	}
	return kindFacts{}
}

func statefulSetFacts(k *Kind, f *Facts, obj runtime.Object) kindFacts {
	kf := modeOfKind(k, f, obj)
	s := obj.(*appsv1.StatefulSet)
	f.ServiceName = s.Spec.ServiceName
	kf.claims = s.Spec.VolumeClaimTemplates
	return kf
}

func podFacts(_ *Kind, f *Facts, obj runtime.Object) kindFacts {
	return kindFacts{targets: podMode(f, obj.(*corev1.Pod))}
}

func replicaSetFacts(k *Kind, f *Facts, obj runtime.Object) kindFacts {
	return kindFacts{targets: replicaSetMode(k, f, obj.(*appsv1.ReplicaSet))}
}
