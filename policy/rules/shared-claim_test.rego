package modeguard.rules.shared_claim_test

import data.modeguard.rules.shared_claim as rule

pvc := [{"name": "data", "type": "persistentVolumeClaim", "claimName": "agent-data"}]

test_daemonset if {
	vs := rule.violations with input as {"mode": "daemonset", "workload": {"kind": "DaemonSet", "volumes": pvc}}
	count(vs) == 1
	some v in vs
	contains(v.msg, "agent-data")
}

test_replicated_deployment if {
	count(rule.violations) == 1 with input as {"mode": "deployment", "workload": {"replicated": true, "volumes": pvc}}
}

test_single_deployment_is_fine if {
	count(rule.violations) == 0 with input as {"mode": "deployment", "workload": {"replicated": false, "volumes": pvc}}
}

test_emptydir_is_fine if {
	count(rule.violations) == 0 with input as {"mode": "daemonset", "workload": {"volumes": [{"name": "d", "type": "emptyDir"}]}}
}
