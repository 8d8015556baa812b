package modeguard.lib_test

import data.modeguard.lib

sts_flags := {"mode": "statefulset", "workload": {"replicated": true, "run": {"cluster": {"enabled": true, "joinAddresses": ["alloy-cluster"]}}}}

test_process_clustered if {
	lib.process_clustered with input as sts_flags
}

test_not_clustered_without_peer if {
	not lib.process_clustered with input as {"workload": {"run": {"cluster": {"enabled": true}}}}
}

test_discover_peers_is_a_peer_source if {
	lib.process_clustered with input as {"workload": {"run": {"cluster": {"enabled": true, "discoverPeers": "provider=k8s"}}}}
}

test_effective_and_inert if {
	lib.effective({"clustered": true}) with input as sts_flags
	lib.inert({"clustered": true}) with input as {"workload": {"run": {"cluster": {}}}}
	not lib.effective({"clustered": true}) with input as {"workload": {"run": {"cluster": {}}}}
	lib.effective({"clustered": true}) with input as {"workload": null}
	not lib.effective({"clustered": false}) with input as sts_flags
}

test_distributed if {
	lib.distributed with input as {"mode": "statefulset"}
	lib.distributed with input as {"mode": "deployment", "workload": {"replicated": true}}
	not lib.distributed with input as {"mode": "deployment", "workload": {"replicated": false}}
	not lib.distributed with input as {"mode": "daemonset"}
}

test_node_env if {
	lib.node_env == "HOSTNAME" with input as {"workload": {"nodeNameEnv": ["HOSTNAME", "K8S_NODE_NAME"]}}
	lib.node_env == "K8S_NODE_NAME" with input as {"workload": {"nodeNameEnv": ["K8S_NODE_NAME"]}}
	lib.node_env == "HOSTNAME" with input as {"workload": null}
}

test_under if {
	lib.under("/var/log/pods/x", "/var/log")
	lib.under("/var/log", "/var/log/")
	not lib.under("/var/logs/x", "/var/log")
}
