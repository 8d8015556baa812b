# METADATA
# title: The node name must really reach the config
# description: |
#   A node-local selector is only as good as its node name. `constants.hostname`
#   is the pod's name unless the pod uses hostNetwork, so
#   `"spec.nodeName=" + constants.hostname` matches no pod at all: the agent
#   silently collects nothing. An env var read by `env()`/`sys.env()` only holds
#   the node name when the container sets it from `fieldRef: spec.nodeName`
#   (`HOSTNAME` is otherwise the pod name, set by the runtime). The fix rewrites
#   a bare `constants.hostname` to `coalesce(sys.env("HOSTNAME"), constants.hostname)`
#   (Agent: `env`) and adds the env var from `fieldRef spec.nodeName` to the
#   agent container of the DaemonSet template or the Pod.
# custom:
#   id: MG002
#   slug: node-name-source
#   action: fix
#   fix: [node-name-expression, node-name-env]
#   appliesTo: [DaemonSet, Pod]
package modeguard.rules.node_name_source

import data.modeguard.lib

# Every node-name expression of the config, as [file index, component id,
# expression]. The facts set nodeName only where a node name is expected
# (discovery.kubernetes selectors fields, discovery.relabel regexes).
node_names contains [i, c.id, nn] if {
	some i, f in lib.files
	some c in f.components
	some b in c.blocks
	some a in b.attributes
	nn := a.nodeName
	is_object(nn)
}

violations contains v if {
	lib.daemonset
	some [i, id, nn] in node_names
	nn.kind == "constants.hostname"
	f := lib.files[i]
	not lib.workload.hostNetwork
	msg := sprintf("node name %s is the pod's name, not the node's (no hostNetwork): the selector matches nothing; read %s(%q) set from fieldRef spec.nodeName", [nn.expr, f.envFunc, lib.node_env])
	v := object.union(lib.at(f, id, msg), {
		"line": nn.range.start.line, "column": nn.range.start.column,
		"fix": {"name": "node-name-expression", "params": {"file": f.file, "component": id, "envFunc": f.envFunc, "var": lib.node_env}},
	})
}

# The places reading each env var of a node-name expression, as
# [file, component id, line, column]: one pass over node_names, so that
# finding the first place of every var stays linear in components.
env_places[var] contains [lib.files[i].file, id, nn.range.start.line, nn.range.start.column] if {
	some [i, id, nn] in node_names
	some var in nn.envVars
}

# Env vars a node-name expression reads, each with the first place reading it.
env_reads[var] := min(places) if some var, places in env_places

violations contains v if {
	lib.daemonset
	lib.has_workload
	some var, first in env_reads
	not var in object.get(lib.workload, "nodeNameEnv", [])
	[file, id, line, column] := first
	msg := sprintf("%s reads %s, but the agent container does not set %s from fieldRef spec.nodeName%s", [id, var, var, how(var)])
	v := {
		"msg": msg, "component": id, "file": file, "line": line, "column": column,
		"target": "workload",
		"fix": {"name": "node-name-env", "params": {"var": var}},
	}
}

how(var) := sprintf(" (it is the literal %q)", [e.value]) if {
	e := lib.workload.env[var]
	e.source == "literal"
} else := sprintf(" (it comes from %s)", [e.source]) if {
	e := lib.workload.env[var]
} else := "; envFrom cannot carry a fieldRef" if {
	count(object.get(lib.workload, "envFrom", [])) > 0
} else := sprintf("; unset, %s is the pod name", [var]) if {
	var == "HOSTNAME"
} else := "; it is unset"
