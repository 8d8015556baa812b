package modeguard.rules.statefulset_wal_persistence_test

import data.modeguard.rules.statefulset_wal_persistence as rule

cfg := {"files": [{"file": "c.alloy", "components": [{"id": "prometheus.remote_write.default", "name": "prometheus.remote_write", "range": {"start": {"line": 9, "column": 1}}}], "collectors": []}]}

sts(templates) := {"kind": "StatefulSet", "run": {"storagePath": "/tmp/alloy", "cluster": {}}, "claimTemplates": templates}

test_fires_without_claim if {
	vs := rule.violations with input as {"mode": "statefulset", "workload": sts([]), "config": cfg}
	count(vs) == 1
	some v in vs
	v.line == 9
}

test_claim_above_storage_path if {
	count(rule.violations) == 0 with input as {"mode": "statefulset", "workload": sts([{"name": "storage", "mountPath": "/tmp"}]), "config": cfg}
}

test_claim_not_mounted if {
	count(rule.violations) == 1 with input as {"mode": "statefulset", "workload": sts([{"name": "storage"}]), "config": cfg}
}

test_no_remote_write_is_fine if {
	count(rule.violations) == 0 with input as {"mode": "statefulset", "workload": sts([]), "config": {"files": [{"file": "c", "components": []}]}}
}
