package server_test

import (
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/go-logr/logr"
)

// testLogger logs to stderr with -v, else nowhere. (Not through t: the
// manager's goroutines may log after a test ends.)
func testLogger(*testing.T) logr.Logger {
	var w io.Writer = io.Discard
	if testing.Verbose() {
		w = os.Stderr
	}
	return logr.FromSlogHandler(slog.NewTextHandler(w, nil))
}
