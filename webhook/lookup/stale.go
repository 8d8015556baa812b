package lookup

import (
	"context"
	"strings"
	"sync"
	"time"

	toolscache "k8s.io/client-go/tools/cache"
)

// Watches tracks which informers may be behind the API server: from the
// moment a watch breaks (the API server restarted, a network cut) until
// the cache is seen to agree with the API server again. While a kind is
// behind, Cache reads it live and says so (log line, metric), so that a
// decision is never made from a stale cache silently.
type Watches struct {
	mu     sync.Mutex
	broken map[string]time.Time // kind → when its watch last broke
	// OnStaleRead, if set, is called for every read served live because
	// the kind's watch had broken.
	OnStaleRead func(kind string)
}

// NewWatches returns a tracker with every watch healthy.
func NewWatches() *Watches { return &Watches{broken: map[string]time.Time{}} }

// kinds the tracker knows, by the type name a reflector reports.
var trackedKinds = []string{"DaemonSet", "StatefulSet", "Deployment", "ConfigMap", "HorizontalPodAutoscaler"}

func kindOf(typeDescription string) string {
	for _, k := range trackedKinds {
		if strings.Contains(typeDescription, k) {
			return k
		}
	}
	return ""
}

// WatchErrorHandler is the cache's watch error handler: it logs as
// client-go does and marks the kind behind.
func (w *Watches) WatchErrorHandler(ctx context.Context, r *toolscache.Reflector, err error) {
	toolscache.DefaultWatchErrorHandler(ctx, r, err)
	if w == nil {
		return
	}
	if k := kindOf(r.TypeDescription()); k != "" {
		w.Broke(k)
	}
}

// Broke marks kind behind.
func (w *Watches) Broke(kind string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.broken[kind] = time.Now()
}

// Behind reports whether kind's watch broke and the cache has not been
// seen to catch up since.
func (w *Watches) Behind(kind string) bool {
	if w == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.broken[kind]
	return ok
}

// caughtUp marks kind current again, unless its watch broke after since
// (a read that began before the latest break proves nothing).
func (w *Watches) caughtUp(kind string, since time.Time) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if t, ok := w.broken[kind]; ok && !t.After(since) {
		delete(w.broken, kind)
	}
}

// eventMargin keeps events already queued when a watch broke from
// counting as proof that it is back.
const eventMargin = time.Second

// eventHandler marks kind current when the informer delivers an event
// more than eventMargin after the watch broke: the watch is back and has
// replayed what it missed up to there. A read whose live answer equals the
// cache's also marks it current (Cache.Consumers). Both are evidence, not
// proof: between them, reads of the kind go live.
func (w *Watches) eventHandler(kind string) toolscache.ResourceEventHandler {
	seen := func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if t, ok := w.broken[kind]; ok && time.Since(t) > eventMargin {
			delete(w.broken, kind)
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
