package modeguard.rules.endpoints_pod_selector_test

import data.modeguard.rules.endpoints_pod_selector as rule

cfg(only) := {"files": [{"file": "c.river", "components": [], "collectors": [{"component": "prometheus.scrape.ep", "sources": [{"component": "discovery.kubernetes.endpoints", "role": "endpoints", "podSelectorOnly": only}]}]}]}

test_fires if {
	vs := rule.violations with input as {"mode": "daemonset", "config": cfg(true)}
	count(vs) == 1
	some v in vs
	contains(v.msg, "__meta_kubernetes_endpoint_node_name")
}

test_silent_with_keep if {
	count(rule.violations) == 0 with input as {"mode": "daemonset", "config": cfg(false)}
}

test_silent_outside_daemonset if {
	count(rule.violations) == 0 with input as {"mode": "statefulset", "config": cfg(true)}
}
