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
#   `loki.source.podlogs { node_filter { enabled = true } }` needs the node name
#   too: from `node_name`, or, without it, from the env var `NODE_NAME`, which
#   the Alloy and Agent charts do not set. With the name empty the filter is
#   silently off and every pod tails the pods of the whole cluster; the fix sets
#   `NODE_NAME` (or the var `node_name` reads) from `fieldRef spec.nodeName`.
#   Where that podlogs is effectively clustered a working filter would lose data
#   (MG005), so there the missing name is only recorded (audit).
# custom:
#   id: MG002
#   slug: node-name-source
#   action: fix
#   fix: [node-name-expression, node-name-env]
#   appliesTo: [DaemonSet, Pod]
package modeguard.rules.node_name_source

import data.modeguard.lib

# Every node-name expression of the config, as {file (the index of its
# file), component (its id), nodeName}. The facts set nodeName only where
# a node name is expected (discovery.kubernetes selectors fields,
# discovery.relabel regexes, the node_name of an enabled
# loki.source.podlogs node_filter), and on the component for a node_filter
# without node_name (it reads NODE_NAME). The facts list them in
# nodeNames; Go leaves out those of a clustered podlogs
# (input.derived.nodeNames), and walked_node_names does the same here for
# an input without it.
node_names := x if {
	x := input.derived.nodeNames
} else := walked_node_names

walked_node_names contains {"file": i, "component": u.component, "nodeName": u.nodeName} if {
	some i, f in lib.files
	some u in f.nodeNames
	not podlogs_clustered(f, u.name, u.component)
}

# Without that list (inputs written by hand, e.g. in Rego tests): a walk.
walked_node_names contains {"file": i, "component": c.id, "nodeName": nn} if {
	some i, f in lib.files
	not f.nodeNames
	some c in f.components
	some b in c.blocks
	some a in b.attributes
	nn := a.nodeName
	is_object(nn)
	not clustered_filter(f, c)
}

walked_node_names contains {"file": i, "component": c.id, "nodeName": nn} if {
	some i, f in lib.files
	not f.nodeNames
	some c in f.components
	nn := c.nodeName
	is_object(nn)
	not clustered_filter(f, c)
}

# A loki.source.podlogs whose clustering is effective: there a node_filter
# whose name arrived would leave each peer only its own node's pods, and
# clustering would drop most of them (MG005). Its node name is not fixed
# (as MG001 adds no selector there); a name that does not arrive is only
# recorded below.
clustered_filter(f, c) if podlogs_clustered(f, c.name, c.id)

podlogs_clustered(f, name, id) if {
	name == "loki.source.podlogs"
	lib.feeds_clustered(f, id)
}

# The node name of a podlogs node_filter: implicit, or node_name's.
filter_name(c) := c.nodeName if {
	is_object(c.nodeName)
} else := nn if {
	some b in c.blocks
	b.name == "node_filter"
	nn := b.attributes.node_name.nodeName
	is_object(nn)
}

# The lookups that find nothing in most configs come first (the mode
# condition after them still limits these rules to DaemonSets).
violations contains v if {
	some r in lib.components_named["loki.source.podlogs"]
	lib.daemonset
	f := lib.files[r.file]
	c := f.components[r.index]
	clustered_filter(f, c)
	nn := filter_name(c)
	not lib.node_name_arrives(nn)
	msg := sprintf("node_filter on %s does not keep this node's pods (%s), so clustering shares out the pods of the whole cluster; were the node name to arrive, clustering would drop most of them: remove node_filter", [nn.expr, lib.node_name_gap(nn)])
	v := object.union(lib.at(f, c.id, msg), {"line": nn.range.start.line, "column": nn.range.start.column, "action": "audit"})
}

violations contains v if {
	some u in node_names
	lib.daemonset
	nn := u.nodeName
	nn.kind == "constants.hostname"
	f := lib.files[u.file]
	id := u.component
	not lib.workload.hostNetwork
	msg := sprintf("node name %s is the pod's name, not the node's (no hostNetwork): %s; read %s(%q) set from fieldRef spec.nodeName", [nn.expr, matches_nothing(f, id), f.envFunc, lib.node_env])
	v := object.union(lib.at(f, id, msg), {
		"line": nn.range.start.line, "column": nn.range.start.column,
		"fix": {"name": "node-name-expression", "params": {"file": f.file, "component": id, "envFunc": f.envFunc, "var": lib.node_env}},
	})
}

# The places reading each env var of a node-name expression, as
# [file, component id, line, column]: one pass over node_names, so that
# finding the first place of every var stays linear in components.
env_places[var] contains [lib.files[u.file].file, u.component, u.nodeName.range.start.line, u.nodeName.range.start.column] if {
	some u in node_names
	some var in u.nodeName.envVars
}

# Env vars a node-name expression reads, each with the first place reading it.
env_reads[var] := min(places) if some var, places in env_places

violations contains v if {
	some var, first in env_reads
	lib.daemonset
	lib.has_workload
	not var in object.get(lib.workload, "nodeNameEnv", [])
	[file, id, line, column] := first
	msg := sprintf("%s reads %s, but the agent container does not set %s from fieldRef spec.nodeName%s%s", [reader(file, id), var, var, how(var), effect(file, id)])
	v := {
		"msg": msg, "component": id, "file": file, "line": line, "column": column,
		"target": "workload",
		"fix": {"name": "node-name-env", "params": {"var": var}},
	}
}

matches_nothing(f, id) := "node_filter matches no pod" if {
	lib.component(f, id).name == "loki.source.podlogs"
} else := "the selector matches nothing"

# Who reads the variable, and what that does, for a podlogs node_filter.
podlogs(file, id) if {
	some f in lib.files
	f.file == file
	lib.component(f, id).name == "loki.source.podlogs"
}

reader(file, id) := sprintf("the node_filter of %s", [id]) if podlogs(file, id)

else := id

effect(file, id) := ": node_filter then does not keep this node's pods (with no name at all the agent drops the filter, and every pod tails the pods of the whole cluster)" if podlogs(file, id)

else := ""

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
