package modeguard.rules.replicated_collection_needs_clustering_test

import data.modeguard.rules.replicated_collection_needs_clustering as rule

cfg(name, capable, clustered, scope) := {"files": [{"file": "c.alloy", "components": [{"id": "x.y", "name": name, "clustering": {"capable": capable}, "range": {"start": {"line": 3, "column": 1}}}], "collectors": [{"component": "x.y", "class": "pull", "clustered": clustered, "sources": [{"component": "discovery.kubernetes.services", "scope": scope}]}]}]}

test_statefulset_fix if {
	vs := rule.violations with input as {"mode": "statefulset", "config": cfg("prometheus.scrape", true, false, "cluster-wide")}
	count(vs) == 1
	some v in vs
	v.fix.name == "clustering-block"
	v.fix.params.component == "x.y"
	v.line == 3
}

test_incapable_denies if {
	vs := rule.violations with input as {"mode": "statefulset", "config": cfg("loki.source.kubernetes_events", false, false, "cluster-wide")}
	some v in vs
	v.action == "deny"
	not v.fix
}

test_replicated_deployment if {
	count(rule.violations) == 1 with input as {"mode": "deployment", "workload": {"replicated": true}, "config": cfg("prometheus.scrape", true, false, "cluster-wide")}
}

test_single_deployment_is_fine if {
	count(rule.violations) == 0 with input as {"mode": "deployment", "workload": {"replicated": false}, "config": cfg("prometheus.scrape", true, false, "cluster-wide")}
}

test_clustered_is_fine if {
	count(rule.violations) == 0 with input as {"mode": "statefulset", "config": cfg("prometheus.scrape", true, true, "cluster-wide")}
}

test_daemonset_is_not_this_rule if {
	count(rule.violations) == 0 with input as {"mode": "daemonset", "config": cfg("prometheus.scrape", true, false, "cluster-wide")}
}

# A loki.source.podlogs whose node_filter reads NODE_NAME: every replica
# tails every pod unless NODE_NAME comes from spec.nodeName.
podlogs_cfg := {"files": [{"file": "c.alloy", "components": [{"id": "loki.source.podlogs.pods", "name": "loki.source.podlogs", "clustering": {"capable": true}, "range": {"start": {"line": 1, "column": 1}}}], "collectors": [{"component": "loki.source.podlogs.pods", "class": "self-discovering", "clustered": false, "sources": [{
	"component": "loki.source.podlogs.pods", "scope": "node-local", "localBy": "node-filter",
	"nodeName": {"kind": "env", "expr": "NODE_NAME (read implicitly: node_filter has no node_name)", "envVars": ["NODE_NAME"]},
}]}]}]}

test_node_filter_without_the_node_name_needs_clustering if {
	count(rule.violations) == 1 with input as {"mode": "statefulset", "workload": {"kind": "StatefulSet"}, "config": podlogs_cfg}
	count(rule.violations) == 0 with input as {"mode": "statefulset", "workload": {"kind": "StatefulSet", "nodeNameEnv": ["NODE_NAME"]}, "config": podlogs_cfg}
}
