package lookup

import (
	"context"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/modeguard/modeguard/workload"
)

// staticWorkloads are the workload kinds every cluster serves: the informer
// cache watches them from the start. The CRD kinds (an Alloy object) are
// watched only once their CustomResourceDefinition is found (WatchCRDs), so
// that a cluster without it runs as before.
func staticWorkloads() []*workload.Kind {
	var out []*workload.Kind
	for _, k := range workload.Workloads() {
		if !k.CRD {
			out = append(out, k)
		}
	}
	return out
}

// crdKinds are the CRD kinds whose informers run.
type crdKinds struct {
	mu      sync.RWMutex
	watched map[*workload.Kind]bool
}

func (c *crdKinds) has(k *workload.Kind) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.watched[k]
}

// workloads are the workload kinds the cache watches now: the static ones
// and the CRD kinds found so far, in the order of workload.Workloads.
func (c *Cache) workloads() []*workload.Kind {
	var out []*workload.Kind
	for _, k := range workload.Workloads() {
		if !k.CRD || c.crds.has(k) {
			out = append(out, k)
		}
	}
	return out
}

// Watching reports whether the cache watches objects of kind k: always for
// the static kinds, for a CRD kind once its CustomResourceDefinition was
// found.
func (c *Cache) Watching(k *workload.Kind) bool {
	return !k.CRD || c.crds.has(k)
}

// Served tells whether the API server serves a group, version and resource;
// a discovery client's ServerResourcesForGroupVersion answers it (Served).
type Served func(ctx context.Context, gvr schema.GroupVersionResource) (bool, error)

// WatchCRDs starts watching the CRD kinds of workload.Kinds whose resource
// the API server serves (served), and checks every `every` for those it
// does not serve yet, until ctx ends: an Alloy CRD installed after the
// webhook started is watched from then on. It returns once the check at
// start is done (its error: a failed discovery, retried later), and keeps
// checking in the background. It is a manager Runnable's body.
func (c *Cache) WatchCRDs(ctx context.Context, served Served, every time.Duration) error {
	if c.check(ctx, served) {
		return nil
	}
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if c.check(ctx, served) {
					return
				}
			}
		}
	}()
	return nil
}

// check starts the informers of the CRD kinds that are served and not yet
// watched; it reports whether every CRD kind is watched.
func (c *Cache) check(ctx context.Context, served Served) (all bool) {
	all = true
	for _, k := range workload.Kinds {
		if !k.CRD || c.crds.has(k) {
			continue
		}
		ok, err := served(ctx, k.GVK.GroupVersion().WithResource(k.Resource))
		if err != nil {
			c.log.Error(err, "Discovering a custom resource: retrying later", "kind", k.Name, "group", k.GVK.Group)
		}
		if !ok {
			all = false
			continue
		}
		if err := c.watch(ctx, k); err != nil {
			c.log.Error(err, "Watching a custom resource: retrying later", "kind", k.Name)
			all = false
			continue
		}
		c.log.Info("Custom resource found: watching it", "kind", k.Name, "group", k.GVK.Group)
	}
	return all
}

// watch indexes and starts the informer of a CRD kind, then marks it
// watched (Consumers lists it from then on).
func (c *Cache) watch(ctx context.Context, k *workload.Kind) error {
	if c.cache == nil {
		return fmt.Errorf("no informer cache")
	}
	if err := c.cache.IndexField(ctx, k.New(), IndexConfigMap, c.indexConfigMap); err != nil {
		return fmt.Errorf("indexing %ss by ConfigMap: %w", k.Name, err)
	}
	if err := c.cache.IndexField(ctx, k.New(), IndexAgent, c.indexAgent); err != nil {
		return fmt.Errorf("indexing agent %ss: %w", k.Name, err)
	}
	if _, err := c.cache.GetInformer(ctx, k.Informer(), cache.BlockUntilSynced(false)); err != nil {
		return fmt.Errorf("informer for %ss: %w", k.Name, err)
	}
	c.crds.mu.Lock()
	defer c.crds.mu.Unlock()
	if c.crds.watched == nil {
		c.crds.watched = map[*workload.Kind]bool{}
	}
	c.crds.watched[k] = true
	return nil
}

// ResourceLister is the part of a discovery client ServedBy needs.
type ResourceLister interface {
	ServerResourcesForGroupVersion(groupVersion string) (*metav1.APIResourceList, error)
}

// ServedBy returns the Served of a discovery client: a group version it
// does not know is not served.
func ServedBy(d ResourceLister) Served {
	return func(_ context.Context, gvr schema.GroupVersionResource) (bool, error) {
		list, err := d.ServerResourcesForGroupVersion(gvr.GroupVersion().String())
		switch {
		case apierrors.IsNotFound(err):
			return false, nil
		case err != nil:
			return false, err
		}
		for _, r := range list.APIResources {
			if r.Name == gvr.Resource {
				return true, nil
			}
		}
		return false, nil
	}
}
