package audit_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr/funcr"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/modeguard/modeguard/webhook/audit"
	"github.com/modeguard/modeguard/webhook/metrics"
)

// copies returns n copies of the mg004-fires ConfigMap and DaemonSet, each
// pair under its own name (the DaemonSet reading its own ConfigMap): n
// objects with a deny finding, each worth an Event.
func copies(t *testing.T, n int) []runtime.Object {
	t.Helper()
	var cm *corev1.ConfigMap
	var ds *appsv1.DaemonSet
	for _, o := range exampleObjects(t, "mg004-fires") {
		switch v := o.(type) {
		case *corev1.ConfigMap:
			cm = v
		case *appsv1.DaemonSet:
			ds = v
		}
	}
	if cm == nil || ds == nil {
		t.Fatal("mg004-fires: no ConfigMap or no DaemonSet")
	}
	var out []runtime.Object
	for i := range n {
		c, d := cm.DeepCopy(), ds.DeepCopy()
		c.Name, d.Name = fmt.Sprintf("alloy-%d", i), fmt.Sprintf("alloy-%d", i)
		for j := range d.Spec.Template.Spec.Volumes {
			if v := d.Spec.Template.Spec.Volumes[j].ConfigMap; v != nil && v.Name == cm.Name {
				v.Name = c.Name
			}
		}
		out = append(out, c, d)
	}
	return out
}

// TestEventsAtMostTheRate: a pass records no more Events than the limiter
// allows, counts and leaves the rest to a later pass, which records them
// and not the ones already recorded.
func TestEventsAtMostTheRate(t *testing.T) {
	const n, burst = 7, 3
	ns := "mg004-fires"
	f := newFixture(t, copies(t, n)...)
	rec := &namedRecorder{}
	f.a.Recorder = rec
	var logged []string
	f.a.Log = funcr.New(func(_, args string) {
		if strings.Contains(args, "Events not recorded") {
			logged = append(logged, args)
		}
	}, funcr.Options{})
	f.a.Events = rate.NewLimiter(0, burst) // the burst, then nothing
	if err := f.a.Namespace(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	first := rec.drain()
	if len(first) != burst {
		t.Fatalf("first pass recorded %d Events, want %d (the burst): %q", len(first), burst, first)
	}
	if got := counter(t, f, metrics.AuditEventsNotRecorded); got != n-burst {
		t.Errorf("%s = %v after the first pass, want %d", metrics.AuditEventsNotRecorded, got, n-burst)
	}
	if got := gauge(t, f.reg, ns, "MG004", "deny"); got != n {
		t.Errorf("findings gauge %v, want %d: the report and the gauge hold every finding", got, n)
	}
	if len(logged) != 1 || !strings.Contains(logged[0], fmt.Sprintf(`"objects"=%d`, n-burst)) {
		t.Errorf("got log lines %q, want one saying %d objects", logged, n-burst)
	}

	// Still no room: left out again, counted, but not logged again within
	// the minute.
	if err := f.a.Namespace(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	if again := rec.drain(); len(again) != 0 {
		t.Errorf("recorded %q with no room left", again)
	}
	if got := counter(t, f, metrics.AuditEventsNotRecorded); got != 2*(n-burst) {
		t.Errorf("%s = %v after the second pass, want %d", metrics.AuditEventsNotRecorded, got, 2*(n-burst))
	}
	if len(logged) != 1 {
		t.Errorf("got %d log lines, want still 1 (one a minute at most): %q", len(logged), logged)
	}

	// Room again: the next pass records the rest, not the first ones again.
	f.a.Events = rate.NewLimiter(0, n)
	if err := f.a.Namespace(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	second := rec.drain()
	if len(second) != n-burst {
		t.Fatalf("second pass recorded %d Events, want %d (those left out): %q", len(second), n-burst, second)
	}
	for _, e := range second {
		for _, g := range first {
			if e == g {
				t.Errorf("Event %q recorded twice", e)
			}
		}
	}
	if err := f.a.Namespace(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	if third := rec.drain(); len(third) != 0 {
		t.Errorf("an unchanged namespace recorded %d Events again: %q", len(third), third)
	}
	if got := counter(t, f, metrics.AuditEventsNotRecorded); got != 2*(n-burst) {
		t.Errorf("%s = %v at the end, want %d (nothing more left out)", metrics.AuditEventsNotRecorded, got, 2*(n-burst))
	}
}

// namedRecorder records each Event as "kind namespace/name reason", so
// that Events on copies with the same findings differ.
type namedRecorder struct {
	mu     sync.Mutex
	events []string
}

func (r *namedRecorder) Eventf(regarding, _ runtime.Object, _, reason, _, _ string, _ ...any) {
	m, err := meta.Accessor(regarding)
	if err != nil {
		panic(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf("%T %s/%s %s", regarding, m.GetNamespace(), m.GetName(), reason))
}

// drain returns the PolicyViolation Events recorded since the last drain.
func (r *namedRecorder) drain() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if strings.HasSuffix(e, " "+audit.ReasonViolation) {
			out = append(out, e)
		}
	}
	r.events = nil
	return out
}

// counter reads a counter without labels from the fixture's registry.
func counter(t *testing.T, f *fixture, name string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
