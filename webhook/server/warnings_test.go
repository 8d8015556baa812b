package server

import (
	"context"
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"
)

// The API server's warnings on modeguard's own requests are logged at debug
// level only, and never with their text.
func TestQuietWarnings(t *testing.T) {
	for _, v := range []int{0, 1} {
		var lines []string
		log := funcr.New(func(prefix, args string) { lines = append(lines, prefix+" "+args) }, funcr.Options{Verbosity: v})
		q := quietWarnings{log: log}
		secret := `MG001 daemonset-node-local-discovery: discovery.kubernetes "pods" (config.alloy:1:1) [fixed]`
		q.HandleWarningHeaderWithContext(context.Background(), 299, "-", secret)
		q.HandleWarningHeaderWithContext(context.Background(), 199, "-", "not a warning")
		want := map[int]int{0: 0, 1: 1}[v]
		if len(lines) != want {
			t.Errorf("verbosity %d: got %d lines %q, want %d", v, len(lines), lines, want)
		}
		for _, l := range lines {
			if strings.Contains(l, "MG001") || strings.Contains(l, "config.alloy") {
				t.Errorf("verbosity %d: got %q, want no warning text", v, l)
			}
		}
	}
}
