package mutate

import (
	"fmt"
	"github.com/modeguard/modeguard/internal/benchconfig"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/riverconfig"
)

func BenchmarkConfigFix(b *testing.B) {
	large := benchconfig.Large(3000)
	n := strings.Count(large, "prometheus.scrape \"pods_")
	mid := n / 2
	for _, tc := range []struct {
		name string
		src  string
		fix  policy.FixRequest
	}{
		{"typical/node-selector", benchconfig.Typical, benchFix(FixNodeSelector, "config.alloy", "discovery.kubernetes.pods")},
		{"typical/clustering-block", benchconfig.Typical, benchFix(FixClusteringBlock, "config.alloy", "prometheus.scrape.services")},
		{"large/node-selector", large, benchFix(FixNodeSelector, "config.alloy", fmt.Sprintf("discovery.kubernetes.pods_%d", mid))},
		{"large/clustering-block", large, benchFix(FixClusteringBlock, "config.alloy", fmt.Sprintf("prometheus.scrape.pods_%d", mid))},
	} {
		src := []byte(tc.src)
		b.Run(fmt.Sprintf("%s/%dlines", tc.name, strings.Count(tc.src, "\n")), func(b *testing.B) {
			if f := riverconfig.Parse("config.alloy", src); len(f.Errors) > 0 {
				b.Fatal(f.Errors)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				if _, err := Config("config.alloy", src, tc.fix); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPatch fixes a ConfigMap holding the typical or the large config
// and builds the JSON patch, as the mutating webhook does for one fix.
func BenchmarkPatch(b *testing.B) {
	large := benchconfig.Large(3000)
	mid := strings.Count(large, "prometheus.scrape \"pods_") / 2
	for _, tc := range []struct {
		name, config, component string
	}{
		{"typical", benchconfig.Typical, "discovery.kubernetes.pods"},
		{"large3000", large, fmt.Sprintf("discovery.kubernetes.pods_%d", mid)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			orig := &corev1.ConfigMap{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
				ObjectMeta: metav1.ObjectMeta{Name: "alloy", Namespace: "monitoring", Labels: map[string]string{"app.kubernetes.io/name": "alloy"}},
				Data:       map[string]string{"config.alloy": tc.config},
			}
			fix := benchFix(FixNodeSelector, "config.alloy", tc.component)
			b.ReportAllocs()
			for b.Loop() {
				cm := orig.DeepCopy()
				if err := ConfigMap(cm, "config.alloy", fix); err != nil {
					b.Fatal(err)
				}
				ops, err := Patch(orig, cm)
				if err != nil || len(ops) != 1 {
					b.Fatalf("patch %v, %v; want one operation", ops, err)
				}
			}
		})
	}
}

func benchFix(name, file, component string) policy.FixRequest {
	return policy.FixRequest{Name: name, Params: map[string]any{
		"file": file, "component": component, "role": "pod", "envFunc": "sys.env", "var": "HOSTNAME",
	}}
}
