package lookup

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	toolscache "k8s.io/client-go/tools/cache"
)

// Watches tracks which informers may be behind the API server. client-go
// retries a broken watch by itself, with a backoff that grows to 30 s (and
// as much jitter), and tells nobody while it does; so Watches also watches
// the manager's transport: any call to the API server that fails without
// an answer (refused, reset, timed out) marks every kind behind. A kind is
// current again once its informer delivers an event more than eventMargin
// after the last failure (the watch is back and has replayed what it
// missed), or StaleWindow after the last failure (every informer has
// retried by then). While a kind is behind, Cache reads it from the API
// server and says so (log line, metric): no decision rests silently on a
// cache that missed changes.
type Watches struct {
	mu     sync.Mutex
	broken map[string]time.Time // kind → when the API server last failed it
	// OnStaleRead, if set, is called for every read served live because
	// the kind was behind.
	OnStaleRead func(kind string)
	// Log gets a line when a kind falls behind and when it is current
	// again (default: discard).
	Log logr.Logger
	now func() time.Time
}

// StaleWindow bounds how long a kind stays behind after the last failed
// call: client-go's reflector backoff tops out at 30 s plus up to as much
// jitter, so every informer has retried within it.
const StaleWindow = 90 * time.Second

// eventMargin keeps events already queued when a call failed from counting
// as proof that the watch is back.
const eventMargin = time.Second

// NewWatches returns a tracker with every kind current.
func NewWatches() *Watches {
	return &Watches{broken: map[string]time.Time{}, Log: logr.Discard(), now: time.Now}
}

// trackedKinds are the kinds the tracker knows, by the type name a
// reflector reports: the informed kinds but Namespaces (metadata-only, read
// live when the cache misses one).
var trackedKinds = func() []string {
	var out []string
	for _, k := range informed() {
		if !k.MetadataOnly {
			out = append(out, k.Name)
		}
	}
	return out
}()

func kindOf(typeDescription string) string {
	for _, k := range trackedKinds {
		if strings.Contains(typeDescription, k) {
			return k
		}
	}
	return ""
}

// WatchErrorHandler is the cache's watch error handler (for the errors
// client-go does report): it logs as client-go does and marks the kind
// behind.
func (w *Watches) WatchErrorHandler(ctx context.Context, r *toolscache.Reflector, err error) {
	toolscache.DefaultWatchErrorHandler(ctx, r, err)
	if w == nil {
		return
	}
	if k := kindOf(r.TypeDescription()); k != "" {
		w.Broke(k)
	}
}

// Transport wraps the manager's transport to the API server: a call that
// gets no answer marks every kind behind.
func (w *Watches) Transport(rt http.RoundTripper) http.RoundTripper {
	return roundTripper{w: w, rt: rt}
}

type roundTripper struct {
	w  *Watches
	rt http.RoundTripper
}

func (t roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	if err != nil && req.Context().Err() == nil && !errors.Is(err, context.Canceled) {
		t.w.Broke(trackedKinds...)
	}
	return resp, err
}

// Broke marks kinds behind as of now.
func (w *Watches) Broke(kinds ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	for _, k := range kinds {
		if _, ok := w.broken[k]; !ok {
			w.Log.Info("The API server did not answer: reading this kind from it until the cache catches up", "kind", k)
		}
		w.broken[k] = now
	}
}

// Behind reports whether kind may be behind the API server.
func (w *Watches) Behind(kind string) bool {
	if w == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.broken[kind]
	if ok && w.now().Sub(t) > StaleWindow {
		delete(w.broken, kind)
		w.Log.Info("Cache current again (every informer has retried since the last failure)", "kind", kind)
		return false
	}
	return ok
}

// eventHandler marks kind current when its informer delivers an event
// more than eventMargin after the last failure.
func (w *Watches) eventHandler(kind string) toolscache.ResourceEventHandler {
	seen := func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if t, ok := w.broken[kind]; ok && w.now().Sub(t) > eventMargin {
			delete(w.broken, kind)
			w.Log.Info("Cache current again (its watch delivered an event)", "kind", kind)
		}
	}
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { seen() },
		UpdateFunc: func(any, any) { seen() },
		DeleteFunc: func(any) { seen() },
	}
}

func (w *Watches) staleRead(kind string) {
	if w != nil && w.OnStaleRead != nil {
		w.OnStaleRead(kind)
	}
}
