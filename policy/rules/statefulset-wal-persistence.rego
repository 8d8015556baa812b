# METADATA
# title: A StatefulSet's WAL belongs on its claim
# description: |
#   Remote-write components keep a write-ahead log under `--storage.path`. A
#   StatefulSet can give each pod its own persistent volume with
#   volumeClaimTemplates; without one mounted at (or above) the storage path
#   the WAL is lost on every restart, and with it whatever had not been sent.
#   This is a durability choice, not a mode mistake (Grafana's k8s-monitoring
#   chart runs its metrics StatefulSet without a claim), so it is only
#   recorded by default: raise it to warn or deny in the settings
#   (`rules: {MG011: {action: warn}}`) where the WAL must survive restarts.
# custom:
#   id: MG011
#   slug: statefulset-wal-persistence
#   action: audit
#   appliesTo: [StatefulSet]
package modeguard.rules.statefulset_wal_persistence

import data.modeguard.lib

storage := p if {
	p := lib.workload.run.storagePath
	p != ""
} else := "the default storage path (relative to the working directory)"

persisted if {
	some t in object.get(lib.workload, "claimTemplates", [])
	t.mountPath != ""
	lib.under(lib.workload.run.storagePath, t.mountPath)
}

violations contains v if {
	lib.statefulset
	lib.flags_known
	some f in lib.files
	some c in f.components
	c.name in lib.wal_components
	not persisted
	v := object.union(lib.at(f, c.id, sprintf("keeps its write-ahead log in %s, which no volumeClaimTemplate mount covers: the WAL is lost when the pod restarts; mount a claim template at %s", [storage, storage])), {"target": "workload"})
}
