package lookup

import (
	"context"
	"errors"
	"testing"

	"github.com/go-logr/logr"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

var errDown = errors.New("the API server is down")

// reader is a fake client holding nothing that fails every read with
// fail (nil: never), and with its context's error once that is done.
func reader(fail error) client.WithWatch {
	b := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme)
	for _, k := range staticWorkloads() { // a cluster without the Alloy CRD
		b = b.WithIndex(k.New(), IndexConfigMap, (&Cache{}).indexConfigMap)
	}
	return b.WithInterceptorFuncs(interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if err := errors.Join(fail, ctx.Err()); err != nil {
				return err
			}
			return c.Get(ctx, key, obj, opts...)
		},
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if err := errors.Join(fail, ctx.Err()); err != nil {
				return err
			}
			return c.List(ctx, list, opts...)
		},
	}).Build()
}

type answer struct {
	err   error
	found bool
}

// lookups calls every Lookup method of c, for namespace ns and ConfigMap
// alloy.
func lookups(ctx context.Context, c *Cache) map[string]answer {
	cm, err := c.ConfigMap(ctx, "ns", "alloy")
	out := map[string]answer{"ConfigMap": {err, cm != nil}}
	cons, err := c.Consumers(ctx, "ns", "alloy")
	out["Consumers"] = answer{err, len(cons) > 0}
	hpas, err := c.HPAs(ctx, "ns")
	out["HPAs"] = answer{err, len(hpas) > 0}
	labels, err := c.NamespaceLabels(ctx, "ns")
	out["NamespaceLabels"] = answer{err, labels != nil}
	return out
}

// TestLookupErrors: when neither the cache nor the API server answers,
// every lookup is an error wrapping the cause, not an absent object; when
// both answer that there is nothing, that is no error; and the request's
// context reaches the reads.
func TestLookupErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	down := &Cache{reader: reader(errDown), live: reader(errDown), log: logr.Discard(), watches: NewWatches()}
	for name, got := range lookups(ctx, down) {
		if !errors.Is(got.err, errDown) || got.found {
			t.Errorf("%s with the cache and the API server down: error %v, found %v; want an error wrapping %q", name, got.err, got.found, errDown)
		}
	}
	none := &Cache{reader: reader(nil), live: reader(nil), log: logr.Discard(), watches: NewWatches()}
	for name, got := range lookups(ctx, none) {
		if got.err != nil || got.found {
			t.Errorf("%s of nothing: error %v, found %v; want neither", name, got.err, got.found)
		}
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	for name, got := range lookups(done, none) {
		if !errors.Is(got.err, context.Canceled) {
			t.Errorf("%s with the request's context done: error %v, want context.Canceled", name, got.err)
		}
	}
	// The cache down, the API server up: the API server answers.
	half := &Cache{reader: reader(errDown), live: reader(nil), log: logr.Discard(), watches: NewWatches()}
	for name, got := range lookups(ctx, half) {
		if got.err != nil {
			t.Errorf("%s with the cache down: error %v, want the API server's answer", name, got.err)
		}
	}
}
