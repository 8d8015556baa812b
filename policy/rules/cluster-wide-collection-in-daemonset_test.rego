package modeguard.rules.cluster_wide_collection_in_daemonset_test

import data.modeguard.rules.cluster_wide_collection_in_daemonset as rule

cfg(class, clustered, scope) := {"files": [{"file": "c.alloy", "components": [], "collectors": [{"component": "prometheus.scrape.svc", "class": class, "clustered": clustered, "sources": [{"component": "discovery.kubernetes.services", "scope": scope, "reason": "role=service is cluster-wide"}]}]}]}

test_fires_on_unclustered_services if {
	vs := rule.violations with input as {"mode": "daemonset", "config": cfg("pull", false, "cluster-wide")}
	count(vs) == 1
	some v in vs
	v.component == "prometheus.scrape.svc"
	contains(v.msg, "role=service")
}

test_fires_on_self_discovering if {
	count(rule.violations) == 1 with input as {"mode": "daemonset", "config": cfg("self-discovering", false, "cluster-wide")}
}

test_silent_when_clustered if {
	count(rule.violations) == 0 with input as {"mode": "daemonset", "config": cfg("pull", true, "cluster-wide")}
}

test_silent_on_node_local if {
	count(rule.violations) == 0 with input as {"mode": "daemonset", "config": cfg("pull", false, "node-local")}
}

test_silent_on_file_logs if {
	count(rule.violations) == 0 with input as {"mode": "daemonset", "config": cfg("node-bound", false, "cluster-wide")}
}

test_silent_in_statefulset if {
	count(rule.violations) == 0 with input as {"mode": "statefulset", "config": cfg("pull", false, "cluster-wide")}
}

# A loki.source.podlogs made node-local by a node_filter without node_name:
# node-local only when the DaemonSet sets NODE_NAME from spec.nodeName.
podlogs_cfg := {"files": [{"file": "c.alloy", "components": [], "collectors": [{"component": "loki.source.podlogs.pods", "class": "self-discovering", "clustered": false, "sources": [{
	"component": "loki.source.podlogs.pods", "scope": "node-local", "reason": "node_filter without node_name", "localBy": "node-filter",
	"nodeName": {"kind": "env", "expr": "NODE_NAME (read implicitly: node_filter has no node_name)", "envVars": ["NODE_NAME"]},
}]}]}]}

test_node_filter_without_the_node_name_is_cluster_wide if {
	vs := rule.violations with input as {"mode": "daemonset", "workload": {"kind": "DaemonSet", "nodeNameEnv": ["HOSTNAME"]}, "config": podlogs_cfg}
	count(vs) == 1
	some v in vs
	contains(v.msg, "does not set NODE_NAME from fieldRef spec.nodeName")
}

test_node_filter_with_the_node_name_is_node_local if {
	count(rule.violations) == 0 with input as {"mode": "daemonset", "workload": {"kind": "DaemonSet", "nodeNameEnv": ["NODE_NAME"]}, "config": podlogs_cfg}
}
