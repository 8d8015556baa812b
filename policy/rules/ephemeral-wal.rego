# METADATA
# title: A Deployment's WAL is ephemeral
# description: |
#   A Deployment has no volumeClaimTemplates: its remote-write WAL under
#   `--storage.path` lives on an emptyDir or the container's filesystem and is
#   lost when the pod is rescheduled. Recorded only; use a StatefulSet when the
#   WAL must survive.
# custom:
#   id: MG012
#   slug: ephemeral-wal
#   action: audit
#   appliesTo: [Deployment]
package modeguard.rules.ephemeral_wal

import data.modeguard.lib

on_claim if {
	some m in object.get(lib.workload, "mounts", [])
	some vol in object.get(lib.workload, "volumes", [])
	vol.name == m.name
	vol.type == "persistentVolumeClaim"
	lib.under(lib.workload.run.storagePath, m.mountPath)
}

violations contains v if {
	lib.deployment
	lib.flags_known
	some f in lib.files
	some c in f.components
	c.name in lib.wal_components
	not on_claim
	v := object.union(lib.at(f, c.id, "keeps its write-ahead log on ephemeral storage in a Deployment: unsent data is lost when the pod is rescheduled"), {"target": "workload"})
}
