package lookup

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/modeguard/modeguard/webhook/admittest"
)

// A broken watch sends lookups of its kind to the API server (and counts
// them) until the cache is seen to agree again.
func TestConsumersReadLiveWhileTheWatchIsBroken(t *testing.T) {
	t.Parallel()
	ds := admittest.Find[*appsv1.DaemonSet](t, admittest.Example(t, "mg001-fires"))
	newer := ds.DeepCopy()
	newer.Name = "alloy-2" // created while the watch was down: the cache missed it
	withIndex := func(objs ...client.Object) client.Client {
		return fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).
			WithIndex(&appsv1.DaemonSet{}, IndexConfigMap, indexConfigMap).
			WithIndex(&appsv1.StatefulSet{}, IndexConfigMap, indexConfigMap).
			WithIndex(&appsv1.Deployment{}, IndexConfigMap, indexConfigMap).
			WithObjects(objs...).Build()
	}
	cached := withIndex(ds.DeepCopy())
	live := withIndex(ds.DeepCopy(), newer.DeepCopy())
	w := NewWatches()
	stale := map[string]int{}
	w.OnStaleRead = func(kind string) { stale[kind]++ }
	c := &Cache{reader: cached, live: live, log: logr.Discard(), watches: w}

	got := c.Consumers(ds.Namespace, "alloy")
	if len(got) != 1 || stale["DaemonSet"] != 0 {
		t.Fatalf("healthy watch: %d consumers, %d stale reads; want 1 from the cache, 0", len(got), stale["DaemonSet"])
	}
	w.Broke("DaemonSet")
	got = c.Consumers(ds.Namespace, "alloy")
	if len(got) != 2 || stale["DaemonSet"] != 1 {
		t.Fatalf("broken watch: %d consumers, %d stale reads; want both (read live), 1", len(got), stale["DaemonSet"])
	}
	if !w.Behind("DaemonSet") {
		t.Fatal("the cache disagreed with the API server, yet the kind was marked current")
	}
	if w.Behind("StatefulSet") {
		t.Error("a DaemonSet watch break marked StatefulSets behind")
	}
	// The cache catches up (same objects, same resourceVersions): the next
	// read agrees and marks the kind current.
	c.reader = withIndex(ds.DeepCopy(), newer.DeepCopy())
	got = c.Consumers(ds.Namespace, "alloy")
	if len(got) != 2 || w.Behind("DaemonSet") {
		t.Fatalf("after catching up: %d consumers, behind=%v; want 2, false", len(got), w.Behind("DaemonSet"))
	}
	got = c.Consumers(ds.Namespace, "alloy")
	if stale["DaemonSet"] != 2 || len(got) != 2 {
		t.Errorf("current again: %d stale reads (want no new one), %d consumers", stale["DaemonSet"], len(got))
	}
}

// An event well after the break proves the watch is back; one right at it
// does not (it may have been queued before).
func TestWatchEventsMarkCurrent(t *testing.T) {
	t.Parallel()
	w := NewWatches()
	h := w.eventHandler("DaemonSet")
	w.Broke("DaemonSet")
	h.OnUpdate(nil, nil)
	if !w.Behind("DaemonSet") {
		t.Fatal("an event within eventMargin of the break marked the kind current")
	}
	w.mu.Lock()
	w.broken["DaemonSet"] = time.Now().Add(-2 * eventMargin)
	w.mu.Unlock()
	h.OnAdd(nil, false)
	if w.Behind("DaemonSet") {
		t.Fatal("an event after eventMargin left the kind behind")
	}
	// A read that began before a newer break does not clear it.
	began := time.Now()
	w.Broke("ConfigMap")
	w.caughtUp("ConfigMap", began.Add(-time.Second))
	if !w.Behind("ConfigMap") {
		t.Error("a read older than the break marked the kind current")
	}
	w.caughtUp("ConfigMap", time.Now())
	if w.Behind("ConfigMap") {
		t.Error("a read after the break that agreed left the kind behind")
	}
}

// A cache that cannot answer (not synced yet, right after start) does not
// pass for "no consumers": the API server answers, counted as a stale read.
func TestConsumersReadLiveWhenTheCacheCannotAnswer(t *testing.T) {
	t.Parallel()
	ds := admittest.Find[*appsv1.DaemonSet](t, admittest.Example(t, "mg001-fires"))
	failing := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).
		WithInterceptorFuncs(interceptor.Funcs{List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
			return errors.New("timed out waiting for cache to be synced")
		}}).Build()
	live := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithObjects(ds.DeepCopy()).Build()
	w := NewWatches()
	stale := 0
	w.OnStaleRead = func(string) { stale++ }
	c := &Cache{reader: failing, live: live, log: logr.Discard(), watches: w}
	got := c.Consumers(ds.Namespace, "alloy")
	if len(got) != 1 || stale != 3 {
		t.Errorf("got %d consumers and %d stale reads, want the DaemonSet (read live) and 3 (one per workload kind)", len(got), stale)
	}
}
