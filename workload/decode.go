package workload

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// ErrUnsupportedKind is returned by Decode for a kind outside core/v1,
// apps/v1, autoscaling/v1, autoscaling/v2 and Alloy
// (collectors.grafana.com/v1alpha1).
var ErrUnsupportedKind = errors.New("unsupported kind")

// ErrEmptyDocument is returned by Decode for data holding no object (only
// comments or whitespace, as Helm renders often start with); callers reading
// a stream of documents skip it.
var ErrEmptyDocument = errors.New("empty document")

// ErrNotWorkload is returned by FromObject for an object that is not a Pod,
// DaemonSet, StatefulSet, Deployment or ReplicaSet.
var ErrNotWorkload = errors.New("not a Pod, DaemonSet, StatefulSet, Deployment or ReplicaSet")

// deserializer decodes the few API groups workload reads. It is built on
// first use: a small scheme, not client-go's, keeps the package light.
var deserializer = sync.OnceValues(func() (runtime.Decoder, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, autoscalingv1.AddToScheme, autoscalingv2.AddToScheme, AddAlloyToScheme,
	} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("building the workload scheme: %w", err)
		}
	}
	return serializer.NewCodecFactory(s).UniversalDeserializer(), nil
})

// Decode turns the YAML or JSON of one object into a typed object
// (*corev1.Pod, *appsv1.Deployment, *autoscalingv2.HorizontalPodAutoscaler,
// *corev1.ConfigMap, ...). Unknown fields are ignored, as the API server does
// by default. Data holding several YAML documents is an error; a kind outside
// core/v1, apps/v1 and autoscaling/v1+v2 is ErrUnsupportedKind.
func Decode(data []byte) (runtime.Object, error) {
	doc, err := singleDocument(data)
	if err != nil {
		return nil, err
	}
	dec, err := deserializer()
	if err != nil {
		return nil, err
	}
	obj, gvk, err := dec.Decode(doc, nil, nil)
	if err != nil {
		if runtime.IsNotRegisteredError(err) && gvk != nil {
			return nil, fmt.Errorf("decoding %s %s: %w", gvk.GroupVersion(), gvk.Kind, ErrUnsupportedKind)
		}
		return nil, fmt.Errorf("decoding object: %w", err)
	}
	return obj, nil
}

// singleDocument returns the one non-empty YAML document of data, as JSON.
func singleDocument(data []byte) ([]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var found []byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading YAML: %w", err)
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("reading YAML: %w", err)
		}
		if isEmptyDocument(j) {
			continue
		}
		if found != nil {
			return nil, errors.New("decoding object: want one YAML document, got several")
		}
		found = j
	}
	if found == nil {
		return nil, fmt.Errorf("decoding object: %w", ErrEmptyDocument)
	}
	return found, nil
}

func isEmptyDocument(j []byte) bool {
	j = bytes.TrimSpace(j)
	return len(j) == 0 || bytes.Equal(j, []byte("null"))
}

// AsHPA returns obj as an autoscaling/v2 HorizontalPodAutoscaler when it is an
// autoscaling/v1 or v2 one (v1 is converted: name, namespace, scale target
// and replica bounds are all FromObject reads), so that a bundle's HPAs can
// be handed to FromObject whatever their version.
func AsHPA(obj runtime.Object) (*autoscalingv2.HorizontalPodAutoscaler, bool) {
	switch h := obj.(type) {
	case *autoscalingv2.HorizontalPodAutoscaler:
		return h, h != nil
	case *autoscalingv1.HorizontalPodAutoscaler:
		if h == nil {
			return nil, false
		}
		return &autoscalingv2.HorizontalPodAutoscaler{
			ObjectMeta: h.ObjectMeta,
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{
					Kind:       h.Spec.ScaleTargetRef.Kind,
					Name:       h.Spec.ScaleTargetRef.Name,
					APIVersion: h.Spec.ScaleTargetRef.APIVersion,
				},
				MinReplicas: h.Spec.MinReplicas,
				MaxReplicas: h.Spec.MaxReplicas,
			},
		}, true
	}
	return nil, false
}
