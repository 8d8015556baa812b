package lookup_test

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/modeguard/modeguard/webhook/lookup"
)

// The cache keeps an unrelated ConfigMap's metadata only, and an agent
// config whole, both without kubectl's copy of the applied object.
func ExampleTransformConfigMap() {
	for _, cm := range []*corev1.ConfigMap{
		{ObjectMeta: metav1.ObjectMeta{Name: "nginx", Annotations: map[string]string{lookup.LastApplied: "{...}"}}, Data: map[string]string{"nginx.conf": "events {}"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "alloy", Annotations: map[string]string{lookup.LastApplied: "{...}"}}, Data: map[string]string{"config.alloy": "logging {}"}},
	} {
		out, _ := lookup.TransformConfigMap(cm)
		got := out.(*corev1.ConfigMap)
		fmt.Println(got.Name, len(got.Data), len(got.Annotations))
	}
	// Output:
	// nginx 0 0
	// alloy 1 0
}
