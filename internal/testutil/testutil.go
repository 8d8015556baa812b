// Package testutil holds the helpers the tests of several packages share:
// golden files with -update, the repository root, and warning matching.
// Only _test.go files and test packages import it, never a binary: it
// registers the -update flag in every test binary that links it.
package testutil

import "strings"

// HasWarning reports whether one of ws contains every part.
func HasWarning(ws []string, parts ...string) bool {
	for _, w := range ws {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(w, p)
		}
		if ok {
			return true
		}
	}
	return false
}
