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
