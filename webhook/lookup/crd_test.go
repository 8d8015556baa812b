package lookup

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache/informertest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/modeguard/modeguard/workload"
)

// TestWatchCRDs: the cache starts without the Alloy kind; it watches it
// once the API server serves it (polled), and lists it as a consumer kind
// from then on; a failing discovery is retried.
func TestWatchCRDs(t *testing.T) {
	t.Parallel()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := workload.AddAlloyToScheme(s); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := Setup(ctx, fakeInformers{&informertest.FakeInformers{Scheme: s}}, reader(nil), logr.Discard(), nil, workload.Recognizer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Watching(workload.KindAlloy) || slices.Contains(c.workloads(), workload.KindAlloy) {
		t.Fatal("the Alloy kind is watched before its CRD is served")
	}
	var served, asked atomic.Int32 // 0: not served, 1: discovery fails, 2: served
	served.Store(1)
	if err := c.WatchCRDs(ctx, func(_ context.Context, gvr schema.GroupVersionResource) (bool, error) {
		asked.Add(1)
		if gvr != (schema.GroupVersionResource{Group: "collectors.grafana.com", Version: "v1alpha1", Resource: "alloys"}) {
			t.Errorf("asked for %v, want alloys.v1alpha1.collectors.grafana.com", gvr)
		}
		switch served.Load() {
		case 1:
			return false, errors.New("discovery down")
		case 2:
			return true, nil
		}
		return false, nil
	}, 5*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return asked.Load() >= 3 })
	served.Store(0)
	waitFor(t, func() bool { return asked.Load() >= 6 })
	if c.Watching(workload.KindAlloy) {
		t.Fatal("watching Alloy objects while the CRD is not served")
	}
	served.Store(2)
	waitFor(t, func() bool { return c.Watching(workload.KindAlloy) })
	if !slices.Contains(c.workloads(), workload.KindAlloy) {
		t.Error("Consumers does not list Alloy objects once watched")
	}
	// Polling stops once every CRD kind is watched.
	n := asked.Load()
	time.Sleep(50 * time.Millisecond)
	if got := asked.Load(); got != n {
		t.Errorf("asked %d more times after the CRD was found, want none", got-n)
	}
}

// TestServedBy reads a discovery answer: a group version the server does
// not know (404) is not served, nor one without the resource.
func TestServedBy(t *testing.T) {
	t.Parallel()
	gvr := schema.GroupVersionResource{Group: "collectors.grafana.com", Version: "v1alpha1", Resource: "alloys"}
	for _, tc := range []struct {
		name string
		list *metav1.APIResourceList
		err  error
		want bool
	}{
		{"served", &metav1.APIResourceList{APIResources: []metav1.APIResource{{Name: "alloys"}}}, nil, true},
		{"other resources", &metav1.APIResourceList{APIResources: []metav1.APIResource{{Name: "podlogs"}}}, nil, false},
		{"unknown group version", nil, apierrors.NewNotFound(schema.GroupResource{Group: "collectors.grafana.com"}, "v1alpha1"), false},
	} {
		got, err := ServedBy(lister{tc.list, tc.err})(context.Background(), gvr)
		if got != tc.want || err != nil {
			t.Errorf("%s: got %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

// fakeInformers gives metadata-only objects (a Namespace's) the informer
// of their kind, which informertest does not.
type fakeInformers struct{ *informertest.FakeInformers }

func (f fakeInformers) GetInformer(ctx context.Context, obj client.Object, opts ...cache.InformerGetOption) (cache.Informer, error) {
	if p, ok := obj.(*metav1.PartialObjectMetadata); ok {
		return f.GetInformerForKind(ctx, p.GroupVersionKind(), opts...)
	}
	return f.FakeInformers.GetInformer(ctx, obj, opts...)
}

type lister struct {
	list *metav1.APIResourceList
	err  error
}

func (l lister) ServerResourcesForGroupVersion(string) (*metav1.APIResourceList, error) {
	return l.list, l.err
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
