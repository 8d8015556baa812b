package modeguard.rules.node_bound_collection_outside_daemonset_test

import data.modeguard.rules.node_bound_collection_outside_daemonset as rule

file(col, name) := {"files": [{"file": "c.alloy", "components": [{"id": col.component, "name": name, "range": {"start": {"line": 1, "column": 1}}}], "collectors": [col]}]}

journal := file({"component": "loki.source.journal.j", "sources": [], "paths": []}, "loki.source.journal")

varlog := file({"component": "loki.source.file.f", "sources": [], "paths": ["/var/log/pods/*$1/*.log"]}, "loki.source.file")

unix(constant) := file({"component": "prometheus.scrape.node", "sources": [{"component": "prometheus.exporter.unix.n", "kind": "prometheus.exporter.unix", "scope": "host-exporter", "reason": "r", "constantIdentity": constant}], "paths": []}, "prometheus.scrape")

test_journal_in_statefulset if {
	count(rule.violations) == 1 with input as {"mode": "statefulset", "config": journal}
}

test_file_logs_in_deployment if {
	vs := rule.violations with input as {"mode": "deployment", "config": varlog}
	some v in vs
	contains(v.msg, "/var/log/pods")
}

test_host_exporter_in_statefulset if {
	count(rule.violations) == 1 with input as {"mode": "statefulset", "config": unix(false)}
}

test_constant_instance_is_fine if {
	count(rule.violations) == 0 with input as {"mode": "statefulset", "config": unix(true)}
}

test_daemonset_is_fine if {
	count(rule.violations) == 0 with input as {"mode": "daemonset", "config": varlog}
	count(rule.violations) == 0 with input as {"mode": "daemonset", "config": unix(false)}
}

test_emptydir_file_is_fine if {
	count(rule.violations) == 0 with input as {"mode": "deployment", "config": file({"component": "loki.source.file.app", "sources": [], "paths": ["/shared/app.log"]}, "loki.source.file")}
}
