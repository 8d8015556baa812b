package gomem

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
)

const mi = 1 << 20

func TestLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    Limits
		live uint64
		want int64
	}{
		{"small heap: target less reserve", Limits{Target: 128 * mi, Reserve: 40 * mi}, 30 * mi, 88 * mi},
		{"heap at three quarters: still the base", Limits{Target: 128 * mi, Reserve: 40 * mi}, 66 * mi, 88 * mi},
		{"heap past three quarters: raised", Limits{Target: 128 * mi, Reserve: 40 * mi}, 75 * mi, 100 * mi},
		{"raised no higher than the cap", Limits{Target: 128 * mi, Reserve: 40 * mi, Cap: 460 * mi}, 400 * mi, 460 * mi},
		{"the cap below the base wins", Limits{Target: 128 * mi, Reserve: 40 * mi, Cap: 64 * mi}, 0, 64 * mi},
		{"reserve larger than half the target: half", Limits{Target: 64 * mi, Reserve: 40 * mi}, 0, 32 * mi},
		{"no target: the cap", Limits{Reserve: 40 * mi, Cap: 460 * mi}, 10 * mi, 460 * mi},
		{"no target, no cap: none", Limits{}, 10 * mi, math.MaxInt64},
	} {
		if got := tc.l.For(tc.live); got != tc.want {
			t.Errorf("%s: For(%d MiB) = %.1f MiB, want %.1f MiB", tc.name, tc.live/mi, float64(got)/mi, float64(tc.want)/mi)
		}
	}
}

// next moves the limit with the live heap above Base, by more than a
// sixteenth at a time, and always back to Base.
func TestNext(t *testing.T) {
	l := Limits{Target: 128 * mi, Reserve: 40 * mi}
	for _, tc := range []struct {
		name       string
		prev       int64
		live       uint64
		want       int64
		wantChange bool
	}{
		{"the first: Base", 0, 10 * mi, 88 * mi, true},
		{"at Base, a small heap: no change", 88 * mi, 30 * mi, 88 * mi, false},
		{"at Base, the heap past three quarters: raised", 88 * mi, 75 * mi, 100 * mi, true},
		{"raised, the heap a little bigger: kept", 100 * mi, 76 * mi, 100 * mi, false},
		{"raised, the heap much bigger: raised again", 100 * mi, 90 * mi, 120 * mi, true},
		{"raised, the heap small again: back to Base", 100 * mi, 30 * mi, 88 * mi, true},
		{"a sixteenth above Base, the heap small: back to Base", 89 * mi, 30 * mi, 88 * mi, true},
	} {
		got, change := l.next(tc.prev, tc.live)
		if got != tc.want || change != tc.wantChange {
			t.Errorf("%s: next(%d MiB, %d MiB) = %.1f MiB, %v; want %.1f MiB, %v", tc.name, tc.prev/mi, tc.live/mi, float64(got)/mi, change, float64(tc.want)/mi, tc.wantChange)
		}
	}
}

// Keep sets the process's limit, and logs it; the test restores it.
func TestKeep(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	runtime.GC() // a live heap measured
	l := Limits{Target: 1 << 40, Reserve: 40 * mi}
	var logged []string
	log := funcr.New(func(_, args string) { logged = append(logged, args) }, funcr.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Keep(ctx, l, time.Hour, log)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for debug.SetMemoryLimit(-1) != l.Base() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if got := debug.SetMemoryLimit(-1); got != l.Base() {
		t.Fatalf("limit %d, want the base %d", got, l.Base())
	}
	if len(logged) != 1 {
		t.Errorf("logged %q, want one line", logged)
	}
}
