package lookup

import (
	"context"
	"errors"
	"net/http"
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
	ctx := context.Background()
	ds := admittest.Find[*appsv1.DaemonSet](t, admittest.Example(t, "mg001-fires"))
	newer := ds.DeepCopy()
	newer.Name = "alloy-2" // created while the watch was down: the cache missed it
	withIndex := func(objs ...client.Object) client.Client {
		return fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).
			WithIndex(&appsv1.DaemonSet{}, IndexConfigMap, (&Cache{}).indexConfigMap).
			WithIndex(&appsv1.StatefulSet{}, IndexConfigMap, (&Cache{}).indexConfigMap).
			WithIndex(&appsv1.Deployment{}, IndexConfigMap, (&Cache{}).indexConfigMap).
			WithObjects(objs...).Build()
	}
	cached := withIndex(ds.DeepCopy())
	live := withIndex(ds.DeepCopy(), newer.DeepCopy())
	w := NewWatches()
	stale := map[string]int{}
	w.OnStaleRead = func(kind string) { stale[kind]++ }
	c := &Cache{reader: cached, live: live, log: logr.Discard(), watches: w}

	got, err := c.Consumers(ctx, ds.Namespace, "alloy")
	if err != nil || len(got) != 1 || stale["DaemonSet"] != 0 {
		t.Fatalf("healthy watch: %d consumers, %d stale reads, error %v; want 1 from the cache, 0, none", len(got), stale["DaemonSet"], err)
	}
	w.Broke("DaemonSet")
	got, err = c.Consumers(ctx, ds.Namespace, "alloy")
	if err != nil || len(got) != 2 || stale["DaemonSet"] != 1 {
		t.Fatalf("broken watch: %d consumers, %d stale reads, error %v; want both (read live), 1, none", len(got), stale["DaemonSet"], err)
	}
	if !w.Behind("DaemonSet") {
		t.Fatal("the cache disagreed with the API server, yet the kind was marked current")
	}
	if w.Behind("StatefulSet") {
		t.Error("a DaemonSet watch break marked StatefulSets behind")
	}
	// Until the window passes (or an event arrives), reads stay live.
	now := time.Now()
	w.now = func() time.Time { return now.Add(StaleWindow + time.Second) }
	if got, err = c.Consumers(ctx, ds.Namespace, "alloy"); err != nil || len(got) != 1 || w.Behind("DaemonSet") {
		t.Errorf("after StaleWindow: %d consumers (want 1, from the cache again), behind=%v, error %v", len(got), w.Behind("DaemonSet"), err)
	}
}

// An event well after the failure proves the watch is back; one right at
// it does not (it may have been queued before).
func TestWatchEventsMarkCurrent(t *testing.T) {
	t.Parallel()
	w := NewWatches()
	h := w.eventHandler("DaemonSet")
	w.Broke("DaemonSet")
	h.OnUpdate(nil, nil)
	if !w.Behind("DaemonSet") {
		t.Fatal("an event within eventMargin of the failure marked the kind current")
	}
	w.mu.Lock()
	w.broken["DaemonSet"] = time.Now().Add(-2 * eventMargin)
	w.mu.Unlock()
	h.OnAdd(nil, false)
	if w.Behind("DaemonSet") {
		t.Fatal("an event after eventMargin left the kind behind")
	}
}

type failingRT struct{ err error }

func (f failingRT) RoundTrip(*http.Request) (*http.Response, error) { return nil, f.err }

// A call to the API server that gets no answer marks every kind behind
// (client-go retries broken watches silently); a call its caller canceled
// does not.
func TestTransportFailuresMarkEveryKind(t *testing.T) {
	t.Parallel()
	w := NewWatches()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://127.0.0.1:1/api", nil)
	if _, err := w.Transport(failingRT{context.Canceled}).RoundTrip(req); err == nil {
		t.Fatal("want the error through")
	}
	if w.Behind("DaemonSet") {
		t.Fatal("a canceled call marked kinds behind")
	}
	req, _ = http.NewRequest(http.MethodGet, "https://127.0.0.1:1/api", nil)
	if _, err := w.Transport(failingRT{errors.New("dial tcp 127.0.0.1:1: connect: connection refused")}).RoundTrip(req); err == nil {
		t.Fatal("want the error through")
	}
	for _, k := range trackedKinds {
		if !w.Behind(k) {
			t.Errorf("%s not behind after a refused call", k)
		}
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
	got, err := c.Consumers(context.Background(), ds.Namespace, "alloy")
	if err != nil || len(got) != 1 || stale != 3 {
		t.Errorf("got %d consumers, %d stale reads and error %v; want the DaemonSet (read live), 3 (one per workload kind) and none", len(got), stale, err)
	}
}
