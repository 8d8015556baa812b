package admit_test

import (
	"bytes"
	"reflect"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/modeguard/modeguard/examples"
	"github.com/modeguard/modeguard/webhook/admit"
	"github.com/modeguard/modeguard/webhook/admittest"
	"github.com/modeguard/modeguard/workload"
)

// decodeBothWays decodes req with admit.Decode (which reads the object
// directly where it can) and with the admission decoder alone, and fails
// when they disagree: on the object, or on whether it decodes.
func decodeBothWays(t *testing.T, req admission.Request) {
	t.Helper()
	dec := admittest.Decoder()
	got, gotErr := admit.Decode(dec, req)
	k := workload.KindFor(schema.GroupKind{Group: req.Kind.Group, Kind: req.Kind.Kind})
	if k == nil || !k.Reviewed {
		if gotErr == nil {
			t.Fatalf("%s: decoded a kind modeguard does not review", req.Kind)
		}
		return
	}
	want := k.New()
	wantErr := dec.Decode(req, want)
	if (gotErr != nil) != (wantErr != nil) {
		t.Fatalf("%s %.200q: Decode's error %v, the admission decoder's %v", req.Kind, req.Object.Raw, gotErr, wantErr)
	}
	if gotErr != nil {
		return
	}
	if want.GetNamespace() == "" {
		want.SetNamespace(req.Namespace)
	}
	if !reflect.DeepEqual(got.Object, want) {
		t.Fatalf("%s %.200q: Decode gives\n%#v\nthe admission decoder\n%#v", req.Kind, req.Object.Raw, got.Object, want)
	}
}

// FuzzDecode: the object Decode reads is the admission decoder's, for any
// bytes sent as any reviewed kind.
func FuzzDecode(f *testing.F) {
	// One object of each kind the examples hold (each entry also runs as a
	// test; the fuzzer's baseline over every example would eat its time).
	seen := map[metav1.GroupVersionKind]bool{}
	for _, name := range examples.Names() {
		for _, o := range admittest.Example(f, name) {
			req := admittest.Request(f, o, admissionv1.Create, false)
			if seen[req.Kind] {
				continue
			}
			seen[req.Kind] = true
			f.Add(req.Kind.Group, req.Kind.Version, req.Kind.Kind, req.Object.Raw)
			// The object in another version, or as another kind, with
			// fields in another case, or as YAML.
			f.Add(req.Kind.Group, "v1beta1", req.Kind.Kind, req.Object.Raw)
			f.Add(req.Kind.Group, req.Kind.Version, req.Kind.Kind, bytes.Replace(req.Object.Raw, []byte(`"kind":"`), []byte(`"kind":"X`), 1))
			f.Add(req.Kind.Group, req.Kind.Version, req.Kind.Kind, bytes.Replace(req.Object.Raw, []byte(`"metadata"`), []byte(`"Metadata"`), 1))
			f.Add(req.Kind.Group, req.Kind.Version, req.Kind.Kind, bytes.Replace(req.Object.Raw, []byte(`"apiVersion":"`), []byte(`"APIVERSION":"`), 1))
		}
	}
	f.Add("apps", "v1", "DaemonSet", []byte(`{"metadata":{"name":"x"}}`))
	f.Add("apps", "v1", "DaemonSet", []byte("apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: x}\n"))
	f.Add("", "v1", "ConfigMap", []byte(`{"apiVersion":"v1","kind":"ConfigMap","data":{"a":1}}`))
	f.Add("", "v1", "ConfigMap", []byte(`{"apiVersion":"v1","kind":"ConfigMap","kind":"Pod"}`))
	f.Fuzz(func(t *testing.T, group, version, kind string, raw []byte) {
		req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
			UID: "u", Kind: metav1.GroupVersionKind{Group: group, Version: version, Kind: kind},
			Namespace: "ns", Operation: admissionv1.Create,
		}}
		req.Object.Raw = raw
		decodeBothWays(t, req)
	})
}
