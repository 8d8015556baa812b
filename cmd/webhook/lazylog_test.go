package main

import (
	"bytes"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"github.com/go-logr/logr"
)

// TestLazyValuesSameOutput: whatever the chain of WithValues, WithName and
// V, a lazy logger writes what the logger it wraps writes.
func TestLazyValuesSameOutput(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var eager, lazy bytes.Buffer
		mk := func(w *bytes.Buffer) logr.Logger {
			lo := &procOptions{format: format, verbosity: 1}
			return lo.logger(w)
		}
		use := func(l logr.Logger) {
			l.Info("plain", "k", 1)
			a := l.WithValues("a", 1, "b", "two")
			a.Info("with values", "c", 3.5)
			a.V(1).Info("verbose one")
			a.V(2).Info("verbose two: not written")
			n := a.WithName("child").WithValues("d", []string{"x"})
			n.Info("named")
			n.WithValues("e", nil).Error(errors.New("boom"), "failed", "f", true)
			l.WithName("other").Info("no values")
		}
		use(mk(&eager))
		use(lazyValues(mk(&lazy)))
		strip := func(b []byte) string { // the time differs
			var out []byte
			for _, line := range bytes.Split(b, []byte("\n")) {
				if i := bytes.Index(line, []byte("level")); i >= 0 {
					line = line[i:]
				}
				out = append(append(out, line...), '\n')
			}
			return string(out)
		}
		if e, l := strip(eager.Bytes()), strip(lazy.Bytes()); e != l {
			t.Errorf("%s: lazy logger wrote\n%s\nwant\n%s", format, l, e)
		}
		if bytes.Count(eager.Bytes(), []byte("\n")) != 6 {
			t.Errorf("%s: %d lines, want 6:\n%s", format, bytes.Count(eager.Bytes(), []byte("\n")), eager.String())
		}
	}
}

// countingSink counts the WithValues calls that reach it.
type countingSink struct {
	logr.LogSink
	withValues *int
}

func (s countingSink) WithValues(kv ...any) logr.LogSink {
	*s.withValues++
	return countingSink{s.LogSink.WithValues(kv...), s.withValues}
}

// TestLazyValuesDeferred: values reach the sink only when a line is
// written, once per logger however many lines it writes; never for a
// level that is off.
func TestLazyValuesDeferred(t *testing.T) {
	var n int
	var buf bytes.Buffer
	base := logr.FromSlogHandler(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	l := lazyValues(logr.New(countingSink{base.GetSink(), &n}))
	req := l.WithValues("object", "ns/name", "requestID", "uid-1")
	req.V(1).Info("debug only")
	if n != 0 {
		t.Fatalf("a disabled line applied the values %d times", n)
	}
	req.Info("one")
	req.Info("two")
	if n != 1 {
		t.Errorf("two lines applied the values %d times, want once", n)
	}
	if c := bytes.Count(buf.Bytes(), []byte("requestID=uid-1")); c != 2 {
		t.Errorf("%d lines carry the values, want 2:\n%s", c, buf.String())
	}
}

// TestLazyValuesConcurrent: loggers derived from one lazy logger log from
// many goroutines at once (go test -race).
func TestLazyValuesConcurrent(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return buf.Write(p) })
	l := lazyValues(logr.FromSlogHandler(slog.NewTextHandler(w, nil))).WithValues("shared", 1)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				l.Info("line", "g", i)
				l.WithValues("j", j).Info("derived")
			}
		})
	}
	wg.Wait()
	if c := bytes.Count(buf.Bytes(), []byte("shared=1")); c != 800 {
		t.Errorf("%d lines carry the shared value, want 800", c)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
