package modeguard.rules.clustered_node_local_collection_test

import data.modeguard.rules.clustered_node_local_collection as rule

cfg(scope, constant) := {"files": [{"file": "c.alloy", "components": [], "collectors": [{"component": "loki.source.kubernetes.pods", "clustered": true, "sources": [{"component": "discovery.kubernetes.pods", "scope": scope, "reason": "r", "constantIdentity": constant}]}]}]}

clustered := {"kind": "DaemonSet", "run": {"cluster": {"enabled": true, "joinAddresses": ["alloy-cluster"]}}}

test_denies_effective_clustering_on_node_local if {
	vs := rule.violations with input as {"mode": "daemonset", "workload": clustered, "config": cfg("node-local", false)}
	count(vs) == 1
	some v in vs
	not v.action
}

test_host_exporter_counts_as_node_local if {
	count(rule.violations) == 1 with input as {"mode": "statefulset", "workload": clustered, "config": cfg("host-exporter", false)}
}

test_constant_identity_is_deduplication if {
	count(rule.violations) == 0 with input as {"mode": "statefulset", "workload": clustered, "config": cfg("host-exporter", true)}
}

test_inert_block_is_audit if {
	vs := rule.violations with input as {"mode": "daemonset", "workload": {"kind": "DaemonSet", "run": {"cluster": {}}}, "config": cfg("node-local", false)}
	some v in vs
	v.action == "audit"
}

test_unknown_workload_is_audit if {
	vs := rule.violations with input as {"mode": "", "config": cfg("node-local", false)}
	some v in vs
	v.action == "audit"
}

test_silent_on_cluster_wide if {
	count(rule.violations) == 0 with input as {"mode": "statefulset", "workload": clustered, "config": cfg("cluster-wide", false)}
}

# A clustered scrape of a textfile-only unix exporter (k8s-monitoring 0.13
# telemetry: the instance is made constant only after the scrape).
textfile(collectors) := {"files": [{"file": "c.alloy", "components": [], "collectors": [{"component": "prometheus.scrape.telemetry", "clustered": true, "sources": [{"component": "prometheus.exporter.unix.telemetry", "scope": "host-exporter", "reason": "r", "constantIdentity": false, "unix": {"collectors": collectors, "textfileDirectory": "/etc/telemetry", "pathArgs": {}}}]}]}]}

# The clustered StatefulSet with the directory on a volume of type.
textfile_sts(type) := object.union(clustered, {"kind": "StatefulSet", "volumes": [{"name": "telemetry", "type": type}], "mounts": [{"name": "telemetry", "mountPath": "/etc/telemetry"}]})

test_textfile_on_configmap_is_not_node_local if {
	count(rule.violations) == 0 with input as {"mode": "statefulset", "workload": textfile_sts("configMap"), "config": textfile(["textfile"])}
}

test_textfile_on_host_path_is_node_local if {
	vs := rule.violations with input as {"mode": "statefulset", "workload": textfile_sts("hostPath"), "config": textfile(["textfile"])}
	count(vs) == 1
	some v in vs
	not v.action
}

test_textfile_with_other_collectors_is_node_local if {
	count(rule.violations) == 1 with input as {"mode": "statefulset", "workload": textfile_sts("configMap"), "config": textfile(["meminfo", "textfile"])}
}

# A clustered loki.source.podlogs with a node_filter without node_name: node-local
# data only when NODE_NAME comes from spec.nodeName.
podlogs_cfg := {"files": [{"file": "c.alloy", "components": [], "collectors": [{"component": "loki.source.podlogs.pods", "class": "self-discovering", "clustered": true, "sources": [{
	"component": "loki.source.podlogs.pods", "scope": "node-local", "reason": "node_filter without node_name", "localBy": "node-filter",
	"nodeName": {"kind": "env", "expr": "NODE_NAME (read implicitly: node_filter has no node_name)", "envVars": ["NODE_NAME"]},
}]}]}]}

test_node_filter_whose_name_arrives_is_node_local if {
	w := object.union(clustered, {"nodeNameEnv": ["NODE_NAME"]})
	count(rule.violations) == 1 with input as {"mode": "daemonset", "workload": w, "config": podlogs_cfg}
}

test_node_filter_whose_name_does_not_arrive_is_cluster_wide if {
	count(rule.violations) == 0 with input as {"mode": "daemonset", "workload": clustered, "config": podlogs_cfg}
}
