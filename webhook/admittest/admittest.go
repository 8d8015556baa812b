package admittest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/modeguard/modeguard/examples"
	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/mutate"
	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/webhook/admit"
	"github.com/modeguard/modeguard/webhook/metrics"
	"github.com/modeguard/modeguard/webhook/metrics/metricstest"
	"github.com/modeguard/modeguard/workload"
)

// Example returns the objects of examples/<name> in order (Namespaces
// included).
func Example(t testing.TB, name string) []kruntime.Object {
	t.Helper()
	return manifest.Objects(examples.Load(t, name))
}

// Find returns the first object of kind in objs.
func Find[T kruntime.Object](t testing.TB, objs []kruntime.Object) T {
	t.Helper()
	for _, o := range objs {
		if v, ok := o.(T); ok {
			return v
		}
	}
	var zero T
	t.Fatalf("no %T among the objects", zero)
	return zero
}

// Request is an admission request for obj.
func Request(t testing.TB, obj kruntime.Object, op admissionv1.Operation, dryRun bool) admission.Request {
	t.Helper()
	gvk, err := apiutil.GVKForObject(obj, Scheme)
	if err != nil {
		t.Fatal(err)
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	m := obj.(metav1.Object)
	resource := ""
	if k := workload.KindFor(gvk.GroupKind()); k != nil {
		resource = k.Resource
	}
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID:       types.UID("uid-" + gvk.Kind + "-" + m.GetName()),
		Kind:      metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
		Resource:  metav1.GroupVersionResource{Group: gvk.Group, Version: gvk.Version, Resource: resource},
		Namespace: m.GetNamespace(),
		Name:      m.GetName(),
		Operation: op,
		UserInfo:  authenticationv1.UserInfo{Username: "test"},
		Object:    kruntime.RawExtension{Raw: raw},
		DryRun:    &dryRun,
	}}
}

// Scheme holds the built-in kinds and Alloy objects, as the webhook's.
var Scheme = func() *kruntime.Scheme {
	s := kruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := workload.AddAlloyToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

// Decoder decodes the built-in kinds and Alloy objects.
func Decoder() admission.Decoder { return admission.NewDecoder(Scheme) }

// Core returns a core reviewing with the built-in rules and settings s (nil:
// defaults), looking objects up in objs, recording metrics on a registry of
// its own.
func Core(t testing.TB, s *policy.Settings, objs []kruntime.Object) (*admit.Core, *prometheus.Registry) {
	t.Helper()
	return CoreWith(t, policy.Options{Settings: s}, objs)
}

// CoreWith is Core with the engine options o.
func CoreWith(t testing.TB, o policy.Options, objs []kruntime.Object) (*admit.Core, *prometheus.Registry) {
	t.Helper()
	engine, err := policy.New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	return &admit.Core{
		Reviewer:      &review.Reviewer{Engine: engine, Fixer: mutate.Fixer{}},
		Lookup:        review.NewSetWith(objs, engine.Settings().Agents()),
		Metrics:       m,
		FailurePolicy: admit.FailAllow,
	}, reg
}

// BrokenRule is a custom rule whose every evaluation fails (its violation
// has a line that is not a number): policy.ErrEvaluation on any input.
const BrokenRule = `# METADATA
# title: broken
# custom:
#   id: BROKEN1
#   action: warn
package modeguard.rules.broken

violations contains {"msg": "broken", "line": "not a number"}
`

// BrokenPolicyDir is a policy directory holding BrokenRule.
func BrokenPolicyDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "broken.rego"), []byte(BrokenRule), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Metrics gathers reg.
func Metrics(t testing.TB, reg prometheus.Gatherer) metricstest.Families {
	t.Helper()
	f, err := metricstest.Gather(reg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
