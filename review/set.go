package review

import (
	"context"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/modeguard/modeguard/workload"
)

// Set is a Lookup over a fixed list of objects: the documents of a manifest
// bundle in the CLI, or a test's objects. Objects relate by namespace and
// name, as they would in a cluster. Its lookups never fail.
type Set struct {
	configMaps map[[2]string]*corev1.ConfigMap
	consumers  map[[2]string][]runtime.Object
	hpas       map[string][]autoscalingv2.HorizontalPodAutoscaler
	namespaces map[string]map[string]string
}

var _ Lookup = (*Set)(nil)

// NewSet indexes objects. Objects other than ConfigMaps, the
// workload.Workloads kinds, HPAs (autoscaling v1 or v2) and Namespaces are
// ignored. Agent workloads are recognized by the built-in ways only.
func NewSet(objs []runtime.Object) *Set { return NewSetWith(objs, workload.Recognizer{}) }

// NewSetWith is NewSet recognizing agent workloads with agents (a
// Reviewer's Agents, so that the Set relates what the review checks).
func NewSetWith(objs []runtime.Object, agents workload.Recognizer) *Set {
	s := &Set{
		configMaps: map[[2]string]*corev1.ConfigMap{},
		consumers:  map[[2]string][]runtime.Object{},
		hpas:       map[string][]autoscalingv2.HorizontalPodAutoscaler{},
		namespaces: map[string]map[string]string{},
	}
	for _, o := range objs {
		switch t := o.(type) {
		case *corev1.ConfigMap:
			s.configMaps[[2]string{t.Namespace, t.Name}] = t
		case *corev1.Namespace:
			s.namespaces[t.Name] = t.Labels
		default:
			if h, ok := workload.AsHPA(o); ok {
				s.hpas[h.Namespace] = append(s.hpas[h.Namespace], *h)
			}
		}
	}
	for _, o := range objs {
		if k := workload.KindOf(o); k == nil || !k.Workload {
			continue
		}
		f, err := agents.FromObject(o, nil)
		if err != nil || f.ReadsConfigMap() == "" {
			continue
		}
		k := [2]string{f.Namespace, f.ReadsConfigMap()}
		s.consumers[k] = append(s.consumers[k], o)
	}
	return s
}

// ConfigMap implements Lookup.
func (s *Set) ConfigMap(_ context.Context, namespace, name string) (*corev1.ConfigMap, error) {
	return s.configMaps[[2]string{namespace, name}], nil
}

// Consumers implements Lookup.
func (s *Set) Consumers(_ context.Context, namespace, configMap string) ([]runtime.Object, error) {
	return s.consumers[[2]string{namespace, configMap}], nil
}

// HPAs implements Lookup.
func (s *Set) HPAs(_ context.Context, namespace string) ([]autoscalingv2.HorizontalPodAutoscaler, error) {
	return s.hpas[namespace], nil
}

// NamespaceLabels implements Lookup.
func (s *Set) NamespaceLabels(_ context.Context, namespace string) (map[string]string, error) {
	return s.namespaces[namespace], nil
}
