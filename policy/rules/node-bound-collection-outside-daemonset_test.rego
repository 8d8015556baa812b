package modeguard.rules.node_bound_collection_outside_daemonset_test

import data.modeguard.rules.node_bound_collection_outside_daemonset as rule

file(col, name) := {"files": [{"file": "c.alloy", "components": [{"id": col.component, "name": name, "range": {"start": {"line": 1, "column": 1}}}], "collectors": [col]}]}

# A node-bound collector that reads no files, as the facts give it.
node_bound(name) := file({"component": concat(".", [name, "x"]), "class": "node-bound", "readsFiles": false, "sources": [], "paths": []}, name)

journal := node_bound("loki.source.journal")

varlog := file({"component": "loki.source.file.f", "class": "node-bound", "readsFiles": true, "sources": [], "paths": ["/var/log/pods/*$1/*.log"]}, "loki.source.file")

filelog(paths) := file({"component": "otelcol.receiver.filelog.pods", "class": "node-bound", "readsFiles": true, "sources": [], "paths": paths}, "otelcol.receiver.filelog")

source(name, scope, constant) := file({"component": "prometheus.scrape.node", "class": "pull", "readsFiles": false, "sources": [{"component": concat(".", [name, "n"]), "kind": name, "class": "node-bound", "scope": scope, "reason": "r", "constantIdentity": constant}], "paths": []}, "prometheus.scrape")

unix(constant) := source("prometheus.exporter.unix", "host-exporter", constant)

test_journal_in_statefulset if {
	count(rule.violations) == 1 with input as {"mode": "statefulset", "config": journal}
}

# Every node-bound collector that reads no files is denied by its class,
# whatever its name.
test_node_bound_class_outside_daemonset if {
	every name in ["loki.source.windowsevent", "loki.source.journal", "loki.source.docker", "pyroscope.ebpf", "pyroscope.java", "some.future.collector"] {
		every mode in ["statefulset", "deployment"] {
			vs := rule.violations with input as {"mode": mode, "config": node_bound(name)}
			count(vs) == 1
			some v in vs
			startswith(v.msg, name)
		}
	}
}

# The class decides, not the name: a pull collector is not node-bound.
test_pull_collector_is_fine if {
	cfg := file({"component": "loki.source.journal.j", "class": "pull", "readsFiles": false, "sources": [], "paths": []}, "loki.source.journal")
	count(rule.violations) == 0 with input as {"mode": "statefulset", "config": cfg}
}

test_file_logs_in_deployment if {
	vs := rule.violations with input as {"mode": "deployment", "config": varlog}
	count(vs) == 1
	some v in vs
	contains(v.msg, "/var/log/pods")
}

test_filelog_on_node_paths_in_statefulset if {
	vs := rule.violations with input as {"mode": "statefulset", "config": filelog(["/var/log/pods/*/*/*.log"])}
	count(vs) == 1
	some v in vs
	contains(v.msg, "reads node files (/var/log/pods/*/*/*.log)")
}

test_filelog_off_node_paths_is_fine if {
	count(rule.violations) == 0 with input as {"mode": "statefulset", "config": filelog(["/data/app/*.log"])}
	count(rule.violations) == 0 with input as {"mode": "statefulset", "config": filelog([])}
}

test_host_exporter_in_statefulset if {
	count(rule.violations) == 1 with input as {"mode": "statefulset", "config": unix(false)}
}

test_constant_instance_is_fine if {
	count(rule.violations) == 0 with input as {"mode": "statefulset", "config": unix(true)}
}

# The constant-instance exception is the host exporters': discovery of the
# node's own pods or processes stays node-bound.
test_node_bound_discovery_in_statefulset if {
	every name in ["discovery.kubelet", "discovery.process"] {
		every constant in [false, true] {
			vs := rule.violations with input as {"mode": "statefulset", "config": source(name, "node-local", constant)}
			count(vs) == 1
			some v in vs
			contains(v.msg, concat("", ["collects from ", name, ".n"]))
		}
	}
}

test_node_local_source_of_no_class_is_fine if {
	cfg := file({"component": "prometheus.scrape.pods", "class": "pull", "readsFiles": false, "sources": [{"component": "discovery.kubernetes.pods", "kind": "discovery.kubernetes", "class": "", "scope": "node-local", "reason": "r"}], "paths": []}, "prometheus.scrape")
	count(rule.violations) == 0 with input as {"mode": "statefulset", "config": cfg}
}

test_daemonset_is_fine if {
	count(rule.violations) == 0 with input as {"mode": "daemonset", "config": varlog}
	count(rule.violations) == 0 with input as {"mode": "daemonset", "config": unix(false)}
	count(rule.violations) == 0 with input as {"mode": "daemonset", "config": journal}
	count(rule.violations) == 0 with input as {"mode": "daemonset", "config": filelog(["/var/log/pods/*/*/*.log"])}
	count(rule.violations) == 0 with input as {"mode": "daemonset", "config": source("discovery.kubelet", "node-local", false)}
}

test_emptydir_file_is_fine if {
	count(rule.violations) == 0 with input as {"mode": "deployment", "config": file({"component": "loki.source.file.app", "class": "node-bound", "readsFiles": true, "sources": [], "paths": ["/shared/app.log"]}, "loki.source.file")}
}

# The k8s-monitoring 0.13 telemetry: a textfile-only unix exporter, its
# instance left as the exporter sets it (a prometheus.relabel after the
# scrape makes it constant, which the facts do not see).
textfile(collectors, dir) := file({"component": "prometheus.scrape.telemetry", "class": "pull", "readsFiles": false, "sources": [{"component": "prometheus.exporter.unix.telemetry", "kind": "prometheus.exporter.unix", "class": "node-bound", "scope": "host-exporter", "reason": "r", "constantIdentity": false, "unix": {"collectors": collectors, "textfileDirectory": dir, "pathArgs": {}}}], "paths": []}, "prometheus.scrape")

# Its directory on a ConfigMap mount, or on a hostPath mount.
textfile_workload(kind, type) := {"kind": kind, "volumes": [{"name": "telemetry", "type": type}], "mounts": [{"name": "telemetry", "mountPath": "/etc/telemetry"}]}

test_textfile_on_configmap_is_fine if {
	every mode in ["statefulset", "deployment"] {
		count(rule.violations) == 0 with input as {"mode": mode, "workload": textfile_workload("StatefulSet", "configMap"), "config": textfile(["textfile"], "/etc/telemetry")}
	}
}

test_textfile_on_host_path_in_statefulset if {
	vs := rule.violations with input as {"mode": "statefulset", "workload": textfile_workload("StatefulSet", "hostPath"), "config": textfile(["textfile"], "/etc/telemetry")}
	count(vs) == 1
	some v in vs
	contains(v.msg, "collects from prometheus.exporter.unix.telemetry")
}

test_textfile_with_other_collectors_in_statefulset if {
	every collectors in [["cpu", "textfile"], []] {
		count(rule.violations) == 1 with input as {"mode": "statefulset", "workload": textfile_workload("StatefulSet", "configMap"), "config": textfile(collectors, "/etc/telemetry")}
	}
}

# Without a workload the volumes are unknown: still host data.
test_textfile_without_workload_in_statefulset if {
	count(rule.violations) == 1 with input as {"mode": "statefulset", "config": textfile(["textfile"], "/etc/telemetry")}
}
