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
