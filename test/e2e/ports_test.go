package e2e

import "testing"

// TestFreePortNeverRepeats: a port is handed out once per process. The
// kernel often gives a port just closed to the next bind to port 0 (in a
// few thousand draws a repeat is near certain), and two uses of one port
// stop a webhook from starting.
func TestFreePortNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for i := range 2000 {
		p, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] {
			t.Fatalf("draw %d: port %d handed out twice", i, p)
		}
		seen[p] = true
	}
}
