package modeguard.rules.clustering_not_effective_test

import data.modeguard.rules.clustering_not_effective as rule

cfg(scope) := {"files": [{"file": "c.alloy", "components": [], "collectors": [{"component": "prometheus.scrape.a", "clustered": true, "sources": [{"component": "discovery.kubernetes.services", "scope": scope}]}]}]}

sts(flags) := {"kind": "StatefulSet", "serviceName": "alloy", "replicated": true, "run": {"cluster": flags}}

test_statefulset_without_flags_is_fixed if {
	vs := rule.violations with input as {"mode": "statefulset", "workload": sts({}), "config": cfg("cluster-wide")}
	count(vs) == 1
	some v in vs
	v.fix.name == "cluster-flags"
	v.fix.params.joinAddresses == "alloy"
	v.target == "workload"
}

test_enabled_without_peers_fires if {
	vs := rule.violations with input as {"mode": "statefulset", "workload": sts({"enabled": true}), "config": cfg("cluster-wide")}
	some v in vs
	contains(v.msg, "peer source")
	not contains(v.msg, "--cluster.enabled=true and")
}

test_effective_is_fine if {
	count(rule.violations) == 0 with input as {"mode": "statefulset", "workload": sts({"enabled": true, "joinAddresses": ["alloy-cluster"]}), "config": cfg("cluster-wide")}
}

test_daemonset_cluster_wide_denies if {
	vs := rule.violations with input as {"mode": "daemonset", "workload": {"kind": "DaemonSet", "run": {"cluster": {}}}, "config": cfg("cluster-wide")}
	some v in vs
	v.action == "deny"
}

# An Alloy object of any controller type is fixed in its values: the chart
# writes the flags and its <fullname>-cluster Service.
test_alloy_daemonset_cluster_wide_is_fixed if {
	w := {"kind": "Alloy", "alloy": {"fullname": "logs-alloy", "inlineConfig": true, "workloadKind": "DaemonSet"}, "run": {"cluster": {}}}
	vs := rule.violations with input as {"mode": "daemonset", "workload": w, "config": cfg("cluster-wide")}
	count(vs) == 1
	some v in vs
	v.fix.name == "cluster-flags"
	v.fix.params.joinAddresses == "logs-alloy-cluster"
	not v.action
}

test_daemonset_node_local_is_audit if {
	vs := rule.violations with input as {"mode": "daemonset", "workload": {"kind": "DaemonSet", "run": {"cluster": {}}}, "config": cfg("node-local")}
	some v in vs
	v.action == "audit"
}

test_no_workload_no_verdict if {
	count(rule.violations) == 0 with input as {"mode": "statefulset", "config": cfg("cluster-wide")}
}

# A clustered loki.source.podlogs whose node_filter reads NODE_NAME needs
# distributing in a DaemonSet unless NODE_NAME comes from spec.nodeName.
podlogs_cfg := {"files": [{"file": "c.alloy", "components": [], "collectors": [{"component": "loki.source.podlogs.pods", "clustered": true, "sources": [{
	"component": "loki.source.podlogs.pods", "scope": "node-local", "localBy": "node-filter",
	"nodeName": {"kind": "env", "expr": "NODE_NAME (read implicitly: node_filter has no node_name)", "envVars": ["NODE_NAME"]},
}]}]}]}

test_node_filter_without_the_node_name_needs_distribution if {
	vs := rule.violations with input as {"mode": "daemonset", "workload": {"kind": "DaemonSet", "run": {"cluster": {}}}, "config": podlogs_cfg}
	some v in vs
	not v.action == "audit"
	vs2 := rule.violations with input as {"mode": "daemonset", "workload": {"kind": "DaemonSet", "nodeNameEnv": ["NODE_NAME"], "run": {"cluster": {}}}, "config": podlogs_cfg}
	some v2 in vs2
	v2.action == "audit"
}
