package freeport

import (
	"net"
	"strconv"
	"testing"
)

// TestNeverRepeats: a port is handed out once per process. Without the
// record, 2,000 draws repeat a port (the kernel often hands a port just
// closed to the next bind to port 0), and two uses of one port stop a
// process from starting.
func TestNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for i := range 2000 {
		p, err := Loopback()
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] {
			t.Fatalf("draw %d: port %d handed out twice", i, p)
		}
		seen[p] = true
	}
	a, err := Addr()
	if err != nil {
		t.Fatal(err)
	}
	_, ps, err := net.SplitHostPort(a)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := strconv.Atoi(ps); err != nil || seen[p] {
		t.Fatalf("Addr() = %q: want a port not handed out before", a)
	}
}
