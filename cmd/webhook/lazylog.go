package main

import (
	"slices"
	"sync"

	"github.com/go-logr/logr"
)

// lazyValues returns l with WithValues deferred: the key-value pairs are
// handed to l's sink (which formats them: slog's handlers encode them
// into a buffer) only when the logger, or one derived from it, first
// writes an enabled line. controller-runtime gives every admission
// request a logger with six values (admission.DefaultLogConstructor);
// formatting them was about 26 µs of each request's CPU at the maximum
// rate (make bench's webhook profile), though most requests log nothing.
func lazyValues(l logr.Logger) logr.Logger {
	if l.GetSink() == nil {
		return l
	}
	return logr.New(&lazySink{base: l.GetSink()})
}

// lazySink is a LogSink whose values since base are not yet given to it.
type lazySink struct {
	base    logr.LogSink
	kv      []any
	once    sync.Once
	applied logr.LogSink // base with kv, made on first use
}

var (
	_ logr.LogSink          = (*lazySink)(nil)
	_ logr.CallDepthLogSink = (*lazySink)(nil)
)

// sink is base with the deferred values, made once.
func (s *lazySink) sink() logr.LogSink {
	s.once.Do(func() {
		s.applied = s.base
		if len(s.kv) > 0 {
			s.applied = s.base.WithValues(s.kv...)
		}
	})
	return s.applied
}

// Init gives base the caller's frames and this sink's own one.
func (s *lazySink) Init(info logr.RuntimeInfo) {
	info.CallDepth++
	s.base.Init(info)
}

func (s *lazySink) Enabled(level int) bool { return s.base.Enabled(level) }

func (s *lazySink) Info(level int, msg string, kv ...any) { s.sink().Info(level, msg, kv...) }

func (s *lazySink) Error(err error, msg string, kv ...any) { s.sink().Error(err, msg, kv...) }

func (s *lazySink) WithValues(kv ...any) logr.LogSink {
	return &lazySink{base: s.base, kv: append(slices.Clip(s.kv), kv...)}
}

// WithName names the sink with the values so far: a name comes before
// the values given after it, as with the sink itself.
func (s *lazySink) WithName(name string) logr.LogSink {
	return &lazySink{base: s.sink().WithName(name)}
}

func (s *lazySink) WithCallDepth(depth int) logr.LogSink {
	cd, ok := s.base.(logr.CallDepthLogSink)
	if !ok {
		return s
	}
	return &lazySink{base: cd.WithCallDepth(depth), kv: s.kv}
}
