package modeguard.rules.daemonset_log_mounts_test

import data.modeguard.rules.daemonset_log_mounts as rule

cfg := {"files": [{"file": "c.alloy", "components": [], "collectors": [{"component": "loki.source.file.pods", "paths": ["/var/log/pods/*$1/*.log"]}]}]}

ds(volumes, mounts) := {"kind": "DaemonSet", "volumes": volumes, "mounts": mounts}

test_fires_without_mount if {
	vs := rule.violations with input as {"mode": "daemonset", "workload": ds([], []), "config": cfg}
	count(vs) == 1
	some v in vs
	contains(v.msg, "/var/log/pods")
}

test_hostpath_covers if {
	w := ds([{"name": "varlog", "type": "hostPath", "hostPath": "/var/log"}], [{"name": "varlog", "mountPath": "/var/log"}])
	count(rule.violations) == 0 with input as {"mode": "daemonset", "workload": w, "config": cfg}
}

test_emptydir_does_not_cover if {
	w := ds([{"name": "varlog", "type": "emptyDir"}], [{"name": "varlog", "mountPath": "/var/log"}])
	count(rule.violations) == 1 with input as {"mode": "daemonset", "workload": w, "config": cfg}
}

test_static_dir if {
	rule.static_dir("/var/log/pods/*$1/*.log") == "/var/log/pods"
	rule.static_dir("/var/log/syslog") == "/var/log/syslog"
}
