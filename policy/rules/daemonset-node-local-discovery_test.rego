package modeguard.rules.daemonset_node_local_discovery_test

import data.modeguard.rules.daemonset_node_local_discovery as rule

pods(scope, clustered) := {"file": "config.alloy", "envFunc": "sys.env", "components": [{"id": "discovery.kubernetes.pods", "range": {"start": {"line": 1, "column": 1}}}], "collectors": [{
	"component": "prometheus.scrape.pods", "class": "pull", "clustered": clustered,
	"sources": [{"component": "discovery.kubernetes.pods", "kind": "discovery.kubernetes", "role": "pod", "scope": scope}],
}]}

ds := {"mode": "daemonset", "workload": {"kind": "DaemonSet", "nodeNameEnv": ["HOSTNAME"], "run": {"cluster": {}}}}

test_fires_on_cluster_wide_pods if {
	vs := rule.violations with input as object.union(ds, {"config": {"files": [pods("cluster-wide", false)]}})
	count(vs) == 1
	some v in vs
	v.fix.name == "node-selector"
	v.fix.params.role == "pod"
	v.fix.params.var == "HOSTNAME"
	v.fix.params.envFunc == "sys.env"
	v.line == 1
}

test_silent_when_node_local if {
	count(rule.violations) == 0 with input as object.union(ds, {"config": {"files": [pods("node-local", false)]}})
}

test_silent_outside_daemonset if {
	count(rule.violations) == 0 with input as {"mode": "statefulset", "config": {"files": [pods("cluster-wide", false)]}}
}

test_silent_when_feeding_effective_clustering if {
	clustered := {"mode": "daemonset", "workload": {"kind": "DaemonSet", "run": {"cluster": {"enabled": true, "joinAddresses": ["a"]}}}}
	count(rule.violations) == 0 with input as object.union(clustered, {"config": {"files": [pods("cluster-wide", true)]}})
}

test_fires_when_clustering_block_is_inert if {
	count(rule.violations) == 1 with input as object.union(ds, {"config": {"files": [pods("cluster-wide", true)]}})
}

# An Alloy object's inert block: MG007 turns clustering on in its values,
# which makes the block effective; a selector as well would leave clustering
# on node-local data (MG005).
alloy_ds := {"mode": "daemonset", "workload": {"kind": "Alloy", "alloy": {"fullname": "logs-alloy", "workloadKind": "DaemonSet"}, "nodeNameEnv": ["HOSTNAME"], "run": {"cluster": {}}}}

test_silent_for_an_alloy_object_whose_block_mg007_makes_effective if {
	count(rule.violations) == 0 with input as object.union(alloy_ds, {"config": {"files": [pods("cluster-wide", true)]}})
}

test_fires_for_an_alloy_object_without_a_block if {
	count(rule.violations) == 1 with input as object.union(alloy_ds, {"config": {"files": [pods("cluster-wide", false)]}})
}
