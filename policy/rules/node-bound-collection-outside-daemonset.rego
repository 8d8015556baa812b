# METADATA
# title: Node-bound collection belongs in a DaemonSet
# description: |
#   Some collectors only see the node they run on: the config facts class
#   them node-bound (riverconfig/catalog.go lists them). They are file log
#   readers on node paths (e.g. `loki.source.file` with `local.file_match`,
#   `otelcol.receiver.filelog`), the systemd journal, the Windows event log,
#   the local Docker daemon, the eBPF and Java profilers, and collectors fed
#   by a node-bound source: a host exporter (e.g. `prometheus.exporter.unix`),
#   kubelet discovery (the kubelet at localhost) or process discovery. In a
#   StatefulSet or Deployment they collect from whichever nodes the replicas
#   landed on and miss every other node. Run them in a DaemonSet. Not flagged:
#   a file reader whose paths are not the node's, a host exporter whose
#   `instance` a relabel sets to a constant (the same target on every
#   replica, as Grafana's k8s-monitoring telemetry does), and a
#   `prometheus.exporter.unix` that runs only the `textfile` collector on a
#   directory that is not on a hostPath volume (e.g. the agent's own
#   ConfigMap mount: every replica reads the same files). A textfile
#   directory on a hostPath volume, any other collector, or a
#   `rootfs_path`/`procfs_path`/`sysfs_path` on a hostPath volume is host
#   data and still flagged.
# custom:
#   id: MG008
#   slug: node-bound-collection-outside-daemonset
#   action: deny
#   appliesTo: [StatefulSet, Deployment]
package modeguard.rules.node_bound_collection_outside_daemonset

import data.modeguard.lib

node_path_prefixes := ["/var/log", "/var/lib/docker", "/var/lib/containers", "/var/lib/kubelet", "/proc", "/sys", "/host"]

outside if lib.statefulset

outside if lib.deployment

# Node-bound collectors; file readers are judged by their paths below.
violations contains v if {
	outside
	some f in lib.files
	some col in f.collectors
	col.class == "node-bound"
	not col.readsFiles
	c := lib.component(f, col.component)
	v := lib.at(f, col.component, sprintf("%s only sees the node it runs on: in a %s it misses every other node; run it in a DaemonSet", [c.name, input.mode]))
}

violations contains v if {
	outside
	some f in lib.files
	some col in f.collectors
	some p in col.paths
	some prefix in node_path_prefixes
	lib.under(p, prefix)
	v := lib.at(f, col.component, sprintf("reads node files (%s): in a %s it only sees the nodes its replicas run on; run file log collection in a DaemonSet", [p, input.mode]))
}

violations contains v if {
	outside
	some f in lib.files
	some col in f.collectors
	some s in col.sources
	node_bound_source(s)
	v := lib.at(f, col.component, sprintf("collects from %s (%s): in a %s it only sees the nodes its replicas run on; run it in a DaemonSet", [s.component, s.reason, input.mode]))
}

node_bound_source(s) if {
	s.class == "node-bound"
	not constant_host_exporter(s)
	not lib.textfile_only(s)
}

constant_host_exporter(s) if {
	s.scope == "host-exporter"
	s.constantIdentity
}
