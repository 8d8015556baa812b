package lookup

import (
	"context"
	"testing"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache/informertest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/modeguard/modeguard/workload"
)

// realInformers hands out client-go's informers (over a fake clientset)
// for the workload kinds, HPAs, ConfigMaps and Namespaces, as
// controller-runtime's cache does, and informertest's fakes for the rest.
type realInformers struct {
	fakeInformers
	factory informers.SharedInformerFactory
}

func (r realInformers) GetInformer(ctx context.Context, obj client.Object, opts ...cache.InformerGetOption) (cache.Informer, error) {
	switch o := obj.(type) {
	case *metav1.PartialObjectMetadata:
		if o.Kind == "Namespace" {
			return r.factory.Core().V1().Namespaces().Informer(), nil
		}
	case *corev1.ConfigMap:
		return r.factory.Core().V1().ConfigMaps().Informer(), nil
	case *appsv1.DaemonSet:
		return r.factory.Apps().V1().DaemonSets().Informer(), nil
	case *appsv1.StatefulSet:
		return r.factory.Apps().V1().StatefulSets().Informer(), nil
	case *appsv1.Deployment:
		return r.factory.Apps().V1().Deployments().Informer(), nil
	case *autoscalingv2.HorizontalPodAutoscaler:
		return r.factory.Autoscaling().V2().HorizontalPodAutoscalers().Informer(), nil
	}
	return r.fakeInformers.GetInformer(ctx, obj, opts...)
}

// TestConsumersAndHPAsFromTheInformersIndexes: with client-go's informers
// (as controller-runtime's cache has), Consumers, HPAs, ConfigMap and
// NamespaceLabels read the informers' stores directly. controller-runtime's reader here (informertest)
// holds nothing and the API server fails every read, so the objects can
// only come from the stores: the agent DaemonSets reading the ConfigMap in
// that namespace, by name, and the namespace's HPAs by name (reading the
// reader instead fails the test).
func TestConsumersAndHPAsFromTheInformersIndexes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	agent := func(ns, name, cm string) runtime.Object {
		return &appsv1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "alloy", Image: "grafana/alloy:v1.5.1", Args: []string{"run", "/etc/alloy/config.alloy"},
					VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/alloy"}}}},
				Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: cm}}}}},
			}}},
		}
	}
	hpa := func(ns, name string) runtime.Object {
		return &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	}
	cs := kubefake.NewClientset(
		agent("ns", "b", "alloy"), agent("ns", "a", "alloy"), agent("ns", "c", "other"), agent("elsewhere", "d", "alloy"),
		hpa("ns", "y"), hpa("ns", "x"), hpa("elsewhere", "z"),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "alloy"}, Data: map[string]string{"config.alloy": "x"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns", Labels: map[string]string{"team": "obs"}}},
	)
	factory := informers.NewSharedInformerFactory(cs, 0)
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	c, err := Setup(ctx, realInformers{fakeInformers{&informertest.FakeInformers{Scheme: s}}, factory}, reader(errDown), logr.Discard(), nil, workload.Recognizer{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []*workload.Kind{workload.KindDaemonSet, workload.KindStatefulSet, workload.KindDeployment, workload.KindHPA, workload.KindConfigMap, workload.KindNamespace} {
		if c.indexes[k.Name] == nil {
			t.Errorf("no direct index for %ss", k.Name)
		}
	}
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("%v did not sync", typ)
		}
	}
	cons, err := c.Consumers(ctx, "ns", "alloy")
	if err != nil {
		t.Fatalf("Consumers: %v (the stores were not read)", err)
	}
	var names []string
	for _, o := range cons {
		names = append(names, o.(client.Object).GetName())
	}
	if len(names) != 2 || names[0] != "a" || names[1] != "b" {
		t.Errorf("Consumers of ns/alloy: %q, want [a b]", names)
	}
	hpas, err := c.HPAs(ctx, "ns")
	if err != nil {
		t.Fatalf("HPAs: %v (the stores were not read)", err)
	}
	if len(hpas) != 2 || hpas[0].Name != "x" || hpas[1].Name != "y" {
		t.Errorf("HPAs of ns: %d, want x and y", len(hpas))
	}
	cm, err := c.ConfigMap(ctx, "ns", "alloy")
	if err != nil || cm == nil || cm.Data["config.alloy"] != "x" {
		t.Errorf("ConfigMap ns/alloy: %v, %v (the stores were not read)", cm, err)
	}
	labels, err := c.NamespaceLabels(ctx, "ns")
	if err != nil || labels["team"] != "obs" {
		t.Errorf("NamespaceLabels of ns: %v, %v (the stores were not read)", labels, err)
	}
	// Before an informer synced, its store is not read: the reader is.
	if _, ok := (&directIndex{informer: toolscache.NewSharedIndexInformer(nil, &appsv1.DaemonSet{}, 0, nil)}).byIndex(indexByConfigMap, "ns/alloy"); ok {
		t.Error("an informer that has not synced answered")
	}
}
