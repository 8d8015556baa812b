package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/webhook/metrics"
)

// debounce lets a burst of file events (a ConfigMap volume swaps a symlink
// and several files at once) settle into one reload.
const debounce = 500 * time.Millisecond

// policyWatcher reloads the engine when the policy directory changes:
// fsnotify events, and a periodic look at the files' content in case an
// event was missed. A reload that fails keeps the last good policy.
type policyWatcher struct {
	dir      string
	engine   *policy.Engine
	metrics  *metrics.Metrics
	interval time.Duration
	log      logr.Logger
	// resync gets an event when the policy in force changed, so that the
	// reconciler re-checks every agent ConfigMap.
	resync chan<- event.GenericEvent
	// reloaded is called when the policy in force changed (the audit's
	// Reload); nil: nothing.
	reloaded func()
	last     string // fingerprint of the files last loaded
}

// NeedLeaderElection is false: every replica serves with its own engine.
func (w *policyWatcher) NeedLeaderElection() bool { return false }

// Start watches until ctx ends.
func (w *policyWatcher) Start(ctx context.Context) error {
	w.last = fingerprint(w.dir)
	events := make(<-chan fsnotify.Event)
	errs := make(<-chan error)
	if fw, err := fsnotify.NewWatcher(); err != nil {
		w.log.Error(err, "Watching the policy directory failed; polling only", "interval", w.interval)
	} else {
		defer fw.Close()
		if err := fw.Add(w.dir); err != nil {
			w.log.Error(err, "Watching the policy directory failed; polling only", "dir", w.dir, "interval", w.interval)
		}
		events, errs = fw.Events, fw.Errors
	}
	poll := time.NewTicker(w.interval)
	defer poll.Stop()
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-events:
			w.log.V(1).Info("Policy directory changed", "event", ev.String())
			settle.Reset(debounce)
		case err := <-errs:
			w.log.Error(err, "Watching the policy directory")
		case <-settle.C:
			w.check(ctx)
		case <-poll.C:
			w.check(ctx)
		}
	}
}

// check reloads if the files changed since the last load.
func (w *policyWatcher) check(ctx context.Context) {
	fp := fingerprint(w.dir)
	if fp == w.last {
		return
	}
	w.last = fp
	before := w.engine.Version()
	if err := w.engine.Reload(ctx); err != nil {
		w.metrics.Reload(false, time.Time{})
		w.log.Error(err, "Policy reload failed; the last good policy stays in force", "dir", w.dir, "version", before)
		return
	}
	w.metrics.Reload(true, w.engine.LoadedAt())
	after := w.engine.Version()
	w.log.Info("Policy reloaded", "dir", w.dir, "version", after, "previous", before)
	if after != before && w.reloaded != nil {
		w.reloaded()
	}
	if after != before && w.resync != nil {
		select {
		case w.resync <- event.GenericEvent{}:
		default: // a re-check is already queued
		}
	}
}

// fingerprint hashes the names and contents of the .rego files the engine
// reads from dir (policy.Files).
func fingerprint(dir string) string {
	h := sha256.New()
	files, err := policy.Files(dir)
	if err != nil {
		h.Write([]byte("error:" + err.Error() + "\x00"))
	}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			h.Write([]byte("unreadable:" + p + "\x00"))
			continue
		}
		h.Write([]byte(p + "\x00"))
		h.Write(data)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
