// Package gomem keeps the Go runtime's soft memory limit (runtime/debug's
// SetMemoryLimit) where the webhook's resident memory should stay: under
// its memory target, normally the container's memory request.
//
// The runtime counts its heap, stacks and metadata against the limit, not
// the binary's code and read-only data the kernel maps in (about 40 MiB of
// the resident set for the webhook), so the limit is the target less that
// reserve. Near the limit the collector runs more often instead of letting
// the heap grow to twice what is live.
//
// A limit below what stays live would make the collector run without pause
// (the runtime caps it at half the CPU): when the live heap passes
// three quarters of the limit, the limit rises with it, up to a cap (90% of
// the container's memory limit), and it comes back down when the live heap
// shrinks. A webhook above its target that way is logged, so that the
// request can be raised.
package gomem

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/go-logr/logr"
)

// DefaultReserve is what of the target the runtime does not count: the
// binary's mapped code and read-only data (RssFile in /proc/PID/status:
// 33 to 40 MiB for modeguard-webhook under load, make bench).
const DefaultReserve = 40 << 20

// headroom: the live heap stays under this share of the limit.
const headroom = 0.75

// Limits are the inputs of the limit.
type Limits struct {
	// Target is the resident memory to stay under (bytes; 0: none).
	Target int64
	// Reserve is the part of Target the runtime does not count.
	Reserve int64
	// Cap is the highest the limit may go (math.MaxInt64: none).
	Cap int64
}

// Base is the limit while the live heap is small: Target less Reserve, at
// least half the Target, at most Cap; Cap when there is no target.
func (l Limits) Base() int64 {
	if l.Target <= 0 {
		return l.capOr()
	}
	return min(max(l.Target-l.Reserve, l.Target/2), l.capOr())
}

// For is the limit for a live heap of live bytes: Base, or more when live
// would pass headroom of it, never above Cap.
func (l Limits) For(live uint64) int64 {
	base := l.Base()
	need := float64(live) / headroom
	if need <= float64(base) {
		return base
	}
	if need >= float64(l.capOr()) {
		return l.capOr()
	}
	return int64(need)
}

// next is the limit that follows prev (0: none yet) for a live heap of
// live bytes, and whether it is a change worth making: a move of more than
// a sixteenth, or back to Base.
func (l Limits) next(prev int64, live uint64) (int64, bool) {
	next := l.For(live)
	if next == prev {
		return prev, false
	}
	if d := next - prev; prev > 0 && next != l.Base() && d < prev/16 && -d < prev/16 {
		return prev, false
	}
	return next, true
}

func (l Limits) capOr() int64 {
	if l.Cap <= 0 {
		return math.MaxInt64
	}
	return l.Cap
}

// Keep sets the limit for the live heap now, then again every interval
// until ctx ends, when it moved by more than a sixteenth or came back to
// Base. Going above Base (the target is too small for what stays live) and
// coming back are logged; the moves in between at V(1).
func Keep(ctx context.Context, l Limits, every time.Duration, log logr.Logger) {
	base := l.Base()
	set := func(prev int64) int64 {
		live := liveHeap()
		next, change := l.next(prev, live)
		if !change {
			return prev
		}
		debug.SetMemoryLimit(next)
		switch {
		case prev == 0:
			log.Info("Go memory limit set from the memory target", "limit", next, "live", live, "target", l.Target)
		case next > base && prev <= base:
			log.Info("Go memory limit raised above the memory target: what stays live needs more; raise the memory request (--memory-target)", "limit", next, "live", live, "target", l.Target)
		case next == base:
			log.Info("Go memory limit back at the memory target's", "limit", next, "live", live, "target", l.Target)
		default:
			log.V(1).Info("Go memory limit moved with the live heap", "limit", next, "live", live, "target", l.Target)
		}
		return next
	}
	cur := set(0)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			cur = set(cur)
		}
	}
}

// liveHeap is the heap the last collection marked live.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
