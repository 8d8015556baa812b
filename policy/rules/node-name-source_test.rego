package modeguard.rules.node_name_source_test

import data.modeguard.rules.node_name_source as rule

cfg(nn) := {"files": [{"file": "config.alloy", "envFunc": "sys.env", "components": [{
	"id": "discovery.kubernetes.pods", "name": "discovery.kubernetes", "range": {"start": {"line": 1, "column": 1}},
	"blocks": [{"name": "selectors", "attributes": {"field": {"nodeName": nn}}}],
}]}]}

bare := {"kind": "constants.hostname", "expr": "constants.hostname", "envVars": [], "range": {"start": {"line": 4, "column": 28}}}

coalesced := {"kind": "coalesce", "expr": "coalesce(sys.env(\"HOSTNAME\"), constants.hostname)", "envVars": ["HOSTNAME"], "envFunc": "sys.env", "range": {"start": {"line": 4, "column": 28}}}

test_bare_hostname_fires if {
	vs := rule.violations with input as {"mode": "daemonset", "workload": {"kind": "DaemonSet"}, "config": cfg(bare)}
	count(vs) == 1
	some v in vs
	v.fix.name == "node-name-expression"
	v.line == 4
}

test_bare_hostname_with_host_network_is_fine if {
	count(rule.violations) == 0 with input as {"mode": "daemonset", "workload": {"kind": "DaemonSet", "hostNetwork": true}, "config": cfg(bare)}
}

test_env_without_field_ref_fires if {
	vs := rule.violations with input as {"mode": "daemonset", "workload": {"kind": "DaemonSet"}, "config": cfg(coalesced)}
	count(vs) == 1
	some v in vs
	v.target == "workload"
	v.fix.params.var == "HOSTNAME"
	contains(v.msg, "pod name")
}

test_env_literal_is_named if {
	vs := rule.violations with input as {"mode": "daemonset", "workload": {"kind": "DaemonSet", "env": {"HOSTNAME": {"source": "literal", "value": "node-1"}}}, "config": cfg(coalesced)}
	some v in vs
	contains(v.msg, "literal \"node-1\"")
}

test_env_from_field_ref_is_fine if {
	count(rule.violations) == 0 with input as {"mode": "daemonset", "workload": {"kind": "DaemonSet", "nodeNameEnv": ["HOSTNAME"]}, "config": cfg(coalesced)}
}

test_silent_outside_daemonset if {
	count(rule.violations) == 0 with input as {"mode": "statefulset", "workload": {"kind": "StatefulSet"}, "config": cfg(bare)}
}

# A loki.source.podlogs with node_filter enabled: nn on node_name, or the
# implicit NODE_NAME read on the component; clustered says its clustering
# block is on.
podlogs_cfg(nn, implicit, clustered) := {"files": [{"file": "config.alloy", "envFunc": "sys.env", "components": [object.union(
	{"id": "loki.source.podlogs.pods", "name": "loki.source.podlogs", "range": {"start": {"line": 1, "column": 1}}},
	podlogs_filter(nn, implicit),
)], "collectors": [{"component": "loki.source.podlogs.pods", "class": "self-discovering", "clustered": clustered, "sources": [{"component": "loki.source.podlogs.pods", "scope": "node-local", "localBy": "node-filter", "nodeName": nn}]}]}]}

podlogs_filter(nn, true) := {"nodeName": nn, "blocks": [{"name": "node_filter", "attributes": {"enabled": {"value": true}}}]}

podlogs_filter(nn, false) := {"nodeName": null, "blocks": [{"name": "node_filter", "attributes": {"enabled": {"value": true}, "node_name": {"nodeName": nn}}}]}

implicit := {"kind": "env", "expr": "NODE_NAME (read implicitly: node_filter has no node_name)", "envVars": ["NODE_NAME"], "range": {"start": {"line": 3, "column": 3}}}

k8s_node_name := {"kind": "env", "expr": "sys.env(\"K8S_NODE_NAME\")", "envVars": ["K8S_NODE_NAME"], "envFunc": "sys.env", "range": {"start": {"line": 5, "column": 17}}}

chart_env := {"kind": "DaemonSet", "nodeNameEnv": ["HOSTNAME", "K8S_NODE_NAME"], "run": {"cluster": {"enabled": true, "joinAddresses": ["alloy-cluster"]}}}

test_podlogs_without_node_name_needs_node_name_env if {
	vs := rule.violations with input as {"mode": "daemonset", "workload": chart_env, "config": podlogs_cfg(implicit, true, false)}
	count(vs) == 1
	some v in vs
	v.target == "workload"
	v.fix == {"name": "node-name-env", "params": {"var": "NODE_NAME"}}
	v.line == 3
	contains(v.msg, "node_filter of loki.source.podlogs.pods reads NODE_NAME")
	contains(v.msg, "whole cluster")
}

test_podlogs_with_node_name_env_is_fine if {
	w := object.union(chart_env, {"nodeNameEnv": ["NODE_NAME"]})
	count(rule.violations) == 0 with input as {"mode": "daemonset", "workload": w, "config": podlogs_cfg(implicit, true, false)}
}

test_podlogs_node_name_reads_its_var if {
	count(rule.violations) == 0 with input as {"mode": "daemonset", "workload": chart_env, "config": podlogs_cfg(k8s_node_name, false, false)}
	vs := rule.violations with input as {"mode": "daemonset", "workload": {"kind": "DaemonSet"}, "config": podlogs_cfg(k8s_node_name, false, false)}
	count(vs) == 1
	some v in vs
	v.fix.params.var == "K8S_NODE_NAME"
}

test_podlogs_hostname_node_name_is_rewritten if {
	vs := rule.violations with input as {"mode": "daemonset", "workload": chart_env, "config": podlogs_cfg(bare, false, false)}
	count(vs) == 1
	some v in vs
	v.fix == {"name": "node-name-expression", "params": {"file": "config.alloy", "component": "loki.source.podlogs.pods", "envFunc": "sys.env", "var": "HOSTNAME"}}
	contains(v.msg, "node_filter matches no pod")
}

test_clustered_podlogs_is_only_recorded if {
	vs := rule.violations with input as {"mode": "daemonset", "workload": chart_env, "config": podlogs_cfg(implicit, true, true)}
	count(vs) == 1
	some v in vs
	v.action == "audit"
	not v.fix
	contains(v.msg, "remove node_filter")
}

test_clustered_podlogs_whose_name_arrives_is_left_to_mg005 if {
	w := object.union(chart_env, {"nodeNameEnv": ["NODE_NAME"]})
	count(rule.violations) == 0 with input as {"mode": "daemonset", "workload": w, "config": podlogs_cfg(implicit, true, true)}
}

test_inert_clustering_still_gets_the_fix if {
	w := {"kind": "DaemonSet", "nodeNameEnv": ["HOSTNAME"], "run": {"cluster": {}}}
	vs := rule.violations with input as {"mode": "daemonset", "workload": w, "config": podlogs_cfg(implicit, true, true)}
	some v in vs
	v.fix.name == "node-name-env"
}

test_podlogs_silent_outside_daemonset if {
	count(rule.violations) == 0 with input as {"mode": "statefulset", "workload": {"kind": "StatefulSet"}, "config": podlogs_cfg(implicit, true, false)}
}
