package certs

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// newScheme holds the only kinds this package reads and writes.
func newScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := corev1.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := admissionregistrationv1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// watchNamed watches exactly the named objects (a field selector on
// metadata.name, so the manager's cache never holds the cluster's Secrets)
// and returns a channel that receives, coalesced, whenever one of them is
// added, changed or deleted. Reads stay direct; the watch only says when to
// look. The watch ends with ctx.
func watchNamed(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme, log logr.Logger, objs ...client.Object) (<-chan struct{}, error) {
	byObject := make(map[client.Object]cache.ByObject, len(objs))
	for _, o := range objs {
		bo := cache.ByObject{Field: fields.OneTermEqualSelector("metadata.name", o.GetName())}
		if ns := o.GetNamespace(); ns != "" {
			bo.Namespaces = map[string]cache.Config{ns: {}}
		}
		byObject[o] = bo
	}
	c, err := cache.New(cfg, cache.Options{Scheme: scheme, ByObject: byObject})
	if err != nil {
		return nil, fmt.Errorf("creating watch: %w", err)
	}
	ch := make(chan struct{}, 1)
	notify := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	handler := toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { notify() },
		UpdateFunc: func(any, any) { notify() },
		DeleteFunc: func(any) { notify() },
	}
	for _, o := range objs {
		inf, err := c.GetInformer(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("watching %T %q: %w", o, o.GetName(), err)
		}
		if _, err := inf.AddEventHandler(handler); err != nil {
			return nil, fmt.Errorf("watching %T %q: %w", o, o.GetName(), err)
		}
	}
	go func() {
		if err := c.Start(ctx); err != nil {
			log.Error(err, "Watch ended; falling back to periodic checks")
		}
	}()
	return ch, nil
}
