# METADATA
# title: DaemonSet log collection needs hostPath mounts
# description: |
#   File log collection in a DaemonSet reads the node's files (`/var/log/pods`,
#   and `/var/lib/docker/containers` on Docker nodes). Without a hostPath
#   volume mounted at (or above) the path read, `local.file_match` finds
#   nothing ("no such file") and no log is collected.
# custom:
#   id: MG009
#   slug: daemonset-log-mounts
#   action: warn
#   appliesTo: [DaemonSet]
package modeguard.rules.daemonset_log_mounts

import data.modeguard.lib

host_mounts contains m.mountPath if {
	some m in object.get(lib.workload, "mounts", [])
	some vol in object.get(lib.workload, "volumes", [])
	vol.name == m.name
	vol.type == "hostPath"
}

# The literal directory part of a path pattern: up to the first glob or $ref.
static_dir(p) := d if {
	parts := split(p, "/")
	idx := [i | some i, part in parts; regex.match(`[*?\[$]`, part)]
	count(idx) > 0
	d := concat("/", array.slice(parts, 0, min(idx)))
} else := p

violations contains v if {
	# The index first: most configs read no files by path.
	some i in lib.index.pathCollectors
	lib.daemonset
	lib.has_workload
	c := lib.collectors[i]
	f := lib.files[c.file]
	col := f.collectors[c.index]
	some p in col.paths
	startswith(p, "/")
	dir := static_dir(p)
	not covered(dir)
	v := lib.at(f, col.component, sprintf("reads %s, but no hostPath volume is mounted at or above %s in the agent container: nothing is collected", [p, dir]))
}

covered(dir) if {
	some m in host_mounts
	lib.under(dir, m)
}
