# METADATA
# title: No PersistentVolumeClaim shared by every pod
# description: |
#   A PersistentVolumeClaim named in the pod template of a DaemonSet or a
#   replicated Deployment is shared by every pod: a ReadWriteOnce claim leaves
#   the pods on other nodes stuck, and a shared one mixes their WALs. Use a
#   StatefulSet's volumeClaimTemplates for per-pod storage, or an emptyDir /
#   hostPath.
# custom:
#   id: MG010
#   slug: shared-claim
#   action: deny
#   appliesTo: [DaemonSet, Deployment]
package modeguard.rules.shared_claim

import data.modeguard.lib

shared if lib.daemonset

shared if {
	lib.deployment
	lib.workload.replicated
}

violations contains v if {
	some vol in lib.index.claimVolumes
	shared
	v := {
		"msg": sprintf("volume %s uses PersistentVolumeClaim %s, shared by every pod of the %s: pods on other nodes cannot mount a ReadWriteOnce claim, and a shared claim mixes their data; use a StatefulSet's volumeClaimTemplates", [vol.name, vol.claimName, input.mode]),
		"target": "workload",
	}
}
