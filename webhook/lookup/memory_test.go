package lookup_test

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/modeguard/modeguard/webhook/lookup"
)

// configMapJSON is a ConfigMap as the API server sends it to an informer:
// applied with kubectl (last-applied copy, managedFields), in a namespace of
// its own.
func configMapJSON(i int, kind string) []byte {
	cm := &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: fmt.Sprintf("team-%d", i%50), Name: fmt.Sprintf("%s-%d", kind, i),
			UID: "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0", ResourceVersion: fmt.Sprint(100000 + i),
			Labels: map[string]string{"app.kubernetes.io/name": kind, "app.kubernetes.io/instance": fmt.Sprint(kind, i)},
		},
	}
	switch kind {
	case "app": // an application's settings, ~2 KiB
		var b strings.Builder
		for j := 0; b.Len() < 2048; j++ {
			fmt.Fprintf(&b, "setting_%d_%d = value-%d-%d\n", i, j, i, j)
		}
		cm.Data = map[string]string{"app.properties": b.String()}
	case "ca": // kube-root-ca.crt, ~1.1 KiB, written by a controller
		cm.Data = map[string]string{"ca.crt": "-----BEGIN CERTIFICATE-----\n" + strings.Repeat(fmt.Sprintf("MIIC%04dCCAYGgAwIBAgIBADANBgkqhkiG9w0BAQsFADAVMRMwEQYDVQQDEwpr\n", i%10000), 16) + "-----END CERTIFICATE-----\n"}
	case "agent": // an Alloy config, ~1 KiB
		cm.Data = map[string]string{"config.alloy": strings.Repeat(fmt.Sprintf("discovery.kubernetes \"pods_%d\" {\n  role = \"pod\"\n}\n", i), 20)}
	}
	if kind != "ca" {
		last, _ := json.Marshal(cm)
		cm.Annotations = map[string]string{lookup.LastApplied: string(last)}
	}
	cm.ManagedFields = []metav1.ManagedFieldsEntry{{
		Manager: "kubectl-client-side-apply", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1",
		FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:data":{".":{},"f:app.properties":{}},"f:metadata":{"f:annotations":{".":{},"f:kubectl.kubernetes.io/last-applied-configuration":{}},"f:labels":{".":{},"f:app.kubernetes.io/instance":{},"f:app.kubernetes.io/name":{}}}}`),
	}}
	b, _ := json.Marshal(cm)
	return b
}

// heldBytes is the heap a store of n ConfigMaps of kind holds, with or
// without the cache transform.
func heldBytes(tb testing.TB, n int, kind string, transform bool) uint64 {
	docs := make([][]byte, n)
	for i := range docs {
		docs[i] = configMapJSON(i, kind)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	store := toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc, toolscache.Indexers{})
	for _, d := range docs {
		cm := &corev1.ConfigMap{}
		if err := json.Unmarshal(d, cm); err != nil {
			tb.Fatal(err)
		}
		var obj any = cm
		if transform {
			var err error
			if obj, err = lookup.TransformConfigMap(obj); err != nil {
				tb.Fatal(err)
			}
		}
		if err := store.Add(obj); err != nil {
			tb.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(store)
	runtime.KeepAlive(docs) // the input is not part of what the store holds
	if after.HeapAlloc < before.HeapAlloc {
		return 0
	}
	return after.HeapAlloc - before.HeapAlloc
}

// TestCacheMemory measures what the ConfigMap cache holds per 1,000
// ConfigMaps, with and without the transform, and checks the transform
// saves what it should.
func TestCacheMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap; skipped under -short")
	}
	for _, kind := range []string{"app", "ca", "agent"} {
		raw := heldBytes(t, 1000, kind, false)
		kept := heldBytes(t, 1000, kind, true)
		t.Logf("%-5s ConfigMaps: %7.0f KiB per 1,000 as received, %7.0f KiB per 1,000 cached", kind, float64(raw)/1024, float64(kept)/1024)
		switch kind {
		case "app", "ca": // metadata only
			if kept > raw/3 {
				t.Errorf("%s: cached %d bytes per 1,000, want under a third of %d", kind, kept, raw)
			}
		case "agent": // data kept, the last-applied copy dropped
			if kept > raw*2/3 {
				t.Errorf("%s: cached %d bytes per 1,000, want under two thirds of %d", kind, kept, raw)
			}
		}
	}
}

// BenchmarkCacheMemory reports the heap held per 1,000 cached ConfigMaps.
func BenchmarkCacheMemory(b *testing.B) {
	for _, kind := range []string{"app", "ca", "agent"} {
		for _, transform := range []bool{false, true} {
			name := kind + "/as-received"
			if transform {
				name = kind + "/cached"
			}
			b.Run(name, func(b *testing.B) {
				var held uint64
				for b.Loop() {
					held = heldBytes(b, 1000, kind, transform)
				}
				b.ReportMetric(float64(held)/1024, "KiB/1000cm")
			})
		}
	}
}
