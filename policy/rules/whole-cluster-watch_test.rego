package modeguard.rules.whole_cluster_watch_test

import data.modeguard.rules.whole_cluster_watch as rule

cfg(local_by, unused) := {"files": [{"file": "c", "components": [{"id": "discovery.kubernetes.pods", "name": "discovery.kubernetes", "unused": unused, "range": {"start": {"line": 1, "column": 1}}}], "collectors": [{"component": "prometheus.scrape.p", "sources": [{"component": "discovery.kubernetes.pods", "role": "pod", "localBy": local_by}]}]}]}

test_relabel_only if {
	count(rule.violations) == 1 with input as {"mode": "daemonset", "config": cfg("relabel-keep", false)}
}

test_field_selector_is_fine if {
	count(rule.violations) == 0 with input as {"mode": "daemonset", "config": cfg("field-selector", false)}
}

test_unused if {
	count(rule.violations) == 1 with input as {"mode": "daemonset", "config": cfg("field-selector", true)}
}

test_statefulset_is_not_this_rule if {
	count(rule.violations) == 0 with input as {"mode": "statefulset", "config": cfg("relabel-keep", true)}
}
