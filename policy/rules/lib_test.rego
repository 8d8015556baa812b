package modeguard.lib_test

import data.modeguard.lib

sts_flags := {"mode": "statefulset", "workload": {"replicated": true, "run": {"cluster": {"enabled": true, "joinAddresses": ["alloy-cluster"]}}}}

test_process_clustered if {
	lib.process_clustered with input as sts_flags
}

test_not_clustered_without_peer if {
	not lib.process_clustered with input as {"workload": {"run": {"cluster": {"enabled": true}}}}
}

test_discover_peers_is_a_peer_source if {
	lib.process_clustered with input as {"workload": {"run": {"cluster": {"enabled": true, "discoverPeers": "provider=k8s"}}}}
}

test_effective_and_inert if {
	lib.effective({"clustered": true}) with input as sts_flags
	lib.inert({"clustered": true}) with input as {"workload": {"run": {"cluster": {}}}}
	not lib.effective({"clustered": true}) with input as {"workload": {"run": {"cluster": {}}}}
	lib.effective({"clustered": true}) with input as {"workload": null}
	not lib.effective({"clustered": false}) with input as sts_flags
}

test_distributed if {
	lib.distributed with input as {"mode": "statefulset"}
	lib.distributed with input as {"mode": "deployment", "workload": {"replicated": true}}
	not lib.distributed with input as {"mode": "deployment", "workload": {"replicated": false}}
	not lib.distributed with input as {"mode": "daemonset"}
}

test_node_env if {
	lib.node_env == "HOSTNAME" with input as {"workload": {"nodeNameEnv": ["HOSTNAME", "K8S_NODE_NAME"]}}
	lib.node_env == "K8S_NODE_NAME" with input as {"workload": {"nodeNameEnv": ["K8S_NODE_NAME"]}}
	lib.node_env == "HOSTNAME" with input as {"workload": null}
}

test_under if {
	lib.under("/var/log/pods/x", "/var/log")
	lib.under("/var/log", "/var/log/")
	not lib.under("/var/logs/x", "/var/log")
}

# A unix exporter source as the facts give it.
unix_source(collectors, dir, args) := {"component": "prometheus.exporter.unix.t", "kind": "prometheus.exporter.unix", "class": "node-bound", "scope": "host-exporter", "unix": {"collectors": collectors, "textfileDirectory": dir, "pathArgs": args}}

textfile_source := unix_source(["textfile"], "/etc/telemetry", {})

# The agent container's mounts: config and telemetry from ConfigMaps, the
# node's /var/log and root filesystem from hostPath volumes.
textfile_workload := {"input": {"workload": {
	"kind": "StatefulSet",
	"volumes": [
		{"name": "config", "type": "configMap", "configMap": "alloy"},
		{"name": "telemetry", "type": "configMap", "configMap": "telemetry"},
		{"name": "varlog", "type": "hostPath", "hostPath": "/var/log"},
		{"name": "rootfs", "type": "hostPath", "hostPath": "/"},
		{"name": "data", "type": "emptyDir"},
		{"name": "prom", "type": "hostPath", "hostPath": "/var/lib/node.prom"},
	],
	"mounts": [
		{"name": "config", "mountPath": "/etc/alloy"},
		{"name": "telemetry", "mountPath": "/etc/telemetry/"},
		{"name": "varlog", "mountPath": "/var/log"},
		{"name": "rootfs", "mountPath": "/host/root"},
		{"name": "data", "mountPath": "/host/root/data"},
		{"name": "prom", "mountPath": "/etc/mixed/node.prom", "subPath": ""},
	],
}}}

test_textfile_only_off_host_paths if {
	every dir in ["/etc/telemetry", "/etc/telemetry/", "/etc/alloy", "/etc/alloy/telemetry", "/opt/in-image", "/host/root/data", "/host/root/data/prom"] {
		lib.textfile_only(unix_source(["textfile"], dir, {})) with input as textfile_workload.input
	}
	lib.textfile_only(unix_source(["textfile"], "/etc/telemetry", {"rootfs_path": "/etc/alloy"})) with input as textfile_workload.input
}

test_textfile_on_host_path_is_host_data if {
	# On a hostPath mount, under one, or holding a file mounted from one.
	every dir in ["/var/log", "/var/log/prom", "/host/root", "/host/root/var/lib/node-exporter", "/etc/mixed", "/host", "/"] {
		not lib.textfile_only(unix_source(["textfile"], dir, {})) with input as textfile_workload.input
	}
}

test_host_path_args_are_host_data if {
	every args in [{"rootfs_path": "/host/root"}, {"procfs_path": "/host/root/proc"}, {"sysfs_path": "/var/log/../.."}, {"rootfs_path": "/"}, {"procfs_path": ""}] {
		not lib.textfile_only(unix_source(["textfile"], "/etc/telemetry", args)) with input as textfile_workload.input
	}
}

test_other_collectors_are_host_data if {
	every collectors in [["cpu", "textfile"], ["cpu"], []] {
		not lib.textfile_only(unix_source(collectors, "/etc/telemetry", {})) with input as textfile_workload.input
	}
}

test_textfile_directory_not_plain_is_host_data if {
	every dir in ["", "telemetry", "/etc/*", "/etc/alloy/../../var/log", "/etc/tele?etry"] {
		not lib.textfile_only(unix_source(["textfile"], dir, {})) with input as textfile_workload.input
	}
}

test_textfile_needs_the_workload if {
	not lib.textfile_only(textfile_source) with input as {"mode": "statefulset"}
	not lib.textfile_only({"component": "prometheus.exporter.cadvisor.c", "scope": "host-exporter"}) with input as textfile_workload.input
}

# A loki.source.podlogs source made node-local by its node_filter, reading
# the node name nn.
podlogs_source(nn) := {"component": "loki.source.podlogs.pods", "kind": "loki.source.podlogs", "scope": "node-local", "reason": "node_filter", "localBy": "node-filter", "nodeName": nn}

implicit_name := {"kind": "env", "expr": "NODE_NAME (read implicitly: node_filter has no node_name)", "envVars": ["NODE_NAME"]}

hostname_name := {"kind": "constants.hostname", "expr": "constants.hostname", "envVars": [], "hostnameFallback": true}

test_node_filter_is_node_local_when_the_name_arrives if {
	s := lib.source(podlogs_source(implicit_name)) with input as {"workload": {"kind": "DaemonSet", "nodeNameEnv": ["NODE_NAME"]}}
	s.scope == "node-local"
	s.reason == "node_filter"
	s2 := lib.source(podlogs_source(hostname_name)) with input as {"workload": {"kind": "DaemonSet", "hostNetwork": true}}
	s2.scope == "node-local"
}

test_node_filter_is_cluster_wide_when_the_name_does_not_arrive if {
	s := lib.source(podlogs_source(implicit_name)) with input as {"workload": {"kind": "DaemonSet", "nodeNameEnv": ["HOSTNAME"]}}
	s.scope == "cluster-wide"
	contains(s.reason, "does not set NODE_NAME from fieldRef spec.nodeName")
	s2 := lib.source(podlogs_source(hostname_name)) with input as {"workload": {"kind": "DaemonSet"}}
	s2.scope == "cluster-wide"
	contains(s2.reason, "pod's name")
	s3 := lib.source(podlogs_source(implicit_name)) with input as {"workload": null}
	s3.scope == "cluster-wide"
	contains(s3.reason, "workload is not known")
}

test_other_sources_keep_their_scope if {
	selector := {"component": "discovery.kubernetes.pods", "scope": "node-local", "localBy": "field-selector", "nodeName": implicit_name}
	lib.source(selector) == selector with input as {"workload": {"kind": "DaemonSet"}}
	wide := {"component": "loki.source.podlogs.pods", "scope": "cluster-wide", "localBy": ""}
	lib.source(wide) == wide with input as {"workload": {"kind": "DaemonSet"}}
}
