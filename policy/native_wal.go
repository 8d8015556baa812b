package policy

import (
	"fmt"
	"slices"

	"github.com/modeguard/modeguard/workload"
)

func init() {
	registerNative("modeguard.rules.statefulset_wal_persistence", statefulsetWALPersistence)
	registerNative("modeguard.rules.ephemeral_wal", ephemeralWAL)
}

// walComponent is lib.wal_components: the components that keep a
// write-ahead log under --storage.path.
func walComponent(name string) bool { return name == "prometheus.remote_write" }

// walViolations yields, for every WAL component of every file (some f in
// lib.files; some c in f.components; c.name in lib.wal_components),
// object.union(lib.at(f, c.id, msg), {"target": "workload"}).
func walViolations(n *nativeInput, msg string) []Violation {
	var out []Violation
	for _, f := range n.files {
		if f == nil {
			continue
		}
		for _, c := range f.Components {
			if walComponent(c.Name) {
				v := n.at(f, c.ID, msg)
				v.Target = TargetWorkload
				out = append(out, v)
			}
		}
	}
	return out
}

// statefulsetWALPersistence is MG011 (rules/statefulset-wal-persistence.rego).
func statefulsetWALPersistence(n *nativeInput) []Violation {
	if !n.statefulset() || !n.flagsKnown() || walPersisted(n.w) {
		return nil
	}
	// storage: the --storage.path, else a description of the default.
	storage := n.w.Run.StoragePath
	if storage == "" {
		storage = "the default storage path (relative to the working directory)"
	}
	return walViolations(n, fmt.Sprintf("keeps its write-ahead log in %s, which no volumeClaimTemplate mount covers: the WAL is lost when the pod restarts; mount a claim template at %s", storage, storage))
}

// walPersisted is MG011's persisted: a claim template is mounted at or
// above --storage.path (an empty storagePath or mountPath is absent from
// the input, so it never matches).
func walPersisted(w *workload.Facts) bool {
	sp := w.Run.StoragePath
	return sp != "" && slices.ContainsFunc(w.ClaimTemplates, func(t workload.ClaimTemplate) bool {
		return t.MountPath != "" && pathUnder(sp, t.MountPath)
	})
}

// ephemeralWAL is MG012 (rules/ephemeral-wal.rego).
func ephemeralWAL(n *nativeInput) []Violation {
	if !n.deployment() || !n.flagsKnown() || walOnClaim(n.w) {
		return nil
	}
	return walViolations(n, "keeps its write-ahead log on ephemeral storage in a Deployment: unsent data is lost when the pod is rescheduled")
}

// walOnClaim is MG012's on_claim: a persistentVolumeClaim volume is
// mounted at or above --storage.path (absent from the input when empty,
// so it never matches then).
func walOnClaim(w *workload.Facts) bool {
	sp := w.Run.StoragePath
	if sp == "" {
		return false
	}
	for _, m := range w.Mounts {
		if pathUnder(sp, m.MountPath) && slices.ContainsFunc(w.Volumes, func(v workload.Volume) bool {
			return v.Name == m.Name && v.Type == workload.VolumePVC
		}) {
			return true
		}
	}
	return false
}
