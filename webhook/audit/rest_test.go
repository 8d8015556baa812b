package audit

import (
	"maps"
	"slices"
	"testing"
	"time"
)

// TestResting: a namespace queued by a change while it rests waits for the
// end of its rest (the earliest one is when the loop looks again); one
// whose rest ended is audited and its rest forgotten; one that never
// rested is audited at once.
func TestResting(t *testing.T) {
	now := time.Unix(1000, 0)
	pending := map[string]bool{"big": true, "bigger": true, "ended": true, "fresh": true}
	rest := map[string]time.Time{
		"big":    now.Add(3 * time.Second),
		"bigger": now.Add(9 * time.Second),
		"ended":  now.Add(-time.Second),
		"idle":   now.Add(time.Second), // resting, but nothing changed
	}
	later := map[string]bool{}
	next := resting(pending, later, rest, now)
	if got, want := slices.Sorted(maps.Keys(pending)), []string{"ended", "fresh"}; !slices.Equal(got, want) {
		t.Errorf("audited now: got %v, want %v", got, want)
	}
	if got, want := slices.Sorted(maps.Keys(later)), []string{"big", "bigger"}; !slices.Equal(got, want) {
		t.Errorf("kept for later: got %v, want %v", got, want)
	}
	if want := now.Add(3 * time.Second); !next.Equal(want) {
		t.Errorf("next: got %v, want %v", next, want)
	}
	if got, want := slices.Sorted(maps.Keys(rest)), []string{"big", "bigger", "idle"}; !slices.Equal(got, want) {
		t.Errorf("rests kept: got %v, want %v", got, want)
	}
	if next := resting(map[string]bool{"fresh": true}, map[string]bool{}, rest, now); !next.IsZero() {
		t.Errorf("nothing kept back: got next %v, want zero", next)
	}
}
