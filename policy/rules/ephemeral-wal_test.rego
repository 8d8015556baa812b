package modeguard.rules.ephemeral_wal_test

import data.modeguard.rules.ephemeral_wal as rule

cfg := {"files": [{"file": "c.alloy", "components": [{"id": "prometheus.remote_write.default", "name": "prometheus.remote_write", "range": {"start": {"line": 1, "column": 1}}}]}]}

test_fires if {
	count(rule.violations) == 1 with input as {"mode": "deployment", "workload": {"run": {"storagePath": "/tmp/alloy"}}, "config": cfg}
}

test_pvc_mount_is_fine if {
	w := {"run": {"storagePath": "/data/alloy"}, "volumes": [{"name": "d", "type": "persistentVolumeClaim"}], "mounts": [{"name": "d", "mountPath": "/data"}]}
	count(rule.violations) == 0 with input as {"mode": "deployment", "workload": w, "config": cfg}
}

test_statefulset_is_not_this_rule if {
	count(rule.violations) == 0 with input as {"mode": "statefulset", "workload": {"run": {}}, "config": cfg}
}
